package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPurgeDeletesWhatUpWroteAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	made := []string{
		"cluster/etcd/member/snap/db", "cluster/pki/ca.crt", "volumes/nats/stream", "node/pods/x.log",
		"controller.log", "flywheel-controller.kubeconfig", "kubeconfig",
	}
	for _, f := range made {
		path := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !HasCluster(dir) {
		t.Fatal("HasCluster with etcd's data there = false")
	}
	// The user keeps a file of their own in the same directory.
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := Purge(dir, &out); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, top := range []string{"cluster:", "volumes:", "node:", "controller.log:", "kubeconfig:"} {
		if !strings.Contains(out.String(), top) {
			t.Errorf("Purge's listing does not name %s:\n%s", top, out.String())
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "notes.txt" {
		t.Errorf("left in the directory: %v, want only notes.txt", entries)
	}
	if HasCluster(dir) {
		t.Error("HasCluster after Purge = true")
	}
}

func TestPurgeRefusesWhileFlywheelRuns(t *testing.T) {
	dir := t.TempDir()
	owner, err := ProcessOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeState(dir, &State{Owner: owner, WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
	etcd := filepath.Join(ClusterDir(dir), "etcd")
	if err := os.MkdirAll(etcd, 0o700); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Purge(dir, &out); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("Purge with Flywheel running: got %v, want a refusal", err)
	}
	if _, err := os.Stat(etcd); err != nil {
		t.Errorf("etcd's data is gone after a refused Purge: %v", err)
	}
}

func TestPurgeOfAnEmptyDirectorySaysSo(t *testing.T) {
	var out strings.Builder
	if err := Purge(t.TempDir(), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Nothing to delete") {
		t.Errorf("output: %q", out.String())
	}
}
