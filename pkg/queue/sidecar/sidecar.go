package sidecar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/limiter"
	"flywheel.dev/pkg/queue/proxy"
	"flywheel.dev/pkg/queue/readiness"
	"flywheel.dev/pkg/queue/timeout"
	"flywheel.dev/pkg/telemetry/providers"
)

// Options are the sidecar's collaborators. The zero value works: real
// clock, logs discarded, no stats.
type Options struct {
	Clock  clock.WithTickerAndDelayedExecution
	Logger *slog.Logger
	// Measure wraps the request chain to count requests and concurrency
	// (stats.Handler); nil measures nothing.
	Measure func(http.Handler) http.Handler
	// Metrics serves the metrics port (Prometheus text and the
	// autoscaler's stats); nil leaves the port closed.
	Metrics http.Handler
	// Intercept wraps the intercept port's listener in transparent mode,
	// to read each connection's original destination and refuse loops;
	// ConnContext goes with it. nil serves the port as it is.
	Intercept   func(net.Listener) net.Listener
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// Meters makes the instrument of the proxied requests' durations
	// (http.server.request.duration); nil records nothing.
	Meters metric.MeterProvider
	// Tracer makes a span of each proxied request while tracing is on;
	// nil makes none, and the caller's traceparent reaches the app as it
	// came.
	Tracer *providers.Tracer
}

// Sidecar is one queue-proxy.
type Sidecar struct {
	cfg    queue.Config
	opts   Options
	log    *slog.Logger
	prober *readiness.Prober
	proxy  *proxy.Proxy
	// draining is set on termination: readiness and network probes fail
	// so that traffic moves elsewhere, while requests are still served.
	draining atomic.Bool
	// terminating is closed when draining is set, for the preStop hooks
	// that wait to learn whether the pod stops or only the app does.
	terminating chan struct{}
	// terminationWait is how long a preStop hook waits for terminating
	// (the constant terminationWait, but for tests).
	terminationWait time.Duration
	// hooksWaiting counts the preStop hooks that have not yet seen the
	// sidecar terminate.
	hooksWaiting atomic.Int32
	// drained is closed once the request servers have shut down: no
	// request is in flight and none will come.
	drained chan struct{}
	chain   http.Handler

	// The fast path's share of the chain (see serveFast): the limiter the
	// net/http chain uses too, the timeouts, and the measure stage
	// wrapped around the forwarding.
	limiter  *limiter.Limiter
	timeouts timeout.Timeouts
	measured http.Handler

	metrics *requestMetrics
	tracer  *providers.Tracer
}

// New returns a sidecar for cfg, which must be valid (queue.Config's
// Validate).
func New(cfg queue.Config, opts Options) *Sidecar {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sidecar{
		cfg:             cfg,
		opts:            opts,
		log:             opts.Logger,
		terminating:     make(chan struct{}),
		terminationWait: terminationWait,
		drained:         make(chan struct{}),
		metrics:         newRequestMetrics(opts.Meters, cfg),
		tracer:          opts.Tracer,
	}
	s.prober = readiness.NewProber(cfg.ReadinessProbe, readiness.NewCheck(cfg.ReadinessProbe, cfg.UserPort), opts.Clock)
	s.proxy = proxy.New(proxy.LoopbackTarget(cfg.UserPort), proxy.Options{
		H2C:          cfg.AppProtocol == queue.AppProtocolH2C,
		MaxIdleConns: max(cfg.ContainerConcurrency, 100),
		Logger:       opts.Logger,
	})
	s.chain = s.buildChain()
	return s
}

