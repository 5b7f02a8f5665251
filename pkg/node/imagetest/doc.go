// Package imagetest builds container images and serves them from a real
// registry (go-containerregistry's registry implementation) on loopback,
// for the tests and benchmarks of the node's registry images.
package imagetest
