package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tempDirPrefix starts the name of every temporary data directory,
// followed by the id of the process that made it, so that a later Start
// can remove what a killed or timed-out test binary could not.
const tempDirPrefix = "flywheel-controlplane-"

// makeTempDataDir removes the temporary data directories of processes that
// no longer run, then makes one for this process.
func makeTempDataDir() (string, error) {
	sweepStaleTempDirs(os.TempDir())
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", tempDirPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("making a data directory: %w", err)
	}
	return dir, nil
}

// sweepStaleTempDirs removes tempDir's data directories whose owner has
// exited. Their processes are gone too (Pdeathsig); only files remain. A
// reused pid keeps a stale directory for a while, which is harmless.
func sweepStaleTempDirs(tempDir string) {
	entries, _ := os.ReadDir(tempDir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), tempDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(filepath.Join(tempDir, e.Name()))
		}
	}
}
