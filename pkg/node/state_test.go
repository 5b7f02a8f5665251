package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSweepLeavesARunningNodeAlone(t *testing.T) {
	dir := t.TempDir()
	// pid 1 is alive and is not this process: its state must not be swept.
	init, err := processStart(1)
	if err != nil {
		t.Skipf("no /proc/1/stat: %v", err)
	}
	s, err := newStateStore(dir, processRef{PID: 1, Start: init})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pod("uid", func(r *podRecord) { r.LogDir = filepath.Join(dir, "pods", "x") }); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(dir); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Errorf("Sweep() = %v, want a refusal naming the running node", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFileName)); err != nil {
		t.Errorf("the state file is gone: %v", err)
	}
}

func TestSweepRemovesWhatADeadNodeRecorded(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "pods", "ns_p_uid")
	if err := os.MkdirAll(filepath.Join(logDir, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A pid with another start time stands for a node that is gone.
	s, err := newStateStore(dir, processRef{PID: 1, Start: 1 << 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pod("uid", func(r *podRecord) { r.Namespace, r.Name, r.LogDir = "ns", "p", logDir }); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{logDir, filepath.Join(dir, stateFileName)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Sweep (%v)", p, err)
		}
	}
	if err := Sweep(dir); err != nil {
		t.Errorf("Sweep with nothing recorded: %v", err)
	}
}

func TestSelf(t *testing.T) {
	me, err := self()
	if err != nil {
		t.Fatal(err)
	}
	if me.PID != os.Getpid() || me.Start == 0 || !me.alive() {
		t.Errorf("self() = %+v, want this process, alive", me)
	}
	if (processRef{PID: me.PID, Start: me.Start + 1}).alive() {
		t.Error("a reference with another start time counts as alive")
	}
}
