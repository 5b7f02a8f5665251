// Package testing holds what the reconcilers' table tests share: object
// builders with With… options, listers over a row's objects, and a
// knative.dev/pkg/reconciler/testing Factory that runs a reconciler against
// fake clients.
package testing
