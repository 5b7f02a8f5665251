package config

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	cm "knative.dev/pkg/configmap"
)

// LeaderElectionConfigName is the ConfigMap that sets the leases by which
// replicas of a component decide which of them reconciles. Its keys are
// those knative.dev/pkg reads, so every component reading it agrees.
const LeaderElectionConfigName = "config-leader-election"

// leaseJitter is the factor client-go's leader election stretches the
// retry period by, at most, between two attempts to renew; a renew
// deadline must leave room for more than one attempt.
const leaseJitter = 1.2

// maxLeaderElectionBuckets is the most buckets knative.dev/pkg accepts.
const maxLeaderElectionBuckets = 10

// LeaderElection is the configuration of the controller's leases.
type LeaderElection struct {
	// LeaseDuration is how long a lease holds after its holder last
	// renewed it: how long another process waits, after the holder died
	// without releasing it, before taking over.
	LeaseDuration time.Duration
	// RenewDeadline is how long the holder keeps trying to renew before it
	// stops reconciling. It is shorter than LeaseDuration, so that a
	// holder that cannot reach the API server stops before anyone else
	// may start.
	RenewDeadline time.Duration
	// RetryPeriod is how often the holder renews, and how often the
	// others try to take the lease.
	RetryPeriod time.Duration
	// Buckets is the number of leases each reconciler's keys are spread
	// over, so that several replicas share the work.
	Buckets uint32
}

// DefaultLeaderElection returns the configuration in force when
// config-leader-election is empty or missing: the leases of Kubernetes'
// own controller manager and scheduler (15s, 10s, 2s), which replace a
// dead holder in under 20 s rather than knative.dev/pkg's 60 s, and one
// bucket.
func DefaultLeaderElection() *LeaderElection {
	return &LeaderElection{
		LeaseDuration: 15 * time.Second,
		RenewDeadline: 10 * time.Second,
		RetryPeriod:   2 * time.Second,
		Buckets:       1,
	}
}

func (l *LeaderElection) fields() []field {
	return []field{
		{"lease-duration", bind(cm.AsDuration, &l.LeaseDuration)},
		{"renew-deadline", bind(cm.AsDuration, &l.RenewDeadline)},
		{"retry-period", bind(cm.AsDuration, &l.RetryPeriod)},
		{"buckets", bind(cm.AsUint32, &l.Buckets)},
	}
}

// LeaderElectionKeys returns the keys config-leader-election understands.
func LeaderElectionKeys() []string {
	return keysOf(DefaultLeaderElection().fields())
}

// NewLeaderElectionFromMap parses the data of config-leader-election.
func NewLeaderElectionFromMap(data map[string]string) (*LeaderElection, error) {
	l := DefaultLeaderElection()
	if err := parseFields(data, l.fields()); err != nil {
		return nil, fmt.Errorf("%s: %w", LeaderElectionConfigName, err)
	}
	return l, l.validate()
}

// NewLeaderElectionFromConfigMap parses config-leader-election.
func NewLeaderElectionFromConfigMap(c *corev1.ConfigMap) (*LeaderElection, error) {
	return NewLeaderElectionFromMap(c.Data)
}

// validate refuses what client-go's leader election would refuse when the
// controller starts, naming the key to change instead.
func (l *LeaderElection) validate() error {
	const name = LeaderElectionConfigName
	switch {
	case l.RetryPeriod <= 0:
		return invalid(name, "retry-period", l.RetryPeriod, "must be positive")
	case float64(l.RenewDeadline) <= leaseJitter*float64(l.RetryPeriod):
		return invalid(name, "renew-deadline", l.RenewDeadline,
			fmt.Sprintf("must be more than %g times retry-period (%v), to leave room for a retry", leaseJitter, l.RetryPeriod))
	case l.LeaseDuration <= l.RenewDeadline:
		return invalid(name, "lease-duration", l.LeaseDuration,
			fmt.Sprintf("must be longer than renew-deadline (%v), so that a holder that cannot renew stops before another takes over", l.RenewDeadline))
	case l.Buckets < 1 || l.Buckets > maxLeaderElectionBuckets:
		return invalid(name, "buckets", l.Buckets, fmt.Sprintf("must be between 1 and %d", maxLeaderElectionBuckets))
	}
	return nil
}
