// Package fake registers a fake Gateway API clientset and informers with
// knative.dev/pkg injection's Fake set, for tests that build controllers
// with rtesting.SetupFakeContext; importing it is enough.
package fake
