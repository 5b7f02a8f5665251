// Package sources holds the names of the Knative sources API
// (sources.knative.dev) that live outside its Go types: the API group and
// the CloudEvents types its sources emit, each one typed constant that the
// CRDs, the webhook and the adapters share.
package sources
