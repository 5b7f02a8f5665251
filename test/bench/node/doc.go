// Command node benchmarks local mode's start-up and the process node
// (pkg/node): how long `fw local up` takes until every component is
// ready, and how long a pod of a prebuilt binary takes from its creation
// to Ready, with the node's share of that split out.
//
//	node run   the harness: brings the local cluster up (local.Up, as the
//	           e2e tests and `fw local up` do) --up-runs times, then creates
//	           --pods bare pods one after the other and watches each become
//	           Ready, then reports
//
// Times come from the harness's clock: watch events as they arrive,
// files as they appear or are written, lines of the control plane's log
// as they are written; and from the node's own log lines (millisecond
// timestamps) and the pod's app (./podapp), which prints when its main
// began and when it listened. The API's timestamps (conditions,
// startedAt, events) hold whole seconds and are not used.
// hack/bench-node.sh builds the binary and runs it as root;
// docs/benchmarks.md holds the figures and the goals they are read
// against.
package main
