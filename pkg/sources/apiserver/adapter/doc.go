// Package adapter is the ApiServerSource adapter: it watches the kinds
// one source names (package apiserver's Config), in the namespaces the
// reconciler resolved, with the source's service account, and sends a
// CloudEvent to the source's sink for each object added, updated or
// deleted after it started (docs/sources.md, ApiServerSource). It runs as
// one Deployment per source, from cmd/apiserversource-adapter.
package adapter
