package controlplane

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests run Start against shell scripts standing in for the real
// binaries: they cover what happens when a component fails, which the real
// binaries rarely do on demand. test/integration covers the real ones.

// fakeBinDir writes etcd, kube-apiserver and kube-controller-manager
// scripts; each name not in scripts just sleeps.
func fakeBinDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{EtcdBinary, APIServerBinary, ControllerManagerBinary} {
		body, ok := scripts[name]
		if !ok {
			body = "exec sleep 60"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// isolateTempDir points os.MkdirTemp at a directory of the test's own, so
// the test can see whether Start leaves its temporary data directory.
func isolateTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s holds %v after a failed Start; want the temporary data directory removed", dir, entries)
	}
}

func TestStartReportsAMissingBinary(t *testing.T) {
	bin := fakeBinDir(t, nil)
	if err := os.Remove(filepath.Join(bin, ControllerManagerBinary)); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{BinDir: bin, ControllerManager: true})
	if err == nil || !strings.Contains(err.Error(), ControllerManagerBinary) {
		t.Errorf("Start without kube-controller-manager: error %v, want one naming it", err)
	}
}

func TestStartFailsWithTheLogOfAnEarlyExit(t *testing.T) {
	tmp := isolateTempDir(t)
	bin := fakeBinDir(t, map[string]string{
		EtcdBinary: `echo "etcd: starting with $*"; echo "fatal: the disk is on fire" >&2; exit 2`,
	})
	_, err := Start(t.Context(), Options{BinDir: bin})
	if err == nil {
		t.Fatal("Start succeeded with an etcd that exits at once")
	}
	for _, want := range []string{"etcd", "exited before it was ready", "the disk is on fire", "--listen-client-urls=http://127.0.0.1:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	assertEmpty(t, tmp)
}

// fakeEtcdEnv makes the test binary act as an etcd that only answers
// /health, so that Start gets as far as the API server.
const fakeEtcdEnv = "CONTROLPLANE_TEST_FAKE_ETCD"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEtcdEnv) != "" {
		serveFakeEtcd()
		return
	}
	os.Exit(m.Run())
}

func serveFakeEtcd() {
	for _, arg := range os.Args {
		if addr, ok := strings.CutPrefix(arg, "--listen-client-urls=http://"); ok {
			http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"health":"true"}`) })
			fmt.Println(http.ListenAndServe(addr, nil))
			os.Exit(1)
		}
	}
	fmt.Println("no --listen-client-urls")
	os.Exit(1)
}

// An API server that never becomes ready must not leave it, or etcd,
// running.
func TestStartTimesOutAndStopsWhatItStarted(t *testing.T) {
	tmp := isolateTempDir(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(t.TempDir(), "pids")
	bin := fakeBinDir(t, map[string]string{
		EtcdBinary:      `echo $$ >> ` + pids + `; ` + fakeEtcdEnv + `=1 exec ` + self + ` "$@"`,
		APIServerBinary: `echo $$ >> ` + pids + `; echo "waiting for something that never comes"; exec sleep 60`,
	})
	began := time.Now()
	_, err = Start(t.Context(), Options{BinDir: bin, StartTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Start succeeded with an API server that never serves")
	}
	if d := time.Since(began); d > 15*time.Second {
		t.Errorf("Start took %v with a 2s timeout", d)
	}
	for _, want := range []string{"kube-apiserver", "not ready", "/readyz", "waiting for something that never comes", context.DeadlineExceeded.Error()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	b, _ := os.ReadFile(pids)
	started := strings.Fields(string(b))
	if len(started) != 2 {
		t.Fatalf("started processes %v, want etcd and kube-apiserver", started)
	}
	for _, s := range started {
		pid, _ := strconv.Atoi(s)
		waitGone(t, pid)
	}
	assertEmpty(t, tmp)
}

func TestStartRetriesWhenAPortIsTaken(t *testing.T) {
	isolateTempDir(t)
	attempts := filepath.Join(t.TempDir(), "attempts")
	bin := fakeBinDir(t, map[string]string{
		EtcdBinary: `echo x >> ` + attempts + `; echo "listen tcp 127.0.0.1:2380: bind: address already in use" >&2; exit 1`,
	})
	_, err := Start(t.Context(), Options{BinDir: bin})
	if err == nil {
		t.Fatal("Start succeeded with an etcd that cannot bind")
	}
	b, _ := os.ReadFile(attempts)
	if got := strings.Count(string(b), "x"); got != portAttempts {
		t.Errorf("etcd ran %d times, want %d (a taken port is retried with new ports)", got, portAttempts)
	}
}

func TestStopIsIdempotentAndNilSafe(t *testing.T) {
	var nilCP *ControlPlane
	if err := nilCP.Stop(); err != nil {
		t.Errorf("Stop on nil: %v", err)
	}
	dir := t.TempDir()
	p, err := startProcess("sleeper", "/bin/sleep", []string{"60"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &ControlPlane{DataDir: data, tempDataDir: true, procs: []*process{p}}
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- c.Stop() }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("third Stop: %v", err)
	}
	waitGone(t, p.pid())
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("temporary data directory after Stop: %v, want it removed", err)
	}
}

func TestFeatureGatesAreSorted(t *testing.T) {
	got := featureGates(map[string]bool{"Zeta": true, "Alpha": false, "InPlacePodVerticalScaling": true})
	want := "Alpha=false,InPlacePodVerticalScaling=true,Zeta=true"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("featureGates (-want, +got):\n%s", diff)
	}
	if got := featureGates(nil); got != "" {
		t.Errorf("featureGates(nil) = %q, want empty", got)
	}
}

func TestStaleTempDirsOfExitedProcessesAreSwept(t *testing.T) {
	tmp := t.TempDir()
	// A child that has exited and been reaped leaves a pid no process has.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	names := map[string]bool{
		fmt.Sprintf("%s%d-123", tempDirPrefix, dead):        false,
		fmt.Sprintf("%s%d-456", tempDirPrefix, os.Getpid()): true,
		"flywheel-something-else":                           true,
		tempDirPrefix + "notapid-1":                         true,
	}
	for name := range names {
		if err := os.MkdirAll(filepath.Join(tmp, name, "pki"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sweepStaleTempDirs(tmp)
	got := map[string]bool{}
	for name := range names {
		_, err := os.Stat(filepath.Join(tmp, name))
		got[name] = err == nil
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("directories kept (-want, +got):\n%s", diff)
	}
}
