package testing

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgotesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	fakegatewayclientset "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"
	gatewayv1listers "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"
)

// GetGatewayObjects returns the objects that belong in the fake Gateway
// API clientset.
func (l Listers) GetGatewayObjects() []runtime.Object {
	return l.sorter.ObjectsForSchemeFunc(fakegatewayclientset.AddToScheme)
}

// GetHTTPRouteLister returns a lister over the row's HTTPRoutes.
func (l Listers) GetHTTPRouteLister() gatewayv1listers.HTTPRouteLister {
	return gatewayv1listers.NewHTTPRouteLister(l.sorter.IndexerForObjectType(&gatewayv1.HTTPRoute{}))
}

// trackGenerations makes the fake clientset set metadata.generation as
// the API server does: 1 on create, one more on an update that changes
// the spec. The fake leaves it alone, and whether a Gateway has seen an
// HTTPRoute is judged by its generation.
func trackGenerations(cs *fakegatewayclientset.Clientset) {
	gvr := schema.GroupVersion(gatewayv1.GroupVersion).WithResource("httproutes")
	cs.PrependReactor("create", "httproutes", func(action clientgotesting.Action) (bool, runtime.Object, error) {
		hr := action.(clientgotesting.CreateAction).GetObject().(*gatewayv1.HTTPRoute).DeepCopy()
		hr.Generation = 1
		if err := cs.Tracker().Create(gvr, hr, hr.Namespace); err != nil {
			return true, nil, err
		}
		return true, hr, nil
	})
	cs.PrependReactor("update", "httproutes", func(action clientgotesting.Action) (bool, runtime.Object, error) {
		hr := action.(clientgotesting.UpdateAction).GetObject().(*gatewayv1.HTTPRoute).DeepCopy()
		old, err := cs.Tracker().Get(gvr, hr.Namespace, hr.Name)
		if err != nil {
			return true, nil, err
		}
		prev := old.(*gatewayv1.HTTPRoute)
		hr.Generation = prev.Generation
		if !equality.Semantic.DeepEqual(prev.Spec, hr.Spec) {
			hr.Generation++
		}
		if err := cs.Tracker().Update(gvr, hr, hr.Namespace); err != nil {
			return true, nil, err
		}
		return true, hr, nil
	})
}

// HTTPRouteOption changes an HTTPRoute a row is built from.
type HTTPRouteOption func(*gatewayv1.HTTPRoute)

// WithHTTPRouteGeneration sets metadata.generation, which the API server
// bumps on every spec change.
func WithHTTPRouteGeneration(generation int64) HTTPRouteOption {
	return func(hr *gatewayv1.HTTPRoute) { hr.Generation = generation }
}

// WithHTTPRouteAccepted records what the controller of Gateway gw says of
// the HTTPRoute at its current generation: Accepted and ResolvedRefs both
// True.
func WithHTTPRouteAccepted(gw types.NamespacedName) HTTPRouteOption {
	return WithHTTPRouteConditions(gw, metav1.ConditionTrue, "Accepted", metav1.ConditionTrue, "ResolvedRefs")
}

// WithHTTPRouteConditions records the Accepted and ResolvedRefs conditions
// the controller of Gateway gw sets on the HTTPRoute, observed at its
// current generation.
func WithHTTPRouteConditions(gw types.NamespacedName, accepted metav1.ConditionStatus, acceptedReason string,
	resolved metav1.ConditionStatus, resolvedReason string) HTTPRouteOption {
	return func(hr *gatewayv1.HTTPRoute) {
		ns := gatewayv1.Namespace(gw.Namespace)
		hr.Status.Parents = append(hr.Status.Parents, gatewayv1.RouteParentStatus{
			ParentRef:      gatewayv1.ParentReference{Namespace: &ns, Name: gatewayv1.ObjectName(gw.Name)},
			ControllerName: "example.com/gateway-controller",
			Conditions: []metav1.Condition{{
				Type:               string(gatewayv1.RouteConditionAccepted),
				Status:             accepted,
				Reason:             acceptedReason,
				Message:            "Route " + acceptedReason,
				ObservedGeneration: hr.Generation,
			}, {
				Type:               string(gatewayv1.RouteConditionResolvedRefs),
				Status:             resolved,
				Reason:             resolvedReason,
				Message:            "References " + resolvedReason,
				ObservedGeneration: hr.Generation,
			}},
		})
	}
}

// WithHTTPRouteStale makes every condition on the HTTPRoute describe the
// generation before its current one, as when the gateway has not yet seen
// the last change.
func WithHTTPRouteStale(hr *gatewayv1.HTTPRoute) {
	for i := range hr.Status.Parents {
		for j := range hr.Status.Parents[i].Conditions {
			hr.Status.Parents[i].Conditions[j].ObservedGeneration = hr.Generation - 1
		}
	}
}
