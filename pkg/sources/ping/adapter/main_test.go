package adapter

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseOptions checks the settings Main runs with, and that each
// refusal names the flag or variable and the fix.
func TestParseOptions(t *testing.T) {
	podEnv := map[string]string{"POD_NAME": "flywheel-pingsource-adapter-7d9f-x2k4q", "POD_NAMESPACE": "flywheel-system"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr string // a part of the error; empty for none
	}{{
		name: "defaults, identity and namespace from the downward API",
		env:  podEnv,
		want: options{
			probeAddress: ":8080",
			maxLateness:  5 * time.Minute,
			election: ElectionConfig{
				Namespace: "flywheel-system", Identity: "flywheel-pingsource-adapter-7d9f-x2k4q",
				LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			},
		},
	}, {
		name: "every flag",
		args: []string{"--kubeconfig=/tmp/kubeconfig", "--probe-address=:9090", "--max-lateness=1m", "--lease-duration=30s", "--renew-deadline=20s", "--retry-period=4s"},
		env:  podEnv,
		want: options{
			kubeconfig:   "/tmp/kubeconfig",
			probeAddress: ":9090",
			maxLateness:  time.Minute,
			election: ElectionConfig{
				Namespace: "flywheel-system", Identity: "flywheel-pingsource-adapter-7d9f-x2k4q",
				LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 4 * time.Second,
			},
		},
	}, {
		name:    "no namespace",
		env:     map[string]string{"POD_NAME": "a"},
		wantErr: "POD_NAMESPACE is not set: give the pod's namespace from the downward API",
	}, {
		name:    "a maximum lateness the timer's delay would exceed",
		args:    []string{"--max-lateness=100ms"},
		env:     podEnv,
		wantErr: "--max-lateness=100ms is too short: give at least 1s",
	}, {
		name:    "a lease no longer than the renew deadline",
		args:    []string{"--lease-duration=10s"},
		env:     podEnv,
		wantErr: "--lease-duration=10s must exceed --renew-deadline=10s",
	}, {
		name:    "a renew deadline within the retry period's jitter",
		args:    []string{"--retry-period=9s"},
		env:     podEnv,
		wantErr: "--renew-deadline=10s must exceed 1.2 times --retry-period=9s",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOptions(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseOptions() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(options{})); d != "" {
				t.Errorf("parseOptions() (-want, +got):\n%s", d)
			}
		})
	}
}

// TestAnIdentityOutsideAPod: without POD_NAME, each process makes a
// unique identity, so that two never hold the Lease as one.
func TestAnIdentityOutsideAPod(t *testing.T) {
	env := func(k string) string { return map[string]string{"POD_NAMESPACE": "flywheel-system"}[k] }
	a, errA := parseOptions(nil, env, io.Discard)
	b, errB := parseOptions(nil, env, io.Discard)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.election.Identity == "" || a.election.Identity == b.election.Identity {
		t.Errorf("identities %q and %q, want two different ones", a.election.Identity, b.election.Identity)
	}
}
