package status

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"flywheel.dev/pkg/gateway/routing"
)

// ControllerName is the controllerName of GatewayClasses the flywheel
// gateway implements, and the name it signs HTTPRoute status with.
const ControllerName gatewayv1.GatewayController = "flywheel.dev/gateway"

// GatewayClass returns the status of a GatewayClass of ControllerName:
// accepted, as it takes no parameters.
func GatewayClass(gc *gatewayv1.GatewayClass, now metav1.Time) gatewayv1.GatewayClassStatus {
	st := *gc.Status.DeepCopy()
	c := metav1.Condition{
		Type:               string(gatewayv1.GatewayClassConditionStatusAccepted),
		Status:             metav1.ConditionTrue,
		Reason:             string(gatewayv1.GatewayClassReasonAccepted),
		Message:            "Handled by the flywheel gateway",
		ObservedGeneration: gc.Generation,
	}
	if gc.Spec.ParametersRef != nil {
		c.Status = metav1.ConditionFalse
		c.Reason = string(gatewayv1.GatewayClassReasonInvalidParameters)
		c.Message = "the flywheel gateway takes no parameters; remove spec.parametersRef"
	}
	set(&st.Conditions, c, now)
	return st
}

// Gateway returns the status of gw, which the process serves with the
// build res on addresses.
func Gateway(gw *gatewayv1.Gateway, res *routing.Result, addresses []netip.AddrPort, now metav1.Time) gatewayv1.GatewayStatus {
	st := *gw.Status.DeepCopy()
	gen := gw.Generation
	cond := func(t, reason, msg string, ok bool) metav1.Condition {
		s := metav1.ConditionTrue
		if !ok {
			s = metav1.ConditionFalse
		}
		return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen}
	}

	valid := 0
	for _, l := range res.Listeners {
		if l.Reason == "" {
			valid++
		}
	}
	switch {
	case valid == len(res.Listeners):
		set(&st.Conditions, cond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonAccepted),
			"Handled by the flywheel gateway", true), now)
	default:
		set(&st.Conditions, cond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonListenersNotValid),
			fmt.Sprintf("%d of %d listeners cannot be served; see status.listeners", len(res.Listeners)-valid, len(res.Listeners)), valid > 0), now)
	}
	set(&st.Conditions, cond(string(gatewayv1.GatewayConditionProgrammed), string(gatewayv1.GatewayReasonProgrammed),
		"Serving its HTTPRoutes", valid > 0), now)
	if valid == 0 {
		meta.FindStatusCondition(st.Conditions, string(gatewayv1.GatewayConditionProgrammed)).Reason = string(gatewayv1.GatewayReasonInvalid)
		meta.FindStatusCondition(st.Conditions, string(gatewayv1.GatewayConditionProgrammed)).Message = "no listener can be served"
	}

	st.Addresses = nil
	for _, a := range addresses {
		// An unspecified address (listening on all interfaces) says
		// nothing a client could use.
		if a.Addr().IsUnspecified() {
			continue
		}
		st.Addresses = append(st.Addresses, gatewayv1.GatewayStatusAddress{
			Type:  ptr.To(gatewayv1.IPAddressType),
			Value: a.Addr().String(),
		})
	}

	old := map[gatewayv1.SectionName][]metav1.Condition{}
	for _, l := range st.Listeners {
		old[l.Name] = l.Conditions
	}
	st.Listeners = nil
	for _, l := range res.Listeners {
		ls := gatewayv1.ListenerStatus{Name: l.Name, AttachedRoutes: l.AttachedRoutes, Conditions: old[l.Name]}
		ok := l.Reason == ""
		if ok {
			ls.SupportedKinds = []gatewayv1.RouteGroupKind{{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"}}
			set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionAccepted), string(gatewayv1.ListenerReasonAccepted), "", true), now)
			set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionProgrammed), string(gatewayv1.ListenerReasonProgrammed), "", true), now)
			set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionResolvedRefs), string(gatewayv1.ListenerReasonResolvedRefs), "", true), now)
		} else {
			set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionAccepted), string(l.Reason), l.Message, false), now)
			set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionProgrammed), string(gatewayv1.ListenerReasonInvalid), l.Message, false), now)
			refs := cond(string(gatewayv1.ListenerConditionResolvedRefs), string(gatewayv1.ListenerReasonResolvedRefs), "", true)
			if l.Reason == gatewayv1.ListenerReasonInvalidRouteKinds {
				refs = cond(string(gatewayv1.ListenerConditionResolvedRefs), string(l.Reason), l.Message, false)
			}
			set(&ls.Conditions, refs, now)
		}
		set(&ls.Conditions, cond(string(gatewayv1.ListenerConditionConflicted), string(gatewayv1.ListenerReasonNoConflicts), "", false), now)
		st.Listeners = append(st.Listeners, ls)
	}
	return st
}

