// Command pingsource-adapter sends the events of every PingSource in the
// cluster at the ticks of their schedules; its replicas elect a leader,
// which alone sends (docs/sources.md).
package main

import (
	"os"

	"flywheel.dev/pkg/sources/ping/adapter"
)

func main() {
	os.Exit(adapter.Main(os.Args[1:], os.Stderr))
}
