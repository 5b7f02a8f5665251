// Package controlplanetest helps tests run a control plane from
// pkg/controlplane: it finds (or builds) the binaries and ties a control
// plane's life to a test's.
package controlplanetest
