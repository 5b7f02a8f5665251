// Command sweep removes what Flywheel's sandboxes and process nodes made
// and could not remove because their process died (a panic, a killed test
// binary): network namespaces, links, routes and the pods' processes.
// hack/test.sh runs it after the tests.
//
//	go run ./hack/sweep [node data directory ...]
package main

import (
	"fmt"
	"os"

	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
)

func main() {
	local.SweepStaleSandboxes()
	failed := false
	for _, dir := range os.Args[1:] {
		if err := node.Sweep(dir); err != nil {
			fmt.Fprintf(os.Stderr, "sweeping the node state in %s: %v\n", dir, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
