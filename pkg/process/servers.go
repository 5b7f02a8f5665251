package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// Server is one of a component's request servers, on a listener already
// bound, so that a port in use is reported before anything runs.
type Server struct {
	HTTP     *http.Server
	Listener net.Listener
	// LogAttrs name the server in the log line that says it serves.
	LogAttrs []any
}

// Servers are a component's servers under the drain sequence.
type Servers struct {
	// Admin serves Health's endpoints from the start to the end.
	Admin  net.Listener
	Health *Health
	// Serve are served once Health is loaded: until then a connection
	// waits in the listener's backlog and is answered once the component
	// can route it, rather than answered 503 or 404 only because the
	// component has just started.
	Serve []Server
	// ServingMessage is logged, with the server's LogAttrs and address,
	// as each server starts serving.
	ServingMessage string
	// DrainWindow is how long the servers keep serving, while /readyz
	// fails, once the run's context is done; zero or negative means none.
	DrainWindow time.Duration
	// ShutdownTimeout bounds the wait for requests in flight after the
	// drain window; past it, their connections are closed.
	ShutdownTimeout time.Duration
	// Failed, when it receives, ends the run as the context would, and
	// its error is Run's: the component's own work (a watch) stopped. A
	// nil error drains as a signal does.
	Failed <-chan error
	// Drained, when not nil, runs after the drain window and before the
	// servers shut down, with the context of the shutdown timeout: the
	// component stops what its requests do not need, and first what
	// must stop before the servers (a fast path that hands them the
	// connections it declines) under the same deadline, so that the
	// whole shutdown takes one timeout at most, not one each.
	Drained func(ctx context.Context)
	// Clock times the drain window; nil means the real one.
	Clock clock.Clock
	// Log receives the sequence's steps; nil discards them.
	Log *slog.Logger
}

// Run serves until ctx is done, a server fails or Failed receives, then
// drains: /readyz fails at once; the servers keep serving for the drain
// window (unless the run ended on an error, or before anything was
// served); then they stop accepting connections and wait, up to the
// shutdown timeout, for the requests in flight; the admin server closes
// last. It returns the error that ended the run, or nil.
func (s Servers) Run(ctx context.Context) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	admin := &http.Server{Handler: s.Health.Handler(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, len(s.Serve)+1)
	go serve(admin, s.Admin, serveErr)

	var err error
	serving := false
	for stop := false; !stop; {
		select {
		case <-ctx.Done():
			stop = true
		case err = <-serveErr:
			err, stop = fmt.Errorf("serving: %w", err), true
		case err = <-s.Failed:
			stop = true
		case <-s.loadedUnlessServing(serving):
			serving = true
			for _, srv := range s.Serve {
				log.Info(s.ServingMessage, append(srv.LogAttrs[:len(srv.LogAttrs):len(srv.LogAttrs)], "address", srv.Listener.Addr().String())...)
				go serve(srv.HTTP, srv.Listener, serveErr)
			}
		}
	}

	s.Health.MarkDraining()
	// Nothing can have been sent here before it served.
	if err == nil && serving && s.DrainWindow > 0 {
		log.Info("draining: not ready, still serving", "window", s.DrainWindow.String())
		<-clk.After(s.DrainWindow)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if s.Drained != nil {
		s.Drained(shutdownCtx)
	}
	for _, srv := range s.Serve {
		if serr := srv.HTTP.Shutdown(shutdownCtx); serr != nil {
			log.Warn("requests still in flight at the end of the shutdown timeout", append(srv.LogAttrs[:len(srv.LogAttrs):len(srv.LogAttrs)], "error", serr)...)
			_ = srv.HTTP.Close()
		}
		// Shutdown closes the listener only if it was served.
		_ = srv.Listener.Close()
	}
	_ = admin.Close()
	return err
}

// loadedUnlessServing returns the channel closed once the component is
// loaded, or nil, which never receives, once its servers are served.
func (s Servers) loadedUnlessServing(serving bool) <-chan struct{} {
	if serving {
		return nil
	}
	return s.Health.Loaded()
}

// serve reports on errc why s stopped serving, unless Shutdown or Close
// stopped it.
func serve(s *http.Server, ln net.Listener, errc chan<- error) {
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		errc <- err
	}
}