// RouteParents returns the status.parents of an HTTPRoute. results holds,
// for each Gateway this process serves, what its build says of the route
// (nil when the route does not name it); serves reports whether a
// parentRef names one of those Gateways.
//
// Entries of other controllers are kept untouched and in place. Entries
// of this controller for Gateways this process does not serve are kept
// too, as another gateway process owns them; those for Gateways it serves
// that the route no longer names are removed.
func RouteParents(existing []gatewayv1.RouteParentStatus, routeNamespace string, results []*routing.RouteResult,
	serves func(gatewayv1.ParentReference) bool, now metav1.Time) []gatewayv1.RouteParentStatus {
	old := map[string]*gatewayv1.RouteParentStatus{}
	for i := range existing {
		if existing[i].ControllerName == ControllerName {
			old[refKey(routeNamespace, existing[i].ParentRef)] = &existing[i]
		}
	}

	desired := map[string]gatewayv1.RouteParentStatus{}
	var order []string
	for _, rr := range results {
		if rr == nil {
			continue
		}
		for _, pr := range rr.Parents {
			key := refKey(routeNamespace, pr.Ref)
			ps := gatewayv1.RouteParentStatus{ParentRef: pr.Ref, ControllerName: ControllerName}
			if o := old[key]; o != nil {
				ps.Conditions = append(ps.Conditions, o.Conditions...)
			}
			accepted := metav1.Condition{
				Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue,
				Reason: string(gatewayv1.RouteReasonAccepted), Message: "Served by the flywheel gateway",
				ObservedGeneration: rr.Generation,
			}
			if pr.Reason != "" {
				accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, string(pr.Reason), pr.Message
			}
			resolved := metav1.Condition{
				Type: string(gatewayv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue,
				Reason: string(gatewayv1.RouteReasonResolvedRefs), Message: "All backendRefs resolved",
				ObservedGeneration: rr.Generation,
			}
			if rr.RefsReason != "" {
				resolved.Status, resolved.Reason, resolved.Message = metav1.ConditionFalse, string(rr.RefsReason), rr.RefsMessage
			}
			set(&ps.Conditions, accepted, now)
			set(&ps.Conditions, resolved, now)
			if _, dup := desired[key]; !dup {
				order = append(order, key)
			}
			desired[key] = ps
		}
	}

	var out []gatewayv1.RouteParentStatus
	for _, ps := range existing {
		if ps.ControllerName != ControllerName || !serves(ps.ParentRef) {
			out = append(out, *ps.DeepCopy())
			continue
		}
		key := refKey(routeNamespace, ps.ParentRef)
		if d, ok := desired[key]; ok {
			out = append(out, d)
			delete(desired, key)
		}
	}
	for _, key := range order {
		if d, ok := desired[key]; ok {
			out = append(out, d)
		}
	}
	return out
}

// set merges c into conds, keeping the transition time when the status
// does not change, as the Gateway API asks of every implementation.
func set(conds *[]metav1.Condition, c metav1.Condition, now metav1.Time) {
	if old := meta.FindStatusCondition(*conds, c.Type); old == nil || old.Status != c.Status {
		c.LastTransitionTime = now
	}
	meta.SetStatusCondition(conds, c)
}

// refKey identifies a parentRef, with the defaults of its fields filled
// in, so that two spellings of the same reference compare equal.
func refKey(routeNamespace string, ref gatewayv1.ParentReference) string {
	group, kind, ns := gatewayv1.GroupName, "Gateway", routeNamespace
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	section, port := "", 0
	if ref.SectionName != nil {
		section = string(*ref.SectionName)
	}
	if ref.Port != nil {
		port = int(*ref.Port)
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s/%d", group, kind, ns, ref.Name, section, port)
}
