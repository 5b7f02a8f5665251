package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"flywheel.dev/pkg/node/containerinit"
)

// processSpec is what one process of a container (its main process, or an
// exec probe or hook) is started with.
type processSpec struct {
	// path is the executable; args are its argv, args[0] included.
	path string
	args []string
	env  []string
	dir  string
	// uid and gid are the credentials; nil keeps the node's.
	uid, gid *int64
	groups   []int64
	// privileges limit what the process may gain beyond its user.
	privileges containerinit.Privileges
	// stdout and stderr receive the output; stdin is always at EOF.
	stdout, stderr io.Writer
	// netns is the network namespace to run in, empty for the host's.
	netns string

	// exe, when set, is run instead of path (which is then only argv[0]'s
	// meaning): an image's executable on the host, which the container's
	// mounts may hide.
	exe string
	// root is the container's filesystem, built in a mount namespace of
	// its own; nil keeps the node's.
	root *containerinit.RootPlan
	// hostname, when set, is the hostname in a UTS namespace of the
	// process's own (the pod's hostname; empty for hostNetwork pods).
	hostname string
	// enterPID, when set, runs the process in the mount and UTS
	// namespaces of that process (an exec probe in its container).
	enterPID int
	// cgroup, when set, is the cgroup the process starts in, named by its
	// path in the host's first hierarchy (cgroupLayout.root): it is cloned
	// into the v2 directory and moved into the v1 ones before the
	// container init goes on.
	cgroup string
}

// process is a started process, the leader of its own process group.
type process interface {
	pid() int
	// done is closed when the process has exited and its group has been
	// cleaned up; exitCode is valid after that.
	done() <-chan struct{}
	exitCode() int
	// signal sends sig to the whole process group.
	signal(sig syscall.Signal) error
}

// runner starts processes. The node uses execRunner; unit tests replace it
// with fakes that need neither root nor real executables.
type runner interface {
	start(spec processSpec) (process, error)
}

// execRunner runs real processes with os/exec.
type execRunner struct{}

func (execRunner) start(spec processSpec) (process, error) {
	if len(spec.args) == 0 {
		spec.args = []string{spec.path}
	}
	// The container init (this executable, re-executed) reads its spec
	// from one pipe and reports a failure before exec on another.
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer specR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return nil, err
	}
	defer statusR.Close()
	defer statusW.Close()
	cmd := &exec.Cmd{
		// The running executable itself, even if its file was replaced
		// since (a rebuilt test binary).
		Path:       "/proc/self/exe",
		Args:       []string{containerinit.Arg0},
		Stdout:     spec.stdout,
		Stderr:     spec.stderr,
		ExtraFiles: []*os.File{specR, statusW},
		// Output that is not a file is copied through a pipe, which a
		// child left behind may hold open: do not wait on it for long
		// once the process itself has exited.
		WaitDelay: 2 * time.Second,
		SysProcAttr: &syscall.SysProcAttr{
			// A group of its own, so that stopping a container reaches
			// the children it started too.
			Setpgid: true,
			// A crashed node takes its pods' processes along; Sweep
			// removes the rest.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	var v1Cgroups []string
	if spec.cgroup != "" {
		var unified string
		unified, v1Cgroups = cgroupPlacement(spec.cgroup)
		if unified != "" {
			// Started inside the cgroup (clone3), so not even its first
			// instructions run outside it.
			fd, err := unix.Open(unified, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				specW.Close()
				return nil, fmt.Errorf("opening cgroup %s: %w", unified, err)
			}
			defer unix.Close(fd)
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = fd
		}
	}
	if spec.enterPID == 0 {
		if spec.root != nil {
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS
		}
		if spec.hostname != "" {
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUTS
		}
	}
	init := containerinit.Spec{
		Args: spec.args, Env: spec.env, Dir: spec.dir,
		Exe: spec.exe, Path: spec.path,
		UID: spec.uid, GID: spec.gid, Groups: spec.groups, Privileges: spec.privileges,
		Hostname: spec.hostname, Root: spec.root, EnterPID: spec.enterPID,
		// The init makes the namespace once it is in every hierarchy's
		// cgroup (v1 ones are joined after the clone), so that it is
		// rooted at the container's cgroups.
		CgroupNS: spec.enterPID == 0 && spec.root != nil && spec.cgroup != "",
	}
	b, err := json.Marshal(&init)
	if err != nil {
		specW.Close()
		return nil, err
	}
	// The child inherits the network namespace of the thread that forks it.
	if err := inNetns(spec.netns, cmd.Start); err != nil {
		specW.Close()
		return nil, err
	}
	specR.Close()
	statusW.Close()
	p := &execProcess{cmd: cmd, exited: make(chan struct{})}
	go p.wait()
	// The init waits for its spec: it runs nothing of the container's
	// before it is in the container's v1 cgroups (memory limits live
	// there on a v1 or hybrid host).
	if err := joinCgroups(cmd.Process.Pid, v1Cgroups); err != nil {
		specW.Close()
		_ = p.signal(syscall.SIGKILL)
		<-p.exited
		return nil, err
	}
	// A large spec fills the pipe before the child reads it: write while
	// the child runs.
	go func() {
		_, _ = specW.Write(b)
		specW.Close()
	}()
	msg, _ := io.ReadAll(statusR)
	if len(msg) > 0 {
		<-p.exited
		return nil, errors.New(string(msg))
	}
	return p, nil
}

// execProcess is a process started by execRunner.
type execProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}

	mu   sync.Mutex
	code int
	// reaped is set once the leader has been waited for: its pid (and so
	// the group id) may then belong to someone else.
	reaped bool
}

func (p *execProcess) wait() {
	err := p.cmd.Wait()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = exitCodeOf(ee.ProcessState)
	case err != nil:
		// An I/O error copying output; the process itself is gone.
		code = exitCodeOf(p.cmd.ProcessState)
	}
	// A container ends with its main process: whatever it left running in
	// its group goes too. The group id stays reserved while members live.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.mu.Lock()
	p.code, p.reaped = code, true
	p.mu.Unlock()
	close(p.exited)
}

// exitCodeOf reports a signal the way container runtimes do: 128 + signal.
func exitCodeOf(ps interface{ Sys() any }) int {
	if ps == nil {
		return -1
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return -1
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (p *execProcess) pid() int              { return p.cmd.Process.Pid }
func (p *execProcess) done() <-chan struct{} { return p.exited }

func (p *execProcess) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

func (p *execProcess) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d: %w", p.cmd.Process.Pid, err)
	}
	return nil
}
