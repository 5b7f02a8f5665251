package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

// readyPingSource returns the status of a PingSource whose sink resolved
// and whose adapter is available.
func readyPingSource() *PingSourceStatus {
	ps := &PingSourceStatus{}
	ps.InitializeConditions()
	ps.MarkSink(sinkURL)
	ps.PropagateDeploymentAvailability(deployment(corev1.ConditionTrue, "MinimumReplicasAvailable", ""))
	return ps
}

func TestPingSourceInitializeConditions(t *testing.T) {
	var ps PingSourceStatus
	ps.InitializeConditions()
	for _, ct := range []apis.ConditionType{PingSourceConditionReady, PingSourceConditionSinkProvided, PingSourceConditionDeployed} {
		if c := ps.GetCondition(ct); c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", ct, c)
		}
	}
}

func TestPingSourceReadiness(t *testing.T) {
	tests := []struct {
		name   string
		change func(*PingSourceStatus)
		want   apis.Condition
	}{{
		name:   "sink resolved, adapter available",
		change: func(*PingSourceStatus) {},
		want:   apis.Condition{Type: PingSourceConditionReady, Status: corev1.ConditionTrue},
	}, {
		name:   "sink does not resolve",
		change: func(ps *PingSourceStatus) { ps.MarkNoSink("NotFound", "Broker %q not found", "default") },
		want: apis.Condition{Type: PingSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "NotFound", Message: `Broker "default" not found`},
	}, {
		name:   "sink resolves to no URL",
		change: func(ps *PingSourceStatus) { ps.MarkSink(nil) },
		want: apis.Condition{Type: PingSourceConditionReady, Status: corev1.ConditionFalse, Reason: ReasonSinkEmpty,
			Message: "The sink resolved to no URL: check that the object it names has an address."},
	}, {
		name: "adapter unavailable",
		change: func(ps *PingSourceStatus) {
			ps.PropagateDeploymentAvailability(deployment(corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."))
		},
		want: apis.Condition{Type: PingSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability."},
	}, {
		name:   "adapter has not reported",
		change: func(ps *PingSourceStatus) { ps.PropagateDeploymentAvailability(deployment("", "", "")) },
		want: apis.Condition{Type: PingSourceConditionReady, Status: corev1.ConditionUnknown, Reason: ReasonDeploymentUnavailable,
			Message: `The Deployment "adapter" has not reported whether it is available yet.`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := readyPingSource()
			tc.change(ps)
			checkCondition(t, ps.GetCondition(PingSourceConditionReady), tc.want)
		})
	}
}

func TestPingSourceSinkURI(t *testing.T) {
	ps := readyPingSource()
	if ps.SinkURI.String() != sinkURL.String() {
		t.Fatalf("SinkURI = %v, want %v", ps.SinkURI, sinkURL)
	}
	// A sink that no longer resolves is forgotten: nothing must go on
	// sending to where it was.
	ps.MarkNoSink("NotFound", "gone")
	if ps.SinkURI != nil {
		t.Errorf("SinkURI = %v after MarkNoSink, want nil", ps.SinkURI)
	}
}

func TestPingSourceIsReady(t *testing.T) {
	tests := []struct {
		name               string
		generation         int64
		observedGeneration int64
		status             *PingSourceStatus
		want               bool
	}{{
		name:               "ready at the observed generation",
		generation:         2,
		observedGeneration: 2,
		status:             readyPingSource(),
		want:               true,
	}, {
		name:               "ready, but for an older spec",
		generation:         3,
		observedGeneration: 2,
		status:             readyPingSource(),
	}, {
		name:               "just created",
		generation:         1,
		observedGeneration: 1,
		status: func() *PingSourceStatus {
			ps := &PingSourceStatus{}
			ps.InitializeConditions()
			return ps
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &PingSource{Status: *tc.status}
			p.Generation = tc.generation
			p.Status.ObservedGeneration = tc.observedGeneration
			if got := p.IsReady(); got != tc.want {
				t.Errorf("IsReady() = %v, want %v", got, tc.want)
			}
		})
	}
}