// buildChain assembles the request path, outermost first:
//
//  1. measure: every request that reaches the pod is counted, probes
//     apart, so the autoscaler sees the load as it arrives, queue
//     included;
//  2. network probes (K-Network-Probe: queue) are answered here: they ask
//     about the sidecar, not the app;
//  3. kubelet probes of the app (transparent mode) go straight to the
//     app: an overloaded pod must not fail its own health checks;
//  4. observe: the request's duration by status and, with tracing on,
//     its span, for the requests the app gets (probes have neither);
//  5. timeouts: outside the limiter, so that time spent queued counts
//     against the revision timeout and a request that times out in the
//     queue gets its 504;
//  6. the concurrency limit, FIFO with a bounded queue, inside a
//     queue.wait span while tracing; a plain HTTP/1.1 request here then
//     closes its connection, so that the client comes back to the fast
//     path (backToTheFastPath);
//  7. the end of the queue wait, and the proxy to the app, which gets
//     the request's span as its parent.
func (s *Sidecar) buildChain() http.Handler {
	if s.cfg.ContainerConcurrency > 0 {
		s.limiter = limiter.New(s.cfg.ContainerConcurrency, s.cfg.QueueDepth)
	}
	s.timeouts = timeout.Timeouts{
		Revision:      s.cfg.RevisionTimeout,
		ResponseStart: s.cfg.ResponseStartTimeout,
		Idle:          s.cfg.IdleTimeout,
	}
	s.measured = http.HandlerFunc(s.forwardFast)
	if s.opts.Measure != nil {
		s.measured = s.opts.Measure(s.measured)
	}
	h := s.traceApp(s.proxy)
	h = s.traceQueue(limiter.Handler(h, s.limiter))
	h = s.backToTheFastPath(h)
	h = timeout.Handler(h, s.timeouts, s.opts.Clock)
	h = s.observe(h)
	h = s.kubeletProbes(h)
	h = s.networkProbes(h)
	if s.opts.Measure != nil {
		h = s.opts.Measure(h)
	}
	return h
}

// backToTheFastPath wraps the limiter stage: a plain HTTP/1.1 request
// that reaches it on the net/http chain, most often one the fast path
// declined because it would wait for a slot, closes its connection
// after its response. A declined connection stays with net/http (the
// fast path cannot take it back), so without this a burst that queued
// once would leave a keep-alive client (the activator's and gateway's
// pools) on the slower path for the connection's life; the client's
// next request now comes on a new connection, which the fast path
// serves. The reconnection is small beside the wait the request just
// had. Upgrades and h2c keep their connections.
func (s *Sidecar) backToTheFastPath(limited http.Handler) http.Handler {
	if s.limiter == nil || !s.fastPath() {
		return limited
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && r.ProtoMinor == 1 && r.Method != http.MethodConnect && r.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		limited.ServeHTTP(w, r)
	})
}

// Handler returns the request chain, for the serving and intercept
// ports.
func (s *Sidecar) Handler() http.Handler { return s.chain }

func (s *Sidecar) networkProbes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.NetworkProbeHeader) != queue.NetworkProbeValue {
			next.ServeHTTP(w, r)
			return
		}
		if !s.ready() {
			http.Error(w, "queue-proxy: "+s.notReadyReason(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(queue.NetworkProbeValue))
	})
}

