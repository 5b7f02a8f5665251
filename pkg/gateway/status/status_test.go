package status_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/gateway/status"
)

var (
	earlier = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now     = metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
)

func ref(gateway string) gatewayv1.ParentReference {
	return gt.HTTPRoute("x", gateway).Spec.ParentRefs[0]
}

func cond(t gatewayv1.RouteConditionType, s metav1.ConditionStatus, reason gatewayv1.RouteConditionReason, gen int64, at metav1.Time) metav1.Condition {
	return metav1.Condition{Type: string(t), Status: s, Reason: string(reason), ObservedGeneration: gen, LastTransitionTime: at}
}

// ignoreMessages compares conditions without their messages, which are
// for people.
var ignoreMessages = cmpopts.IgnoreFields(metav1.Condition{}, "Message")

func TestRouteParents(t *testing.T) {
	otherController := gatewayv1.RouteParentStatus{
		ParentRef: ref("istio"), ControllerName: "istio.io/gateway-controller",
		Conditions: []metav1.Condition{cond(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, "Accepted", 1, earlier)},
	}
	anotherProcess := gatewayv1.RouteParentStatus{
		ParentRef: ref("served-elsewhere"), ControllerName: status.ControllerName,
		Conditions: []metav1.Condition{cond(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, "Accepted", 1, earlier)},
	}
	oursBefore := gatewayv1.RouteParentStatus{
		ParentRef: ref("external"), ControllerName: status.ControllerName,
		Conditions: []metav1.Condition{
			cond(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, "Accepted", 1, earlier),
			cond(gatewayv1.RouteConditionResolvedRefs, metav1.ConditionTrue, "ResolvedRefs", 1, earlier),
		},
	}
	detached := gatewayv1.RouteParentStatus{
		ParentRef: ref("local"), ControllerName: status.ControllerName,
		Conditions: []metav1.Condition{cond(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, "Accepted", 1, earlier)},
	}
	serves := func(r gatewayv1.ParentReference) bool { return r.Name == "external" || r.Name == "local" }
	existing := []gatewayv1.RouteParentStatus{otherController, oursBefore, anotherProcess, detached}

	results := []*routing.RouteResult{{
		Generation: 2,
		Parents:    []routing.ParentResult{{Ref: ref("external")}},
		RefsReason: gatewayv1.RouteReasonBackendNotFound, RefsMessage: "Service demo/gone not found",
	}, nil}
	got := status.RouteParents(existing, gt.Namespace, results, serves, now)

	want := []gatewayv1.RouteParentStatus{
		otherController,
		{ParentRef: ref("external"), ControllerName: status.ControllerName, Conditions: []metav1.Condition{
			// Still accepted: the transition time stays, the generation moves.
			cond(gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, "Accepted", 2, earlier),
			cond(gatewayv1.RouteConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.RouteReasonBackendNotFound, 2, now),
		}},
		anotherProcess,
		// "local" is served here and no longer named: its entry goes.
	}
	if diff := cmp.Diff(want, got, ignoreMessages); diff != "" {
		t.Errorf("status.parents (-want, +got):\n%s", diff)
	}
	if msg := meta.FindStatusCondition(got[1].Conditions, "ResolvedRefs").Message; msg != "Service demo/gone not found" {
		t.Errorf("ResolvedRefs message %q, want the build's", msg)
	}

	// Written again with nothing new, it is unchanged, so no write and
	// no loop of updates.
	again := status.RouteParents(got, gt.Namespace, results, serves, metav1.NewTime(now.Add(time.Hour)))
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("recomputing changed the status (-first, +second):\n%s", diff)
	}
}

func TestRouteParentsRefused(t *testing.T) {
	results := []*routing.RouteResult{{Generation: 1, Parents: []routing.ParentResult{{
		Ref: ref("external"), Reason: gatewayv1.RouteReasonNotAllowedByListeners, Message: "not from here",
	}}}}
	got := status.RouteParents(nil, gt.Namespace, results, func(gatewayv1.ParentReference) bool { return true }, now)
	want := []gatewayv1.RouteParentStatus{{ParentRef: ref("external"), ControllerName: status.ControllerName, Conditions: []metav1.Condition{
		cond(gatewayv1.RouteConditionAccepted, metav1.ConditionFalse, gatewayv1.RouteReasonNotAllowedByListeners, 1, now),
		cond(gatewayv1.RouteConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.RouteReasonResolvedRefs, 1, now),
	}}}
	if diff := cmp.Diff(want, got, ignoreMessages); diff != "" {
		t.Errorf("status.parents (-want, +got):\n%s", diff)
	}
}

