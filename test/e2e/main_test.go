//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
)

// cluster is the local cluster every test of the package shares.
var cluster *local.Flywheel

// workDir holds the cluster's logs and the node's state. It is fixed, not
// temporary, so that a run that was killed is swept by the next one (and
// by hack/test.sh).
var workDir = filepath.Join(os.TempDir(), "flywheel-e2e")

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin, err := controlplanetest.FindBinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := node.Sweep(NodeDataDir()); err != nil {
		fmt.Fprintln(os.Stderr, "sweeping what an earlier run left:", err)
		return 1
	}
	if err := os.RemoveAll(workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// On a machine whose build cache is cold the node compiles every
	// component first.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cluster, err = local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: bin, ControllerManager: true},
		Controller:     true,
		Node:           true,
		GatewayAddress: "127.0.0.1:0",
		WorkDir:        workDir,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local cluster:", err)
		return 1
	}
	fmt.Printf("local cluster up in %v, gateway on %s, logs in %s\n", time.Since(start).Round(time.Millisecond), cluster.GatewayAddr, workDir)
	code := m.Run()
	cluster.Stop()
	if code == 0 {
		if err := checkHostClean(); err != nil {
			fmt.Fprintln(os.Stderr, "after the cluster stopped:", err)
			return 1
		}
	}
	return code
}

// NodeDataDir is where local.Up keeps the node's state under workDir.
func NodeDataDir() string { return filepath.Join(workDir, "node") }
