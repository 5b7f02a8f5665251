// Package e2e tests Flywheel as a user meets it: a whole local cluster
// (control plane, Flywheel's components, the process node running pods as
// processes, the built-in gateway), driven through the Knative Serving API
// and reached over HTTP. The tests are behind the `e2e` build tag;
// hack/test.sh runs them last.
package e2e
