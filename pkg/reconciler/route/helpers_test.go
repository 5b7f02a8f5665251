package route

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgotesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	routereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/route"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/gatewayapi"
	"flywheel.dev/pkg/reconciler/route/resources"
	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testName      = "hello"
	testKey       = testNamespace + "/" + testName
)

var (
	now     = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	earlier = now.Add(-time.Hour)
	stamp   = now.UTC().Format(time.RFC3339)
)

// route is the Route hello at generation 1, seen before (it has the
// finalizer), sending everything to Configuration hello, then opts.
func route(opts ...fwtesting.RouteOption) *v1.Route {
	return fwtesting.Route(testName, testNamespace, append([]fwtesting.RouteOption{
		fwtesting.WithRouteGeneration(1), fwtesting.WithRouteFinalizer,
	}, opts...)...)
}

// status is r as the reconciler writes its status: observed, conditions
// initialized, its URLs with the default configuration, then opts.
func status(r *v1.Route, opts ...fwtesting.RouteOption) *v1.Route {
	r = r.DeepCopy()
	for _, opt := range append([]fwtesting.RouteOption{
		fwtesting.WithRouteObservedGeneration, fwtesting.WithRouteInitConditions,
		fwtesting.WithRouteURL("http://hello.demo.example.com"),
		fwtesting.WithRouteAddress("http://hello.demo.svc.cluster.local"),
	}, opts...) {
		opt(r)
	}
	return r
}

// served is r's status once the Gateways serve it: traffic assigned,
// ingress ready, then opts (the traffic served, usually).
func served(r *v1.Route, opts ...fwtesting.RouteOption) *v1.Route {
	return status(r, append([]fwtesting.RouteOption{fwtesting.WithRouteTrafficAssigned, fwtesting.WithRouteIngressReady}, opts...)...)
}

// pending is the IngressReady reason and message while the Gateway of the
// first HTTPRoute, the cluster-local one, has not accepted it.
var pending = fwtesting.WithRouteIngressUnknown(ReasonHTTPRoutePending,
	`Waiting for Gateway flywheel-system/flywheel-local to accept HTTPRoute "hello.demo.svc.cluster.local"`)

// service is the Service the reconciler makes for r with the default
// configuration, an alias of the cluster-local gateway's Service, then
// opts.
func service(r *v1.Route, opts ...func(*corev1.Service)) *corev1.Service {
	svc := resources.MakeService(r, defaultConfig())
	for _, opt := range opts {
		opt(svc)
	}
	return svc
}

// withServiceLabels sets a Service's labels.
func withServiceLabels(labels map[string]string) func(*corev1.Service) {
	return func(svc *corev1.Service) { svc.Labels = labels }
}

// withExternalName points a Service at another name.
func withExternalName(name string) func(*corev1.Service) {
	return func(svc *corev1.Service) { svc.Spec.ExternalName = name }
}

// withoutOwner makes a Service someone else's.
func withoutOwner(svc *corev1.Service) { svc.OwnerReferences = nil }

// asClusterIP makes a Service a ClusterIP one selecting pods, as the API
// server stores it.
func asClusterIP(svc *corev1.Service) {
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.ExternalName = ""
	svc.Spec.ClusterIP = "10.96.0.10"
	svc.Spec.ClusterIPs = []string{"10.96.0.10"}
	svc.Spec.Selector = map[string]string{"app": "hello"}
}

// rev is a ready Revision with a 300s timeout, then opts.
func rev(name string, opts ...fwtesting.RevisionOption) *v1.Revision {
	return fwtesting.Revision(name, testNamespace, append([]fwtesting.RevisionOption{
		fwtesting.WithRevisionReady, fwtesting.WithRevisionTimeout(300),
	}, opts...)...)
}

// routed is a ready Revision that Route hello sends traffic to.
func routed(name string, opts ...fwtesting.RevisionOption) *v1.Revision {
	return rev(name, append([]fwtesting.RevisionOption{
		fwtesting.WithRoutingState(serving.RoutingStateActive, earlier), fwtesting.WithRevisionRoutes(testName),
	}, opts...)...)
}

// fresh is a ready Revision no Route has picked up yet.
func fresh(name string, opts ...fwtesting.RevisionOption) *v1.Revision {
	return rev(name, append([]fwtesting.RevisionOption{
		fwtesting.WithRoutingState(serving.RoutingStatePending, earlier),
	}, opts...)...)
}

// configuration is Configuration hello with latest ready Revision
// latestReady, recorded as routed by Route hello.
func configuration(latestReady string) *v1.Configuration {
	return fwtesting.Configuration(testName, testNamespace, fwtesting.WithConfigReady(latestReady), fwtesting.WithConfigRoutes(testName))
}

// latest is a resolved target following Configuration hello.
func latest(revision string, percent int64) traffic.Target {
	return traffic.Target{RevisionName: revision, ConfigurationName: testName, LatestRevision: true, Percent: percent}
}

func defaultConfig() *config.Config {
	return &config.Config{
		Network:  apisconfig.DefaultNetwork(),
		Domain:   apisconfig.DefaultDomainConfig(),
		Features: apisconfig.DefaultFeatures(),
	}
}

// httpRoutes returns the HTTPRoutes the reconciler makes for r serving
// targets, with cfg (nil: the defaults); every Revision has the 300s
// timeout of rev.
func httpRoutes(r *v1.Route, cfg *config.Config, targets ...traffic.Target) []*gatewayv1.HTTPRoute {
	if cfg == nil {
		cfg = defaultConfig()
	}
	tc := &traffic.Config{Targets: targets, Revisions: map[string]*v1.Revision{}}
	for _, t := range targets {
		tc.Revisions[t.RevisionName] = rev(t.RevisionName)
	}
	hrs, err := resources.MakeHTTPRoutes(r, tc, cfg)
	if err != nil {
		panic(err)
	}
	return hrs
}

