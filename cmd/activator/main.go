// Command activator is the hop in a Revision's request path while the
// Revision is at zero or short of capacity: it buffers requests until a
// pod has room and wakes the autoscaler (docs/activator.md).
package main

import (
	"os"

	"flywheel.dev/pkg/activator/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stderr))
}
