package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// logTailLines is how much of a process's log an error carries: enough
// for the fatal message and what led to it, little enough to read.
const logTailLines = 20

// process is one control-plane binary running as a child.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string

	// done is closed once the process has exited and been reaped; waitErr
	// is set before.
	done    chan struct{}
	waitErr error
}

// startProcess runs bin with args, its stdout and stderr appended to
// logDir/<name>.log.
func startProcess(name, bin string, args []string, logDir string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	// The child holds its own copy of the descriptor.
	defer logFile.Close()

	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own lets Stop signal the process and anything
	// it forks at once; Pdeathsig kills it when the thread that started it
	// dies, so a crashed or killed test binary leaves no control plane
	// behind. (Go keeps a thread alive unless the goroutine locked to it
	// exits, so calling Start from a goroutine that has called
	// runtime.LockOSThread and then ends would kill the control plane.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	// Reap as soon as it exits, so an early exit is seen at once and no
	// zombie outlives it.
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id, which is also its process group id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an exit that came too early, with the end of the
// log, which is where the reason is. It wraps errPortInUse when the
// reason was a taken port.
func (p *process) exitError() error {
	tail := p.logTail()
	err := fmt.Errorf("%s (pid %d) exited before it was ready (%w); last lines of %s:\n%s",
		p.name, p.pid(), p.waitErr, p.logPath, tail)
	if strings.Contains(tail, "address already in use") {
		return errors.Join(err, errPortInUse)
	}
	return err
}

// stop sends SIGTERM to the process group, waits up to grace for the
// process to exit, then sends SIGKILL. It reports whether it had to kill.
func (p *process) stop(grace time.Duration) (killed bool) {
	if p.exited() {
		return false
	}
	// Errors mean the group is already gone, which is the goal.
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return false
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
		return true
	}
}

// logTail returns the last logTailLines lines of the process's log.
func (p *process) logTail() string {
	return tailFile(p.logPath, logTailLines)
}

// tailFile returns the last n lines of the file at path, reading at most
// its last 64 KiB: a log can be large, and its end is what explains a
// failure.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	defer f.Close()
	const maxRead = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		if _, err := f.Seek(-maxRead, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read the log: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	return lastLines(b, n)
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
