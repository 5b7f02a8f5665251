package apiserversource

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgotesting "k8s.io/client-go/testing"
	"knative.dev/pkg/network"
	rtesting "knative.dev/pkg/reconciler/testing"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/reconciler/apiserversource/resources"
	"flywheel.dev/pkg/sources/apiserver"
)

var configMapsResource = schema.GroupResource{Resource: "configmaps"}

// sinkOK, permitted and deployedUnknown mark what a reconciliation finds
// of a source with nothing wrong whose adapter has not reported yet.
func sinkOK(s *sourcesv1.ApiServerSourceStatus)    { s.MarkSink(mustParseURL(testSinkURL)) }
func permitted(s *sourcesv1.ApiServerSourceStatus) { s.MarkSufficientPermissions() }
func deployedUnknown(s *sourcesv1.ApiServerSourceStatus) {
	s.PropagateDeploymentAvailability(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: deploymentName}})
}

// all applies marks in order.
func all(marks ...func(*sourcesv1.ApiServerSourceStatus)) func(*sourcesv1.ApiServerSourceStatus) {
	return func(s *sourcesv1.ApiServerSourceStatus) {
		for _, m := range marks {
			m(s)
		}
	}
}

// denied is the message of a default account that may get ConfigMaps in
// the source's namespace but not list or watch them.
const denied = `ServiceAccount "default" in namespace "shop" may not list, watch configmaps in namespace shop, which the adapter needs to watch them. ` +
	`Grant get, list and watch: kubectl create role changes-apiserversource --namespace=shop --verb=get,list,watch --resource=configmaps && ` +
	`kubectl create rolebinding changes-apiserversource --namespace=shop --role=changes-apiserversource --serviceaccount=shop:default.`

