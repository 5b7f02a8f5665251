package process

import (
	"bytes"
	"flag"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func parseFlags(args ...string) (Flags, int, bool, string) {
	var stderr bytes.Buffer
	fs := flag.NewFlagSet("component", flag.ContinueOnError)
	fs.SetOutput(&stderr)
	var f Flags
	f.Register(fs, Flags{AdminAddress: ":9091", DrainWindow: 10 * time.Second, ShutdownTimeout: 30 * time.Second})
	code, ok := Parse(fs, args)
	return f, code, ok, stderr.String()
}

func TestFlagsParse(t *testing.T) {
	f, code, ok, _ := parseFlags()
	if !ok || code != ExitOK {
		t.Fatalf("Parse() = %d, %v; want %d, true", code, ok, ExitOK)
	}
	want := Flags{AdminAddress: ":9091", DrainWindow: 10 * time.Second, ShutdownTimeout: 30 * time.Second}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("defaults (-want, +got):\n%s", diff)
	}
	f, _, _, _ = parseFlags("--kubeconfig", "/k", "--admin-address", "127.0.0.1:0", "--drain-window", "2s", "--shutdown-timeout", "1m")
	want = Flags{Kubeconfig: "/k", AdminAddress: "127.0.0.1:0", DrainWindow: 2 * time.Second, ShutdownTimeout: time.Minute}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("given every flag (-want, +got):\n%s", diff)
	}
	if got := f.ConfigDrainWindow(); got != 2*time.Second {
		t.Errorf("ConfigDrainWindow() of --drain-window=2s = %v, want 2s", got)
	}
	// Zero in a component's Config means its default; on the command
	// line it means no window.
	f, _, _, _ = parseFlags("--drain-window=0")
	if got := f.ConfigDrainWindow(); got >= 0 {
		t.Errorf("ConfigDrainWindow() of --drain-window=0 = %v, want negative (none)", got)
	}
}

func TestParseExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOK   bool
		// wantStderr is said on stderr: the flag at fault.
		wantStderr string
	}{
		{name: "help", args: []string{"-help"}, wantCode: ExitOK, wantStderr: "-drain-window duration"},
		{name: "bad duration", args: []string{"--drain-window", "soon"}, wantCode: ExitUsage, wantStderr: "invalid value \"soon\" for flag -drain-window"},
		{name: "bad timeout", args: []string{"--shutdown-timeout=-"}, wantCode: ExitUsage, wantStderr: "for flag -shutdown-timeout"},
		{name: "unknown flag", args: []string{"--drain"}, wantCode: ExitUsage, wantStderr: "flag provided but not defined: -drain"},
		{name: "missing value", args: []string{"--kubeconfig"}, wantCode: ExitUsage, wantStderr: "flag needs an argument: -kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, code, ok, stderr := parseFlags(tt.args...)
			if code != tt.wantCode || ok != tt.wantOK {
				t.Errorf("Parse(%q) = %d, %v; want %d, %v", tt.args, code, ok, tt.wantCode, tt.wantOK)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not say %q", stderr, tt.wantStderr)
			}
		})
	}
}

// TestImportsOnlyTheStandardLibraryAndClock keeps the shell small: the
// queue-proxy sidecar runs in it too, in every Revision pod, and keeps
// its dependency set small. Loading a kubeconfig (client-go) is left to
// the components that talk to the API server.
func TestImportsOnlyTheStandardLibraryAndClock(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := []string{"k8s.io/utils/clock", "flywheel.dev/pkg/process"}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("non-standard dependencies (-want, +got):\n%s", diff)
	}
}
