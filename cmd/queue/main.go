// Command queue is the queue-proxy sidecar of every revision pod: it
// forwards requests to the app under its concurrency limit and timeouts,
// measures them for the autoscaler, probes the app and drains on
// termination. `queue iptables` installs the transparent-mode rules.
package main

import (
	"os"

	"flywheel.dev/pkg/queue/sidecar"
)

func main() {
	os.Exit(sidecar.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
