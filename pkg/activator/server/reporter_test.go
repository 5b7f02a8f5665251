package server

import (
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	discoveryv1listers "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/activator"
)

// TestAutoscalerURLComesFromTheServicesEndpoints finds the autoscaler
// where its Service's EndpointSlices say, on the stats port of a ready
// endpoint, without DNS or a Service proxy.
func TestAutoscalerURLComesFromTheServicesEndpoints(t *testing.T) {
	svc := types.NamespacedName{Namespace: "flywheel-system", Name: "flywheel-autoscaler"}
	slice := func(name string, ready bool, ip string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: svc.Namespace, Name: name},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}},
			Ports: []discoveryv1.EndpointPort{
				{Name: ptr.To("https"), Port: ptr.To[int32](8443)},
				{Name: ptr.To(activator.AutoscalerStatsPort), Port: ptr.To[int32](8081)},
			},
		}
	}
	for _, tc := range []struct {
		name    string
		slices  []*discoveryv1.EndpointSlice
		want    string
		wantErr string
	}{
		{name: "a ready endpoint", slices: []*discoveryv1.EndpointSlice{slice("a", true, "10.244.0.9")}, want: "http://10.244.0.9:8081" + activator.StatsPath},
		{name: "only unready endpoints", slices: []*discoveryv1.EndpointSlice{slice("a", false, "10.244.0.9")}, wantErr: "no ready endpoint"},
		{name: "no slices", wantErr: "no ready endpoint"},
		{name: "the ready one of two", slices: []*discoveryv1.EndpointSlice{slice("a", false, "10.244.0.8"), slice("b", true, "10.244.0.9")}, want: "http://10.244.0.9:8081" + activator.StatsPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			for _, s := range tc.slices {
				_ = idx.Add(s)
			}
			got, err := autoscalerURL(discoveryv1listers.NewEndpointSliceLister(idx), svc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("autoscalerURL = %q, %v; want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("autoscalerURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
