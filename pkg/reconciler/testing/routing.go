package testing

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// Options for the rows of the Route reconciler and the garbage collector:
// the Route's status as that reconciler writes it, and the routing
// metadata it keeps on Revisions.

// WithRouteFinalizer gives the Route the finalizer its reconciler adds,
// as on any Route it has seen before.
func WithRouteFinalizer(route *v1.Route) {
	route.Finalizers = append(route.Finalizers, "routes.serving.knative.dev")
}

// WithRouteAnnotations sets the Route's annotations.
func WithRouteAnnotations(annotations map[string]string) RouteOption {
	return func(route *v1.Route) { route.Annotations = annotations }
}

// WithRouteDeletionTimestamp marks the Route as being deleted.
func WithRouteDeletionTimestamp(route *v1.Route) {
	now := metav1.Now()
	route.DeletionTimestamp = &now
}

// WithRouteInitConditions sets every condition to Unknown, and
// CertificateProvisioned to True: Flywheel serves Routes without TLS.
func WithRouteInitConditions(route *v1.Route) {
	route.Status.InitializeConditions()
	route.Status.MarkTLSNotEnabled()
}

// WithRouteURL sets the URL the Route reports, e.g.
// "http://hello.demo.example.com".
func WithRouteURL(url string) RouteOption {
	return func(route *v1.Route) { route.Status.URL = parseURL(url) }
}

// WithRouteAddress sets the address the Route reports inside the cluster.
func WithRouteAddress(url string) RouteOption {
	return func(route *v1.Route) { route.Status.Address = &duckv1.Addressable{URL: parseURL(url)} }
}

func parseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

// WithRouteTrafficAssigned says every target resolved.
func WithRouteTrafficAssigned(route *v1.Route) {
	route.Status.MarkTrafficAssigned()
}

// WithRouteIngressReady says the Gateways serve the Route.
func WithRouteIngressReady(route *v1.Route) {
	route.Status.MarkIngressReady()
}

// WithRouteIngressUnknown says the Gateways do not serve the Route yet,
// without resetting the other conditions.
func WithRouteIngressUnknown(reason, message string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkIngressNotReady(reason, message) }
}

// WithRouteIngressFailed says the Route cannot be served.
func WithRouteIngressFailed(reason, message string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkIngressFailed(reason, message) }
}

// WithRouteConfigurationNotReady says the Configuration name has no ready
// Revision yet.
func WithRouteConfigurationNotReady(name string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkConfigurationNotReady(name) }
}

// WithRouteConfigurationFailed says the Configuration name has no ready
// Revision and its latest failed.
func WithRouteConfigurationFailed(name string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkConfigurationFailed(name) }
}

// WithRouteRevisionNotReady says the Revision name is not ready yet.
func WithRouteRevisionNotReady(name string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkRevisionNotReady(name) }
}

// WithRouteMissingTarget says a target names a kind/name that does not
// exist.
func WithRouteMissingTarget(kind, name string) RouteOption {
	return func(route *v1.Route) { route.Status.MarkMissingTrafficTarget(kind, name) }
}

// WithRouteStatusAnnotation sets an annotation of the Route's status.
func WithRouteStatusAnnotation(key, value string) RouteOption {
	return func(route *v1.Route) {
		if route.Status.Annotations == nil {
			route.Status.Annotations = map[string]string{}
		}
		route.Status.Annotations[key] = value
	}
}

// TrafficTo is a traffic target sending percent to the Revision rev; with
// latest it follows a Configuration.
func TrafficTo(rev string, percent int64, latest bool) v1.TrafficTarget {
	return v1.TrafficTarget{RevisionName: rev, Percent: ptr.To(percent), LatestRevision: ptr.To(latest)}
}

// WithRevisionAnnotations sets the Revision's annotations.
func WithRevisionAnnotations(annotations map[string]string) RevisionOption {
	return func(rev *v1.Revision) { rev.Annotations = annotations }
}

// WithRevisionTimeout sets the Revision's timeoutSeconds.
func WithRevisionTimeout(seconds int64) RevisionOption {
	return func(rev *v1.Revision) { rev.Spec.TimeoutSeconds = ptr.To(seconds) }
}

// WithRevisionCreated sets the Revision's creation time.
func WithRevisionCreated(t time.Time) RevisionOption {
	return func(rev *v1.Revision) { rev.CreationTimestamp = metav1.NewTime(t) }
}

// WithRoutingState sets the Revision's routingState label, changed at t.
func WithRoutingState(state serving.RoutingState, t time.Time) RevisionOption {
	return func(rev *v1.Revision) {
		if rev.Labels == nil {
			rev.Labels = map[string]string{}
		}
		if rev.Annotations == nil {
			rev.Annotations = map[string]string{}
		}
		rev.Labels[serving.RoutingStateLabel.String()] = string(state)
		rev.Annotations[serving.RoutingStateModifiedAnnotation.String()] = t.UTC().Format(time.RFC3339)
	}
}

// WithRevisionRoutes sets the Revision's routes annotation, the Routes
// that send it traffic, comma separated.
func WithRevisionRoutes(routes string) RevisionOption {
	return func(rev *v1.Revision) {
		if rev.Annotations == nil {
			rev.Annotations = map[string]string{}
		}
		rev.Annotations[serving.RoutesAnnotation.String()] = routes
	}
}

// WithConfigRoutes sets the Configuration's routes annotation.
func WithConfigRoutes(routes string) ConfigurationOption {
	return func(cfg *v1.Configuration) {
		if cfg.Annotations == nil {
			cfg.Annotations = map[string]string{}
		}
		cfg.Annotations[serving.RoutesAnnotation.String()] = routes
	}
}
