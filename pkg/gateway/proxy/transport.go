package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/network/forward"
)

// state is what ServeHTTP decided for a request, carried to the
// transport and the error handler in the request's context.
type state struct {
	rule    *routing.Rule
	backend *routing.Backend
	upgrade bool
	// phase says whether timeouts.request still runs: the timer and the
	// transport race to move it from phaseWaiting, so that exactly one
	// decides between a 504 and the backend's response.
	phase           atomic.Int32
	backendTimedOut atomic.Bool
}

// The phases of a request under timeouts.request.
const (
	phaseWaiting  int32 = iota // no response yet; the timeout runs
	phaseStarted               // the response's headers came in time
	phaseTimedOut              // the timeout passed first: answer 504
	phaseUntimed               // the rule has no timeouts.request
)

// errRequestTimeout is what the transport returns for a response that
// came after timeouts.request passed; the error handler answers 504.
var errRequestTimeout = errors.New("the response came after timeouts.request passed")

type stateKey struct{}

func withState(ctx context.Context, st *state) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateOf(ctx context.Context) *state { return ctx.Value(stateKey{}).(*state) }

// defaultMaxAttempts is Options.MaxAttempts when zero.
const defaultMaxAttempts = 3

// transport sends a request to an endpoint of the backend ServeHTTP
// chose. When connecting to an endpoint fails, nothing of the request has
// been sent, so it is tried on another endpoint; any later failure is
// returned as it is, since the backend may have acted on the request.
type transport struct {
	http1, h2c  *http.Transport
	maxAttempts int
}

func newTransport(opts Options) *transport {
	dial := opts.Dial
	if dial == nil {
		timeout := opts.DialTimeout
		if timeout == 0 {
			timeout = 5 * time.Second
		}
		dial = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	http1, h2c := forward.Transports(dial)
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	return &transport{http1: http1, h2c: h2c, maxAttempts: attempts}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st := stateOf(ctx)
	rt := t.http1
	// An upgrade (WebSocket) is an HTTP/1.1 mechanism, whatever the
	// backend speaks otherwise.
	if st.backend.H2C && !st.upgrade {
		rt = t.h2c
	}
	body := forward.GuardBody(req.Body)
	if body != nil {
		req.Body = body
	}

	var tried []*routing.Endpoint
	var lastErr error
	for range t.maxAttempts {
		ep := st.backend.Pick(tried)
		if ep == nil {
			break
		}
		tried = append(tried, ep)
		resp, err := t.attempt(rt, req, st, ep)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !forward.IsDialError(err) || !body.Retryable() || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, &noEndpointError{backend: st.backend.Name, tried: tried, last: lastErr}
}

// attempt sends req to ep and counts it in flight there until the
// response body is closed. req is the reverse proxy's outbound copy,
// this transport's alone, so each attempt points its URL at its
// endpoint in place.
func (t *transport) attempt(rt http.RoundTripper, req *http.Request, st *state, ep *routing.Endpoint) (*http.Response, error) {
	var stopTimeout func()
	out := req
	if d := st.rule.BackendTimeout; d > 0 {
		ctx, stop := context.WithCancel(req.Context())
		timer := time.AfterFunc(d, func() { st.backendTimedOut.Store(true); stop() })
		stopTimeout = func() { timer.Stop(); stop() }
		out = req.WithContext(ctx)
	}
	out.URL.Host = ep.Address

	ep.Begin()
	resp, err := rt.RoundTrip(out)
	if err != nil {
		ep.End()
		if stopTimeout != nil {
			stopTimeout()
		}
		return nil, err
	}
	// The response has started (an upgrade's 101 too): timeouts.request
	// no longer applies, unless it passed first.
	if !st.phase.CompareAndSwap(phaseWaiting, phaseStarted) && st.phase.Load() == phaseTimedOut {
		_ = resp.Body.Close()
		ep.End()
		if stopTimeout != nil {
			stopTimeout()
		}
		return nil, errRequestTimeout
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
		resp.Body = &countedConn{ReadWriteCloser: rwc, counted: counted{ep: ep, stop: stopTimeout}}
	} else {
		resp.Body = &countedBody{ReadCloser: resp.Body, counted: counted{ep: ep, stop: stopTimeout}}
	}
	return resp, nil
}

// counted is a request in flight to an endpoint, with its backend
// timeout when it has one.
type counted struct {
	ep *routing.Endpoint
	// stop ends the backend timeout; nil without one.
	stop  func()
	ended atomic.Bool
}

// finish counts the request done, once however often it is called.
func (c *counted) finish() {
	if c.ended.CompareAndSwap(false, true) {
		c.ep.End()
		if c.stop != nil {
			c.stop()
		}
	}
}

// countedBody finishes its request when the response body is closed.
type countedBody struct {
	io.ReadCloser
	counted
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

// countedConn is countedBody for an upgraded connection, which the
// reverse proxy must be able to write to.
type countedConn struct {
	io.ReadWriteCloser
	counted
}

func (c *countedConn) Close() error {
	err := c.ReadWriteCloser.Close()
	c.finish()
	return err
}

// noEndpointError says that no endpoint of a backend took a connection.
type noEndpointError struct {
	backend string
	tried   []*routing.Endpoint
	last    error
}

func (e *noEndpointError) Error() string {
	addrs := make([]string, len(e.tried))
	for i, ep := range e.tried {
		addrs[i] = ep.Address
	}
	return fmt.Sprintf("no endpoint of Service %s accepted a connection (tried %s): %v", e.backend, strings.Join(addrs, ", "), e.last)
}

func (e *noEndpointError) Unwrap() error { return e.last }
