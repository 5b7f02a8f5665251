// Package ping is the contract between the PingSource reconciler, the
// adapter that sends every PingSource's events, and the manifests that
// install the adapter: the names of its Deployment, account and Lease, the
// environment it reads, its probe port, and the source attribute of the
// events it sends. It holds no runtime: the adapter lives in
// pkg/sources/ping/adapter, and a test holds config/ to these constants.
package ping
