// Package proxy forwards the sidecar's requests to the app on loopback:
// HTTP/1.1 and h2c (gRPC) on one listener, WebSocket upgrades, streamed
// bodies flushed as they arrive, forwarding headers, and W3C trace context.
// It is the innermost stage of the sidecar's handler chain; limits,
// timeouts and stats wrap it in package sidecar.
package proxy
