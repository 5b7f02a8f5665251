// Command gateway is Flywheel's built-in Gateway API data plane: it
// serves the HTTPRoutes of the Gateways of GatewayClass controller
// flywheel.dev/gateway, one listen address per Gateway (--listen).
package main

import (
	"os"

	"flywheel.dev/pkg/gateway"
)

func main() {
	os.Exit(gateway.Main(os.Args[1:], os.Stderr))
}
