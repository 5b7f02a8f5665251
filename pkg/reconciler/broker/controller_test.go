package broker

import (
	"testing"

	"k8s.io/utils/ptr"
	rtesting "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"

	// The fake clients and informers NewController takes from the context.
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/discovery/v1/endpointslice/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"

	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/eventing/v1/broker/fake"
	_ "flywheel.dev/pkg/client/injection/informers/eventing/v1/trigger/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	t.Setenv(system.NamespaceEnvKey, systemNamespace)
	ctx, _ := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
}

func TestIsIngressSlice(t *testing.T) {
	t.Setenv(system.NamespaceEnvKey, systemNamespace)
	tests := []struct {
		name string
		obj  any
		want bool
	}{{
		name: "the ingress Service's slice: every Broker is reconciled again",
		obj:  readySlice,
		want: true,
	}, {
		name: "another Service's slice in the system namespace",
		obj:  serviceSlice(systemNamespace, "broker-dispatcher", ptr.To(true)),
	}, {
		name: "a broker-ingress Service's slice in a user's namespace",
		obj:  ingressSlice(testNamespace, ptr.To(true)),
	}, {
		name: "not a slice",
		obj:  newBroker(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isIngressSlice(tc.obj); got != tc.want {
				t.Errorf("isIngressSlice() = %t, want %t", got, tc.want)
			}
		})
	}
}