func TestGateway(t *testing.T) {
	gw := gt.Gateway("gw", func(gw *gatewayv1.Gateway) {
		gw.Generation = 3
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "tls", Port: 443, Protocol: gatewayv1.HTTPSProtocolType})
	})
	res := &routing.Result{Listeners: []routing.ListenerResult{
		{Name: "http", AttachedRoutes: 2},
		{Name: "tls", Reason: gatewayv1.ListenerReasonUnsupportedProtocol, Message: "no TLS"},
	}}
	addrs := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("[::]:8081")}
	got := status.Gateway(gw, res, addrs, now)

	gwCond := func(t gatewayv1.GatewayConditionType, s metav1.ConditionStatus, reason gatewayv1.GatewayConditionReason) metav1.Condition {
		return metav1.Condition{Type: string(t), Status: s, Reason: string(reason), ObservedGeneration: 3, LastTransitionTime: now}
	}
	lCond := func(t gatewayv1.ListenerConditionType, s metav1.ConditionStatus, reason gatewayv1.ListenerConditionReason) metav1.Condition {
		return metav1.Condition{Type: string(t), Status: s, Reason: string(reason), ObservedGeneration: 3, LastTransitionTime: now}
	}
	want := gatewayv1.GatewayStatus{
		Addresses: []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "127.0.0.1"}},
		Conditions: []metav1.Condition{
			gwCond(gatewayv1.GatewayConditionAccepted, metav1.ConditionTrue, gatewayv1.GatewayReasonListenersNotValid),
			gwCond(gatewayv1.GatewayConditionProgrammed, metav1.ConditionTrue, gatewayv1.GatewayReasonProgrammed),
		},
		Listeners: []gatewayv1.ListenerStatus{{
			Name: "http", AttachedRoutes: 2,
			SupportedKinds: []gatewayv1.RouteGroupKind{{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"}},
			Conditions: []metav1.Condition{
				lCond(gatewayv1.ListenerConditionAccepted, metav1.ConditionTrue, gatewayv1.ListenerReasonAccepted),
				lCond(gatewayv1.ListenerConditionProgrammed, metav1.ConditionTrue, gatewayv1.ListenerReasonProgrammed),
				lCond(gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.ListenerReasonResolvedRefs),
				lCond(gatewayv1.ListenerConditionConflicted, metav1.ConditionFalse, gatewayv1.ListenerReasonNoConflicts),
			},
		}, {
			Name: "tls",
			Conditions: []metav1.Condition{
				lCond(gatewayv1.ListenerConditionAccepted, metav1.ConditionFalse, gatewayv1.ListenerReasonUnsupportedProtocol),
				lCond(gatewayv1.ListenerConditionProgrammed, metav1.ConditionFalse, gatewayv1.ListenerReasonInvalid),
				lCond(gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.ListenerReasonResolvedRefs),
				lCond(gatewayv1.ListenerConditionConflicted, metav1.ConditionFalse, gatewayv1.ListenerReasonNoConflicts),
			},
		}},
	}
	if diff := cmp.Diff(want, got, ignoreMessages); diff != "" {
		t.Errorf("Gateway status (-want, +got):\n%s", diff)
	}
}

func TestGatewayClass(t *testing.T) {
	gc := gt.GatewayClass("flywheel", status.ControllerName)
	gc.Generation = 4
	got := meta.FindStatusCondition(status.GatewayClass(gc, now).Conditions, "Accepted")
	if got == nil || got.Status != metav1.ConditionTrue || got.ObservedGeneration != 4 {
		t.Errorf("Accepted = %+v, want True at generation 4", got)
	}
	gc.Spec.ParametersRef = &gatewayv1.ParametersReference{Kind: "ConfigMap", Name: "x"}
	got = meta.FindStatusCondition(status.GatewayClass(gc, now).Conditions, "Accepted")
	if got == nil || got.Status != metav1.ConditionFalse || got.Reason != string(gatewayv1.GatewayClassReasonInvalidParameters) {
		t.Errorf("Accepted = %+v, want False InvalidParameters", got)
	}
}
