package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flywheel.dev/pkg/local"
)

func TestPrintFileTail(t *testing.T) {
	var lines []string
	for i := range 100_000 { // larger than one block of tailOffset
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	whole := strings.Join(lines, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "big.log")
	if err := os.WriteFile(path, []byte(whole), 0o600); err != nil {
		t.Fatal(err)
	}
	noNewline := filepath.Join(t.TempDir(), "partial.log")
	if err := os.WriteFile(noNewline, []byte("a\nb\nc"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		tail int
		want string
	}{
		{name: "all", path: path, tail: -1, want: whole},
		{name: "none", path: path, tail: 0, want: ""},
		{name: "last 3", path: path, tail: 3, want: "line 99997\nline 99998\nline 99999\n"},
		{name: "more than there are", path: noNewline, tail: 10, want: "a\nb\nc"},
		{name: "unterminated last line", path: noNewline, tail: 2, want: "b\nc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printFile(t.Context(), &out, tc.path, tc.tail, false, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				got, want := out.String(), tc.want
				if len(got) > 200 || len(want) > 200 {
					got, want = fmt.Sprintf("%d bytes", len(got)), fmt.Sprintf("%d bytes", len(want))
				}
				t.Errorf("printFile(tail %d) = %q, want %q", tc.tail, got, want)
			}
		})
	}
}

// syncBuffer is a buffer a follower writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPrintFileFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "controller.log")
	if err := os.WriteFile(path, []byte("old 1\nold 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- printFile(ctx, &out, path, 1, true, 5*time.Millisecond) }()
	waitFor(t, &out, "old 2\n")

	appendTo(t, path, "new 3\n")
	waitFor(t, &out, "old 2\nnew 3\n")

	// A new fw local up recreates its logs: the follower starts over on
	// the new file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "fresh 1\n")
	waitFor(t, &out, "old 2\nnew 3\nfresh 1\n")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("printFile ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("printFile did not stop when its context ended")
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("followed output = %q, want %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestComponentLog(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node.log"), []byte("started\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := &local.State{Components: []local.Component{
		{Name: "etcd", Log: "/tmp/cp/logs/etcd.log"},
		{Name: "controller", Deployment: "flywheel-controller"},
	}}
	for _, tc := range []struct {
		name    string
		st      *local.State
		want    string
		wantErr string
	}{
		{name: "etcd", st: st, want: "/tmp/cp/logs/etcd.log"},
		// Not recorded (it has not started yet, or nothing runs): the
		// data directory still has its log.
		{name: "node", st: st, want: filepath.Join(dir, "node.log")},
		{name: "node", want: filepath.Join(dir, "node.log")},
		{name: "etcd", wantErr: "the components are node"},
		{name: "nope", st: st, wantErr: "the components are etcd, controller"},
	} {
		got, err := componentLog(tc.st, dir, tc.name)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("componentLog(%s) error = %v, want it to say %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("componentLog(%s) = %q, %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestLogsArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args    []string
		o       logsOptions
		wantErr string
	}{
		{wantErr: "say whose log"},
		{args: []string{"pod/a"}, o: logsOptions{pod: "b"}, wantErr: "give one"},
		{args: []string{"pod/a"}, wantErr: "no Flywheel runs locally"},
	} {
		tc.o.dataDir = dir
		err := runLogs(t.Context(), &bytes.Buffer{}, &bytes.Buffer{}, tc.args, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("logs %v %+v: error %v, want it to say %q", tc.args, tc.o, err, tc.wantErr)
		}
	}
}
