package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	rtesting "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"
	"knative.dev/pkg/tracker"
	"knative.dev/pkg/webhook"
	certresources "knative.dev/pkg/webhook/certificates/resources"

	// The fake clients and informers the admission controller takes from
	// the context.
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/admissionregistration/v1/mutatingwebhookconfiguration/fake"
	fakesecretinformer "knative.dev/pkg/injection/clients/namespacedkube/informers/core/v1/secret/fake"
	_ "knative.dev/pkg/system/testing"

	fakeflywheelclient "flywheel.dev/pkg/client/injection/client/fake"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources"
)

const (
	testNamespace = "shop"
	testSink      = "http://events.example.com/shop"
	certsSecret   = "flywheel-webhook-certs"
)

var (
	sinkEnv = corev1.EnvVar{Name: sources.SinkEnv, Value: testSink}
	appEnv  = corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}
)

// binding is a SinkBinding of subject whose sink resolved to testSink.
func binding(name string, subject tracker.Reference) *sourcesv1.SinkBinding {
	subject.Namespace = testNamespace
	sb := &sourcesv1.SinkBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec:  duckv1.SourceSpec{Sink: duckv1.Destination{URI: apis.HTTP("events.example.com")}},
			BindingSpec: duckv1.BindingSpec{Subject: subject},
		},
	}
	sb.Status.InitializeConditions()
	sb.Status.MarkSink(mustParseURL(testSink))
	return sb
}

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

func byName(apiVersion, kind, name string) tracker.Reference {
	return tracker.Reference{APIVersion: apiVersion, Kind: kind, Name: name}
}

// newSinkBindingAdmission returns the SinkBinding webhook's admission
// controller as the webhook process builds it, its index built from
// bindings as on each change of one.
func newSinkBindingAdmission(t *testing.T, bindings ...*sourcesv1.SinkBinding) (context.Context, webhook.AdmissionController) {
	t.Helper()
	ctx, _ := rtesting.SetupFakeContext(t)
	ctx = webhook.WithOptions(ctx, webhook.Options{ServiceName: "flywheel-webhook", SecretName: certsSecret, Port: 8443})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: system.Namespace(), Name: certsSecret},
		Data:       map[string][]byte{certresources.CACert: []byte("ca")},
	}
	if err := fakesecretinformer.Get(ctx).Informer().GetIndexer().Add(secret); err != nil {
		t.Fatal(err)
	}
	for _, sb := range bindings {
		if _, err := fakeflywheelclient.Get(ctx).SourcesV1().SinkBindings(sb.Namespace).Create(ctx, sb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	impl := NewSinkBindingController(ctx, nil)
	// Not the leader, it indexes the bindings and leaves the webhook
	// configuration to the leader; until its informer has listed them it
	// fails, and is retried.
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return impl.Reconciler.Reconcile(ctx, "") == nil, nil
	})
	if err != nil {
		t.Fatalf("indexing the bindings: %v; the last attempt: %v", err, impl.Reconciler.Reconcile(ctx, ""))
	}
	ac, ok := impl.Reconciler.(webhook.AdmissionController)
	if !ok {
		t.Fatalf("%T is not an admission controller", impl.Reconciler)
	}
	if ac.Path() != "/sinkbindings" {
		t.Errorf("Path() = %q, want /sinkbindings", ac.Path())
	}
	return ctx, ac
}

func podSpec(env ...corev1.EnvVar) corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:  corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{{Name: "announce", Image: "ko://example.com/announce", Env: env}},
		Containers:     []corev1.Container{{Name: "app", Image: "ko://example.com/app", Env: env}},
	}
}

func objectMeta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: testNamespace, Name: name, Labels: labels}
}

func deployment(name string, labels map[string]string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(name, labels),
		Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func job(name string, spec corev1.PodSpec) *batchv1.Job {
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(name, nil),
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func cronJob(name string, spec corev1.PodSpec) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: objectMeta(name, nil),
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
		}},
	}
}

func knativeService(name string, spec corev1.PodSpec) *unstructured.Unstructured {
	podSpec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spec)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"namespace": testNamespace, "name": name},
		"spec":     map[string]any{"template": map[string]any{"spec": podSpec}},
	}}
}

// request is what the API server sends the webhook for obj.
func request(t *testing.T, op admissionv1.Operation, obj runtime.Object, subResource string) *admissionv1.AdmissionRequest {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	return &admissionv1.AdmissionRequest{
		Operation:   op,
		Kind:        metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Namespace:   testNamespace,
		SubResource: subResource,
		Object:      runtime.RawExtension{Raw: raw},
	}
}

