//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
)

// cluster is shared by the tests of this package: one control plane with
// Flywheel installed. Tests that need a fresh one start their own.
var cluster *local.Flywheel

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin, err := controlplanetest.FindBinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	cluster, err = local.Up(ctx, local.Options{ControlPlane: controlplane.Options{BinDir: bin, ControllerManager: true}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the cluster:", err)
		return 1
	}
	defer cluster.Stop()
	fmt.Printf("cluster with Flywheel installed and its webhook serving in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}
