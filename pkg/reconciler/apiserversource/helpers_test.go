package apiserversource

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	apiserversourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/apiserversource"
	sourceslisters "flywheel.dev/pkg/client/listers/sources/v1"
	"flywheel.dev/pkg/reconciler/apiserversource/resources"
	"flywheel.dev/pkg/reconciler/apiserversource/resources/names"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
	"flywheel.dev/pkg/sources/apiserver"
)

const (
	testNamespace = "shop"
	testName      = "changes"
	testKey       = testNamespace + "/" + testName
	testUID       = types.UID("9b2f4c1e-5a7d-4e3b-8c6f-1d2e3f4a5b6c")
	testImage     = "ko://flywheel.dev/cmd/apiserversource-adapter"
	testCESource  = "https://10.96.0.1:443"
	testSinkURL   = "http://sink.shop.svc.cluster.local/events"
)

var deploymentName = names.Deployment(testName)

// SourceOption changes a test ApiServerSource.
type SourceOption func(*sourcesv1.ApiServerSource)

// newSource is the source of every row: ConfigMaps of its namespace to a
// URL sink, as the API server stores it (defaulted), then opts.
func newSource(opts ...SourceOption) *sourcesv1.ApiServerSource {
	src := &sourcesv1.ApiServerSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testName, UID: testUID, Generation: 1},
		Spec: sourcesv1.ApiServerSourceSpec{
			Resources: []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}},
		},
	}
	src.Spec.Sink.URI = mustParseURL(testSinkURL)
	for _, opt := range opts {
		opt(src)
	}
	src.SetDefaults(context.Background())
	return src
}

// WithResources sets the kinds to watch.
func WithResources(rs ...sourcesv1.APIVersionKindSelector) SourceOption {
	return func(src *sourcesv1.ApiServerSource) { src.Spec.Resources = rs }
}

// WithMode sets the mode.
func WithMode(mode sourcesv1.EventMode) SourceOption {
	return func(src *sourcesv1.ApiServerSource) { src.Spec.Mode = mode }
}

// WithOwner sets the owner filter.
func WithOwner(apiVersion, kind string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) {
		src.Spec.Owner = &sourcesv1.APIVersionKind{APIVersion: apiVersion, Kind: kind}
	}
}

// WithServiceAccount names the account the adapter runs as.
func WithServiceAccount(name string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) { src.Spec.ServiceAccountName = name }
}

// WithNamespaceSelector widens the watch to the namespaces labelled so;
// nil labels select every namespace.
func WithNamespaceSelector(labels map[string]string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) {
		src.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: labels}
	}
}

// WithSinkService sends to a Kubernetes Service of the namespace.
func WithSinkService(name string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) {
		src.Spec.Sink.URI = nil
		src.Spec.Sink.Ref = &duckv1.KReference{APIVersion: "v1", Kind: "Service", Namespace: testNamespace, Name: name}
	}
}

// WithSinkURL sends to url.
func WithSinkURL(url string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) { src.Spec.Sink.URI = mustParseURL(url) }
}

// WithOverrides adds CloudEvents extensions to every event.
func WithOverrides(extensions map[string]string) SourceOption {
	return func(src *sourcesv1.ApiServerSource) {
		src.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: extensions}
	}
}

// reconciled is src after a reconciliation: its conditions initialized,
// the generation observed, the attributes of its events, the namespaces
// it watches (its own unless given), then mark.
func reconciled(src *sourcesv1.ApiServerSource, mark func(*sourcesv1.ApiServerSourceStatus), namespaces ...string) *sourcesv1.ApiServerSource {
	src = src.DeepCopy()
	src.Status.InitializeConditions()
	src.Status.ObservedGeneration = src.Generation
	src.Status.CloudEventAttributes = resources.CloudEventAttributes(src, testCESource)
	if len(namespaces) == 0 {
		namespaces = []string{testNamespace}
	}
	src.Status.Namespaces = namespaces
	mark(&src.Status)
	return src
}

// configMaps is ConfigMap as the API server serves it, watched in the
// source's namespace.
var configMaps = apiserver.Resource{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true}

// adapterConfig is the Config of src's adapter watching resolved in its
// own namespace.
func adapterConfig(src *sourcesv1.ApiServerSource, resolved ...apiserver.Resource) apiserver.Config {
	if len(resolved) == 0 {
		resolved = []apiserver.Resource{configMaps}
	}
	return resources.MakeAdapterConfig(src, resolved, resources.Scope{Namespaces: []string{testNamespace}}, testCESource)
}

// deployment is the adapter Deployment of src, sending to sink, with cfg
// (adapterConfig(src) when nil), then opts.
func deployment(src *sourcesv1.ApiServerSource, sink string, cfg *apiserver.Config, opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	if cfg == nil {
		c := adapterConfig(src)
		cfg = &c
	}
	d, err := resources.MakeDeployment(src, resources.DeploymentArgs{Image: testImage, Sink: sink, Config: *cfg})
	if err != nil {
		panic(err)
	}
	for _, opt := range opts {
		opt(d)
	}
	return d
}

// available gives the Deployment the Available condition its controller
// reports.
func available(status corev1.ConditionStatus, reason, message string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: status, Reason: reason, Message: message,
		}}
	}
}

