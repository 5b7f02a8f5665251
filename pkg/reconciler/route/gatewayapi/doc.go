// Package gatewayapi puts a Gateway API clientset and an HTTPRoute
// informer into the controller's context, the way knative.dev/pkg
// injection does for Flywheel's own types: a controller constructor calls
// Get…(ctx), and sharedmain starts and syncs the informer before any
// reconciler runs.
//
// It is written by hand because sigs.k8s.io/gateway-api ships a clientset,
// listers and informers but no knative.dev/pkg injection, and
// pkg/client is generated from Flywheel's own types only (and regenerated
// from scratch). Package fake registers fake clients for tests in the same
// way.
package gatewayapi