func (s *Sidecar) kubeletProbes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("User-Agent"), queue.KubeletProbeUserAgentPrefix) {
			s.proxy.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fastPath reports whether the request ports serve HTTP/1.1 on the fast
// path (package http1), declining the rest to the net/http chain. An h2c
// app is served by net/http alone: its requests must leave as HTTP/2.
func (s *Sidecar) fastPath() bool { return s.proxy.Upstream() != nil }

// serveFast is the request chain of buildChain on the fast path, for
// plain HTTP/1.1 requests, in the same order and with the same answers:
//
//  1. probes (network and kubelet) are declined to the net/http chain:
//     they are rare, and it answers them;
//  2. the concurrency limit: a free slot is taken at once; a request that
//     would wait is declined to the net/http chain, whose limiter queues
//     it in the same FIFO line (TryAdmit never overtakes a waiter), so
//     the queue keeps one implementation (and a request here never
//     waits: it has no queue.wait span); one that the full queue turns
//     away is answered the limiter's 503 here, through the stages below
//     (measured, observed), and keeps its connection: a client that
//     retries at once, as overloaded clients do, costs a request, not a
//     new connection;
//  3. observe: the duration by status, and with tracing on the request's
//     span;
//  4. measure, around the forwarding, as around the rest of the chain;
//  5. the timeouts, as deadlines on the connections (forwardFast);
//  6. the forwarding to the app, with the request's span as the app's
//     parent.
//
// A connection declined once stays with net/http: the fast path's state
// cannot follow it there (one declined because its request would queue
// is closed after that request: backToTheFastPath).
func (s *Sidecar) serveFast(x *http1.Exchange) {
	r := &x.Request
	if r.Has(queue.NetworkProbeHeader) || bytes.HasPrefix(r.Get("User-Agent"), []byte(queue.KubeletProbeUserAgentPrefix)) {
		x.Decline()
		return
	}
	overloaded := false
	if s.limiter != nil {
		switch s.limiter.TryAdmit() {
		case limiter.MustWait:
			x.Decline()
			return
		case limiter.Full:
			overloaded = true
		default:
			defer s.limiter.Release()
		}
	}
	start := time.Now()
	// The measure stage sees an http.Request that carries what it
	// classifies requests by (stats.KindOf), not a copy of every field;
	// one per request in flight, reused.
	f := fastRequests.Get().(*fastRequest)
	f.x, f.status, f.overloaded = x, 0, overloaded
	var span trace.Span
	if s.tracer.On() {
		span = s.startFastSpan(x, start)
		f.parent.Set(span.SpanContext())
	}
	req := f.req
	req.Method, req.Host, req.RemoteAddr = r.MethodString(), string(r.Host), r.RemoteAddr
	if v := r.Get(queue.ViaActivatorHeader); v != nil {
		req.Header[queue.ViaActivatorHeader] = append(req.Header[queue.ViaActivatorHeader][:0], string(v))
	} else {
		delete(req.Header, queue.ViaActivatorHeader)
	}
	s.measured.ServeHTTP(exchangeWriter{f: f}, req)
	s.metrics.record(start, f.status)
	if span != nil {
		endServerSpan(span, f.status)
	}
	f.x, f.parent = nil, providers.TraceFields{}
	fastRequests.Put(f)
}

// fastRequest is a fast-path request on its way through the measure
// stage: the exchange, the http.Request the stage reads, and what
// forwardFast reports back. One per request in flight, reused.
type fastRequest struct {
	x   *http1.Exchange
	req *http.Request
	// parent names the request's span while tracing, else nothing: the
	// app's parent.
	parent providers.TraceFields
	// status is the response's, 0 when none went out or it is unknown.
	status int
	// overloaded: every slot is busy and the queue is full; the request
	// is answered the limiter's 503 rather than forwarded.
	overloaded bool
}

var fastRequests = sync.Pool{New: func() any {
	return &fastRequest{req: &http.Request{Header: http.Header{}, URL: &url.URL{}}}
}}

// forwardFast forwards a fast-path request under the timeouts: the
// revision, response-start and (before the first byte) idle timeouts
// are one deadline for the response to start, counted from the request's
// arrival; the idle timeout then bounds each wait for the app's next
// bytes. The answers are the timeout stage's: 504 naming the timeout
// before the start, a broken connection after it. A request the full
// queue turned away (serveFast) is answered the limiter's 503 instead;
// its connection stays open unless the request's body went unread.
func (s *Sidecar) forwardFast(w http.ResponseWriter, _ *http.Request) {
	f := w.(exchangeWriter).f
	x := f.x
	if f.overloaded {
		f.status = http.StatusServiceUnavailable
		x.Respond(http.StatusServiceUnavailable, "text/plain; charset=utf-8", s.limiter.OverloadedBody())
		return
	}
	var lim http1.Limits
	kind, first := timeout.FirstToStart(s.timeouts)
	if kind != timeout.None {
		lim.ResponseStart = time.Now().Add(first)
	}
	lim.Idle = s.timeouts.Idle
	err := s.proxy.ForwardFast(&f.parent, x, lim)
	switch {
	case err == nil || x.Started():
		f.status = x.Status()
		if err != nil {
			s.log.Debug("a response from the app broke off", "error", err)
		}
	case errors.Is(err, http1.ErrTimeout):
		f.status = http.StatusGatewayTimeout
		x.Respond(http.StatusGatewayTimeout, "text/plain; charset=utf-8", timeout.Body(kind, s.timeouts))
	default:
		var ue *http1.UpstreamError
		if errors.As(err, &ue) {
			f.status = http.StatusBadGateway
			s.proxy.Fail(x, err)
		}
		// Otherwise the client left or broke its request: nobody to
		// answer.
	}
}

// exchangeWriter carries a fast-path request through the measure stage,
// an http.Handler wrapper. Nothing writes to it: the exchange answers the
// client itself. One pointer, so that it fits an interface without an
// allocation.
type exchangeWriter struct{ f *fastRequest }

func (exchangeWriter) Header() http.Header         { return http.Header{} }
func (exchangeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (exchangeWriter) WriteHeader(int)             {}

func (s *Sidecar) ready() bool { return !s.draining.Load() && s.prober.Ready() }

func (s *Sidecar) notReadyReason() string {
	if s.draining.Load() {
		return "draining: the pod is shutting down"
	}
	return "the app has not passed its readiness probe yet"
}

// readyWait bounds how long a readiness request waits for the app. It
// stays under the kubelet's default probe timeout (1s), so the kubelet
// gets an answer rather than a timeout.
const readyWait = 900 * time.Millisecond

// terminationWait is how long the app's preStop hook waits for the
// sidecar's own SIGTERM before concluding that the app alone is stopping
// (a failed liveness or startup probe): the kubelet then restarts the app
// and leaves the sidecar running, so no drain will ever come. When the pod
// is deleted, the kubelet sends the sidecar SIGTERM and runs the app's
// hook at the same moment, and the hook can arrive first; a couple of
// seconds covers that race on a loaded node and still restarts the app in
// seconds rather than after the whole grace period.
const terminationWait = 2 * time.Second

// AdminHandler serves the pod's readiness and liveness endpoints.
func (s *Sidecar) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+queue.ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		if !s.draining.Load() {
			ctx, cancel := context.WithTimeout(r.Context(), readyWait)
			s.prober.WaitReady(ctx)
			cancel()
		}
		if !s.ready() {
			http.Error(w, "queue-proxy: "+s.notReadyReason(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET "+queue.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	// The app container's preStop hook: the kubelet sends the app SIGTERM
	// only once this answers. When the pod stops, the answer waits for the
	// drain, so the app keeps serving the requests the sidecar still
	// forwards; when only the app stops (the kubelet restarts it), it comes
	// as soon as that is clear, so the restart takes seconds.
	mux.HandleFunc("GET "+queue.DrainPath, func(w http.ResponseWriter, r *http.Request) {
		if !s.awaitTermination(r.Context()) {
			if r.Context().Err() == nil {
				_, _ = w.Write([]byte("not terminating: the app stops alone\n"))
			}
			return
		}
		select {
		case <-s.drained:
			_, _ = w.Write([]byte("drained\n"))
		case <-r.Context().Done():
		}
	})
	return mux
}

// awaitTermination reports whether the sidecar is terminating or starts
// to within terminationWait; false when it does not, or ctx ends first.
func (s *Sidecar) awaitTermination(ctx context.Context) bool {
	s.hooksWaiting.Add(1)
	defer s.hooksWaiting.Add(-1)
	t := s.opts.Clock.NewTimer(s.terminationWait)
	defer t.Stop()
	select {
	case <-s.terminating:
		return true
	case <-t.C():
		// Both may be ready: termination wins, so that a hook never
		// lets the app stop under a drain.
		select {
		case <-s.terminating:
			return true
		default:
			return false
		}
	case <-ctx.Done():
		return false
	}
}

// Listeners are the sockets the sidecar serves. Serving and Admin are
// required; a nil Intercept, Metrics or Profiling leaves that port closed.
type Listeners struct {
	Serving, Intercept, Admin, Metrics, Profiling net.Listener
}

// Listen opens the ports of the configuration on every address of the
// pod.
func (s *Sidecar) Listen() (Listeners, error) {
	var ls Listeners
	var errs []error
	open := func(port int) net.Listener {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			errs = append(errs, fmt.Errorf("listening on port %d: %w", port, err))
		}
		return l
	}
	ls.Serving = open(s.cfg.ServingPort)
	ls.Admin = open(s.cfg.AdminPort)
	if s.cfg.Mode == queue.ModeTransparent {
		ls.Intercept = open(s.cfg.InterceptPort)
	}
	if s.opts.Metrics != nil {
		ls.Metrics = open(s.cfg.MetricsPort)
	}
	if s.cfg.ProfilingPort != 0 {
		ls.Profiling = open(s.cfg.ProfilingPort)
	}
	if err := errors.Join(errs...); err != nil {
		ls.close()
		return Listeners{}, err
	}
	return ls, nil
}

func (ls Listeners) close() {
	for _, l := range []net.Listener{ls.Serving, ls.Intercept, ls.Admin, ls.Metrics, ls.Profiling} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// Serve runs the sidecar on ls until ctx ends, then drains: readiness
// fails at once so that endpoints stop sending new work, requests keep
// being served for the drain window (endpoint removals take time to reach
// every sender), then the servers shut down, waiting up to the revision
// timeout for requests still in flight. It returns when all that is done.
func (s *Sidecar) Serve(ctx context.Context, ls Listeners) error {
	proberCtx, stopProber := context.WithCancel(context.Background())
	defer stopProber()
	go s.prober.Run(proberCtx)

	requests := &http.Server{
		Handler:           s.chain,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	// HTTP/1.1 and cleartext HTTP/2 on the same port: gRPC clients and the
	// gateway's h2c connections need no port of their own.
	requests.Protocols.SetHTTP1(true)
	requests.Protocols.SetUnencryptedHTTP2(true)

	// Each server with its listener; the request servers first, so that
	// shutdown stops taking requests before it closes the rest.
	// A request port with the fast path in front has it accept the
	// connections and hand net/http those it declines.
	type served struct {
		srv  *http.Server
		l    net.Listener
		fast *http1.Server
	}
	withFastPath := func(sv served) served {
		if !s.fastPath() {
			return sv
		}
		sv.fast = http1.NewServer(http1.HandlerFunc(s.serveFast), http1.Options{
			ReadHeaderTimeout: sv.srv.ReadHeaderTimeout,
			Logger:            s.log,
		})
		return sv
	}
	all := []served{withFastPath(served{srv: requests, l: ls.Serving})}
	if ls.Intercept != nil {
		l := ls.Intercept
		if s.opts.Intercept != nil {
			l = s.opts.Intercept(l)
		}
		all = append(all, withFastPath(served{srv: &http.Server{
			Handler:           s.chain,
			ReadHeaderTimeout: requests.ReadHeaderTimeout,
			ErrorLog:          requests.ErrorLog,
			Protocols:         requests.Protocols,
			ConnContext:       s.opts.ConnContext,
		}, l: l}))
	}
	all = append(all, served{srv: &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}, l: ls.Admin})
	if ls.Metrics != nil && s.opts.Metrics != nil {
		all = append(all, served{srv: &http.Server{Handler: s.opts.Metrics, ReadHeaderTimeout: 10 * time.Second}, l: ls.Metrics})
	}
	if ls.Profiling != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		all = append(all, served{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, l: ls.Profiling})
	}

	serveErr := make(chan error, len(all))
	var wg sync.WaitGroup
	for _, sv := range all {
		l := sv.l
		if sv.fast != nil {
			l = sv.fast.Declined()
			wg.Go(func() {
				if err := sv.fast.Serve(sv.l); err != nil && !errors.Is(err, http1.ErrServerClosed) {
					serveErr <- fmt.Errorf("serving %s: %w", sv.l.Addr(), err)
				}
			})
		}
		wg.Go(func() {
			if err := sv.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serving %s: %w", sv.l.Addr(), err)
			}
		})
	}

	var err error
	select {
	case <-ctx.Done():
		s.log.Info("draining", "window", s.cfg.DrainWindow, "preStopHooksWaiting", s.hooksWaiting.Load())
	case err = <-serveErr:
		s.log.Error("a server failed; shutting down", "error", err)
	}
	s.draining.Store(true)
	close(s.terminating)
	if err == nil {
		<-s.opts.Clock.After(s.cfg.DrainWindow)
	}

	// In-flight requests may run up to the revision timeout. The request
	// servers stop first; then the app's preStop hook (DrainPath) is
	// released; the admin server, which answers it, stops last.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.RevisionTimeout+time.Second)
	defer cancel()
	admin := slices.IndexFunc(all, func(sv served) bool { return sv.l == ls.Admin })
	for i, sv := range all {
		if i == admin {
			continue
		}
		// The fast path first: the connections it declines while it
		// drains still find net/http serving.
		if sv.fast != nil {
			if serr := sv.fast.Shutdown(shutdownCtx); serr != nil && err == nil {
				err = fmt.Errorf("shutting down: %w", serr)
			}
		}
		if serr := sv.srv.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = fmt.Errorf("shutting down: %w", serr)
		}
	}
	close(s.drained)
	if serr := all[admin].srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = fmt.Errorf("shutting down: %w", serr)
	}
	s.proxy.CloseIdleConnections()
	wg.Wait()
	return err
}

// Run opens the configured ports and serves until ctx ends.
func (s *Sidecar) Run(ctx context.Context) error {
	ls, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ls)
}
