package timeout

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// Kind names a timeout.
type Kind int32

const (
	// None means no timeout has fired.
	None Kind = iota
	// Revision bounds the wait for the response to start, as Knative's
	// timeoutSeconds does: a response that has started streams on for as
	// long as the app writes.
	Revision
	// ResponseStart bounds the wait for the response's headers.
	ResponseStart
	// Idle bounds the gap between two writes of the response (and, before
	// the first one, the gap since the request arrived).
	Idle
)

func (k Kind) String() string {
	switch k {
	case Revision:
		return "revision timeout"
	case ResponseStart:
		return "response-start timeout"
	case Idle:
		return "idle timeout"
	}
	return "no timeout"
}

// Timeouts are the three bounds; a zero one is off.
type Timeouts struct {
	Revision      time.Duration
	ResponseStart time.Duration
	Idle          time.Duration
}

// Error is the cause of a request context that a timeout ended, so that
// the stages inside can tell it from a client that left.
type Error struct {
	Kind  Kind
	After time.Duration
}

func (e *Error) Error() string { return e.Kind.String() + " (" + e.After.String() + ") exceeded" }

// Next decides, at now, whether a timeout has fired for a request that
// arrived at start and last wrote at lastWrite (start if it has not
// written), and whether its response has started. If none has fired, it
// returns how long until the earliest one could, or zero when none ever
// can. It is pure so that every timing rule is testable without a clock.
//
// The revision and response-start timeouts bound the time to the
// response's start, so that an answer that has begun is never cut for
// its length alone (a stream, a large download); only the idle timeout
// bounds a response that has started.
func Next(t Timeouts, now, start, lastWrite time.Time, started bool) (fired Kind, wait time.Duration) {
	var (
		earliest time.Time
		kind     Kind
	)
	consider := func(k Kind, d time.Duration, from time.Time) {
		if d <= 0 {
			return
		}
		at := from.Add(d)
		if kind == None || at.Before(earliest) {
			earliest, kind = at, k
		}
	}
	if !started {
		consider(Revision, t.Revision, start)
		consider(ResponseStart, t.ResponseStart, start)
	}
	consider(Idle, t.Idle, lastWrite)
	if kind == None {
		return None, 0
	}
	if wait := earliest.Sub(now); wait > 0 {
		return None, wait
	}
	return kind, 0
}

func (t Timeouts) of(k Kind) time.Duration {
	switch k {
	case Revision:
		return t.Revision
	case ResponseStart:
		return t.ResponseStart
	case Idle:
		return t.Idle
	}
	return 0
}

// The states of a response, moved by compare-and-swap between the serving
// goroutine and the timer's, so that exactly one of them decides what the
// client gets.
const (
	stateOpen      int32 = iota // nothing sent yet
	stateStarted                // headers sent (or connection hijacked)
	stateFired                  // a timeout fired before anything was sent: answer 504
	stateFiredLate              // a timeout fired mid-response: abort the stream
	stateDone                   // the handler returned first; timers are moot
)

var errTimedOut = errors.New("timeout: the request timed out; the response is discarded")

// Handler runs next under t, measured on clk. With every timeout off it
// returns next itself. A request costs one timer, however many timeouts
// are on: the timer is set for the earliest deadline and, when it fires
// early for an idle deadline that writes have since pushed back, re-armed.
func Handler(next http.Handler, t Timeouts, clk clock.WithDelayedExecution) http.Handler {
	if t.Revision <= 0 && t.ResponseStart <= 0 && t.Idle <= 0 {
		return next
	}
	var bodies [Idle + 1][]byte
	for _, k := range []Kind{Revision, ResponseStart, Idle} {
		bodies[k] = Body(k, t)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		tw := &writer{rw: w, clk: clk, t: t, start: clk.Now(), cancel: cancel}
		_, first := Next(t, tw.start, tw.start, tw.start, false)
		tw.mu.Lock()
		tw.timer = clk.AfterFunc(first, tw.onTimer)
		tw.mu.Unlock()

		next.ServeHTTP(tw, r.WithContext(ctx))

		tw.stop()
		if tw.state.CompareAndSwap(stateOpen, stateDone) || tw.state.CompareAndSwap(stateStarted, stateDone) {
			return
		}
		switch tw.state.Load() {
		case stateFired:
			h := w.Header()
			clear(h)
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			body := bodies[tw.fired.Load()]
			h["Content-Length"] = []string{strconv.Itoa(len(body))}
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = w.Write(body)
		case stateFiredLate:
			if !tw.hijacked.Load() {
				// Headers are out: only breaking the connection (or the
				// HTTP/2 stream) tells the client the body is incomplete.
				panic(http.ErrAbortHandler)
			}
		}
	})
}

