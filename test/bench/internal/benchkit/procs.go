package benchkit

import (
	"bytes"
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

// Supervisor starts the benchmark's processes and ends every one of them,
// by pid: when the harness is done with it, and all that remain when the
// harness returns, fails or is interrupted. Each child also gets SIGKILL
// from the kernel should the harness die without cleaning up.
type Supervisor struct {
	logDir string

	mu   sync.Mutex
	seq  int
	live map[int]*Proc
}

// Proc is one started process.
type Proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// done is closed once the process has exited; err is its exit error.
	done chan struct{}
	err  error
}

// PID is the process's id; under taskset it is the program's own, as
// taskset execs it.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// StartOptions say how to start a process.
type StartOptions struct {
	// CPU pins the process to one core with taskset; -1 leaves it free.
	CPU int
	// Env replaces the environment; nil inherits the harness's.
	Env []string
	// Stdout receives the process's standard output; nil sends it to the
	// process's log with its standard error.
	Stdout io.Writer
	// Netns runs the process in that named network namespace.
	Netns string
	// UID, when not 0, runs the process as that user (and group).
	UID int
}

// argv returns the command line that starts argv under o. Each wrapper
// (ip netns exec, setpriv, taskset) execs the next, so the pid of the
// started process is the program's own.
func (o StartOptions) argv(argv []string) []string {
	var prefix []string
	if o.Netns != "" {
		prefix = append(prefix, "ip", "netns", "exec", o.Netns)
	}
	if o.UID != 0 {
		id := strconv.Itoa(o.UID)
		prefix = append(prefix, "setpriv", "--reuid="+id, "--regid="+id, "--clear-groups")
	}
	if o.CPU >= 0 {
		prefix = append(prefix, "taskset", "-c", strconv.Itoa(o.CPU))
	}
	return append(prefix, argv...)
}

// NewSupervisor returns a Supervisor that writes each process's log in
// logDir.
func NewSupervisor(logDir string) *Supervisor {
	return &Supervisor{logDir: logDir, live: map[int]*Proc{}}
}

// Start runs argv under o. The caller ends it with Stop.
func (s *Supervisor) Start(name string, o StartOptions, argv ...string) (*Proc, error) {
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
	cmd.Env = o.Env
	cmd.Stdout = o.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	s.mu.Lock()
	s.live[p.PID()] = p
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		s.mu.Lock()
		delete(s.live, p.PID())
		s.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stopGrace is how long a process has to exit after SIGTERM before it
// gets SIGKILL. The proxies run with no drain window, so they exit at
// once when idle.
const stopGrace = 3 * time.Second

// Stop ends p, politely first, and waits for it to exit. Stopping a
// process that has exited already is a no-op.
func (s *Supervisor) Stop(p *Proc) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(p.PID(), syscall.SIGKILL)
	<-p.done
}

// StopAll ends every process still running.
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	procs := make([]*Proc, 0, len(s.live))
	for _, p := range s.live {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { s.Stop(p) })
	}
	wg.Wait()
}

// Run starts argv, waits for it to exit, and ends it early if ctx ends.
func (s *Supervisor) Run(ctx context.Context, name string, o StartOptions, argv ...string) error {
	p, err := s.Start(name, o, argv...)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		s.Stop(p)
		return ctx.Err()
	}
	if p.err != nil {
		return p.Failure(p.err)
	}
	return nil
}

// Exit says how p ended; call it once Done is closed.
func (p *Proc) Exit() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// Failure wraps err with the end of p's log, where the reason usually is.
func (p *Proc) Failure(err error) error {
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

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// WaitOK polls url until it answers 200, and fails if p exits first or
// within passes. A server that holds the request (the sidecar's /ready)
// is simply asked again when it gives up.
func WaitOK(ctx context.Context, p *Proc, url string, within time.Duration) error {
	return WaitAnswer(ctx, p, Probe{URL: url}, within)
}

// Probe is a request that tells whether a process serves.
type Probe struct {
	URL string
	// Host, when set, is the request's Host header.
	Host string
	// Body, when set, is the answer wanted besides the 200: a proxy that
	// answers 200 by itself has not reached the app.
	Body []byte
	// Header is added to the request.
	Header http.Header
}

// WaitAnswer polls until pr is answered as it wants, and fails if p exits
// first or within passes.
func WaitAnswer(ctx context.Context, p *Proc, pr Probe, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, pr.URL, nil)
		if err != nil {
			return err
		}
		if pr.Host != "" {
			req.Host = pr.Host
		}
		for k, v := range pr.Header {
			req.Header[k] = v
		}
		last = answers(client, req, pr.Body)
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.Failure(fmt.Errorf("exited before %s answered 200: %w", pr.URL, p.Exit()))
		case <-ctx.Done():
			return p.Failure(fmt.Errorf("%s did not answer 200 within %s: %w", pr.URL, within, last))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// answers sends req and says why its answer is not a 200 with body, if
// it is not.
func answers(client *http.Client, req *http.Request, body []byte) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: %q", resp.Status, bytes.TrimSpace(got))
	case body != nil && !bytes.Equal(got, body):
		return fmt.Errorf("answered %q, want %q", got, body)
	}
	return nil
}

// PortPicker hands out ports that are free now and that it has not
// handed out before in this run, so that a process slow to exit never
// collides with the next one.
type PortPicker struct {
	mu   sync.Mutex
	used map[int]bool
}

// Pick returns a port.
func (pp *PortPicker) Pick() (int, error) {
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
