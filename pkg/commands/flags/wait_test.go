package flags

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"flywheel.dev/pkg/commands/wait"
)

// parseWait parses args as the wait flags of a command that waits for
// readiness.
func parseWait(args ...string) (*WaitFlags, error) {
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	var w WaitFlags
	w.Add(fs, "ready", true)
	w.AddErrorWindow(fs)
	return &w, fs.Parse(args)
}

// TestWaitFlagsTakeKnSeconds: kn's --wait-timeout and --wait-window are
// whole seconds; a kn command line must work, and a Go duration too.
func TestWaitFlagsTakeKnSeconds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want wait.Bounds
	}{
		{nil, wait.Bounds{Timeout: DefaultWaitTimeout, ErrorWindow: wait.DefaultErrorWindow}},
		{[]string{"--wait-timeout", "300", "--wait-window", "5"}, wait.Bounds{Timeout: 5 * time.Minute, ErrorWindow: 5 * time.Second}},
		{[]string{"--wait-timeout=90s", "--wait-window=500ms"}, wait.Bounds{Timeout: 90 * time.Second, ErrorWindow: 500 * time.Millisecond}},
		{[]string{"--wait-window", "0"}, wait.Bounds{Timeout: DefaultWaitTimeout}},
	} {
		w, err := parseWait(tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := w.Bounds(); got != tc.want {
			t.Errorf("%v gives %+v, want %+v", tc.args, got, tc.want)
		}
		if _, err := w.Wait(); err != nil {
			t.Errorf("%v: Wait() = %v", tc.args, err)
		}
	}
}

func TestWaitFlagsRefuseBadBounds(t *testing.T) {
	if _, err := parseWait("--wait-timeout", "soon"); err == nil || !strings.Contains(err.Error(), "want seconds (300) or a duration (5m, 90s)") {
		t.Errorf("--wait-timeout soon: %v, want it to say what it takes", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--wait-timeout", "0"}, "--wait-timeout 0s: give a positive duration"},
		{[]string{"--wait-window", "-1"}, "--wait-window -1s: give 0 (fail at the first False) or more"},
		{[]string{"--wait", "--no-wait"}, "--wait and --no-wait contradict each other"},
	} {
		w, err := parseWait(tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if _, err := w.Wait(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: Wait() = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}
