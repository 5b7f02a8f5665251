package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// LogOptions select the part of a container's log that Logs returns.
// Timestamps and since-times are not supported: the node keeps the raw
// output, with no time per line.
type LogOptions struct {
	// Tail returns only the last Tail lines; zero returns all.
	Tail int
	// LimitBytes stops after that many bytes; zero means no limit.
	LimitBytes int
	// Follow keeps the stream open while the container runs, returning
	// what it writes until it exits or ctx ends.
	Follow bool
	// Previous returns the log of the run before the current one.
	Previous bool
}

// errNotFound is a pod, container or log that does not exist; the kubelet
// API answers it with 404.
type errNotFound struct{ msg string }

func (e *errNotFound) Error() string  { return e.msg }
func (e *errNotFound) NotFound() bool { return true }

// podLogDir is where a pod's logs live: <dataDir>/pods/<ns>_<name>_<uid>,
// the kubelet's layout under /var/log/pods, one directory per container
// and one file per run (<restart count>.log).
func podLogDir(dataDir, namespace, name, uid string) string {
	return filepath.Join(dataDir, "pods", namespace+"_"+name+"_"+uid)
}

// podDir is a pod's own directory while it runs: its /tmp, /etc files and
// volumes, by UID (names may be reused by the next pod of the same name
// while the last one is being removed).
func podDir(dataDir, uid string) string {
	return filepath.Join(dataDir, "sandboxes", uid)
}

// containerLogs opens the log of the named container of p.
func containerLogs(ctx context.Context, p *podRuntime, name string, opts LogOptions) (io.ReadCloser, error) {
	p.mu.Lock()
	c := p.findContainer(name)
	if c == nil {
		p.mu.Unlock()
		return nil, &errNotFound{msg: fmt.Sprintf("pod %s has no container %q", p.key(), name)}
	}
	index := c.runs - 1
	exited := c.exited
	p.mu.Unlock()
	if opts.Previous {
		index--
		exited = nil
	}
	if index < 0 {
		what := "has not started yet"
		if opts.Previous {
			what = "has no previous run"
		}
		return nil, &errNotFound{msg: fmt.Sprintf("container %q in pod %s %s", name, p.key(), what)}
	}
	f, err := os.Open(c.logPath(index))
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		off, err := tailOffset(f, opts.Tail)
		if err != nil {
			f.Close()
			return nil, err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	var r io.Reader = f
	if opts.Follow && exited != nil {
		r = &followReader{ctx: ctx, f: f, exited: exited}
	}
	if opts.LimitBytes > 0 {
		r = io.LimitReader(r, int64(opts.LimitBytes))
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// tailOffset finds where the last n lines of f start, reading backwards
// in blocks so that a long log is not read whole. A final line without a
// newline counts as a line.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	const block = 8 << 10
	buf := make([]byte, block)
	pos := size
	newlines := 0
	// A trailing newline ends the last line rather than starting another.
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		newlines = -1
	}
	for pos > 0 {
		step := int64(block)
		if pos < step {
			step = pos
		}
		pos -= step
		b := buf[:step]
		if _, err := f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			newlines++
			if newlines == n {
				return pos + int64(i) + 1, nil
			}
		}
	}
	return 0, nil
}

// followReader reads a log file as it grows until the process writing it
// has exited and everything it wrote has been read.
type followReader struct {
	ctx    context.Context
	f      *os.File
	exited <-chan struct{}
}

// followPoll is how often a followed log is checked for new output.
const followPoll = 100 * time.Millisecond

func (r *followReader) Read(b []byte) (int, error) {
	for {
		n, err := r.f.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.exited:
			// One more read: output written just before the exit.
			n, err := r.f.Read(b)
			if n > 0 {
				return n, nil
			}
			return 0, err
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-time.After(followPoll):
		}
	}
}