// Body is the body of the 504 that answers a request when timeout k of t
// fired before its response started. The sidecar's fast path, which
// bounds the same wait with deadlines, answers with it too.
func Body(k Kind, t Timeouts) []byte {
	return []byte("queue-proxy: " + explain(k) + " (" + t.of(k).String() + "); the request was cut short\n")
}

// FirstToStart returns the timeout of t that bounds the start of a
// response first, and after how long; None when none does. The idle
// timeout counts, as it bounds the wait before the first write too.
func FirstToStart(t Timeouts) (Kind, time.Duration) {
	var start time.Time
	_, wait := Next(t, start, start, start, false)
	if wait == 0 {
		return None, 0
	}
	kind, _ := Next(t, start.Add(wait), start, start, false)
	return kind, wait
}

func explain(k Kind) string {
	switch k {
	case Revision:
		return "the app did not start its response within the revision timeout"
	case ResponseStart:
		return "the app did not start its response within the response-start timeout"
	case Idle:
		return "the app wrote nothing for longer than the idle timeout"
	}
	return ""
}

// writer watches the handler's writes for the timer.
type writer struct {
	rw     http.ResponseWriter
	clk    clock.WithDelayedExecution
	t      Timeouts
	start  time.Time
	cancel context.CancelCauseFunc

	state    atomic.Int32
	fired    atomic.Int32 // a Kind
	hijacked atomic.Bool
	// lastWrite is the time of the last write as an offset from start,
	// which keeps the clock's monotonic reading.
	lastWrite atomic.Int64

	mu      sync.Mutex // guards timer and stopped
	timer   clock.Timer
	stopped bool
}

// onTimer runs on the clock's goroutine. The decision happens on a fresh
// goroutine: it reads the clock, and a fake clock calls back while
// holding its lock.
func (w *writer) onTimer() { go w.check() }

func (w *writer) check() {
	now := w.clk.Now()
	state := w.state.Load()
	if state == stateDone {
		return
	}
	t := w.t
	if w.hijacked.Load() {
		// An upgraded connection has started (101) and has no writes
		// to watch: nothing bounds it.
		t = Timeouts{}
	}
	last := w.start.Add(time.Duration(w.lastWrite.Load()))
	kind, wait := Next(t, now, w.start, last, state != stateOpen)
	if kind == None && wait == 0 {
		return // the response started and no idle timeout watches it
	}
	if kind == None {
		// A new timer rather than Reset: k8s.io/utils' fake clock cannot
		// fire a reset AfterFunc timer twice (its unread channel is full),
		// and a re-arm happens at most once per idle period.
		w.mu.Lock()
		if !w.stopped {
			w.timer = w.clk.AfterFunc(wait, w.onTimer)
		}
		w.mu.Unlock()
		return
	}
	w.fired.Store(int32(kind))
	if !w.state.CompareAndSwap(stateOpen, stateFired) {
		if kind != Idle {
			// The response started after the state was read: the
			// timeouts to its start no longer apply; look again.
			w.check()
			return
		}
		if !w.state.CompareAndSwap(stateStarted, stateFiredLate) {
			return // the handler finished first
		}
	}
	w.cancel(&Error{Kind: kind, After: w.t.of(kind)})
}

func (w *writer) stop() {
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.mu.Unlock()
}

func (w *writer) touch() {
	if w.t.Idle > 0 {
		w.lastWrite.Store(int64(w.clk.Since(w.start)))
	}
}

// begin records that the response starts; it reports false when a timeout
// already answered for the handler, whose output is then discarded.
func (w *writer) begin() bool {
	if w.state.CompareAndSwap(stateOpen, stateStarted) {
		return true
	}
	return w.state.Load() != stateFired
}

func (w *writer) Header() http.Header { return w.rw.Header() }

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		// Interim responses (100 Continue, 103 Early Hints) do not start
		// the response.
		if w.state.Load() != stateFired {
			w.rw.WriteHeader(code)
		}
		return
	}
	if !w.begin() {
		return
	}
	w.touch()
	w.rw.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.begin() {
		return 0, errTimedOut
	}
	w.touch()
	return w.rw.Write(b)
}

// FlushError lets http.ResponseController flush through the writer.
func (w *writer) FlushError() error {
	if !w.begin() {
		return errTimedOut
	}
	return http.NewResponseController(w.rw).Flush()
}

// Flush implements http.Flusher for handlers that assert it.
func (w *writer) Flush() { _ = w.FlushError() }

// Hijack hands the connection to the handler (WebSocket). From then on
// no timeout applies.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.begin() {
		return nil, nil, errTimedOut
	}
	w.hijacked.Store(true)
	return http.NewResponseController(w.rw).Hijack()
}

// Unwrap gives http.ResponseController the underlying writer for the
// features this one does not intercept (deadlines, full duplex).
func (w *writer) Unwrap() http.ResponseWriter { return w.rw }
