package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DialFunc dials like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// DialError marks a failure to connect: nothing of the request was sent.
type DialError struct {
	Address string
	Err     error
}

func (e *DialError) Error() string { return fmt.Sprintf("connecting to %s: %v", e.Address, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// MarkDialErrors returns dial with its errors wrapped in DialError, so
// that a RoundTripper's error says whether connecting failed.
func MarkDialErrors(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, &DialError{Address: address, Err: err}
		}
		return c, nil
	}
}

// IsDialError reports whether err is, or wraps, a DialError.
func IsDialError(err error) bool {
	var de *DialError
	return errors.As(err, &de)
}

// Body passes an inbound request body to a transport without letting it
// be closed, so that a failed attempt leaves the body for the next, and
// records whether any of it was read, after which no retry is safe.
type Body struct {
	r    io.ReadCloser
	read atomic.Bool
}

// GuardBody returns the Body to send in place of body, or nil when there
// is nothing to guard (no body).
func GuardBody(body io.ReadCloser) *Body {
	if body == nil || body == http.NoBody {
		return nil
	}
	return &Body{r: body}
}

func (b *Body) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// Close does nothing: the server closes the inbound body.
func (b *Body) Close() error { return nil }

// Retryable reports whether a request whose body is b may be sent again:
// none of b was read. A nil Body (no body) always may.
func (b *Body) Retryable() bool { return b == nil || !b.read.Load() }

// BufferPool lends httputil.ReverseProxy its copy buffers, all of one
// size, so that a response body costs no allocation: without a pool,
// every response allocates a 32 KiB buffer, and the garbage collector's
// work grows with the request rate.
type BufferPool struct {
	pool sync.Pool
}

// NewBufferPool returns a pool of buffers of size bytes.
func NewBufferPool(size int) *BufferPool {
	return &BufferPool{pool: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

// Get implements httputil.BufferPool.
func (p *BufferPool) Get() []byte { return *p.pool.Get().(*[]byte) }

// Put implements httputil.BufferPool.
func (p *BufferPool) Put(b []byte) { p.pool.Put(&b) }

// Transports returns the two transports a proxy in front of pods needs,
// both dialing with dial (its errors marked as DialError): one for
// HTTP/1.1 and one for HTTP/2 without TLS (h2c), for backends that say
// they speak it.
func Transports(dial DialFunc) (http1, h2c *http.Transport) {
	marked := MarkDialErrors(dial)
	base := func() *http.Transport {
		return &http.Transport{
			DialContext:         marked,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			// A proxy passes encodings through untouched.
			DisableCompression:    true,
			ExpectContinueTimeout: time.Second,
		}
	}
	h2c = base()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2c.Protocols = &protocols
	return base(), h2c
}
