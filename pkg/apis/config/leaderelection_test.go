package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewLeaderElectionFromMap(t *testing.T) {
	allKeys := map[string]string{
		"lease-duration": "4s",
		"renew-deadline": "3s",
		"retry-period":   "1s",
		"buckets":        "3",
	}
	checkCoversKeys(t, allKeys, LeaderElectionKeys())

	tests := []struct {
		name       string
		data       map[string]string
		want       *LeaderElection
		wantErrKey string
	}{{
		name: "empty map gives the defaults: Kubernetes' own leases",
		data: map[string]string{},
		want: &LeaderElection{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second, Buckets: 1},
	}, {
		name: "every key set",
		data: allKeys,
		want: &LeaderElection{LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second, Buckets: 3},
	}, {
		name:       "a duration that does not parse",
		data:       map[string]string{"lease-duration": "15"},
		wantErrKey: "lease-duration",
	}, {
		name:       "a lease no longer than the renew deadline: a stalled holder could overlap its successor",
		data:       map[string]string{"lease-duration": "10s"},
		wantErrKey: "lease-duration",
	}, {
		name:       "a renew deadline that leaves no room for a retry",
		data:       map[string]string{"renew-deadline": "2s"},
		wantErrKey: "renew-deadline",
	}, {
		name:       "no retry period",
		data:       map[string]string{"retry-period": "0s"},
		wantErrKey: "retry-period",
	}, {
		name:       "no buckets",
		data:       map[string]string{"buckets": "0"},
		wantErrKey: "buckets",
	}, {
		name:       "more buckets than knative.dev/pkg allows",
		data:       map[string]string{"buckets": "11"},
		wantErrKey: "buckets",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewLeaderElectionFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, LeaderElectionConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewLeaderElectionFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewLeaderElectionFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}
