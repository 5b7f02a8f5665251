// Package releasetest runs hack/release.sh for the tests, as a user
// would, into a registry the test runs, and reads back what it wrote.
package releasetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"flywheel.dev/config"
	"flywheel.dev/pkg/repo"
)

// Timeout bounds a release: every image built for every platform, on a
// cold build cache.
const Timeout = 20 * time.Minute

// Run runs hack/release.sh with KO_DOCKER_REPO=repository for platforms, into
// a temporary directory of t, and returns the objects of the
// flywheel.yaml it wrote. It fails t if the script fails or prints
// anything but that file's path last. KO_* variables of the
// environment are left out, so that ko uses the base the script makes.
func Run(t testing.TB, repository string, platforms []string) []*unstructured.Unstructured {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "release.sh"),
		"--platform", strings.Join(platforms, ","), "--output", out)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "KO_")
	}), "KO_DOCKER_REPO="+repository)
	// The script, ko and ko's go builds in a process group of their own:
	// on a timeout all of them stop (the script removes its temporary
	// directory on SIGTERM), and none lives on holding the output pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	logs, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("hack/release.sh: %v\n%s", err, logs)
	}
	t.Logf("released for %v in %v", platforms, time.Since(start).Round(time.Second))

	path := filepath.Join(out, "flywheel.yaml")
	lines := strings.Split(strings.TrimSpace(string(logs)), "\n")
	if last := lines[len(lines)-1]; last != path {
		t.Errorf("hack/release.sh printed %q last, want the path of flywheel.yaml %q", last, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := config.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs
}
