// Package proxy is the request path of the flywheel gateway: it finds the
// rule of the current routing table that serves a request, picks a
// backend by weight and an endpoint by load, and forwards the request,
// streaming both ways (HTTP/1.1, h2c, WebSocket upgrades), under the
// rule's timeouts, retrying only what cannot have reached a backend.
package proxy
