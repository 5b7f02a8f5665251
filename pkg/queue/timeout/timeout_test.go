package timeout

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestNext(t *testing.T) {
	all := Timeouts{Revision: 60 * time.Second, ResponseStart: 10 * time.Second, Idle: 5 * time.Second}
	tests := []struct {
		name      string
		t         Timeouts
		now, last time.Duration // after t0
		started   bool
		wantKind  Kind
		wantWait  time.Duration
	}{
		{name: "all off", t: Timeouts{}, now: time.Hour},
		{name: "fresh request waits for the idle bound", t: all, wantWait: 5 * time.Second},
		{name: "idle fires before the first byte", t: all, now: 5 * time.Second, wantKind: Idle},
		{name: "writes push idle back", t: all, now: 7 * time.Second, last: 4 * time.Second, wantWait: 2 * time.Second},
		{name: "response start fires", t: Timeouts{Revision: time.Minute, ResponseStart: 10 * time.Second}, now: 10 * time.Second, wantKind: ResponseStart},
		{name: "response start no longer applies once started",
			t: Timeouts{ResponseStart: 10 * time.Second, Idle: time.Minute}, now: 30 * time.Second, started: true, wantWait: 30 * time.Second},
		{name: "revision fires before the response starts", t: Timeouts{Revision: time.Minute}, now: time.Minute, wantKind: Revision},
		{name: "revision no longer applies once started",
			t: all, now: 10 * time.Minute, last: 10*time.Minute - time.Second, started: true, wantWait: 4 * time.Second},
		{name: "nothing bounds a started response without idle",
			t: Timeouts{Revision: time.Minute, ResponseStart: 10 * time.Second}, now: 10 * time.Minute, started: true},
		{name: "revision is the earliest", t: Timeouts{Revision: 3 * time.Second, Idle: 5 * time.Second}, now: time.Second, wantWait: 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, wait := Next(tc.t, t0.Add(tc.now), t0, t0.Add(tc.last), tc.started)
			if kind != tc.wantKind || wait != tc.wantWait {
				t.Errorf("Next() = %v, %v; want %v, %v", kind, wait, tc.wantKind, tc.wantWait)
			}
		})
	}
}

func TestNoTimeoutsIsTheNextHandler(t *testing.T) {
	next := http.NotFoundHandler()
	h := Handler(next, Timeouts{}, clocktesting.NewFakeClock(t0))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("got %d, want the next handler's 404", rec.Code)
	}
}

// waitForTimer polls until the handler has armed its timer on clk.
func waitForTimer(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the handler never armed its timer")
		}
		time.Sleep(time.Millisecond)
	}
}

// blockUntilDone is an app that never answers by itself.
func blockUntilDone(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestTimeoutBeforeTheResponseAnswers504(t *testing.T) {
	tests := []struct {
		name     string
		t        Timeouts
		step     time.Duration
		wantBody string
	}{
		{"revision", Timeouts{Revision: 30 * time.Second}, 30 * time.Second, "revision timeout (30s)"},
		{"response start", Timeouts{Revision: time.Minute, ResponseStart: 10 * time.Second}, 10 * time.Second, "response-start timeout (10s)"},
		{"idle before the first byte", Timeouts{Revision: time.Minute, Idle: 5 * time.Second}, 5 * time.Second, "idle timeout (5s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			var cause error
			h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-From-App", "discard me")
				blockUntilDone(w, r)
				cause = context.Cause(r.Context())
				_, _ = io.WriteString(w, "too late")
			}), tc.t, clk)
			rec := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				close(done)
			}()
			waitForTimer(t, clk)
			clk.Step(tc.step - time.Millisecond)
			select {
			case <-done:
				t.Fatal("a timeout fired early")
			default:
			}
			clk.Step(time.Millisecond)
			<-done
			if rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %q, want 504 naming %q", rec.Code, rec.Body, tc.wantBody)
			}
			if rec.Header().Get("X-From-App") != "" {
				t.Error("the 504 kept a header the app set")
			}
			var te *Error
			if !errors.As(cause, &te) {
				t.Errorf("context cause = %v, want a *timeout.Error", cause)
			}
		})
	}
}

