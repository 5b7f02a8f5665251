package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// supervisor starts the benchmark's processes and ends every one of them,
// by pid: when the harness is done with it, and all that remain when the
// harness returns, fails or is interrupted. Each child also gets SIGKILL
// from the kernel should the harness die without cleaning up.
type supervisor struct {
	logDir string

	mu   sync.Mutex
	seq  int
	live map[int]*proc
}

// proc is one started process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// done is closed once the process has exited; err is its exit error.
	done chan struct{}
	err  error
}

// pid is the process's id; under taskset it is the program's own, as
// taskset execs it.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// startOptions say how to start a process.
type startOptions struct {
	// cpu pins the process to one core with taskset; -1 leaves it free.
	cpu int
	// env replaces the environment; nil inherits the harness's.
	env []string
	// stdout receives the process's standard output; nil sends it to the
	// process's log with its standard error.
	stdout io.Writer
	// netns runs the process in that named network namespace.
	netns string
	// uid, when not 0, runs the process as that user (and group).
	uid int
}

// argv returns the command line that starts argv under o. Each wrapper
// (ip netns exec, setpriv, taskset) execs the next, so the pid of the
// started process is the program's own.
func (o startOptions) argv(argv []string) []string {
	var prefix []string
	if o.netns != "" {
		prefix = append(prefix, "ip", "netns", "exec", o.netns)
	}
	if o.uid != 0 {
		id := strconv.Itoa(o.uid)
		prefix = append(prefix, "setpriv", "--reuid="+id, "--regid="+id, "--clear-groups")
	}
	if o.cpu >= 0 {
		prefix = append(prefix, "taskset", "-c", strconv.Itoa(o.cpu))
	}
	return append(prefix, argv...)
}

func newSupervisor(logDir string) *supervisor {
	return &supervisor{logDir: logDir, live: map[int]*proc{}}
}

// start runs argv under o. The caller ends it with stop.
func (s *supervisor) start(name string, o startOptions, argv ...string) (*proc, error) {
	argv = o.argv(argv)
	s.mu.Lock()
	s.seq++
	logPath := filepath.Join(s.logDir, fmt.Sprintf("%04d-%s.log", s.seq, name))
	s.mu.Unlock()
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = o.env
	cmd.Stdout = o.stdout
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	s.mu.Lock()
	s.live[p.pid()] = p
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		s.mu.Lock()
		delete(s.live, p.pid())
		s.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stopGrace is how long a process has to exit after SIGTERM before it
// gets SIGKILL. The sidecar runs with no drain window, so it exits at
// once when idle.
const stopGrace = 3 * time.Second

// stop ends p, politely first, and waits for it to exit. Stopping a
// process that has exited already is a no-op.
func (s *supervisor) stop(p *proc) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(p.pid(), syscall.SIGKILL)
	<-p.done
}

// stopAll ends every process still running.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	procs := make([]*proc, 0, len(s.live))
	for _, p := range s.live {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { s.stop(p) })
	}
	wg.Wait()
}

// run starts argv, waits for it to exit, and ends it early if ctx ends.
func (s *supervisor) run(ctx context.Context, name string, o startOptions, argv ...string) error {
	p, err := s.start(name, o, argv...)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		s.stop(p)
		return ctx.Err()
	}
	if p.err != nil {
		return p.failure(p.err)
	}
	return nil
}

// exit says how p ended; call it once done is closed.
func (p *proc) exit() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// failure wraps err with the end of p's log, where the reason usually is.
func (p *proc) failure(err error) error {
	b, rerr := os.ReadFile(p.logPath)
	if rerr != nil || len(b) == 0 {
		return fmt.Errorf("%s: %w (log %s)", p.name, err, p.logPath)
	}
	const tail = 1500
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return fmt.Errorf("%s: %w; end of its log %s:\n%s", p.name, err, p.logPath, b)
}

// waitOK polls url until it answers 200, and fails if p exits first or
// within passes. A server that holds the request (the sidecar's /ready)
// is simply asked again when it gives up.
func waitOK(ctx context.Context, p *proc, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-p.done:
			return p.failure(fmt.Errorf("exited before %s answered 200: %w", url, p.exit()))
		case <-ctx.Done():
			return p.failure(fmt.Errorf("%s did not answer 200 within %s: %w", url, within, last))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// portPicker hands out ports that are free now and that it has not
// handed out before in this run, so that a process slow to exit never
// collides with the next one.
type portPicker struct {
	mu   sync.Mutex
	used map[int]bool
}

func (pp *portPicker) pick() (int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.used == nil {
		pp.used = map[int]bool{}
	}
	for range 100 {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !pp.used[port] {
			pp.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port found in 100 tries")
}
