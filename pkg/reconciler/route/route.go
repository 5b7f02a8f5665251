package route

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/tracker"
	gatewayclientset "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayv1listers "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	clientset "flywheel.dev/pkg/client/clientset/versioned"
	routereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/route"
	listers "flywheel.dev/pkg/client/listers/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/resources"
	"flywheel.dev/pkg/reconciler/route/traffic"
)

// Reasons of the events the Route reconciler records on a Route, and of
// the conditions it sets.
const (
	// ReasonCreated says an HTTPRoute was created for one of the Route's
	// hosts, or the Route's Service was.
	ReasonCreated = "Created"
	// ReasonUpdated says an HTTPRoute, or the Route's Service, was brought
	// in line with the Route.
	ReasonUpdated = "Updated"
	// ReasonDeleted says an HTTPRoute of a host the Route no longer has
	// was deleted.
	ReasonDeleted = "Deleted"
	// ReasonNotOwned says the HTTPRoute of one of the Route's hosts exists
	// and belongs to something else, often another Route with a host of
	// the same name; or that a Service of the Route's name does.
	ReasonNotOwned = v1.ReasonNotOwned
	// ReasonInvalidHost says config-network's templates make no valid
	// host of this Route.
	ReasonInvalidHost = "InvalidHost"
	// ReasonInvalidHTTPRoute says the Route's traffic cannot be written as
	// an HTTPRoute.
	ReasonInvalidHTTPRoute = "InvalidHTTPRoute"
	// ReasonHTTPRoutePending says a Gateway has not yet accepted the
	// current generation of an HTTPRoute.
	ReasonHTTPRoutePending = "HTTPRoutePending"
	// ReasonHTTPRouteNotAccepted says a Gateway refused an HTTPRoute.
	ReasonHTTPRouteNotAccepted = "HTTPRouteNotAccepted"
	// ReasonHTTPRouteRefsNotResolved says a Gateway could not resolve the
	// backends of an HTTPRoute, e.g. a Revision's Service is not there
	// yet.
	ReasonHTTPRouteRefsNotResolved = "HTTPRouteRefsNotResolved"
)

// Reconciler serves a Route's traffic through HTTPRoutes, gives its
// cluster-local host a Service, and reports where and how it is served.
type Reconciler struct {
	client              clientset.Interface
	kubeClient          kubernetes.Interface
	gatewayClient       gatewayclientset.Interface
	configurationLister listers.ConfigurationLister
	revisionLister      listers.RevisionLister
	httpRouteLister     gatewayv1listers.HTTPRouteLister
	serviceLister       corev1listers.ServiceLister
	// tracker hears of changes to the Configurations, Revisions,
	// HTTPRoutes and Service a Route names, including ones that do not
	// exist yet.
	tracker tracker.Interface
	// clock decides rollout steps and stamps routing state changes.
	clock clock.PassiveClock
	// enqueueAfter brings a Route back at its next rollout step.
	enqueueAfter func(route *v1.Route, after time.Duration)
}

var (
	_ routereconciler.Interface = (*Reconciler)(nil)
	_ routereconciler.Finalizer = (*Reconciler)(nil)
)

// ReconcileKind implements routereconciler.Interface. The generated
// reconciler has applied the defaults to route (so each target has
// latestRevision set), and writes the status afterwards.
func (r *Reconciler) ReconcileKind(ctx context.Context, route *v1.Route) reconciler.Event {
	cfg := config.FromContext(ctx)
	route.Status.MarkTLSNotEnabled()

	hosts, err := resources.Hosts(route, specTags(route), cfg)
	if err != nil {
		route.Status.MarkIngressFailed(ReasonInvalidHost, err.Error())
		return controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, ReasonInvalidHost,
			"%s; shorten the Route's name or change config-network", err.Error()))
	}
	route.Status.URL = resources.URLOf(hosts, "", cfg)
	route.Status.Address = &duckv1.Addressable{URL: resources.ClusterLocalURL(hosts)}

	// The Service does not depend on the traffic, so it is there, and the
	// address resolves, even while the traffic cannot be served yet.
	if err := r.reconcileService(ctx, route, resources.MakeService(route, cfg)); err != nil {
		return err
	}

	if err := r.trackTargets(route); err != nil {
		return err
	}
	targets, err := traffic.Resolve(route.Spec.Traffic,
		r.configurationLister.Configurations(route.Namespace), r.revisionLister.Revisions(route.Namespace))
	var bad *traffic.TargetError
	if err != nil && !errors.As(err, &bad) {
		return err
	}
	if bad != nil {
		// The HTTPRoutes keep serving the split of before, so the
		// Revisions they send to stay active; the tracker brings the
		// Route back when the target changes.
		configurations, revisions := targeted(route, targets)
		if err := r.reconcileRoutingMetadata(ctx, route, configurations, revisions, false); err != nil {
			return err
		}
		bad.MarkBadTrafficTarget(&route.Status)
		return nil
	}

	tc, err := r.rollout(ctx, route, targets)
	if err != nil {
		return err
	}
	configurations, revisions := targeted(route, tc.Targets)
	if err := r.reconcileRoutingMetadata(ctx, route, configurations, revisions, true); err != nil {
		return err
	}
	route.Status.MarkTrafficAssigned()

	desired, err := resources.MakeHTTPRoutes(route, tc, cfg)
	if err != nil {
		route.Status.MarkIngressFailed(ReasonInvalidHTTPRoute, err.Error())
		return controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, ReasonInvalidHTTPRoute, "%s", err.Error()))
	}
	served, err := r.reconcileHTTPRoutes(ctx, route, desired)
	if err != nil {
		return err
	}
	if markIngress(&route.Status, served) {
		// Only a split the Gateways accepted is reported as served.
		route.Status.Traffic = statusTraffic(tc.Targets, hosts, cfg)
	}
	return nil
}

