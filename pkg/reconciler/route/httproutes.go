package route

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/tracker"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// reconcileHTTPRoutes creates or updates each desired HTTPRoute, deletes
// the Route's HTTPRoutes of hosts it no longer has, and returns the
// desired ones as the API has them.
func (r *Reconciler) reconcileHTTPRoutes(ctx context.Context, route *v1.Route, desired []*gatewayv1.HTTPRoute) ([]*gatewayv1.HTTPRoute, error) {
	served := make([]*gatewayv1.HTTPRoute, 0, len(desired))
	wanted := map[string]bool{}
	for _, want := range desired {
		wanted[want.Name] = true
		hr, err := r.reconcileHTTPRoute(ctx, route, want)
		if err != nil {
			return nil, err
		}
		served = append(served, hr)
	}

	// A tag removed, or a new domain or template, leaves HTTPRoutes of
	// hosts the Route no longer has.
	have, err := r.httpRouteLister.HTTPRoutes(route.Namespace).List(labels.SelectorFromSet(labels.Set{
		serving.RouteLabel.String(): route.Name,
	}))
	if err != nil {
		return nil, fmt.Errorf("listing HTTPRoutes: %w", err)
	}
	slices.SortFunc(have, func(a, b *gatewayv1.HTTPRoute) int { return strings.Compare(a.Name, b.Name) })
	for _, hr := range have {
		if wanted[hr.Name] || !metav1.IsControlledBy(hr, route) {
			continue
		}
		err := r.gatewayClient.GatewayV1().HTTPRoutes(hr.Namespace).Delete(ctx, hr.Name, metav1.DeleteOptions{})
		if err != nil && !apierrs.IsNotFound(err) {
			return nil, fmt.Errorf("deleting HTTPRoute %s: %w", hr.Name, err)
		}
		controller.GetEventRecorder(ctx).Eventf(route, corev1.EventTypeNormal, ReasonDeleted, "Deleted HTTPRoute %q", hr.Name)
	}
	return served, nil
}

// reconcileHTTPRoute creates or updates one HTTPRoute.
func (r *Reconciler) reconcileHTTPRoute(ctx context.Context, route *v1.Route, desired *gatewayv1.HTTPRoute) (*gatewayv1.HTTPRoute, error) {
	recorder := controller.GetEventRecorder(ctx)
	client := r.gatewayClient.GatewayV1().HTTPRoutes(route.Namespace)
	name := desired.Name

	// Tracked by name, so that the Route hears of its HTTPRoutes' status
	// and also of one it does not own going away.
	if err := r.tracker.TrackReference(tracker.Reference{
		APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute", Namespace: route.Namespace, Name: name,
	}, route); err != nil {
		return nil, fmt.Errorf("tracking HTTPRoute %s: %w", name, err)
	}

	hr, err := r.httpRouteLister.HTTPRoutes(route.Namespace).Get(name)
	if apierrs.IsNotFound(err) {
		hr, err = client.Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("creating HTTPRoute %s: %w", name, err)
		}
		recorder.Eventf(route, corev1.EventTypeNormal, ReasonCreated, "Created HTTPRoute %q", name)
		return hr, nil
	} else if err != nil {
		return nil, fmt.Errorf("getting HTTPRoute %s: %w", name, err)
	}

	if !metav1.IsControlledBy(hr, route) {
		msg := fmt.Sprintf("HTTPRoute %q exists and is controlled by another object; delete it, or change the Route's name or tags", name)
		route.Status.MarkIngressFailed(ReasonNotOwned, msg)
		return nil, controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, ReasonNotOwned, "%s", msg))
	}
	if equality.Semantic.DeepEqual(desired.Spec, hr.Spec) && equality.Semantic.DeepEqual(desired.Labels, hr.Labels) {
		return hr, nil
	}

	want := hr.DeepCopy()
	want.Spec = desired.Spec
	want.Labels = desired.Labels
	hr, err = client.Update(ctx, want, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating HTTPRoute %s: %w", name, err)
	}
	recorder.Eventf(route, corev1.EventTypeNormal, ReasonUpdated, "Updated HTTPRoute %q", name)
	return hr, nil
}

