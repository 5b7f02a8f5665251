package controlplanetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/repo"
)

// BinDirEnv names the environment variable that points at a directory of
// control-plane binaries, so that CI and hack/test.sh build them once for
// every test binary.
const BinDirEnv = "FLYWHEEL_CONTROLPLANE_BIN"

// FindBinDir returns the directory holding etcd, kube-apiserver and
// kube-controller-manager: $FLYWHEEL_CONTROLPLANE_BIN when set, else the
// directory hack/build-controlplane.sh prints, which builds the binaries
// on first use (about ten minutes) and finds them in its cache after. It
// is for TestMain, where there is no testing.TB yet.
func FindBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w; set %s to a directory of control-plane binaries", err, BinDirEnv)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "build-controlplane.sh"))
	cmd.Dir = root
	// The build reports progress on stderr; a ten-minute silence would
	// look like a hang.
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running hack/build-controlplane.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New("hack/build-controlplane.sh printed no directory")
	}
	return dir, nil
}

// BinDir is FindBinDir for a test: it fails the test on error.
func BinDir(t testing.TB) string {
	t.Helper()
	dir, err := FindBinDir()
	if err != nil {
		t.Fatalf("finding the control-plane binaries: %v", err)
	}
	return dir
}

// StartForTest starts a control plane for t and stops it when t and its
// subtests have finished, whether they passed, failed or panicked. An
// empty opts.BinDir is filled by BinDir, a nil opts.Log by t.Log.
func StartForTest(t *testing.T, opts controlplane.Options) *controlplane.ControlPlane {
	t.Helper()
	if opts.BinDir == "" {
		opts.BinDir = BinDir(t)
	}
	if opts.Log == nil {
		opts.Log = testLog{t}
	}
	cp, err := controlplane.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return cp
}

// testLog writes a control plane's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