func TestReconcile(t *testing.T) {
	withEverything := []SourceOption{
		WithMode(sourcesv1.EventModeResource),
		WithOwner("apps/v1", "ReplicaSet"),
		WithServiceAccount("watcher"),
		WithOverrides(map[string]string{"team": "shop"}),
		WithResources(
			sourcesv1.APIVersionKindSelector{APIVersion: "v1", Kind: "ConfigMap", Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"watched": "yes"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}},
			}},
			sourcesv1.APIVersionKindSelector{APIVersion: "apps/v1", Kind: "Deployment"},
		),
	}
	everything := newSource(withEverything...)
	everythingConfig := apiserver.Config{
		SourceNamespace: testNamespace, SourceName: testName, CloudEventSource: testCESource,
		Mode: "Resource",
		Resources: []apiserver.Resource{
			{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, LabelSelector: "tier in (api,web),watched=yes"},
			{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true},
		},
		Owner:      &apiserver.Owner{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		Namespaces: []string{testNamespace},
	}
	movedSink := "http://other.shop.svc.cluster.local/"
	widget := sourcesv1.APIVersionKindSelector{APIVersion: "example.com/v1", Kind: "Widget"}
	widgetsServed := servedKinds()
	widgetsServed.Add(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, meta.RESTScopeNamespace)
	teams := map[string]string{"team": "shop"}
	everyNamespace := newSource(WithNamespaceSelector(nil))

	table := rtesting.TableTest{{
		Name: "a missing source is nothing to do",
		Key:  testKey,
	}, {
		Name:    "a new source: sink resolved, account may watch, adapter Deployment created, Deployed Unknown until it reports",
		Key:     testKey,
		Objects: []runtime.Object{newSource()},
		WantCreates: []runtime.Object{
			deployment(newSource(), testSinkURL, nil),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, deployedUnknown)),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "the adapter available: Ready",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(),
			deployment(newSource(), testSinkURL, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				s.PropagateDeploymentAvailability(deployment(newSource(), testSinkURL, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")))
			})),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("done")},
	}, {
		Name: "the adapter unavailable: Deployed False with the Deployment's reason",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(),
			deployment(newSource(), testSinkURL, nil, available(corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				s.PropagateDeploymentAvailability(deployment(newSource(), testSinkURL, nil, available(corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")))
			})),
		}},
	}, {
		Name:    "the account may get but not list or watch ConfigMaps: SufficientPermissions False naming both verbs and the fix, no Deployment, checked again in 30s",
		Key:     testKey,
		Objects: []runtime.Object{newSource()},
		OtherTestData: map[string]any{
			policyKey: policy{refused: refuse(configMapsResource, testNamespace, "list", "watch")},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s", denied)
			})),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}, {
		Name: "a permission lost while the adapter runs: the adapter is left as it is",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(WithSinkURL(movedSink)),
			deployment(newSource(), testSinkURL, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")),
		},
		OtherTestData: map[string]any{
			policyKey: policy{refused: refuse(configMapsResource, testNamespace, "list", "watch")},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithSinkURL(movedSink)), func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkSink(mustParseURL(movedSink))
				s.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s", denied)
			}),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}, {
		Name:    "a sink that refers to a missing Service: SinkProvided False, permissions still checked, no Deployment until it resolves",
		Key:     testKey,
		Objects: []runtime.Object{newSource(WithSinkService("display"))},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithSinkService("display")), all(permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSink(sourcesv1.ReasonSinkNotResolved, `The sink does not resolve: failed to get object shop/display: services "display" not found`)
			})),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("done")},
	}, {
		Name:    "a sink that refers to a Service: the adapter sends to its cluster-local name",
		Key:     testKey,
		Objects: []runtime.Object{newSource(WithSinkService("display")), kubeService("display")},
		WantCreates: []runtime.Object{
			deployment(newSource(WithSinkService("display")), "http://"+network.GetServiceHostname("display", testNamespace), nil),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithSinkService("display")), all(permitted, deployedUnknown, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkSink(mustParseURL("http://" + network.GetServiceHostname("display", testNamespace)))
			})),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name:    "a kind the API server does not serve: SufficientPermissions False KindNotServed, no Deployment, checked again in 30s",
		Key:     testKey,
		Objects: []runtime.Object{newSource(WithResources(widget))},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithResources(widget)), all(sinkOK, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSufficientPermissions(ReasonKindNotServed, "%s",
					"spec.resources[0]: the API server serves no kind Widget in example.com/v1. Check apiVersion and kind (kubectl api-resources lists what it serves), or install the CustomResourceDefinition that defines it.")
				s.Namespaces = nil
			})),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}, {
		Name:          "a kind whose CRD was installed since discovery was read: found after a reset",
		Key:           testKey,
		Objects:       []runtime.Object{newSource(WithResources(widget))},
		OtherTestData: map[string]any{laterKindsKey: widgetsServed},
		WantCreates: []runtime.Object{
			deployment(newSource(WithResources(widget)), testSinkURL, ptrTo(adapterConfig(newSource(WithResources(widget)),
				apiserver.Resource{Group: "example.com", Version: "v1", Resource: "widgets", Kind: "Widget", Namespaced: true}))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithResources(widget)), all(sinkOK, permitted, deployedUnknown)),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name:    "every field set: the adapter's config holds the resolved resources, selectors, owner and mode; its pod the account and overrides",
		Key:     testKey,
		Objects: []runtime.Object{everything},
		WantCreates: []runtime.Object{
			deployment(everything, testSinkURL, &everythingConfig),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(everything, all(sinkOK, permitted, deployedUnknown)),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "a moved sink: the Deployment updated",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(WithSinkURL(movedSink)),
			deployment(newSource(), testSinkURL, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")),
		},
		WantUpdates: []clientgotesting.UpdateActionImpl{{
			Object: deployment(newSource(WithSinkURL(movedSink)), movedSink, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")),
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithSinkURL(movedSink)), all(permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkSink(mustParseURL(movedSink))
				s.PropagateDeploymentAvailability(deployment(newSource(), testSinkURL, nil, available(corev1.ConditionTrue, "MinimumReplicasAvailable", "")))
			})),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentUpdated, "Updated Deployment %q", deploymentName)},
	}, {
		Name: "ceOverrides removed: the variable removed from the adapter",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(),
			deployment(newSource(WithOverrides(teams)), testSinkURL, nil),
		},
		WantUpdates: []clientgotesting.UpdateActionImpl{{
			Object: deployment(newSource(), testSinkURL, nil),
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, deployedUnknown)),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentUpdated, "Updated Deployment %q", deploymentName)},
	}, {
		Name: "a Deployment of the adapter's name that the source does not own: Deployed False NotOwned, left alone",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(),
			deployment(newSource(), testSinkURL, nil, func(d *appsv1.Deployment) { d.OwnerReferences = nil }),
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				newSource().GetConditionSet().Manage(s).MarkFalse(sourcesv1.ApiServerSourceConditionDeployed, ReasonNotOwned,
					"There is an existing Deployment %q that this source does not own: rename or delete it.", deploymentName)
			})),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"There is an existing Deployment %q that this source does not own: rename or delete it.", deploymentName)},
		PostConditions: []func(*testing.T, *rtesting.TableRow){
			wantOutcome(`permanent error: There is an existing Deployment "changes-apiserversource" that this source does not own: rename or delete it.`),
		},
	}, {
		Name:    "the API server refuses the Deployment: Deployed False with its message, retried",
		Key:     testKey,
		Objects: []runtime.Object{newSource()},
		WithReactors: []clientgotesting.ReactionFunc{
			rtesting.InduceFailure("create", "deployments"),
		},
		WantErr: true,
		WantCreates: []runtime.Object{
			deployment(newSource(), testSinkURL, nil),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), all(sinkOK, permitted, func(s *sourcesv1.ApiServerSourceStatus) {
				newSource().GetConditionSet().Manage(s).MarkFalse(sourcesv1.ApiServerSourceConditionDeployed, ReasonDeploymentFailed,
					"The API server refused to create the adapter's Deployment %q: inducing failure for create deployments", deploymentName)
			})),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating Deployment %s: inducing failure for create deployments", deploymentName)},
	}, {
		Name:    "an access review that fails: retried, nothing written but the status",
		Key:     testKey,
		Objects: []runtime.Object{newSource()},
		OtherTestData: map[string]any{
			policyKey: policy{err: apierrs.NewServiceUnavailable(errReview.Error())},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(), sinkOK),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError", "%s", errReview.Error())},
	}, {
		Name: "a namespace selector: the matching namespaces, in order, each checked; the fix names the one refused",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(WithNamespaceSelector(teams)),
			namespace("web", teams), namespace("shop", teams), namespace("kube-system", nil),
		},
		OtherTestData: map[string]any{
			policyKey: policy{refused: refuse(configMapsResource, "web", "get", "list", "watch")},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithNamespaceSelector(teams)), all(sinkOK, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s",
					`ServiceAccount "default" in namespace "shop" may not get, list, watch configmaps in namespace web, which the adapter needs to watch them. `+
						`Grant get, list and watch: kubectl create role changes-apiserversource --namespace=web --verb=get,list,watch --resource=configmaps && `+
						`kubectl create rolebinding changes-apiserversource --namespace=web --role=changes-apiserversource --serviceaccount=shop:default.`)
			}), "shop", "web"),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}, {
		Name: "a namespace selector, permitted: one adapter watching each matching namespace",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(WithNamespaceSelector(teams)),
			namespace("web", teams), namespace("shop", teams), namespace("kube-system", nil),
		},
		WantCreates: []runtime.Object{
			deployment(newSource(WithNamespaceSelector(teams)), testSinkURL, ptrTo(resources.MakeAdapterConfig(newSource(WithNamespaceSelector(teams)),
				[]apiserver.Resource{configMaps}, resources.Scope{Namespaces: []string{"shop", "web"}}, testCESource))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithNamespaceSelector(teams)), all(sinkOK, permitted, deployedUnknown), "shop", "web"),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "an empty namespace selector: every namespace, one watch across the cluster, checked at cluster scope",
		Key:  testKey,
		Objects: []runtime.Object{
			everyNamespace, namespace("web", teams), namespace("shop", nil),
		},
		OtherTestData: map[string]any{
			policyKey: policy{refused: refuse(configMapsResource, "", "list", "watch")},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(everyNamespace, all(sinkOK, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s",
					`ServiceAccount "default" in namespace "shop" may not list, watch configmaps across the cluster, which the adapter needs to watch them. `+
						`Grant get, list and watch: kubectl create clusterrole shop-changes-apiserversource --verb=get,list,watch --resource=configmaps && `+
						`kubectl create clusterrolebinding shop-changes-apiserversource --clusterrole=shop-changes-apiserversource --serviceaccount=shop:default.`)
			}), "shop", "web"),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}, {
		Name: "an empty namespace selector, permitted: the adapter's config says every namespace, and lists none, so a new namespace changes nothing",
		Key:  testKey,
		Objects: []runtime.Object{
			everyNamespace, namespace("web", teams), namespace("shop", nil),
		},
		WantCreates: []runtime.Object{
			deployment(everyNamespace, testSinkURL, ptrTo(resources.MakeAdapterConfig(everyNamespace,
				[]apiserver.Resource{configMaps}, resources.Scope{All: true}, testCESource))),
		},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(everyNamespace, all(sinkOK, permitted, deployedUnknown), "shop", "web"),
		}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "a cluster-scoped kind: checked and watched across the cluster",
		Key:  testKey,
		Objects: []runtime.Object{
			newSource(WithResources(sourcesv1.APIVersionKindSelector{APIVersion: "v1", Kind: "Namespace"})),
		},
		OtherTestData: map[string]any{
			policyKey: policy{refused: refuse(schema.GroupResource{Resource: "namespaces"}, "", "watch")},
		},
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{
			Object: reconciled(newSource(WithResources(sourcesv1.APIVersionKindSelector{APIVersion: "v1", Kind: "Namespace"})), all(sinkOK, func(s *sourcesv1.ApiServerSourceStatus) {
				s.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s",
					`ServiceAccount "default" in namespace "shop" may not watch namespaces across the cluster, which the adapter needs to watch them. `+
						`Grant get, list and watch: kubectl create clusterrole shop-changes-apiserversource --verb=get,list,watch --resource=namespaces && `+
						`kubectl create clusterrolebinding shop-changes-apiserversource --clusterrole=shop-changes-apiserversource --serviceaccount=shop:default.`)
			})),
		}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){wantOutcome("requeue after 30s")},
	}}
	table.Test(t, makeFactory())
}

func ptrTo[T any](v T) *T { return &v }
