// Command fakegateway runs a data-plane component of Flywheel for the
// gateway benchmark on fake clientsets: the gateway (pkg/gateway), whose
// one HTTPRoute sends --host to a Revision whose endpoint is --backend,
// or, with --role activator, the activator (pkg/activator) holding that
// Revision, with one ready pod at --backend. It is
// a binary of its own so that the Kubernetes client packages it links,
// and the heap they set up, stay out of the app, the baseline and the
// load generator, which run from the harness's binary.
package main
