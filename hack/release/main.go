// Command release is the Go half of hack/release.sh: it makes and pushes
// the base image, writes the manifest ko resolves, and checks what ko
// resolved (pkg/release).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"flywheel.dev/pkg/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := release.Main(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}
