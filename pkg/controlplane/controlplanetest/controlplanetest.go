package controlplanetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	return runBuildScript()
}

// runBuildScript runs hack/build-controlplane.sh with env added to the
// test's environment and returns the directory it prints.
func runBuildScript(env ...string) (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w; set %s to a directory of control-plane binaries", err, BinDirEnv)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "build-controlplane.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	// The build reports progress on stderr; a ten-minute silence would
	// look like a hang.
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %s: %w", strings.Join(slices.Concat(env, []string{"hack/build-controlplane.sh"}), " "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New("hack/build-controlplane.sh printed no directory")
	}
	return dir, nil
}

// BuiltOnRequest returns the path of a program that
// hack/build-controlplane.sh builds only when asked to, by
// FLYWHEEL_BUILD_<NAME>=1 (traefik, jaeger). It runs the script so asked
// every time, not only when the program is missing: the script checks
// that the program is of the pinned version, builds it when not and, when
// another run is building it, waits for that build and reuses it
// (hack/test.sh starts these builds in the background while the tests
// before the ones that need them run). With the program built, the script
// returns in a fraction of a second.
func BuiltOnRequest(t testing.TB, name string) string {
	t.Helper()
	start := time.Now()
	dir, err := runBuildScript("FLYWHEEL_BUILD_" + strings.ToUpper(name) + "=1")
	if err != nil {
		t.Fatalf("building %s: %v", name, err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("%s: built, or waited for its build, in %v", name, waited.Round(time.Second))
	}
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("hack/build-controlplane.sh did not build %s: %v", name, err)
	}
	return bin
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
