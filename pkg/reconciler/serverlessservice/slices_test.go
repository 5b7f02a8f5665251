package serverlessservice

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
)

func TestDesiredSlices(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		private   []*discoveryv1.EndpointSlice
		activator []*discoveryv1.EndpointSlice
		want      []*discoveryv1.EndpointSlice
	}{{
		name: "serve mode, no private slice yet: none",
		mode: ModeServe,
	}, {
		name:    "serve mode mirrors the ready endpoints, conditions and all, under the public Service",
		mode:    ModeServe,
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2")))},
		want:    []*discoveryv1.EndpointSlice{publicSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2")))},
	}, {
		name:    "endpoints neither ready nor serving are left out; terminating ones still serving stay",
		mode:    ModeServe,
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(unready("10.0.0.1"), terminating("10.0.0.2", true), terminating("10.0.0.3", false), ready("10.0.0.4")))},
		want:    []*discoveryv1.EndpointSlice{publicSlice("x7k2p", endpoints(terminating("10.0.0.2", true), ready("10.0.0.4")))},
	}, {
		name:    "an endpoint with no ready condition is ready",
		mode:    ModeServe,
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}}))},
		want:    []*discoveryv1.EndpointSlice{publicSlice("x7k2p", endpoints(discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}}))},
	}, {
		name:    "a slice with nothing ready stays, empty",
		mode:    ModeServe,
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(unready("10.0.0.1")))},
		want:    []*discoveryv1.EndpointSlice{publicSlice("x7k2p", nil)},
	}, {
		name: "IPv4 and IPv6 slices are mirrored apart, FQDN ones not at all",
		mode: ModeServe,
		private: []*discoveryv1.EndpointSlice{
			privateSlice("v6aaa", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6)),
			privateSlice("v4aaa", endpoints(ready("10.0.0.1"))),
			privateSlice("fqdn1", endpoints(ready("example.com")), withAddressType(discoveryv1.AddressTypeFQDN)),
		},
		want: []*discoveryv1.EndpointSlice{
			publicSlice("v4aaa", endpoints(ready("10.0.0.1"))),
			publicSlice("v6aaa", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6)),
		},
	}, {
		name:    "ports get the API server's defaults, so a slice read back compares equal",
		mode:    ModeServe,
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(ready("10.0.0.1")), withPorts(discoveryv1.EndpointPort{Port: ptr.To[int32](8012)}))},
		want: []*discoveryv1.EndpointSlice{publicSlice("x7k2p", endpoints(ready("10.0.0.1")),
			withPorts(discoveryv1.EndpointPort{Name: ptr.To(""), Port: ptr.To[int32](8012), Protocol: ptr.To(corev1.ProtocolTCP)}))},
	}, {
		name:      "proxy mode takes the activator's endpoints instead",
		mode:      ModeProxy,
		private:   []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(ready("10.0.0.1")))},
		activator: []*discoveryv1.EndpointSlice{activatorSlice("q8w4z", endpoints(ready("10.0.9.1")))},
		want:      []*discoveryv1.EndpointSlice{proxySlice("q8w4z", endpoints(ready("10.0.9.1")))},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []*discoveryv1.EndpointSlice
			for _, s := range tc.want {
				want = append(want, created(s))
			}
			got := desiredSlices(rev, tc.mode, tc.private, tc.activator)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("desiredSlices (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointsMode(t *testing.T) {
	readyActivator := []*discoveryv1.EndpointSlice{activatorSlice("q8w4z", endpoints(ready("10.0.9.1")))}
	readyPods := []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(ready("10.0.0.1")))}
	tests := []struct {
		name      string
		pa        *autoscalingv1alpha1.PodAutoscaler
		private   []*discoveryv1.EndpointSlice
		activator []*discoveryv1.EndpointSlice
		want      Mode
	}{{
		name:      "ready pods: served directly",
		pa:        podAutoscaler(false),
		private:   readyPods,
		activator: readyActivator,
		want:      ModeServe,
	}, {
		name:      "ready pods, no PodAutoscaler yet: served directly",
		private:   readyPods,
		activator: readyActivator,
		want:      ModeServe,
	}, {
		name:      "no ready pod: requests wait at the activator",
		pa:        podAutoscaler(false),
		private:   []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(unready("10.0.0.1"), terminating("10.0.0.2", true)))},
		activator: readyActivator,
		want:      ModeProxy,
	}, {
		name:      "no private slice at all yet: the activator",
		activator: readyActivator,
		want:      ModeProxy,
	}, {
		name:    "no ready pod and no activator: the pods still serving are the better bet",
		private: []*discoveryv1.EndpointSlice{privateSlice("x7k2p", endpoints(terminating("10.0.0.2", true)))},
		activator: []*discoveryv1.EndpointSlice{
			activatorSlice("q8w4z", endpoints(unready("10.0.9.1"))),
		},
		want: ModeServe,
	}, {
		name:      "the autoscaler wants the activator: it stays in the path though pods are ready",
		pa:        podAutoscaler(true),
		private:   readyPods,
		activator: readyActivator,
		want:      ModeProxy,
	}, {
		name:      "the autoscaler wants the activator but none is ready: the pods",
		pa:        podAutoscaler(true),
		private:   readyPods,
		activator: []*discoveryv1.EndpointSlice{activatorSlice("q8w4z", endpoints(unready("10.0.9.1")))},
		want:      ModeServe,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := endpointsMode(tc.pa, tc.private, tc.activator); got != tc.want {
				t.Errorf("endpointsMode = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSliceNameOfALongGeneratedName(t *testing.T) {
	// kube-controller-manager cuts a long Service name short before its
	// suffix; the name is then derived from the whole, and still valid.
	src := &discoveryv1.EndpointSlice{}
	src.Name = "a-very-long-revision-name-that-goes-on-and-on-00001-pri-abcde"
	src.Labels = map[string]string{discoveryv1.LabelServiceName: "a-very-long-revision-name-that-goes-on-and-on-00001-private"}
	got := sliceName("a-very-long-revision-name-that-goes-on-and-on-00001", src)
	if len(got) > 63 {
		t.Errorf("sliceName = %q, longer than 63 characters", got)
	}
	if again := sliceName("a-very-long-revision-name-that-goes-on-and-on-00001", src); again != got {
		t.Errorf("sliceName is not stable: %q, then %q", got, again)
	}
}
