package route

import (
	"testing"
	"time"

	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// TestReconcileTargets covers targets that cannot be served yet and the
// routing metadata the Route keeps on Configurations and Revisions.
func TestReconcileTargets(t *testing.T) {
	var requeue time.Duration
	onOne := fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00001", 100, true))
	one := httpRoutes(route(), nil, latest("hello-00001", 100))
	byName := func(name string) fwtesting.RouteOption {
		return fwtesting.WithRouteTraffic(v1.TrafficTarget{RevisionName: name, LatestRevision: ptr.To(false), Percent: ptr.To[int64](100)})
	}

	table := rtesting.TableTest{{
		Name: "the Configuration has no ready Revision yet: AllTrafficAssigned Unknown, no HTTPRoutes",
		Key:  testKey,
		Objects: objects(service(route()),
			route(),
			fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigInitConditions, fwtesting.WithLatestCreated("hello-00001")),
			fwtesting.Revision("hello-00001", testNamespace, fwtesting.WithRevisionPending)),
		WantPatches:       []clientgotesting.PatchActionImpl{routesPatch(testName, `"hello"`)},
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteConfigurationNotReady(testName))),
	}, {
		Name: "the Configuration's only Revision failed: AllTrafficAssigned False",
		Key:  testKey,
		Objects: objects(service(route()),
			route(),
			fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigRoutes(testName), fwtesting.WithConfigInitConditions,
				fwtesting.WithLatestCreated("hello-00001"), fwtesting.WithLatestCreatedFailed("hello-00001", "exit 1"))),
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteConfigurationFailed(testName))),
	}, {
		Name:              "the Configuration does not exist",
		Key:               testKey,
		Objects:           objects(service(route()), route()),
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteMissingTarget("Configuration", testName))),
	}, {
		Name:              "a named Revision does not exist",
		Key:               testKey,
		Objects:           objects(service(route()), route(byName("hello-00009"))),
		WantStatusUpdates: statusUpdate(status(route(byName("hello-00009")), fwtesting.WithRouteMissingTarget("Revision", "hello-00009"))),
	}, {
		Name:              "a named Revision is coming up",
		Key:               testKey,
		Objects:           objects(service(route()), route(byName("hello-00002")), fwtesting.Revision("hello-00002", testNamespace, fwtesting.WithRevisionPending)),
		WantStatusUpdates: statusUpdate(status(route(byName("hello-00002")), fwtesting.WithRouteRevisionNotReady("hello-00002"))),
	}, {
		Name: "a served Route whose new target is not ready keeps serving the old split, and its Revisions active",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(byName("hello-00002")), onOne),
			configuration("hello-00001"),
			routed("hello-00001"),
			fwtesting.Revision("hello-00002", testNamespace, fwtesting.WithRevisionPending)),
			accepted(one)),
		WantStatusUpdates: statusUpdate(served(route(byName("hello-00002")), onOne, fwtesting.WithRouteRevisionNotReady("hello-00002"))),
	}, {
		Name: "routing metadata: a Revision another Route also serves stays active, a Revision never routed stays pending",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00002", 100, true))),
			fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithConfigRoutes("hello,other")),
			fwtesting.Configuration("unrelated", testNamespace, fwtesting.WithConfigRoutes("hello")),
			fresh("hello-00001"),
			routed("hello-00002", fwtesting.WithRevisionRoutes("hello,other")),
			fresh("hello-00003")),
			accepted(one)),
		WantPatches: []clientgotesting.PatchActionImpl{
			routesPatch("unrelated", "null"),
			statePatch("hello-00001", `"hello"`, serving.RoutingStateActive),
			routesPatch("hello-00002", `"other"`),
		},
		WantStatusUpdates: statusUpdate(served(route(), onOne)),
	}, {
		Name: "a Revision routed but labelled otherwise is made active again",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne),
			configuration("hello-00001"),
			rev("hello-00001", fwtesting.WithRoutingState(serving.RoutingStateReserve, earlier), fwtesting.WithRevisionRoutes(testName))),
			accepted(one)),
		WantPatches: []clientgotesting.PatchActionImpl{patch("hello-00001",
			`{"metadata":{"annotations":{"serving.knative.dev/routingStateModified":"`+stamp+`"},"labels":{"serving.knative.dev/routingState":"active"}}}`)},
	}, {
		Name: "a deleted Route leaves the metadata of what it served, and its finalizer goes",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(fwtesting.WithRouteDeletionTimestamp), onOne),
			fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithConfigRoutes("hello,other")),
			routed("hello-00001"),
			routed("hello-00002", fwtesting.WithRevisionRoutes("hello,other"))),
			accepted(one)),
		WantPatches: []clientgotesting.PatchActionImpl{
			routesPatch(testName, `"other"`),
			statePatch("hello-00001", "null", serving.RoutingStateReserve),
			routesPatch("hello-00002", `"other"`),
			finalizerPatch("[]"),
		},
		WantEvents: []string{normal("FinalizerUpdate", "Updated %q finalizers", testName)},
	}, {
		Name: "patching a Revision fails: retried",
		Key:  testKey,
		Objects: objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			fresh("hello-00001")),
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("patch", "revisions")},
		WantErr:      true,
		WantPatches:  []clientgotesting.PatchActionImpl{statePatch("hello-00001", `"hello"`, serving.RoutingStateActive)},
		WantEvents: []string{warning("InternalError",
			"recording the routing state of Revision hello-00001: inducing failure for patch revisions")},
	}}
	table.Test(t, factory(&requeue))
}
