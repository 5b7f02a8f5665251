package testing

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// RouteOption changes a Route a row is built from.
type RouteOption func(*v1.Route)

// Route returns a Route named name in namespace ns that sends all traffic
// to the latest ready Revision of the Configuration of the same name, with
// opts applied in order.
func Route(name, ns string, opts ...RouteOption) *v1.Route {
	route := &v1.Route{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			UID:       types.UID(name + "-route-uid"),
		},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{{
			ConfigurationName: name,
			LatestRevision:    ptr.To(true),
			Percent:           ptr.To[int64](100),
		}}},
	}
	for _, opt := range opts {
		opt(route)
	}
	return route
}

// WithRouteGeneration sets metadata.generation.
func WithRouteGeneration(generation int64) RouteOption {
	return func(route *v1.Route) { route.Generation = generation }
}

// WithRouteObservedGeneration records that the status reflects the
// current generation.
func WithRouteObservedGeneration(route *v1.Route) {
	route.Status.ObservedGeneration = route.Generation
}

// WithRouteLabels sets the Route's labels.
func WithRouteLabels(labels map[string]string) RouteOption {
	return func(route *v1.Route) { route.Labels = labels }
}

// WithRouteOwner makes owner the Route's controller.
func WithRouteOwner(owner kmeta.OwnerRefable) RouteOption {
	return func(route *v1.Route) {
		route.OwnerReferences = []metav1.OwnerReference{*kmeta.NewControllerRef(owner)}
	}
}

// WithRouteTraffic sets the Route's spec traffic.
func WithRouteTraffic(traffic ...v1.TrafficTarget) RouteOption {
	return func(route *v1.Route) { route.Spec.Traffic = traffic }
}

// WithRouteReady makes the Route Ready, served at
// http://<name>.<namespace>.example.com and inside the cluster at
// <name>.<namespace>.svc.cluster.local.
func WithRouteReady(route *v1.Route) {
	route.Status.InitializeConditions()
	route.Status.MarkTrafficAssigned()
	route.Status.MarkIngressReady()
	route.Status.MarkTLSNotEnabled()
	route.Status.URL = &apis.URL{Scheme: "http", Host: route.Name + "." + route.Namespace + ".example.com"}
	route.Status.Address = &duckv1.Addressable{URL: &apis.URL{
		Scheme: "http",
		Host:   route.Name + "." + route.Namespace + ".svc.cluster.local",
	}}
}

// WithRouteIngressNotReady says the gateway does not serve the Route yet.
func WithRouteIngressNotReady(reason, message string) RouteOption {
	return func(route *v1.Route) {
		route.Status.InitializeConditions()
		route.Status.MarkIngressNotReady(reason, message)
	}
}

// WithStatusTraffic sets the traffic the Route reports it serves.
func WithStatusTraffic(traffic ...v1.TrafficTarget) RouteOption {
	return func(route *v1.Route) { route.Status.Traffic = traffic }
}
