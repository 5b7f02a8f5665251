package intercept

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var defaultOpts = Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: 1337}

// builtins is the state of a fresh nat table.
var builtins = []string{"-N INPUT", "-N OUTPUT", "-N POSTROUTING", "-N PREROUTING"}

func TestInstallLeavesTheRules(t *testing.T) {
	ipt := newFakeIPTables()
	if err := Install(context.Background(), defaultOpts, ipt.run); err != nil {
		t.Fatalf("Install: %v", err)
	}
	want := []string{
		"-A FLYWHEEL_INBOUND -p tcp --dport 8080 -j REDIRECT --to-ports 8013",
		"-A FLYWHEEL_OUTPUT -d 127.0.0.0/8 -j RETURN",
		"-A FLYWHEEL_OUTPUT -j FLYWHEEL_INBOUND",
		"-A FLYWHEEL_OUTPUT -m owner --uid-owner 1337 -j RETURN",
		"-A OUTPUT -p tcp -j FLYWHEEL_OUTPUT",
		"-A PREROUTING -p tcp -j FLYWHEEL_INBOUND",
		"-N FLYWHEEL_INBOUND",
		"-N FLYWHEEL_OUTPUT",
		"-N INPUT", "-N OUTPUT", "-N POSTROUTING", "-N PREROUTING",
	}
	if diff := cmp.Diff(want, ipt.state()); diff != "" {
		t.Errorf("nat table after Install (-want, +got):\n%s", diff)
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	ipt := newFakeIPTables()
	ctx := context.Background()
	if err := Install(ctx, defaultOpts, ipt.run); err != nil {
		t.Fatalf("first Install: %v", err)
	}
	once := ipt.state()
	if err := Install(ctx, defaultOpts, ipt.run); err != nil {
		t.Fatalf("second Install: %v", err)
	}
	if diff := cmp.Diff(once, ipt.state()); diff != "" {
		t.Errorf("nat table after a second Install (-once, +twice):\n%s", diff)
	}
}

func TestInstallReplacesOtherPorts(t *testing.T) {
	ctx := context.Background()
	want := newFakeIPTables()
	if err := Install(ctx, Options{AppPort: 9000, InterceptPort: 8013, ExcludeUID: 1337}, want.run); err != nil {
		t.Fatal(err)
	}
	ipt := newFakeIPTables()
	if err := Install(ctx, defaultOpts, ipt.run); err != nil {
		t.Fatal(err)
	}
	if err := Install(ctx, Options{AppPort: 9000, InterceptPort: 8013, ExcludeUID: 1337}, ipt.run); err != nil {
		t.Fatalf("Install with another port: %v", err)
	}
	if diff := cmp.Diff(want.state(), ipt.state()); diff != "" {
		t.Errorf("nat table (-fresh install, +reinstalled):\n%s", diff)
	}
}

func TestRemove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, ipt *fakeIPTables)
	}{{
		name:  "nothing installed",
		setup: func(*testing.T, *fakeIPTables) {},
	}, {
		name: "installed",
		setup: func(t *testing.T, ipt *fakeIPTables) {
			if err := Install(context.Background(), defaultOpts, ipt.run); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "installed with a duplicate jump",
		setup: func(t *testing.T, ipt *fakeIPTables) {
			if err := Install(context.Background(), defaultOpts, ipt.run); err != nil {
				t.Fatal(err)
			}
			ipt.chains["PREROUTING"] = append(ipt.chains["PREROUTING"], "-p tcp -j FLYWHEEL_INBOUND")
		},
	}, {
		name: "a half-finished install: chains without jumps",
		setup: func(t *testing.T, ipt *fakeIPTables) {
			for _, r := range Rules(defaultOpts)[:3] {
				if err := ipt.run(context.Background(), r...); err != nil {
					t.Fatal(err)
				}
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ipt := newFakeIPTables()
			ipt.chains["PREROUTING"] = []string{"-p udp -j ACCEPT"} // someone else's
			tc.setup(t, ipt)
			if err := Remove(context.Background(), ipt.run); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			want := append([]string{"-A PREROUTING -p udp -j ACCEPT"}, builtins...)
			if diff := cmp.Diff(want, ipt.state()); diff != "" {
				t.Errorf("nat table after Remove (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestInstallErrors(t *testing.T) {
	permission := exit(4, "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)")
	for _, tc := range []struct {
		name string
		opts Options
		fail func(args []string) error
		want []string // substrings of the error
	}{{
		name: "invalid options run nothing",
		opts: Options{AppPort: 8013, InterceptPort: 8013},
		fail: func([]string) error { return errors.New("iptables ran") },
		want: []string{"invalid interception options", "both 8013"},
	}, {
		name: "no NET_ADMIN",
		opts: defaultOpts,
		fail: func([]string) error { return permission },
		want: []string{"iptables -t nat -S FLYWHEEL_OUTPUT", "Permission denied", "needs NET_ADMIN"},
	}, {
		name: "iptables missing",
		opts: defaultOpts,
		fail: func([]string) error { return &CommandError{Code: -1, Err: exec.ErrNotFound} },
		want: []string{"iptables -t nat -S FLYWHEEL_OUTPUT", "install the iptables package"},
	}, {
		name: "a kernel without the owner match",
		opts: defaultOpts,
		fail: func(args []string) error {
			if slices.Contains(args, "owner") {
				return exit(2, "iptables v1.8.9 (nf_tables): Couldn't load match `owner':No such file or directory")
			}
			return nil
		},
		want: []string{"iptables -t nat -A FLYWHEEL_OUTPUT -m owner --uid-owner 1337 -j RETURN", "xt_owner"},
	}, {
		name: "a kernel without the nat table",
		opts: defaultOpts,
		fail: func([]string) error {
			return exit(3, "iptables v1.8.9 (nf_tables): table 'nat' does not exist\nPerhaps iptables or your kernel needs to be upgraded.")
		},
		want: []string{"nft_chain_nat"},
	}, {
		name: "the xtables lock held too long",
		opts: defaultOpts,
		fail: func([]string) error {
			return &CommandError{Code: -1, Err: context.DeadlineExceeded}
		},
		want: []string{"xtables lock"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ipt := newFakeIPTables()
			ipt.fail = tc.fail
			err := Install(context.Background(), tc.opts, ipt.run)
			if err == nil {
				t.Fatal("Install succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Install error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestIPTablesNotOnPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Install(context.Background(), defaultOpts, IPTables)
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Install = %v, want exec.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "install the iptables package") {
		t.Errorf("Install error %q does not say what to install", err)
	}
}