func TestResponseStartedInTimeIsNotCut(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	finish := make(chan struct{})
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		<-finish
		_, _ = io.WriteString(w, "done")
	}), Timeouts{Revision: time.Minute, ResponseStart: 10 * time.Second}, clk)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		close(done)
	}()
	waitForTimer(t, clk)
	// Past the response-start deadline: the timer fires, finds the
	// response started, and, with no idle timeout, is not armed again:
	// the revision timeout too bounds only the wait for the start.
	clk.Step(20 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("a timer is still armed for a response that has started")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Step(time.Hour)
	close(finish)
	<-done
	if rec.Code != http.StatusOK || rec.Body.String() != "done" {
		t.Errorf("got %d %q, want 200 done", rec.Code, rec.Body)
	}
}

// TestStartedStreamOutlivesTheRevisionTimeout streams through a real
// server for three times the revision timeout, on the real clock: the
// client gets every byte and a clean end.
func TestStartedStreamOutlivesTheRevisionTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := httptest.NewServer(Handler(streamFor(3*timeout), Timeouts{Revision: timeout}, clock.RealClock{}))
	defer srv.Close()

	begin := time.Now()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(b) != streamed {
		t.Errorf("got %d %q, %v; want 200 %q and a clean end", resp.StatusCode, b, err, streamed)
	}
	if took := time.Since(begin); took < 3*timeout {
		t.Errorf("the stream took %v, want at least %v: the test app did not stream", took, 3*timeout)
	}
}

// streamed is what streamFor writes.
const streamed = "first;second;third;last"

// streamFor is an app that starts its response at once and then streams
// for d.
func streamFor(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitAfter(streamed, ";")
		for i, p := range parts {
			if i > 0 {
				time.Sleep(d / time.Duration(len(parts)-1))
			}
			_, _ = io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	}
}

// TestTimeoutMidResponseAbortsTheStream uses a real server: only it turns
// the handler's abort into a broken connection the client can see.
func TestTimeoutMidResponseAbortsTheStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Timeouts
		step time.Duration
	}{
		{"idle", Timeouts{Revision: time.Minute, Idle: 5 * time.Second}, 5 * time.Second},
		{"idle past the revision timeout", Timeouts{Revision: 30 * time.Second, Idle: 50 * time.Second}, 50 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			wrote := make(chan struct{})
			srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first part;")
				w.(http.Flusher).Flush()
				close(wrote)
				blockUntilDone(w, r)
			}), tc.t, clk))
			defer srv.Close()
			srv.Config.ErrorLog = nil

			type result struct {
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				got <- result{string(b), err}
			}()
			<-wrote
			clk.Step(tc.step)
			select {
			case r := <-got:
				if r.err == nil || r.body != "first part;" {
					t.Errorf("client got %q, %v; want the first part and then a broken stream", r.body, r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the stream was not aborted")
			}
		})
	}
}

func TestWritesKeepIdleAway(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	tick := make(chan struct{})
	wrote := make(chan struct{})
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range tick {
			_, _ = io.WriteString(w, ".")
			wrote <- struct{}{}
		}
	}), Timeouts{Revision: time.Hour, Idle: 5 * time.Second}, clk)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		close(done)
	}()
	waitForTimer(t, clk)
	// Thirty seconds in 4 s steps, each followed by a write: never 5 s
	// without one.
	for range 8 {
		clk.Step(4 * time.Second)
		tick <- struct{}{}
		<-wrote
	}
	close(tick)
	<-done
	if rec.Code != http.StatusOK || rec.Body.String() != "........" {
		t.Errorf("got %d %q, want 200 and every write", rec.Code, rec.Body)
	}
}

func TestFirstToStart(t *testing.T) {
	for _, tc := range []struct {
		t    Timeouts
		kind Kind
		wait time.Duration
	}{
		{Timeouts{}, None, 0},
		{Timeouts{Revision: 300 * time.Second}, Revision, 300 * time.Second},
		{Timeouts{Revision: 300 * time.Second, ResponseStart: 10 * time.Second}, ResponseStart, 10 * time.Second},
		{Timeouts{Revision: 300 * time.Second, Idle: time.Second}, Idle, time.Second},
	} {
		if kind, wait := FirstToStart(tc.t); kind != tc.kind || wait != tc.wait {
			t.Errorf("FirstToStart(%+v) = %v, %v; want %v, %v", tc.t, kind, wait, tc.kind, tc.wait)
		}
	}
}
