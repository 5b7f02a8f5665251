package node

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"flywheel.dev/pkg/node/imagetest"
)

// TestUnpackLayers applies two layers made here and checks the root
// filesystem a container would see: files, modes, owners, links, and the
// second layer's whiteouts.
func TestUnpackLayers(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	setuid := imagetest.File("app/run", "#!/bin/true\n")
	setuid.Mode = 0o4755
	owned := imagetest.File("app/data", "data")
	owned.UID, owned.GID, owned.Mode = 1000, 2000, 0o600
	appDir := imagetest.Dir("app")
	appDir.UID, appDir.Mode = 1000, 0o750
	lower := imagetest.Tar(
		imagetest.Dir("etc"),
		imagetest.File("etc/os-release", "lower"),
		appDir, setuid, owned,
		imagetest.Symlink("app/link", "data"),
		imagetest.Hardlink("app/hard", "app/data"),
		imagetest.Dir("gone"), imagetest.File("gone/a", "a"),
		imagetest.Dir("opq"), imagetest.File("opq/old", "old"),
		imagetest.File("deep/parent/made/file", "parents made on the way"),
	)
	if err := unpackLayer(root, bytes.NewReader(lower), "lower"); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, root, "app/run", 0o755|fs.ModeSetuid, 0, 0)
	checkEntry(t, root, "app/data", 0o600, 1000, 2000)
	checkEntry(t, root, "app", 0o750|fs.ModeDir, 1000, 0)
	if l, err := os.Readlink(filepath.Join(root, "app/link")); err != nil || l != "data" {
		t.Errorf("app/link = %q, %v; want a symbolic link to data", l, err)
	}
	if !sameFile(t, filepath.Join(root, "app/hard"), filepath.Join(root, "app/data")) {
		t.Error("app/hard is not a hard link of app/data")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "deep/parent/made/file")); string(b) != "parents made on the way" {
		t.Errorf("deep/parent/made/file holds %q", b)
	}

	upper := imagetest.Tar(
		imagetest.Whiteout("gone"),
		// An entry of this layer before its directory's opaque whiteout
		// stays: the whiteout hides the layers below only.
		imagetest.File("opq/new", "new"),
		imagetest.Opaque("opq"),
		imagetest.Whiteout("app/link"),
		imagetest.File("etc/os-release", "upper"),
	)
	if err := unpackLayer(root, bytes.NewReader(upper), "upper"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gone", "opq/old", "app/link", "opq/.wh..wh..opq", ".wh.gone"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after the whiteouts (%v)", p, err)
		}
	}
	for p, want := range map[string]string{"opq/new": "new", "etc/os-release": "upper", "app/hard": "data"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
}

// TestUnpackRefusesTraversal: no entry, hard link or symbolic link of a
// layer reaches outside the root filesystem.
func TestUnpackRefusesTraversal(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		entries []imagetest.Entry
	}{
		{name: "an entry climbing out", entries: []imagetest.Entry{imagetest.File("../escaped", "x")}},
		{name: "an entry climbing out midway", entries: []imagetest.Entry{imagetest.File("a/../../escaped", "x")}},
		{name: "a hard link to outside", entries: []imagetest.Entry{imagetest.Hardlink("hard", "../escaped")}},
		{name: "an entry through a symbolic link out", entries: []imagetest.Entry{
			imagetest.Symlink("up", "../.."), imagetest.File("up/escaped", "x"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outer := t.TempDir()
			root := filepath.Join(outer, "root")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outer, "escaped"), []byte("host"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := unpackLayer(root, bytes.NewReader(imagetest.Tar(tc.entries...)), "sha256:evil")
			if err == nil || !strings.Contains(err.Error(), "leads out of the image's root filesystem") || !strings.Contains(err.Error(), "sha256:evil") {
				t.Errorf("unpackLayer() = %v, want an error naming the layer and saying the entry leads out of the root", err)
			}
			if b, _ := os.ReadFile(filepath.Join(outer, "escaped")); string(b) != "host" {
				t.Errorf("the file outside the root now holds %q", b)
			}
		})
	}
}

// TestUnpackAbsoluteSymlinkStaysInside: a link to / means the image's
// root, never the host's.
func TestUnpackAbsoluteSymlinkStaysInside(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	layer := imagetest.Tar(imagetest.Symlink("hostroot", "/"), imagetest.File("hostroot/tmp/flywheel-unpack-test", "inside"))
	if err := unpackLayer(root, bytes.NewReader(layer), "abs"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "tmp/flywheel-unpack-test")); err != nil || string(b) != "inside" {
		t.Errorf("the file is not inside the root: %q, %v", b, err)
	}
	if _, err := os.Lstat("/tmp/flywheel-unpack-test"); err == nil {
		_ = os.Remove("/tmp/flywheel-unpack-test")
		t.Error("the layer wrote to the host's /tmp")
	}
}

func checkEntry(t *testing.T, root, p string, mode fs.FileMode, uid, gid uint32) {
	t.Helper()
	st, err := os.Lstat(filepath.Join(root, p))
	if err != nil {
		t.Error(err)
		return
	}
	if st.Mode() != mode {
		t.Errorf("%s has mode %v, want %v", p, st.Mode(), mode)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != uid || sys.Gid != gid {
		t.Errorf("%s is owned by %d:%d, want %d:%d", p, sys.Uid, sys.Gid, uid, gid)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// requireRoot skips a test that sets owners, as unpacking does.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking sets owners: needs root")
	}
}

// TestUnpackLeavesDeviceNodesOut: a layer's character and block devices
// are not made (nothing would stand between a container and the host's
// real device), and what a lower layer had at their paths is gone; a
// FIFO is made.
func TestUnpackLeavesDeviceNodesOut(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	lower := imagetest.Tar(imagetest.Dir("data"), imagetest.File("data/disk", "a file below"))
	upper := imagetest.Tar(
		imagetest.Entry{Name: "data/disk", Type: tar.TypeBlock, Mode: 0o666},
		imagetest.Entry{Name: "data/tty", Type: tar.TypeChar, Mode: 0o666},
		imagetest.Entry{Name: "data/pipe", Type: tar.TypeFifo, Mode: 0o644},
	)
	if err := unpackLayer(root, bytes.NewReader(lower), "lower"); err != nil {
		t.Fatal(err)
	}
	if err := unpackLayer(root, bytes.NewReader(upper), "upper"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data/disk", "data/tty"} {
		if _, err := os.Lstat(filepath.Join(root, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want no such file: devices are left out", name, err)
		}
	}
	if st, err := os.Lstat(filepath.Join(root, "data/pipe")); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("data/pipe: %v, %v; want a FIFO", st, err)
	}
}
