// Package integration tests Flywheel's API against a real etcd and
// kube-apiserver with Flywheel's manifests installed and its webhook
// running. The tests are behind the `integration` build tag; hack/test.sh
// runs them.
package integration
