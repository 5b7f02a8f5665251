// Package http1 is an HTTP/1.1 forwarding fast path: a server loop per
// client connection that reads each request head once, lets the proxy
// decide whether to forward it, answer it or decline it, and forwards it
// over a keep-alive connection of its own to one upstream, with as few
// system calls as the bytes allow and no goroutine hand-off per request.
//
// Whatever it cannot judge safely, or does not implement (h2c, protocol
// upgrades, CONNECT, HTTP/1.0, heads larger than its buffer), it declines:
// the connection, with the bytes already read, goes to a net/http server
// through Server.Declined. Ambiguous framing (request smuggling shapes) is
// refused with 400 and the connection closed, never forwarded.
//
// Upstream.Do is the same upstream side as a lean client: one request with
// its body in hand, written in one write on a kept-alive connection, and
// its response read whole by the caller's goroutine, with the response
// parsing and framing rules the fast path forwards by.
package http1