// FinalizeKind implements routereconciler.Finalizer: a deleted Route
// sends traffic nowhere, so it leaves the routes annotation of what it
// targeted, and Revisions no other Route serves become reserve. Its
// HTTPRoutes go with it through their owner reference.
func (r *Reconciler) FinalizeKind(ctx context.Context, route *v1.Route) reconciler.Event {
	return r.reconcileRoutingMetadata(ctx, route, nil, nil, true)
}

// specTags returns the tags of the Route's targets, in order.
func specTags(route *v1.Route) []string {
	var tags []string
	for _, tt := range route.Spec.Traffic {
		if tt.Tag != "" {
			tags = append(tags, tt.Tag)
		}
	}
	return tags
}

// trackTargets asks to hear of changes to every Configuration and
// Revision the Route names, so that a Configuration's new ready Revision,
// or a missing Revision created at last, brings the Route back.
func (r *Reconciler) trackTargets(route *v1.Route) error {
	for _, tt := range route.Spec.Traffic {
		ref := tracker.Reference{APIVersion: v1.SchemeGroupVersion.String(), Namespace: route.Namespace}
		if tt.RevisionName != "" {
			ref.Kind, ref.Name = "Revision", tt.RevisionName
		} else {
			ref.Kind, ref.Name = "Configuration", tt.ConfigurationName
		}
		if err := r.tracker.TrackReference(ref, route); err != nil {
			return fmt.Errorf("tracking %s %s: %w", ref.Kind, ref.Name, err)
		}
	}
	return nil
}

// rollout applies the Route's rollout duration to the resolved targets,
// records the rollout state in the Route's status annotations and brings
// the Route back at the next step. It returns the traffic to serve.
func (r *Reconciler) rollout(ctx context.Context, route *v1.Route, targets []traffic.Target) (*traffic.Config, error) {
	logger := logging.FromContext(ctx)
	revisions := r.revisionLister.Revisions(route.Namespace)

	prev, err := traffic.ParseRolloutState(route.Status.Annotations[traffic.RolloutAnnotation.String()])
	if err != nil {
		// A garbled state only costs the moves under way: they end at once.
		logger.Warnw("Ignoring the recorded rollout state", "error", err)
	}
	var duration time.Duration
	if v, ok := serving.RolloutDurationAnnotation.Get(route.Annotations); ok {
		if duration, err = time.ParseDuration(v); err != nil || duration < 0 {
			logger.Warnw("Ignoring the rollout duration: not a non-negative Go duration", "value", v)
			duration = 0
		}
	}

	res := traffic.Rollout(traffic.RolloutInput{
		Previous: prev,
		Targets:  targets,
		Duration: duration,
		Ready: func(name string) bool {
			rev, err := revisions.Get(name)
			return err == nil && rev.IsReady()
		},
	}, r.clock.Now())
	if res.State != nil {
		if route.Status.Annotations == nil {
			route.Status.Annotations = map[string]string{}
		}
		route.Status.Annotations[traffic.RolloutAnnotation.String()] = res.State.Encode()
	} else if route.Status.Annotations != nil {
		delete(route.Status.Annotations, traffic.RolloutAnnotation.String())
		if len(route.Status.Annotations) == 0 {
			route.Status.Annotations = nil
		}
	}
	if res.NextStep > 0 {
		r.enqueueAfter(route, res.NextStep)
	}

	tc := &traffic.Config{Targets: traffic.Merge(res.Targets), Revisions: map[string]*v1.Revision{}}
	for _, name := range traffic.RevisionNames(tc.Targets) {
		rev, err := revisions.Get(name)
		if err != nil {
			return nil, fmt.Errorf("getting Revision %s: %w", name, err)
		}
		tc.Revisions[name] = rev
	}
	return tc, nil
}

// statusTraffic is the traffic block of the Route's status: each target
// with its Revision, and each tag with its URL.
func statusTraffic(targets []traffic.Target, hosts []resources.Host, cfg *config.Config) []v1.TrafficTarget {
	out := make([]v1.TrafficTarget, 0, len(targets))
	for _, t := range targets {
		tt := v1.TrafficTarget{
			Tag:            t.Tag,
			RevisionName:   t.RevisionName,
			LatestRevision: ptr.To(t.LatestRevision),
			Percent:        ptr.To(t.Percent),
		}
		if t.Tag != "" {
			tt.URL = resources.URLOf(hosts, t.Tag, cfg)
		}
		out = append(out, tt)
	}
	return out
}
