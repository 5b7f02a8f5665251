// Package apiserver is the contract between the ApiServerSource
// reconciler, which builds each source's adapter Deployment, and the
// adapter binary, which reads it: the environment variable that carries
// the adapter's Config, the Config's JSON field names, the type of the
// event that reports each change, and the adapter's probe port and paths.
// The sink and the CloudEvents overrides travel in the binding contract
// of package sources (K_SINK, K_CE_OVERRIDES).
//
// The adapter itself lives in the subpackage adapter; this package stays
// free of its dependencies (it imports only the standard library and the
// event type names of package apis/sources), so the reconciler links the
// contract and never the watcher.
package apiserver
