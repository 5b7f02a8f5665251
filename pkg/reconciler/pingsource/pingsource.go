package pingsource

import (
	"context"
	"fmt"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	pingsourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/pingsource"
	"flywheel.dev/pkg/sources/ping"
)

// Reasons on a PingSource's conditions, besides the API's own.
const (
	// ReasonSinkNotFound says the object spec.sink refers to does not
	// exist.
	ReasonSinkNotFound = "NotFound"
	// ReasonAdapterNotFound says the adapter's Deployment does not exist:
	// eventing is not installed, or not wholly.
	ReasonAdapterNotFound = "DeploymentNotFound"
)

// Reconciler keeps a PingSource's status: its sink, the attributes of its
// events, and the adapter's availability.
type Reconciler struct {
	deploymentLister appsv1listers.DeploymentLister
	uriResolver      *resolver.URIResolver
	// systemNamespace is where the adapter runs.
	systemNamespace string
}

var _ pingsourcereconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements pingsourcereconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, src *sourcesv1.PingSource) reconciler.Event {
	src.Status.InitializeConditions()
	src.Status.CloudEventAttributes = []duckv1.CloudEventAttributes{{
		Type:   ping.EventType,
		Source: ping.EventSource(src.Namespace, src.Name),
	}}

	// The adapter sends to status.sinkUri: one that no longer resolves is
	// cleared, and the source's ticks stop until it resolves again.
	sink, err := r.uriResolver.URIFromDestinationV1(ctx, src.Spec.Sink, src)
	switch {
	case err == nil:
		src.Status.MarkSink(sink)
	case apierrs.IsNotFound(err) && src.Spec.Sink.Ref != nil:
		ref := src.Spec.Sink.Ref
		src.Status.MarkNoSink(ReasonSinkNotFound, "The sink %s %s/%s does not exist: create it, or point spec.sink at one that does.", ref.Kind, ref.Namespace, ref.Name)
	default:
		src.Status.MarkNoSink(sourcesv1.ReasonSinkNotResolved, "The sink does not resolve to a URL: %v. spec.sink must name an object with an address (a Broker, a Knative Service, a Kubernetes Service) or give an absolute URI.", err)
	}

	d, err := r.deploymentLister.Deployments(r.systemNamespace).Get(ping.AdapterDeploymentName)
	switch {
	case apierrs.IsNotFound(err):
		src.Status.MarkNotDeployed(ReasonAdapterNotFound,
			"The Deployment %s/%s that sends every PingSource's events does not exist: install config/eventing.", r.systemNamespace, ping.AdapterDeploymentName)
	case err != nil:
		return fmt.Errorf("getting Deployment %s/%s: %w", r.systemNamespace, ping.AdapterDeploymentName, err)
	default:
		src.Status.PropagateDeploymentAvailability(d)
	}
	return nil
}
