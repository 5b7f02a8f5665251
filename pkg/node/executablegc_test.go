package node

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCollectExecutables(t *testing.T) {
	r := newTestResolver(t)
	r.executableMaxBytes = 150
	now := time.Now()
	build := filepath.Join(r.cacheDir, "build")
	if err := os.MkdirAll(build, 0o755); err != nil {
		t.Fatal(err)
	}
	modified := now.Add(-24 * time.Hour)
	file := func(name string, used time.Duration) string {
		p := filepath.Join(r.cacheDir, name)
		if err := os.WriteFile(p, make([]byte, 100), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-used), modified); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file("sha256-old", 3*time.Hour)
	touched := file("sha256-touched", 2*time.Hour)
	file("build/app-1111", time.Hour)
	file("build/app-1111.lock", 5*time.Hour)
	busy := file("build/busy-2222", 4*time.Hour)
	file("sha256-recent", time.Minute)
	// A build of busy-2222 is writing it.
	lock, err := os.OpenFile(busy+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	r.touch(touched, now)
	// A user's executable is not the cache's: touch leaves it alone.
	own, _ := writeExecutable(t, "#!/bin/sh\n")
	before, err := os.Stat(own)
	if err != nil {
		t.Fatal(err)
	}
	r.touch(own, now.Add(time.Hour))

	r.collectExecutables(now)

	var left []string
	for _, dir := range []string{r.cacheDir, build} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				rel, _ := filepath.Rel(r.cacheDir, filepath.Join(dir, e.Name()))
				left = append(left, rel)
			}
		}
	}
	slices.Sort(left)
	// Oldest first until 150 bytes fit: sha256-old and app-1111 go; the
	// build being written stays, and so does everything used in the grace
	// period, over the bound; lock files always stay.
	want := []string{"build/app-1111.lock", "build/busy-2222", "build/busy-2222.lock", "sha256-recent", "sha256-touched"}
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	st, err := os.Stat(touched)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(modified) {
		t.Errorf("touch changed the modification time to %v; resolve's digests are keyed on it", st.ModTime())
	}
	after, err := os.Stat(own)
	if err != nil {
		t.Fatal(err)
	}
	if accessTime(after) != accessTime(before) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("touch changed the times of an executable outside the cache")
	}
}

func TestCollectExecutablesUnbounded(t *testing.T) {
	r := newTestResolver(t)
	r.executableMaxBytes = -1
	p := filepath.Join(r.cacheDir, "sha256-old")
	if err := os.WriteFile(p, make([]byte, 100), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	r.collectExecutables(time.Now())
	if _, err := os.Stat(p); err != nil {
		t.Errorf("with no bound an executable went: %v", err)
	}
}
