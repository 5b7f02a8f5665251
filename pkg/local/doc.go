// Package local brings Flywheel up on one machine: the real Kubernetes
// control plane from pkg/controlplane, Flywheel's manifests, and Flywheel's
// components each in a network sandbox of its own with a pod-like address.
// `fw local up` and the integration tests both start Flywheel through it.
// Up records what it runs in its work directory's state file (State), so
// that `fw local status`, `logs` and `down` find it from another process,
// and Down stops it or, after a crash, removes what it left.
package local
