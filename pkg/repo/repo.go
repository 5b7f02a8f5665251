// Package repo finds the flywheel.dev repository a command or test runs
// in: local mode builds ko:// images and components from it, and the test
// harness finds its scripts there.
package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotInRepository is returned by Root outside the repository.
var ErrNotInRepository = errors.New("not inside the flywheel.dev repository")

// Root walks up from the working directory to the directory whose go.mod
// declares module flywheel.dev.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return RootFrom(dir)
}

// RootFrom walks up from dir to the directory whose go.mod declares module
// flywheel.dev.
func RootFrom(dir string) (string, error) {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isFlywheelModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotInRepository
		}
		dir = parent
	}
}

// isFlywheelModule reads the module line itself: a go.mod that merely
// mentions flywheel.dev (a tools module, a replace line) is not the root.
func isFlywheelModule(gomod []byte) bool {
	for line := range bytes.Lines(gomod) {
		if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "module" && f[1] == "flywheel.dev" {
			return true
		}
	}
	return false
}
