// Command broker-ingress takes the CloudEvents posted to every Broker and
// stores each in its Broker's NATS JetStream stream before answering 202
// (docs/eventing.md).
package main

import (
	"os"

	"flywheel.dev/pkg/eventing/ingress"
)

func main() {
	os.Exit(ingress.Main(os.Args[1:], os.Stderr))
}
