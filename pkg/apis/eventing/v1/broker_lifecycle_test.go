package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

var brokerURL = apis.HTTP("broker-ingress.flywheel-system.svc.cluster.local")

// readyBroker returns the status of a Broker whose every dependency is
// ready.
func readyBroker() *BrokerStatus {
	bs := &BrokerStatus{}
	bs.InitializeConditions()
	bs.MarkIngressReady()
	bs.MarkStreamReady()
	bs.SetAddress(brokerURL)
	bs.MarkDeadLetterSinkResolved(apis.HTTP("dls.default.svc.cluster.local"))
	return bs
}

func TestBrokerInitializeConditions(t *testing.T) {
	var bs BrokerStatus
	bs.InitializeConditions()
	for _, ct := range []apis.ConditionType{
		BrokerConditionReady, BrokerConditionIngress, BrokerConditionStream,
		BrokerConditionAddressable, BrokerConditionDeadLetterSinkResolved,
	} {
		if c := bs.GetCondition(ct); c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", ct, c)
		}
	}
}

func TestBrokerReadiness(t *testing.T) {
	tests := []struct {
		name   string
		change func(*BrokerStatus)
		want   apis.Condition
	}{{
		name:   "every dependency ready",
		change: func(*BrokerStatus) {},
		want:   apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionTrue},
	}, {
		name:   "no dead-letter sink is fine",
		change: (*BrokerStatus).MarkDeadLetterSinkNotConfigured,
		want:   apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionTrue},
	}, {
		name: "stream failed",
		change: func(bs *BrokerStatus) {
			bs.MarkStreamFailed("StreamCreateFailed", "JetStream refused the stream: %s", "insufficient resources")
		},
		want: apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionFalse,
			Reason: "StreamCreateFailed", Message: "JetStream refused the stream: insufficient resources"},
	}, {
		name:   "address removed",
		change: func(bs *BrokerStatus) { bs.SetAddress(nil) },
		want: apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionFalse,
			Reason: "NoAddress", Message: "The Broker has no address."},
	}, {
		name:   "ingress not ready yet",
		change: func(bs *BrokerStatus) { bs.MarkIngressNotReady("EndpointsNotReady", "no ready endpoint") },
		want: apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionUnknown,
			Reason: "EndpointsNotReady", Message: "no ready endpoint"},
	}, {
		name: "dead-letter sink does not resolve",
		change: func(bs *BrokerStatus) {
			bs.MarkDeadLetterSinkResolveFailed("Unresolved", "service %q not found", "dls")
		},
		want: apis.Condition{Type: BrokerConditionReady, Status: corev1.ConditionFalse,
			Reason: "Unresolved", Message: `service "dls" not found`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := readyBroker()
			tc.change(bs)
			checkCondition(t, bs.GetCondition(BrokerConditionReady), tc.want)
		})
	}
}

func TestBrokerIsReady(t *testing.T) {
	tests := []struct {
		name               string
		generation         int64
		observedGeneration int64
		status             *BrokerStatus
		want               bool
	}{{
		name:               "ready at the observed generation",
		generation:         2,
		observedGeneration: 2,
		status:             readyBroker(),
		want:               true,
	}, {
		name:               "ready, but for an older spec",
		generation:         3,
		observedGeneration: 2,
		status:             readyBroker(),
	}, {
		name:               "just created",
		generation:         1,
		observedGeneration: 1,
		status: func() *BrokerStatus {
			bs := &BrokerStatus{}
			bs.InitializeConditions()
			return bs
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Broker{Status: *tc.status}
			b.Generation = tc.generation
			b.Status.ObservedGeneration = tc.observedGeneration
			if got := b.IsReady(); got != tc.want {
				t.Errorf("IsReady() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBrokerSetAddress(t *testing.T) {
	bs := readyBroker()
	if bs.Address == nil || bs.Address.URL.String() != brokerURL.String() || len(bs.Addresses) != 1 {
		t.Fatalf("after SetAddress(%v): Address = %+v, Addresses = %+v", brokerURL, bs.Address, bs.Addresses)
	}

	bs.SetAddress(nil)
	if bs.Address != nil || bs.Addresses != nil {
		t.Errorf("after SetAddress(nil): Address = %+v, Addresses = %+v, want both nil", bs.Address, bs.Addresses)
	}
	checkCondition(t, bs.GetCondition(BrokerConditionAddressable), apis.Condition{
		Type: BrokerConditionAddressable, Status: corev1.ConditionFalse, Reason: "NoAddress", Message: "The Broker has no address.",
	})
}
