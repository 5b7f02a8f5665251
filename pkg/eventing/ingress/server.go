package ingress

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/network/http1"
)

// ReadHeaderTimeout bounds the wait for the rest of a request head once
// it began, and on the fast path for each stall of its body.
const ReadHeaderTimeout = 10 * time.Second

// plainText is the Content-Type of every error answer.
const plainText = "text/plain; charset=utf-8"

// ServeHTTP1 takes the events posted over HTTP/1.1 on the fast path of
// package http1: a POST to the path of a Broker that exists, with a body
// no longer than MaxEventBytes. It reads the head once and answers on the
// connection's own goroutine, where net/http's server also starts a
// background read to watch the connection while the handler runs and
// flushes the answer through a buffered writer of its own: about a sixth
// of the ingress's CPU per event (docs/benchmarks.md). Its answers are
// ServeHTTP's, status for status, reason for reason.
//
// Every other request is declined, the connection with it, to the
// net/http server behind NewServer, where ServeHTTP answers it as
// before: probes, OPTIONS, the 404s and 405s, a declared length past
// MaxEventBytes (413), a target with a query or percent-encoding, and
// whatever http1 itself declines (HTTP/1.0, HTTP/2, upgrades).
func (h *Handler) ServeHTTP1(x *http1.Exchange) {
	r := &x.Request
	if string(r.Method) != http.MethodPost || bytes.ContainsAny(r.Target, "?%") {
		x.Decline()
		return
	}
	broker, ok := eventing.ParseBrokerPath(string(r.Target))
	if !ok || !h.brokers.Exists(broker) || r.ContentLength() > h.maxBytes {
		x.Decline()
		return
	}
	arrival := time.Now()
	header := r.Header()
	data, err := x.ReadBody(h.maxBytes)
	if errors.Is(err, http1.ErrBodyTooLarge) {
		err = tooLarge(-1, h.maxBytes)
	}
	a := h.store(context.Background(), header, bytes.NewBuffer(data), err, broker, arrival)
	switch a.status {
	case http.StatusAccepted:
		x.RespondWith(a.status, "", nil, nil)
	case http.StatusServiceUnavailable:
		x.RespondWith(a.status, plainText, func(w *http1.HeaderWriter) { w.Add("Retry-After", h.retryAfter) }, []byte(a.msg+"\n"))
	default:
		x.RespondWith(a.status, plainText, nil, []byte(a.msg+"\n"))
	}
}

// Server serves a Handler on one listener: the HTTP/1.1 fast path first
// (ServeHTTP1), and net/http for the connections it declines.
type Server struct {
	fast *http1.Server
	std  *http.Server
}

// NewServer returns a Server of h that logs to log (nil discards).
func NewServer(h *Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		fast: http1.NewServer(h, http1.Options{ReadHeaderTimeout: ReadHeaderTimeout, Logger: log}),
		std: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
}

// Serve serves ln until Shutdown, when it returns nil, or until either
// server fails.
func (s *Server) Serve(ln net.Listener) error {
	stdErr := make(chan error, 1)
	go func() { stdErr <- s.std.Serve(s.fast.Declined()) }()
	err := s.fast.Serve(ln)
	if errors.Is(err, http1.ErrServerClosed) {
		err = nil
	} else {
		// Nothing will be declined any more.
		_ = s.std.Close()
	}
	if serr := <-stdErr; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	return err
}

// Shutdown stops taking connections and waits, until ctx ends, for the
// requests in flight on both servers: the fast path's first, so that a
// connection it declines while draining still finds net/http serving.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.fast.Shutdown(ctx), s.std.Shutdown(ctx))
}
