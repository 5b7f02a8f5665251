package node

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultExecutableCacheMaxBytes bounds the executables built from ko://
// images when the node's configuration gives no bound. A local cluster's
// components take about 1 GiB of copies by digest and as much of build
// outputs, and every edit of their code, every other checkout, adds more.
const DefaultExecutableCacheMaxBytes = 4 << 30

// executableGrace keeps an executable used this recently whatever the
// bound: resolve hands out a cached path some time before the container
// execs it, and another node process may be between the two.
const executableGrace = 10 * time.Minute

// cachedExecutable is a file collectExecutables weighs.
type cachedExecutable struct {
	path     string
	size     int64
	lastUsed time.Time
	// lock is the file a build output is written under; empty for a
	// copy by digest, which appears whole by rename.
	lock string
}

// collectExecutables removes the least recently used executables (copies
// by digest and build outputs) until they fit in r.executableMaxBytes. It
// runs after a build, the only time the cache grows. A running container's
// executable may go: the process holds it, and a restart resolves the image
// again, rebuilding it (the same source gives the same digest).
func (r *imageResolver) collectExecutables(now time.Time) {
	if r.executableMaxBytes <= 0 {
		return
	}
	files := r.cachedExecutables()
	var total int64
	for _, f := range files {
		total += f.size
	}
	slices.SortFunc(files, func(a, b cachedExecutable) int { return a.lastUsed.Compare(b.lastUsed) })
	for _, f := range files {
		if total <= r.executableMaxBytes {
			return
		}
		if now.Sub(f.lastUsed) < executableGrace {
			// Sorted oldest first: every file left is as recent.
			return
		}
		if removeExecutable(f) {
			total -= f.size
		}
	}
}

// removeExecutable removes f; a build output only when no build is
// writing it. Its lock file stays: removing a lock another process may be
// about to take would let two builds hold "the" lock at once.
func removeExecutable(f cachedExecutable) bool {
	if f.lock == "" {
		return os.Remove(f.path) == nil
	}
	lf, err := os.OpenFile(f.lock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false
	}
	defer lf.Close()
	if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	return os.Remove(f.path) == nil
}

// cachedExecutables lists the copies by digest and the build outputs.
func (r *imageResolver) cachedExecutables() []cachedExecutable {
	var out []cachedExecutable
	add := func(dir string, keep func(name string) bool, lock func(path string) string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !keep(e.Name()) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			p := filepath.Join(dir, e.Name())
			out = append(out, cachedExecutable{path: p, size: info.Size(), lastUsed: accessTime(info), lock: lock(p)})
		}
	}
	add(r.cacheDir,
		func(name string) bool { return strings.HasPrefix(name, "sha256-") },
		func(string) string { return "" })
	add(filepath.Join(r.cacheDir, "build"),
		func(name string) bool { return !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".lock") },
		func(p string) string { return p + ".lock" })
	return out
}

// touch marks an executable of the cache used now, for
// collectExecutables: its access time, not its modification time, which
// keys the digests resolve remembers. Only the cache's own files.
func (r *imageResolver) touch(p string, now time.Time) {
	if strings.HasPrefix(p, r.cacheDir+string(filepath.Separator)) {
		_ = os.Chtimes(p, now, time.Time{})
	}
}

// accessTime is when touch last marked the file, or it was last read.
func accessTime(info os.FileInfo) time.Time {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Unix())
	}
	return info.ModTime()
}
