package local

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadState(dir); !errors.Is(err, ErrNoState) {
		t.Fatalf("ReadState of an empty directory: got %v, want ErrNoState", err)
	}
	owner, err := ProcessOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := &State{
		Owner:          owner,
		Ready:          true,
		Started:        time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		WorkDir:        dir,
		Kubeconfig:     filepath.Join(dir, "kubeconfig"),
		GatewayAddress: "127.0.0.1:8080",
		NodeDataDir:    filepath.Join(dir, "node"),
		Components: []Component{
			{Name: "etcd", Process: Process{PID: 42, Start: 7, Executable: "/bin/etcd"}, Address: "127.0.0.1:2379", Log: "/logs/etcd.log"},
			{Name: "gateway", InProcess: true, Address: "127.0.0.1:8080", Log: filepath.Join(dir, "gateway.log")},
		},
		Sandboxes: []SandboxRecord{{Netns: "fwsb-42-1", HostLink: "fwsb42h1"}},
	}
	if err := writeState(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadState (-want, +got):\n%s", diff)
	}
	if !got.Running() {
		t.Error("a state owned by this test process: Running() = false, want true")
	}
	if c, ok := got.Component("etcd"); !ok || c.Process.PID != 42 {
		t.Errorf(`Component("etcd") = %+v, %v`, c, ok)
	}
}

func TestStateStale(t *testing.T) {
	// A process that has exited, and one whose pid runs but is not the
	// recorded process (another start time, another executable).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	self, err := ProcessOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		owner Process
		want  bool
	}{
		{name: "this process", owner: self, want: true},
		{name: "exited", owner: Process{PID: cmd.Process.Pid, Start: 1, Executable: "/usr/bin/true"}},
		{name: "pid reused: other start time", owner: Process{PID: self.PID, Start: self.Start + 1, Executable: self.Executable}},
		{name: "pid reused: other executable", owner: Process{PID: self.PID, Start: self.Start, Executable: "/usr/bin/fw"}},
		{name: "no pid", owner: Process{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &State{Owner: tc.owner}
			if got := st.Running(); got != tc.want {
				t.Errorf("Running() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStopProcessOnlyTheRecordedOne(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep executable")
	}
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	rec, err := ProcessOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(sleep); rec.Executable != want {
		t.Errorf("recorded executable %q, want %q", rec.Executable, want)
	}

	// The same pid, recorded as running another executable (the pid was
	// reused since): it must not be signalled.
	other := rec
	other.Executable = "/usr/local/bin/kube-apiserver"
	if StopProcess(other, time.Second) {
		t.Error("StopProcess signalled a pid that runs another executable")
	}
	older := rec
	older.Start--
	if StopProcess(older, time.Second) {
		t.Error("StopProcess signalled a pid that started at another time")
	}
	select {
	case <-exited:
		t.Fatal("the child exited though its record did not match")
	case <-time.After(200 * time.Millisecond):
	}

	if !StopProcess(rec, 5*time.Second) {
		t.Fatal("StopProcess did not stop the recorded process")
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the recorded process still runs after StopProcess")
	}
	if rec.Running() {
		t.Error("Running() = true after StopProcess")
	}
}

func TestDownWithoutState(t *testing.T) {
	if err := Down(t.Context(), t.TempDir(), time.Second, os.Stderr); !errors.Is(err, ErrNoState) {
		t.Errorf("Down of an empty directory: got %v, want ErrNoState", err)
	}
}

func TestDownSweepsAStaleState(t *testing.T) {
	// The owner has exited and none of its recorded processes runs: Down
	// removes the state (and, without root, needs nothing else).
	dir := t.TempDir()
	cpDir := filepath.Join(dir, "controlplane")
	if err := os.Mkdir(cpDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := &State{
		Owner:               Process{PID: 1 << 22, Start: 1, Executable: "/usr/bin/fw"},
		WorkDir:             dir,
		ControlPlaneTempDir: cpDir,
		Components:          []Component{{Name: "etcd", Process: Process{PID: 1<<22 + 1, Start: 1, Executable: "/bin/etcd"}}},
	}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Down(t.Context(), dir, time.Second, &out); err != nil {
		t.Fatalf("Down: %v\n%s", err, out.String())
	}
	if _, err := ReadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("after Down, ReadState: got %v, want ErrNoState", err)
	}
	if _, err := os.Stat(cpDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control plane's directory is still there (%v)", err)
	}
	t.Log(out.String())
}
