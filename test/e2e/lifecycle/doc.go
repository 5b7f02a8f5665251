// Package lifecycle tests `fw local` as a user runs it: the fw binary
// brings a local cluster up in a child process, a Deployment and a
// Service run on it, `fw local status` and `fw local logs` report on it,
// and `fw local down` leaves nothing behind on the host, whether fw local
// up stops itself or was killed. It has a package of its own, behind the
// `e2e` build tag, because it runs clusters of its own: hack/test.sh runs
// the e2e packages one at a time, since two local clusters cannot share
// a host (the node's address and pod range).
package lifecycle
