package route

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	rtesting "knative.dev/pkg/reconciler/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

var (
	localGateway    = types.NamespacedName{Namespace: "flywheel-system", Name: "flywheel-local"}
	externalGateway = types.NamespacedName{Namespace: "flywheel-system", Name: "flywheel-external"}
)

func TestReconcile(t *testing.T) {
	var requeue time.Duration
	// onOne and onTwo are the traffic of a Route serving all to the
	// latest ready Revision, hello-00001 or hello-00002.
	onOne := fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00001", 100, true))
	onTwo := fwtesting.WithStatusTraffic(fwtesting.TrafficTo("hello-00002", 100, true))
	one := httpRoutes(route(), nil, latest("hello-00001", 100))
	two := httpRoutes(route(), nil, latest("hello-00002", 100))

	split := route(fwtesting.WithRouteTraffic(
		v1.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](70)},
		v1.TrafficTarget{ConfigurationName: testName, LatestRevision: ptr.To(true), Percent: ptr.To[int64](30)},
	))
	splitTargets := []traffic.Target{{RevisionName: "hello-00001", Percent: 70}, latest("hello-00002", 30)}

	tagged := route(fwtesting.WithRouteTraffic(
		v1.TrafficTarget{ConfigurationName: testName, LatestRevision: ptr.To(true), Percent: ptr.To[int64](100), Tag: "current"},
		v1.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0), Tag: "previous"},
	))
	taggedTargets := []traffic.Target{
		{RevisionName: "hello-00002", ConfigurationName: testName, LatestRevision: true, Percent: 100, Tag: "current"},
		{RevisionName: "hello-00001", Tag: "previous"},
	}

	clusterLocal := route(fwtesting.WithRouteLabels(map[string]string{serving.VisibilityLabel.String(): serving.VisibilityClusterLocal}))
	local := httpRoutes(clusterLocal, nil, latest("hello-00001", 100))

	// owned is the Route of a Service, with the Service's labels and
	// annotations.
	owned := route(
		fwtesting.WithRouteLabels(map[string]string{serving.ServiceLabel.String(): testName}),
		fwtesting.WithRouteAnnotations(map[string]string{serving.CreatorAnnotation.String(): "jane@example.com"}))
	ownedRoutes := httpRoutes(owned, nil, latest("hello-00001", 100))

	table := rtesting.TableTest{{
		Name: "key of a deleted Route: nothing to do",
		Key:  testKey,
	}, {
		Name: "first pass: finalizer, HTTPRoutes for both Gateways, routing metadata, waiting for the Gateways",
		Key:  testKey,
		Objects: objects(
			fwtesting.Route(testName, testNamespace, fwtesting.WithRouteGeneration(1)),
			fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigReady("hello-00001")),
			fresh("hello-00001")),
		WantPatches: []clientgotesting.PatchActionImpl{
			finalizerPatch(`["routes.serving.knative.dev"]`),
			routesPatch(testName, `"hello"`),
			statePatch("hello-00001", `"hello"`, serving.RoutingStateActive),
		},
		WantCreates: append(objects(service(route())), creates(one)...),
		// The status is written over the Route as it was read, before the
		// finalizer patch.
		WantStatusUpdates: statusUpdate(status(fwtesting.Route(testName, testNamespace, fwtesting.WithRouteGeneration(1)),
			fwtesting.WithRouteTrafficAssigned, pending)),
		WantEvents: append([]string{
			normal("FinalizerUpdate", "Updated %q finalizers", testName),
			normal(ReasonCreated, "Created Service %q", testName),
		}, created(one)...),
	}, {
		Name: "Gateways accepted the HTTPRoutes: Ready, serving the latest ready Revision",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantStatusUpdates: statusUpdate(served(route(), onOne)),
	}, {
		Name: "everything in line: no writes",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
	}, {
		Name: "accepted only at an older generation: the Gateway has not seen the last change yet",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one, fwtesting.WithHTTPRouteGeneration(2), fwtesting.WithHTTPRouteStale)),
		WantStatusUpdates: statusUpdate(served(route(), onOne, pending)),
	}, {
		Name: "a Gateway refuses an HTTPRoute: IngressReady False with its reason",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one[:1]),
			objectsOf(one[1:], fwtesting.WithHTTPRouteGeneration(1), fwtesting.WithHTTPRouteConditions(externalGateway,
				metav1.ConditionFalse, "NotAllowedByListeners", metav1.ConditionTrue, "ResolvedRefs"))),
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteTrafficAssigned,
			fwtesting.WithRouteIngressFailed(ReasonHTTPRouteNotAccepted,
				`Gateway flywheel-system/flywheel-external does not accept HTTPRoute "hello.demo.example.com": NotAllowedByListeners: Route NotAllowedByListeners`))),
	}, {
		Name: "a Gateway cannot find a backend yet: IngressReady Unknown with its reason",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
			objectsOf(one[:1], fwtesting.WithHTTPRouteGeneration(1), fwtesting.WithHTTPRouteConditions(localGateway,
				metav1.ConditionTrue, "Accepted", metav1.ConditionFalse, "BackendNotFound")),
			accepted(one[1:])),
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteTrafficAssigned,
			fwtesting.WithRouteIngressUnknown(ReasonHTTPRouteRefsNotResolved,
				`Gateway flywheel-system/flywheel-local cannot resolve the backends of HTTPRoute "hello.demo.svc.cluster.local": BackendNotFound: References BackendNotFound`))),
	}, {
		Name: "a new latest ready Revision: HTTPRoutes updated, the old Revision reserve, status keeps what is served",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne),
			configuration("hello-00002"),
			routed("hello-00001"),
			fresh("hello-00002")),
			accepted(one)),
		WantPatches: []clientgotesting.PatchActionImpl{
			statePatch("hello-00001", "null", serving.RoutingStateReserve),
			statePatch("hello-00002", `"hello"`, serving.RoutingStateActive),
		},
		WantUpdates:       updates(accepted(one), two),
		WantStatusUpdates: statusUpdate(served(route(), onOne, pending)),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
	}, {
		Name: "HTTPRoutes without the Revision headers: updated to set them on every backendRef",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one, withoutBackendFilters)),
		WantUpdates:       updates(accepted(one, withoutBackendFilters), one),
		WantStatusUpdates: statusUpdate(served(route(), onOne, pending)),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
	}, {
		Name: "the new split served: status reports it",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			served(route(), onOne, pending),
			configuration("hello-00002"),
			routed("hello-00002")),
			accepted(two)),
		WantStatusUpdates: statusUpdate(served(route(), onTwo)),
	}, {
		Name: "a split by percent: one weighted backend per Revision",
		Key:  testKey,
		Objects: objects(service(route()),
			status(split, fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
		WantCreates: creates(httpRoutes(split, nil, splitTargets...)),
		WantEvents:  created(httpRoutes(split, nil, splitTargets...)),
	}, {
		Name: "tags: a host each on both Gateways, and a header rule each on the main hosts",
		Key:  testKey,
		Objects: objects(service(route()),
			status(tagged, fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
		WantCreates: creates(httpRoutes(tagged, nil, taggedTargets...)),
		WantEvents:  created(httpRoutes(tagged, nil, taggedTargets...)),
	}, {
		Name: "tags served: each tag's URL in the status",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			status(tagged, fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(httpRoutes(tagged, nil, taggedTargets...))),
		WantStatusUpdates: statusUpdate(served(tagged, fwtesting.WithStatusTraffic(
			v1.TrafficTarget{Tag: "current", RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100),
				URL: parse("http://current-hello.demo.example.com")},
			v1.TrafficTarget{Tag: "previous", RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0),
				URL: parse("http://previous-hello.demo.example.com")},
		))),
	}, {
		Name: "tag-header-based-routing Disabled: the header rules go",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			fwtesting.ConfigMap(apisconfig.FeaturesConfigName, map[string]string{"tag-header-based-routing": "Disabled"}),
			status(tagged, fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00002"),
			routed("hello-00001"),
			routed("hello-00002")),
			accepted(httpRoutes(tagged, nil, taggedTargets...))),
		WantUpdates: updates(accepted(httpRoutes(tagged, nil, taggedTargets...))[:2],
			httpRoutes(tagged, withConfig(func(c *config.Config) { c.Features.TagHeaderBasedRouting = apisconfig.Disabled }), taggedTargets...)),
		WantEvents: []string{
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.svc.cluster.local"),
			normal(ReasonUpdated, "Updated HTTPRoute %q", "hello.demo.example.com"),
		},
	}, {
		Name: "cluster-local visibility: only the cluster-local Gateway, and a cluster-local URL",
		Key:  testKey,
		Objects: objects(service(clusterLocal),
			clusterLocal,
			configuration("hello-00001"),
			routed("hello-00001")),
		WantCreates: creates(local),
		WantStatusUpdates: statusUpdate(status(clusterLocal, fwtesting.WithRouteTrafficAssigned, pending,
			fwtesting.WithRouteURL("http://hello.demo.svc.cluster.local"))),
		WantEvents: created(local),
	}, {
		Name: "made cluster-local: the public HTTPRoute goes",
		Key:  testKey,
		Objects: concat(objects(service(clusterLocal),
			served(clusterLocal, onOne, fwtesting.WithRouteURL("http://hello.demo.example.com")),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantDeletes: []clientgotesting.DeleteActionImpl{deleteHTTPRoute("hello.demo.example.com")},
		WantStatusUpdates: statusUpdate(served(clusterLocal, onOne,
			fwtesting.WithRouteURL("http://hello.demo.svc.cluster.local"))),
		WantEvents: []string{normal(ReasonDeleted, "Deleted HTTPRoute %q", "hello.demo.example.com")},
	}, {
		Name: "config-network's domain template changes: new hosts, the old HTTPRoute goes",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			fwtesting.ConfigMap(apisconfig.NetworkConfigName, map[string]string{"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"}),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantCreates: creates(httpRoutes(route(), withConfig(func(c *config.Config) {
			c.Network.DomainTemplate = "{{.Name}}-{{.Namespace}}.{{.Domain}}"
		}), latest("hello-00001", 100))[1:]),
		WantDeletes: []clientgotesting.DeleteActionImpl{deleteHTTPRoute("hello.demo.example.com")},
		WantStatusUpdates: statusUpdate(served(route(), onOne, fwtesting.WithRouteURL("http://hello-demo.example.com"),
			fwtesting.WithRouteIngressUnknown(ReasonHTTPRoutePending, `Waiting for Gateway flywheel-system/flywheel-external to accept HTTPRoute "hello-demo.example.com"`))),
		WantEvents: []string{
			normal(ReasonCreated, "Created HTTPRoute %q", "hello-demo.example.com"),
			normal(ReasonDeleted, "Deleted HTTPRoute %q", "hello.demo.example.com"),
		},
	}, {
		Name: "config-domain gives the Route another domain",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			fwtesting.ConfigMap(apisconfig.DomainConfigName, map[string]string{"apps.example.org": ""}),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantCreates: creates(httpRoutes(route(), withConfig(func(c *config.Config) {
			c.Domain = &apisconfig.Domain{Domains: map[string]map[string]string{"apps.example.org": {}}}
		}), latest("hello-00001", 100))[1:]),
		WantDeletes: []clientgotesting.DeleteActionImpl{deleteHTTPRoute("hello.demo.example.com")},
		WantStatusUpdates: statusUpdate(served(route(), onOne, fwtesting.WithRouteURL("http://hello.demo.apps.example.org"),
			fwtesting.WithRouteIngressUnknown(ReasonHTTPRoutePending, `Waiting for Gateway flywheel-system/flywheel-external to accept HTTPRoute "hello.demo.apps.example.org"`))),
		WantEvents: []string{
			normal(ReasonCreated, "Created HTTPRoute %q", "hello.demo.apps.example.org"),
			normal(ReasonDeleted, "Deleted HTTPRoute %q", "hello.demo.example.com"),
		},
	}, {
		Name: "the HTTPRoute of a host belongs to something else: NotOwned, no retry",
		Key:  testKey,
		Objects: concat(objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
			objectsOf(one[:1], func(hr *gatewayv1.HTTPRoute) { hr.OwnerReferences = nil })),
		WantErr: true,
		WantStatusUpdates: statusUpdate(status(route(), fwtesting.WithRouteTrafficAssigned, fwtesting.WithRouteIngressFailed(ReasonNotOwned,
			`HTTPRoute "hello.demo.svc.cluster.local" exists and is controlled by another object; delete it, or change the Route's name or tags`))),
		WantEvents: []string{warning(ReasonNotOwned,
			`HTTPRoute "hello.demo.svc.cluster.local" exists and is controlled by another object; delete it, or change the Route's name or tags`)},
	}, {
		Name: "creating an HTTPRoute fails: retried",
		Key:  testKey,
		Objects: objects(service(route()),
			status(route(), fwtesting.WithRouteTrafficAssigned, pending),
			configuration("hello-00001"),
			routed("hello-00001")),
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("create", "httproutes")},
		WantErr:      true,
		WantCreates:  creates(one[:1]),
		WantEvents: []string{warning("InternalError",
			"creating HTTPRoute hello.demo.svc.cluster.local: inducing failure for create httproutes")},
	}, {
		Name: "a host the templates cannot make: InvalidHost, no retry",
		Key:  "a-namespace-long-enough/a-route-with-a-name-long-enough-to-break",
		Objects: objects(
			fwtesting.ConfigMap(apisconfig.NetworkConfigName, map[string]string{"domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}"}),
			fwtesting.Route("a-route-with-a-name-long-enough-to-break", "a-namespace-long-enough", fwtesting.WithRouteFinalizer)),
		WantErr: true,
		WantStatusUpdates: statusUpdate(func() *v1.Route {
			r := fwtesting.Route("a-route-with-a-name-long-enough-to-break", "a-namespace-long-enough", fwtesting.WithRouteFinalizer,
				fwtesting.WithRouteInitConditions)
			r.Status.MarkIngressFailed(ReasonInvalidHost, invalidHostMessage)
			return r
		}()),
		WantEvents: []string{warning(ReasonInvalidHost, "%s; shorten the Route's name or change config-network", invalidHostMessage)},
	}, {
		Name: "the Route's Service is missing: created, so that its cluster-local host resolves",
		Key:  testKey,
		Objects: concat(objects(
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantCreates: objects(service(route())),
		WantEvents:  []string{normal(ReasonCreated, "Created Service %q", testName)},
	}, {
		Name: "a Service's Route: its Service carries the Route's labels and annotations",
		Key:  testKey,
		Objects: concat(objects(
			served(owned, onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(ownedRoutes)),
		WantCreates: objects(service(owned)),
		WantEvents:  []string{normal(ReasonCreated, "Created Service %q", testName)},
	}, {
		Name: "the Route's Service is out of date: labels and target brought in line",
		Key:  testKey,
		Objects: concat(objects(
			service(route(), withServiceLabels(map[string]string{"serving.knative.dev/route": testName, "stale": "yes"}),
				withExternalName("elsewhere.example.com")),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: service(route())}},
		WantEvents:  []string{normal(ReasonUpdated, "Updated Service %q", testName)},
	}, {
		Name: "the Route's Service was made a ClusterIP Service: made an alias again",
		Key:  testKey,
		Objects: concat(objects(
			service(route(), asClusterIP),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: service(route())}},
		WantEvents:  []string{normal(ReasonUpdated, "Updated Service %q", testName)},
	}, {
		Name: "config-network names another cluster-local gateway Service: the Route's Service follows",
		Key:  testKey,
		Objects: concat(objects(
			fwtesting.ConfigMap(apisconfig.NetworkConfigName, map[string]string{"cluster-local-gateway-service": "mesh/local-gateway"}),
			service(route()),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: service(route(), withExternalName("local-gateway.mesh.svc.cluster.local"))}},
		WantEvents:  []string{normal(ReasonUpdated, "Updated Service %q", testName)},
	}, {
		Name: "a Service of the Route's name belongs to something else: NotOwned, no retry, the HTTPRoutes left alone",
		Key:  testKey,
		Objects: concat(objects(
			service(route(), withoutOwner),
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WantErr:           true,
		WantStatusUpdates: statusUpdate(served(route(), onOne, fwtesting.WithRouteIngressFailed(ReasonNotOwned, serviceNotOwned))),
		WantEvents:        []string{warning(ReasonNotOwned, "%s", serviceNotOwned)},
	}, {
		Name: "creating the Service fails: retried",
		Key:  testKey,
		Objects: concat(objects(
			served(route(), onOne),
			configuration("hello-00001"),
			routed("hello-00001")),
			accepted(one)),
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("create", "services")},
		WantErr:      true,
		WantCreates:  objects(service(route())),
		WantEvents: []string{warning("InternalError",
			"creating Service hello: inducing failure for create services")},
	}}
	table.Test(t, factory(&requeue))
}

// invalidHostMessage is why the host of a-route-with-a-name-long-enough-to-break
// in a-namespace-long-enough cannot be made with the template {{.Name}}-{{.Namespace}}.
const invalidHostMessage = `domain-template of config-network: the host "a-route-with-a-name-long-enough-to-break-a-namespace-long-enough.example.com" ` +
	`has a label "a-route-with-a-name-long-enough-to-break-a-namespace-long-enough" that is not valid: must be no more than 63 characters`

// serviceNotOwned is why a Route cannot have a Service someone else made.
const serviceNotOwned = `Service "hello" exists and is controlled by another object; ` +
	`the Route needs a Service of its name for its cluster-local host: delete it, or rename the Route`

// withConfig returns the default configuration changed by mutate.
func withConfig(mutate func(*config.Config)) *config.Config {
	c := defaultConfig()
	mutate(c)
	return c
}

// objectsOf returns copies of hrs with opts applied.
func objectsOf(hrs []*gatewayv1.HTTPRoute, opts ...fwtesting.HTTPRouteOption) []runtime.Object {
	var out []runtime.Object
	for _, hr := range hrs {
		hr = hr.DeepCopy()
		for _, opt := range opts {
			opt(hr)
		}
		out = append(out, hr)
	}
	return out
}

func parse(url string) *apis.URL {
	u, err := apis.ParseURL(url)
	if err != nil {
		panic(err)
	}
	return u
}

func deleteHTTPRoute(name string) clientgotesting.DeleteActionImpl {
	return clientgotesting.DeleteActionImpl{
		ActionImpl: clientgotesting.ActionImpl{
			Namespace: testNamespace,
			Resource:  schema.GroupVersion(gatewayv1.GroupVersion).WithResource("httproutes"),
		},
		Name: name,
	}
}
