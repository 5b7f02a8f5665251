package repo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRootFrom(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "a", "b")
	tools := filepath.Join(dir, "a")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), "module flywheel.dev\n\ngo 1.26.0\n")
	// A tools module that depends on flywheel.dev is not the root.
	write(filepath.Join(tools, "go.mod"), "module flywheel.dev/tools\n\nrequire flywheel.dev v0.0.0\n")

	got, err := RootFrom(nested)
	if err != nil || got != dir {
		t.Errorf("RootFrom(%s) = %q, %v; want %q", nested, got, err, dir)
	}
	if _, err := RootFrom(t.TempDir()); !errors.Is(err, ErrNotInRepository) {
		t.Errorf("outside the repository: err = %v, want ErrNotInRepository", err)
	}
}

func TestRootOfThisRepository(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "test.sh")); err != nil {
		t.Errorf("Root() = %s, which has no hack/test.sh: %v", root, err)
	}
}

func TestIsFlywheelModule(t *testing.T) {
	tests := []struct {
		gomod string
		want  bool
	}{
		{gomod: "module flywheel.dev\n\ngo 1.26.0\n", want: true},
		{gomod: "// comment\nmodule   flywheel.dev\n", want: true},
		// The tools module under third_party sits inside the repository;
		// its directory is not the root.
		{gomod: "module flywheel.dev/third_party/controlplane\n", want: false},
		{gomod: "module example.com/flywheel.dev\n", want: false},
		{gomod: "", want: false},
	}
	for _, tc := range tests {
		if got := isFlywheelModule([]byte(tc.gomod)); got != tc.want {
			t.Errorf("isFlywheelModule(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}
