// Package forward holds what the proxies in the request path (gateway,
// activator) share to retry a request safely: a request may go to another
// backend only when connecting failed, so that nothing of it was sent, and
// none of its body has been read.
package forward