// markIngress sets the Route's IngressReady from what the Gateways report
// of its HTTPRoutes, and reports whether they all serve the Route as it
// is now: each HTTPRoute's Gateway says Accepted and ResolvedRefs for the
// HTTPRoute's current generation. The first HTTPRoute a Gateway refused is
// reported, or else the first still waiting.
func markIngress(rs *v1.RouteStatus, routes []*gatewayv1.HTTPRoute) bool {
	var waitReason, waitMessage string
	for _, hr := range routes {
		ready, failed, reason, message := httpRouteState(hr)
		switch {
		case failed:
			rs.MarkIngressFailed(reason, message)
			return false
		case !ready && waitReason == "":
			waitReason, waitMessage = reason, message
		}
	}
	if waitReason != "" {
		rs.MarkIngressNotReady(waitReason, waitMessage)
		return false
	}
	rs.MarkIngressReady()
	return true
}

// httpRouteState reads what the Gateway an HTTPRoute attaches to says of
// it: whether it serves the current generation, whether it refused it,
// and why not ready.
func httpRouteState(hr *gatewayv1.HTTPRoute) (ready, failed bool, reason, message string) {
	if len(hr.Spec.ParentRefs) == 0 {
		return true, false, "", ""
	}
	parent := hr.Spec.ParentRefs[0]
	gateway := parentName(hr, parent)
	pending := fmt.Sprintf("Waiting for Gateway %s to accept HTTPRoute %q", gateway, hr.Name)

	var conditions []metav1.Condition
	for _, ps := range hr.Status.Parents {
		if parentName(hr, ps.ParentRef) == gateway {
			conditions = ps.Conditions
			break
		}
	}
	current := func(t gatewayv1.RouteConditionType) *metav1.Condition {
		c := meta.FindStatusCondition(conditions, string(t))
		if c == nil || c.ObservedGeneration < hr.Generation {
			return nil
		}
		return c
	}

	accepted := current(gatewayv1.RouteConditionAccepted)
	switch {
	case accepted == nil || accepted.Status == metav1.ConditionUnknown:
		return false, false, ReasonHTTPRoutePending, pending
	case accepted.Status == metav1.ConditionFalse:
		return false, true, ReasonHTTPRouteNotAccepted, fmt.Sprintf("Gateway %s does not accept HTTPRoute %q: %s: %s",
			gateway, hr.Name, accepted.Reason, accepted.Message)
	}
	resolved := current(gatewayv1.RouteConditionResolvedRefs)
	switch {
	case resolved == nil || resolved.Status == metav1.ConditionUnknown:
		return false, false, ReasonHTTPRoutePending, pending
	case resolved.Status == metav1.ConditionFalse:
		return false, false, ReasonHTTPRouteRefsNotResolved, fmt.Sprintf("Gateway %s cannot resolve the backends of HTTPRoute %q: %s: %s",
			gateway, hr.Name, resolved.Reason, resolved.Message)
	}
	return true, false, "", ""
}

// parentName is namespace/name of the Gateway a parent reference names;
// a reference to another kind gets the kind in front, so it matches no
// Gateway.
func parentName(hr *gatewayv1.HTTPRoute, ref gatewayv1.ParentReference) string {
	ns := hr.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	group, kind := gatewayv1.Group(gatewayv1.GroupName), gatewayv1.Kind("Gateway")
	if ref.Group != nil {
		group = *ref.Group
	}
	if ref.Kind != nil {
		kind = *ref.Kind
	}
	name := ns + "/" + string(ref.Name)
	if group != gatewayv1.GroupName || kind != "Gateway" {
		return fmt.Sprintf("%s.%s %s", kind, group, name)
	}
	return name
}