// accepted returns hrs as stored at generation 1 and accepted by the
// Gateways they attach to, then opts.
func accepted(hrs []*gatewayv1.HTTPRoute, opts ...fwtesting.HTTPRouteOption) []runtime.Object {
	var objs []runtime.Object
	for _, hr := range hrs {
		hr = hr.DeepCopy()
		hr.Generation = 1
		parent := hr.Spec.ParentRefs[0]
		fwtesting.WithHTTPRouteAccepted(types.NamespacedName{Namespace: string(*parent.Namespace), Name: string(parent.Name)})(hr)
		for _, opt := range opts {
			opt(hr)
		}
		objs = append(objs, hr)
	}
	return objs
}

// withoutBackendFilters strips the filters of every backendRef, as on an
// HTTPRoute written before the Revision headers were set there.
func withoutBackendFilters(hr *gatewayv1.HTTPRoute) {
	for i := range hr.Spec.Rules {
		for j := range hr.Spec.Rules[i].BackendRefs {
			hr.Spec.Rules[i].BackendRefs[j].Filters = nil
		}
	}
}

// updates returns the updates that bring the stored HTTPRoutes have in
// line with want, pairwise and in order.
func updates(have []runtime.Object, want []*gatewayv1.HTTPRoute) []clientgotesting.UpdateActionImpl {
	var out []clientgotesting.UpdateActionImpl
	for i, obj := range have {
		hr := obj.(*gatewayv1.HTTPRoute).DeepCopy()
		hr.Spec = want[i].Spec
		out = append(out, clientgotesting.UpdateActionImpl{Object: hr})
	}
	return out
}

func objects(objs ...runtime.Object) []runtime.Object { return objs }

func concat(lists ...[]runtime.Object) []runtime.Object {
	var out []runtime.Object
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func creates(hrs []*gatewayv1.HTTPRoute) []runtime.Object {
	var out []runtime.Object
	for _, hr := range hrs {
		out = append(out, hr)
	}
	return out
}

func created(hrs []*gatewayv1.HTTPRoute) []string {
	var out []string
	for _, hr := range hrs {
		out = append(out, normal(ReasonCreated, "Created HTTPRoute %q", hr.Name))
	}
	return out
}

func normal(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeNormal, reason, format, args...)
}

func warning(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeWarning, reason, format, args...)
}

func statusUpdate(r *v1.Route) []clientgotesting.UpdateActionImpl {
	return []clientgotesting.UpdateActionImpl{{Object: r}}
}

// patch is a merge patch of Configuration or Revision name.
func patch(name, body string) clientgotesting.PatchActionImpl {
	return clientgotesting.PatchActionImpl{
		ActionImpl: clientgotesting.ActionImpl{Namespace: testNamespace},
		Name:       name,
		Patch:      []byte(body),
	}
}

// routesPatch records routes (or, with "null", none) on an object.
func routesPatch(name, routes string) clientgotesting.PatchActionImpl {
	return patch(name, fmt.Sprintf(`{"metadata":{"annotations":{"serving.knative.dev/routes":%s}}}`, routes))
}

// statePatch records routes on a Revision and moves it to state.
func statePatch(name, routes string, state serving.RoutingState) clientgotesting.PatchActionImpl {
	return patch(name, fmt.Sprintf(`{"metadata":{"annotations":{"serving.knative.dev/routes":%s,"serving.knative.dev/routingStateModified":%q},"labels":{"serving.knative.dev/routingState":%q}}}`,
		routes, stamp, state))
}

func finalizerPatch(finalizers string) clientgotesting.PatchActionImpl {
	return patch(testName, fmt.Sprintf(`{"metadata":{"finalizers":%s,"resourceVersion":""}}`, finalizers))
}

// requeued checks, after the row, that the reconciler asked to see the
// Route again after d (0: not at all).
func requeued(got *time.Duration, d time.Duration) func(*testing.T, *rtesting.TableRow) {
	return func(t *testing.T, _ *rtesting.TableRow) {
		t.Helper()
		if *got != d {
			t.Errorf("requeued after %v, want %v", *got, d)
		}
	}
}

// factory runs the Route reconciler for a row, its requeues recorded in
// *requeue.
func factory(requeue *time.Duration) rtesting.Factory {
	return fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, cmw configmap.Watcher) controller.Reconciler {
		*requeue = 0
		r := &Reconciler{
			client:              servingclient.Get(ctx),
			kubeClient:          kubeclient.Get(ctx),
			gatewayClient:       gatewayapi.GetClient(ctx),
			configurationLister: listers.GetConfigurationLister(),
			revisionLister:      listers.GetRevisionLister(),
			httpRouteLister:     listers.GetHTTPRouteLister(),
			serviceLister:       listers.GetK8sServiceLister(),
			tracker:             &rtesting.FakeTracker{},
			clock:               clocktesting.NewFakePassiveClock(now),
			enqueueAfter:        func(_ *v1.Route, d time.Duration) { *requeue = d },
		}
		store := config.NewStore(logging.FromContext(ctx))
		store.WatchConfigs(cmw)
		return routereconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetRouteLister(), controller.GetEventRecorder(ctx), r, controller.Options{ConfigStore: store})
	})
}
