// Package controlplane runs a real Kubernetes control plane on loopback:
// etcd, kube-apiserver and, on request, kube-controller-manager, as child
// processes of the calling program. The integration tests and `fw local`
// start their clusters through it.
//
// Start generates a fresh PKI in Go (a cluster CA, serving and client
// certificates, a front-proxy CA for the aggregation layer and a
// service-account key pair), so nothing but the three binaries is needed:
// no kubeadm, no openssl, no kubectl. The API server is configured for
// what Flywheel adds later: RBAC, admission webhooks, aggregated APIs
// (custom.metrics.k8s.io) and bound service-account tokens. Every process
// listens only on 127.0.0.1, on ports chosen free at start, so several
// control planes can run side by side.
//
// Processes run in their own process groups and receive SIGKILL if the
// thread that started them dies, so a crashed test binary leaves nothing
// behind; Stop ends them in reverse start order and removes a temporary
// data directory, and a directory left by a killed program is removed by
// the next Start.
package controlplane