// kubeService is a Kubernetes Service in the test namespace, something a
// sink can refer to.
func kubeService(name string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
	}
}

// namespace is a Namespace with labels.
func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// policy answers the reconciler's access reviews in a row: the accesses
// it lists are refused, every other one allowed; err fails every review.
type policy struct {
	refused []Access
	err     error
}

// refuse lists the accesses verb by verb.
func refuse(resource schema.GroupResource, namespace string, verbs ...string) []Access {
	var as []Access
	for _, v := range verbs {
		as = append(as, Access{Verb: v, Resource: resource, Namespace: namespace})
	}
	return as
}

// fakeReviewer decides by a policy, and records whose access was asked.
type fakeReviewer struct {
	policy   policy
	accounts map[types.NamespacedName]bool
}

func (f *fakeReviewer) Allowed(_ context.Context, account types.NamespacedName, access Access) (bool, error) {
	if f.policy.err != nil {
		return false, f.policy.err
	}
	f.accounts[account] = true
	for _, r := range f.policy.refused {
		if r == access {
			return false, nil
		}
	}
	return true, nil
}

// resettingMapper is a RESTMapper over fixed kinds that counts its
// resets; kinds added to later are what a reset finds (a CRD installed).
type resettingMapper struct {
	meta.RESTMapper
	resets int
	later  *meta.DefaultRESTMapper
}

func (m *resettingMapper) Reset() {
	m.resets++
	if m.later != nil {
		m.RESTMapper = m.later
	}
}

// servedKinds is what the test API server serves: ConfigMap, Deployment,
// and the cluster-scoped Namespace.
func servedKinds() *meta.DefaultRESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	return m
}

// Keys of a row's OtherTestData.
const (
	// policyKey holds the policy of the row's access reviews.
	policyKey = "policy"
	// outcomeKey receives what the reconciliation returned, as
	// fwtesting.Outcome says it; wantOutcome checks it.
	outcomeKey = "outcome"
	// laterKindsKey holds the kinds a discovery reset finds.
	laterKindsKey = "laterKinds"
)

// makeFactory runs the reconciler against the row's objects: sources,
// Deployments and namespaces from listers, sinks through a resolver,
// access reviews by the row's policy.
func makeFactory() rtesting.Factory {
	return func(t *testing.T, row *rtesting.TableRow) (controller.Reconciler, rtesting.ActionRecorderList, rtesting.EventList) {
		t.Helper()
		var sourcesIn []*sourcesv1.ApiServerSource
		var namespaces []*corev1.Namespace
		var sinks []runtime.Object
		for _, o := range row.Objects {
			switch o := o.(type) {
			case *sourcesv1.ApiServerSource:
				sourcesIn = append(sourcesIn, o)
			case *corev1.Namespace:
				namespaces = append(namespaces, o)
			case *corev1.Service:
				sinks = append(sinks, o)
			}
		}
		if row.OtherTestData == nil {
			row.OtherTestData = map[string]any{}
		}
		p, _ := row.OtherTestData[policyKey].(policy)
		mapper := &resettingMapper{RESTMapper: servedKinds()}
		if later, ok := row.OtherTestData[laterKindsKey].(*meta.DefaultRESTMapper); ok {
			mapper.later = later
		}
		_, uriResolver := fwtesting.NewURIResolver(t, sinks...)

		inner, actions, events := fwtesting.MakeFactory(func(ctx context.Context, ls *fwtesting.Listers, _ configmap.Watcher) controller.Reconciler {
			r := &Reconciler{
				kube:             kubeclient.Get(ctx),
				deploymentLister: ls.GetDeploymentLister(),
				namespaceLister:  corev1listers.NewNamespaceLister(fwtesting.NewIndexer(t, namespaces...)),
				mapper:           mapper,
				access:           &fakeReviewer{policy: p, accounts: map[types.NamespacedName]bool{}},
				uriResolver:      uriResolver,
				adapterImage:     testImage,
				ceSource:         testCESource,
			}
			return apiserversourcereconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
				sourceslisters.NewApiServerSourceLister(fwtesting.NewIndexer(t, sourcesIn...)), controller.GetEventRecorder(ctx), r)
		})(t, row)
		return outcomeRecorder{Reconciler: inner, row: row}, actions, events
	}
}

// outcomeRecorder keeps what a reconciliation returned in the row.
type outcomeRecorder struct {
	controller.Reconciler
	row *rtesting.TableRow
}

func (o outcomeRecorder) Reconcile(ctx context.Context, key string) error {
	err := o.Reconciler.Reconcile(ctx, key)
	o.row.OtherTestData[outcomeKey] = fwtesting.Outcome(err)
	return err
}

// wantOutcome checks what the reconciliation returned, as
// fwtesting.Outcome says it.
func wantOutcome(want string) func(*testing.T, *rtesting.TableRow) {
	return func(t *testing.T, row *rtesting.TableRow) {
		t.Helper()
		if got := row.OtherTestData[outcomeKey]; got != want {
			t.Errorf("outcome = %q, want %q", got, want)
		}
	}
}

var errReview = errors.New("the server is currently unable to handle the request")

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}
