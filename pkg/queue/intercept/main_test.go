package intercept

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantOpts   Options
		wantRemove bool
	}{{
		name:     "defaults from the queue package",
		args:     []string{"--app-port", "8080"},
		wantOpts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: 1337},
	}, {
		name:     "every flag",
		args:     []string{"--app-port=3000", "--intercept-port=15001", "--exclude-uid=-1"},
		wantOpts: Options{AppPort: 3000, InterceptPort: 15001, ExcludeUID: -1},
	}, {
		name:       "remove needs no port",
		args:       []string{"--remove"},
		wantOpts:   Options{InterceptPort: 8013, ExcludeUID: 1337},
		wantRemove: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.wantOpts, got.opts); diff != "" {
				t.Errorf("options (-want, +got):\n%s", diff)
			}
			if got.remove != tc.wantRemove {
				t.Errorf("remove = %v, want %v", got.remove, tc.wantRemove)
			}
		})
	}
}

func TestMainUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "no app port", args: nil, want: "--app-port is required"},
		{name: "app port not a number", args: []string{"--app-port", "http"}, want: `invalid value "http" for flag -app-port`},
		{name: "app port out of range", args: []string{"--app-port", "70000"}, want: "app port 70000 is not a TCP port"},
		{name: "app port is the intercept port", args: []string{"--app-port", "8013"}, want: "the sidecar would redirect to itself"},
		{name: "unknown flag", args: []string{"--app-port", "8080", "--uid", "1"}, want: "flag provided but not defined: -uid"},
		{name: "stray argument", args: []string{"--app-port", "8080", "install"}, want: `unexpected arguments: ["install"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ipt := newFakeIPTables()
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr, ipt.run); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.want)
			}
			if !strings.Contains(stderr.String(), "Usage: queue iptables") {
				t.Errorf("stderr %q has no usage", stderr.String())
			}
			if len(ipt.calls) != 0 {
				t.Errorf("iptables ran on a usage error: %q", ipt.calls)
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr, newFakeIPTables().run); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	for _, flag := range []string{"-app-port", "-intercept-port", "-exclude-uid", "-remove"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("help %q does not list %s", stdout.String(), flag)
		}
	}
}

func TestMainInstallsAndRemoves(t *testing.T) {
	ipt := newFakeIPTables()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--app-port", "8080"}, &stdout, &stderr, ipt.run); code != 0 {
		t.Fatalf("install: exit code %d, stderr %q", code, stderr.String())
	}
	want := newFakeIPTables()
	if err := Install(context.Background(), defaultOpts, want.run); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.state(), ipt.state()); diff != "" {
		t.Errorf("nat table (-want, +got):\n%s", diff)
	}
	if !strings.Contains(stdout.String(), "iptables -t nat -A FLYWHEEL_INBOUND -p tcp --dport 8080 -j REDIRECT --to-ports 8013") {
		t.Errorf("stdout %q does not show the rules", stdout.String())
	}

	stdout.Reset()
	if code := run([]string{"--remove"}, &stdout, &stderr, ipt.run); code != 0 {
		t.Fatalf("remove: exit code %d, stderr %q", code, stderr.String())
	}
	if diff := cmp.Diff(builtins, ipt.state()); diff != "" {
		t.Errorf("nat table after --remove (-want, +got):\n%s", diff)
	}
}

func TestMainIPTablesFails(t *testing.T) {
	ipt := newFakeIPTables()
	ipt.fail = func([]string) error {
		return exit(4, "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--app-port", "8080"}, &stdout, &stderr, ipt.run); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "needs NET_ADMIN") {
		t.Errorf("stderr %q does not say what is missing", stderr.String())
	}
}