// admitted is obj with the response's patch applied, as the API server
// applies it, or obj as it was when the response has none.
func admitted(t *testing.T, obj runtime.Object, resp *admissionv1.AdmissionResponse) *unstructured.Unstructured {
	t.Helper()
	if !resp.Allowed {
		t.Fatalf("the request was refused: %+v", resp.Result)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: content}
	if len(resp.Patch) == 0 {
		return u
	}
	gvr, _ := meta.UnsafeGuessKindToResource(u.GroupVersionKind())
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), u)
	patched, err := client.Resource(gvr).Namespace(u.GetNamespace()).Patch(context.Background(), u.GetName(), types.JSONPatchType, resp.Patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("applying the patch %s: %v", resp.Patch, err)
	}
	return patched
}

// podSpecAt reads the pod spec at path of u.
func podSpecAt(t *testing.T, u *unstructured.Unstructured, path ...string) corev1.PodSpec {
	t.Helper()
	raw, found, err := unstructured.NestedMap(u.Object, path...)
	if err != nil || !found {
		t.Fatalf("no pod spec at %v: %v", path, err)
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

var podTemplatePath = []string{"spec", "template", "spec"}

func TestSinkBindingAdmission(t *testing.T) {
	deleting := binding("leaving", byName("apps/v1", "Deployment", "legacy"))
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	unresolved := binding("waiting", byName("apps/v1", "Deployment", "early"))
	unresolved.Status.MarkNoSink("NotFound", "Broker %q not found", "default")
	bySelector := binding("producers", tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment",
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "producer"}}})
	ctx, ac := newSinkBindingAdmission(t,
		binding("app", byName("apps/v1", "Deployment", "app")),
		bySelector, deleting, unresolved,
		binding("migrate", byName("batch/v1", "Job", "migrate")),
		binding("heartbeat", byName("batch/v1", "CronJob", "heartbeat")),
		binding("display", byName("serving.knative.dev/v1", "Service", "display")),
	)

	tests := []struct {
		name        string
		op          admissionv1.Operation
		obj         runtime.Object
		subResource string
		path        []string
		want        corev1.PodSpec
	}{{
		name: "a Deployment created: every container and init container gets K_SINK",
		op:   admissionv1.Create,
		obj:  deployment("app", nil, podSpec(appEnv)),
		path: podTemplatePath,
		want: podSpec(appEnv, sinkEnv),
	}, {
		name: "a Deployment updated: bound too",
		op:   admissionv1.Update,
		obj:  deployment("app", nil, podSpec()),
		path: podTemplatePath,
		want: podSpec(sinkEnv),
	}, {
		name: "a Deployment whose labels a binding selects",
		op:   admissionv1.Create,
		obj:  deployment("orders", map[string]string{"role": "producer"}, podSpec()),
		path: podTemplatePath,
		want: podSpec(sinkEnv),
	}, {
		name: "a Deployment no binding names: unchanged",
		op:   admissionv1.Create,
		obj:  deployment("web", map[string]string{"role": "frontend"}, podSpec(appEnv)),
		path: podTemplatePath,
		want: podSpec(appEnv),
	}, {
		name: "a Deployment of a binding being deleted: the variables go",
		op:   admissionv1.Update,
		obj:  deployment("legacy", nil, podSpec(appEnv, sinkEnv)),
		path: podTemplatePath,
		want: podSpec(appEnv),
	}, {
		name: "a Deployment of a binding whose sink does not resolve: unchanged",
		op:   admissionv1.Create,
		obj:  deployment("early", nil, podSpec(appEnv)),
		path: podTemplatePath,
		want: podSpec(appEnv),
	}, {
		name:        "a write to a Deployment's status: unchanged, it cannot change the template",
		op:          admissionv1.Update,
		obj:         deployment("app", nil, podSpec()),
		subResource: "status",
		path:        podTemplatePath,
		want:        podSpec(),
	}, {
		name: "a Job created: bound",
		op:   admissionv1.Create,
		obj:  job("migrate", podSpec()),
		path: podTemplatePath,
		want: podSpec(sinkEnv),
	}, {
		name: "a Job updated: unchanged, as its template cannot change",
		op:   admissionv1.Update,
		obj:  job("migrate", podSpec()),
		path: podTemplatePath,
		want: podSpec(),
	}, {
		name: "a CronJob created: its job template is bound",
		op:   admissionv1.Create,
		obj:  cronJob("heartbeat", podSpec(appEnv)),
		path: []string{"spec", "jobTemplate", "spec", "template", "spec"},
		want: podSpec(appEnv, sinkEnv),
	}, {
		name: "a Knative Service created: its revision template is bound",
		op:   admissionv1.Create,
		obj:  knativeService("display", podSpec()),
		path: podTemplatePath,
		want: podSpec(sinkEnv),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ac.Admit(ctx, request(t, tc.op, tc.obj, tc.subResource))
			got := admitted(t, tc.obj, resp)
			if d := cmp.Diff(tc.want, podSpecAt(t, got, tc.path...)); d != "" {
				t.Errorf("admitted pod template (-want, +got):\n%s", d)
			}
			if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "template"); found && tc.obj.GetObjectKind().GroupVersionKind().Kind == "CronJob" {
				t.Errorf("the admitted CronJob has a spec.template: the patch %s was not moved", resp.Patch)
			}
		})
	}
}
