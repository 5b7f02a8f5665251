package route

import (
	"testing"
	"time"

	clientgotesting "k8s.io/client-go/testing"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// TestReconcileRollout follows a Route with a rollout duration of 100s
// through a new latest ready Revision: the traffic moves in ten steps of
// 10s, and the state of the move lives in the Route's status.
func TestReconcileRollout(t *testing.T) {
	var requeue time.Duration
	gradual := route(fwtesting.WithRouteAnnotations(map[string]string{serving.RolloutDurationAnnotation.String(): "100s"}))

	// state is the recorded rollout state: the target on to, moving from
	// hello-00001 since started when started is not zero.
	state := func(to string, started time.Time) fwtesting.RouteOption {
		c := traffic.ConfigurationRollout{ConfigurationName: testName, Percent: 100, RevisionName: to}
		if !started.IsZero() {
			c.From = []traffic.RevisionShare{{RevisionName: "hello-00001", Percent: 100}}
			c.StartTime = started
		}
		s := &traffic.RolloutState{Configurations: []traffic.ConfigurationRollout{c}}
		return fwtesting.WithRouteStatusAnnotation(traffic.RolloutAnnotation.String(), s.Encode())
	}
	// sending is the traffic the Route reports while it sends old to
	// hello-00001 and the rest to hello-00002.
	sending := func(old int64) fwtesting.RouteOption {
		return fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00001", old, true), fwtesting.TrafficTo("hello-00002", 100-old, true))
	}
	onOne := fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00001", 100, true))
	splitAt := func(old int64) []traffic.Target {
		return []traffic.Target{latest("hello-00001", old), latest("hello-00002", 100-old)}
	}
	one := httpRoutes(gradual, nil, latest("hello-00001", 100))

	table := rtesting.TableTest{{
		Name: "a rollout duration: the first Revision takes the traffic at once, and the state is recorded",
		Key:  testKey,
		Objects: concat(objects(service(gradual),
			status(gradual, fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantStatusUpdates: statusUpdate(served(gradual, onOne, state("hello-00001", time.Time{}))),
		PostConditions:    []func(*testing.T, *rtesting.TableRow){requeued(&requeue, 0)},
	}, {
		Name: "a new latest ready Revision: the move starts at 100/0, the next step in 10s",
		Key:  testKey,
		Objects: concat(objects(service(gradual),
			served(gradual, onOne, state("hello-00001", time.Time{})),
			configuration("hello-00002"),
			routed("hello-00001"),
			fresh("hello-00002")),
			accepted(one)),
		WantPatches:       []clientgotesting.PatchActionImpl{statePatch("hello-00002", `"hello"`, serving.RoutingStateActive)},
		WantStatusUpdates: statusUpdate(served(gradual, sending(100), state("hello-00002", now))),
		PostConditions:    []func(*testing.T, *rtesting.TableRow){requeued(&requeue, 10*time.Second)},
	}, {
		Name: "25s in: two steps done, 80/20, the next step in 5s",
		Key:  testKey,
		Objects: concat(objects(service(gradual),
			served(gradual, sending(100), state("hello-00002", now.Add(-25*time.Second))),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(one)),
		WantUpdates: updates(accepted(one), httpRoutes(gradual, nil, splitAt(80)...)),
		WantStatusUpdates: statusUpdate(served(gradual, sending(100), state("hello-00002", now.Add(-25*time.Second)),
			pending)),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
		PostConditions: []func(*testing.T, *rtesting.TableRow){requeued(&requeue, 5*time.Second)},
	}, {
		Name: "the Gateways serve the step: status reports the split",
		Key:  testKey,
		Objects: concat(objects(service(gradual),
			served(gradual, sending(100), state("hello-00002", now.Add(-25*time.Second)), pending),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(httpRoutes(gradual, nil, splitAt(80)...))),
		WantStatusUpdates: statusUpdate(served(gradual, sending(80), state("hello-00002", now.Add(-25*time.Second)))),
		PostConditions:    []func(*testing.T, *rtesting.TableRow){requeued(&requeue, 5*time.Second)},
	}, {
		Name: "the duration is over: all on hello-00002, hello-00001 reserve, no more steps",
		Key:  testKey,
		Objects: concat(objects(service(gradual),
			served(gradual, sending(10), state("hello-00002", now.Add(-100*time.Second))),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(httpRoutes(gradual, nil, splitAt(10)...))),
		WantPatches: []clientgotesting.PatchActionImpl{statePatch("hello-00001", "null", serving.RoutingStateReserve)},
		WantUpdates: updates(accepted(httpRoutes(gradual, nil, splitAt(10)...)), httpRoutes(gradual, nil, latest("hello-00002", 100))),
		WantStatusUpdates: statusUpdate(served(gradual, sending(10), state("hello-00002", time.Time{}),
			pending)),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
		PostConditions: []func(*testing.T, *rtesting.TableRow){requeued(&requeue, 0)},
	}, {
		Name: "the duration removed: the move ends at once and the state goes",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), sending(100), state("hello-00002", now)),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(one)),
		WantPatches: []clientgotesting.PatchActionImpl{statePatch("hello-00001", "null", serving.RoutingStateReserve)},
		WantUpdates: updates(accepted(one), httpRoutes(route(), nil, latest("hello-00002", 100))),
		WantStatusUpdates: statusUpdate(served(route(), sending(100), pending,
			func(r *v1.Route) { r.Status.Annotations = nil })),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
	}}
	table.Test(t, factory(&requeue))
}
