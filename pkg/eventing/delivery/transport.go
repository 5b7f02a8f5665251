package delivery

import (
	"net"
	"net/http"
	"time"
)

// Connection pool sizes of NewTransport. A dispatcher runs hundreds of
// deliveries at once, often to one subscriber; Go's default keeps 2 idle
// connections per host, so all the others would be dialled again for
// every event.
const (
	MaxIdleConns        = 1000
	MaxIdleConnsPerHost = 256
)

// dialTimeout bounds connecting to a subscriber.
const dialTimeout = 5 * time.Second

// NewTransport returns the transport Flywheel recommends for delivering
// events at high rates: keep-alives on, up to MaxIdleConnsPerHost idle
// connections kept per subscriber, bounded dials and TLS handshakes, and
// HTTP/2 where a TLS subscriber offers it. Each attempt's own timeout
// comes from the context Deliver gives its request.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: 30 * time.Second,
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
