// Package queue is the contract between the Revision reconciler, which
// builds the queue-proxy sidecar container, and the sidecar binary, which
// reads it: ports, environment variables and probe settings, each one typed
// constant that both sides import. The sidecar's implementation lives in
// the subpackages; this package stays free of their dependencies so the API
// types and the webhook can import it.
package queue
