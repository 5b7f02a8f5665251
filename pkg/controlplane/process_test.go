package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// gone reports whether pid no longer runs. A zombie counts as gone: it
// holds no resources, and a reparented grandchild waits for init to reap
// it, which this test binary cannot speed up.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z")
}

// waitGone polls until pid is gone, failing the test after a deadline.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		return gone(pid), nil
	})
	if err != nil {
		t.Errorf("process %d still runs", pid)
	}
}

func TestStopKillsTheWholeGroupWhenSIGTERMIsIgnored(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell ignores SIGTERM, as does its child; only SIGKILL to the
	// group ends both.
	p, err := startProcess("stubborn", "/bin/sh", []string{"-c",
		`trap "" TERM; sleep 60 & echo $! > ` + pidFile + `; echo started; wait`}, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(0) })
	var child int
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		b, err := os.ReadFile(pidFile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false, nil
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("the child never wrote its pid: %v", err)
	}

	start := time.Now()
	if killed := p.stop(300 * time.Millisecond); !killed {
		t.Error("stop() reported a graceful exit of a process that ignores SIGTERM")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v with a 300ms grace period", d)
	}
	if !p.exited() {
		t.Error("stop returned before the process was reaped")
	}
	waitGone(t, p.pid())
	waitGone(t, child)
	if p.stop(time.Second) {
		t.Error("a second stop killed again")
	}
	if got := p.logTail(); got != "started" {
		t.Errorf("log = %q, want the process's output %q", got, "started")
	}
}

func TestExitErrorCarriesTheLogTail(t *testing.T) {
	dir := t.TempDir()
	p, err := startProcess("failing", "/bin/sh", []string{"-c",
		`i=0; while [ $i -lt 30 ]; do echo line $i; i=$((i+1)); done; echo "listen tcp 127.0.0.1:1: bind: address already in use" >&2; exit 3`}, dir)
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	err = p.exitError()
	msg := err.Error()
	for _, want := range []string{"failing", "exit status 3", "line 29", "address already in use", filepath.Join(dir, "failing.log")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "line 10\n") {
		t.Errorf("error %q carries more than the last %d lines", msg, logTailLines)
	}
	if !errors.Is(err, errPortInUse) {
		t.Error("an exit on a taken port does not wrap errPortInUse, so Start would not retry")
	}
	if p.stop(time.Second) {
		t.Error("stop killed a process that had already exited")
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{in: "", n: 3, want: ""},
		{in: "a\nb\n", n: 3, want: "a\nb"},
		{in: "a\nb\nc\nd\n", n: 2, want: "c\nd"},
		{in: "a\nb\nc", n: 2, want: "b\nc"},
	}
	for _, tc := range tests {
		if got := lastLines([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
