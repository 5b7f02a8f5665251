// Command broker-dispatcher delivers the events every Broker stored to
// the subscribers of its Triggers, with retries, dead letters and replies
// (docs/eventing.md).
package main

import (
	"os"

	"flywheel.dev/pkg/eventing/dispatcher"
)

func main() {
	os.Exit(dispatcher.Main(os.Args[1:], os.Stderr))
}
