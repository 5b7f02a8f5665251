package sinkbinding

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgotesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources"
)

// subjectWant is a subject's pod template after the reconciliation.
type subjectWant struct {
	gvr  schema.GroupVersionResource
	name string
	spec corev1.PodSpec
}

// The conditions of a binding with nothing wrong.
var (
	readyCond    = isTrue(apis.ConditionReady)
	sinkProvided = isTrue(sourcesv1.SinkBindingConditionSinkProvided)
)

// fail returns a reactor that fails verb on resource with err.
func fail(verb, resource string, err error) clientgotesting.ReactionFunc {
	return func(action clientgotesting.Action) (bool, runtime.Object, error) {
		if action.GetVerb() == verb && action.GetResource().Resource == resource {
			return true, nil, err
		}
		return false, nil, nil
	}
}

// jobImmutable is the API server's refusal to change a Job's template.
var jobImmutable = fail("patch", "jobs", apierrs.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "migrate",
	field.ErrorList{field.Invalid(field.NewPath("spec", "template"), "", "field is immutable")}))

// outcomeKind is what the generated reconciler does next, without the
// error's text: "done", "error", "permanent error" or "requeue after …".
func outcomeKind(err error) string {
	kind, _, _ := strings.Cut(outcome(err), ":")
	return kind
}

func TestReconcileKind(t *testing.T) {
	init, app := []string{"announce"}, []string{"app", "sidecar"}
	tests := []struct {
		name     string
		binding  *sourcesv1.SinkBinding
		sinks    []runtime.Object
		subjects []runtime.Object
		reactors []clientgotesting.ReactionFunc
		// What the reconciliation did.
		wantOutcome    string
		wantConditions []cond
		wantMessage    string // in Ready's message
		wantSinkURI    string
		want           []subjectWant
		wantPatched    []string // tried, if not done
	}{{
		name:           "a Deployment by name: every container and init container gets K_SINK, Ready",
		binding:        newBinding(),
		subjects:       []runtime.Object{deployment("app", nil, podSpec(init, app, appEnv))},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided},
		wantSinkURI:    sinkURL,
		want:           []subjectWant{{deployments, "app", podSpec(init, app, appEnv, sinkEnv)}},
		wantPatched:    []string{"deployments/app"},
	}, {
		name:           "overrides: K_CE_OVERRIDES holds them as JSON",
		binding:        newBinding(WithOverrides(map[string]string{"team": "shop"})),
		subjects:       []runtime.Object{deployment("app", nil, podSpec(nil, app))},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided},
		wantSinkURI:    sinkURL,
		want: []subjectWant{{deployments, "app", podSpec(nil, app, sinkEnv,
			corev1.EnvVar{Name: sources.CEOverridesEnv, Value: `{"extensions":{"team":"shop"}}`})}},
		wantPatched: []string{"deployments/app"},
	}, {
		name:           "a subject bound already is not patched again (a patch would roll its pods out)",
		binding:        newBinding(),
		subjects:       []runtime.Object{deployment("app", nil, podSpec(nil, app, sinkEnv, appEnv))},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided},
		wantSinkURI:    sinkURL,
		want:           []subjectWant{{deployments, "app", podSpec(nil, app, sinkEnv, appEnv)}},
	}, {
		name:    "a selector: every Deployment whose labels match, no other",
		binding: newBinding(WithSubjectSelector(map[string]string{"role": "producer"})),
		subjects: []runtime.Object{
			deployment("orders", map[string]string{"role": "producer"}, podSpec(nil, app)),
			deployment("payments", map[string]string{"role": "producer", "tier": "gold"}, podSpec(nil, app)),
			deployment("web", map[string]string{"role": "frontend"}, podSpec(nil, app)),
		},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided},
		wantSinkURI:    sinkURL,
		want: []subjectWant{
			{deployments, "orders", podSpec(nil, app, sinkEnv)},
			{deployments, "payments", podSpec(nil, app, sinkEnv)},
			{deployments, "web", podSpec(nil, app)},
		},
		wantPatched: []string{"deployments/orders", "deployments/payments"},
	}, {
		name:           "a sink that refers to a Knative Service: its address",
		binding:        newBinding(WithSink(refTo("serving.knative.dev/v1", "Service", "display"))),
		sinks:          []runtime.Object{knativeService("display", "http://display.shop.svc.cluster.local", podSpec(nil, app))},
		subjects:       []runtime.Object{deployment("app", nil, podSpec(nil, app, oldSinkEnv))},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided},
		wantSinkURI:    "http://display.shop.svc.cluster.local",
		want: []subjectWant{{deployments, "app", podSpec(nil, app,
			corev1.EnvVar{Name: sources.SinkEnv, Value: "http://display.shop.svc.cluster.local"})}},
		wantPatched: []string{"deployments/app"},
	}, {
		name:        "a sink that does not resolve: SinkProvided False NotFound, the subjects keep the sink they have, nothing to retry",
		binding:     newBinding(WithSink(refTo("serving.knative.dev/v1", "Service", "display"))),
		sinks:       []runtime.Object{knativeService("other", "http://other.shop.svc.cluster.local", podSpec(nil, app))},
		subjects:    []runtime.Object{deployment("app", nil, podSpec(nil, app, oldSinkEnv))},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, ReasonSinkNotFound),
			isFalse(sourcesv1.SinkBindingConditionSinkProvided, ReasonSinkNotFound),
		},
		wantMessage: "Create the object spec.sink refers to",
		want:        []subjectWant{{deployments, "app", podSpec(nil, app, oldSinkEnv)}},
	}, {
		name:           "a subject not created yet: Ready False SubjectMissing, nothing to retry (its creation brings the binding back)",
		binding:        newBinding(),
		wantOutcome:    "done",
		wantConditions: []cond{isFalse(apis.ConditionReady, ReasonSubjectMissing), sinkProvided},
		wantMessage:    `Deployment "app" does not exist in namespace "shop" yet: it is bound when it is created.`,
		wantSinkURI:    sinkURL,
	}, {
		name:           "a Job that existed before the binding: Ready False BindingFailed saying why and what to do, no retry",
		binding:        newBinding(WithSubject("batch/v1", "Job", "migrate")),
		subjects:       []runtime.Object{job("migrate", podSpec(nil, app))},
		reactors:       []clientgotesting.ReactionFunc{jobImmutable},
		wantOutcome:    "permanent error",
		wantConditions: []cond{isFalse(apis.ConditionReady, "BindingFailed"), sinkProvided},
		wantMessage:    `Job "migrate" existed before the binding, and a Job's pod template cannot change once the Job is created: delete the Job and create it again to bind it, or make the CronJob that creates it the subject`,
		wantSinkURI:    sinkURL,
		wantPatched:    []string{"jobs/migrate"},
	}, {
		name:     "a kind the controller may not read: Ready False SubjectUnavailable naming the ClusterRole to add, retried",
		binding:  newBinding(WithSubject("apps/v1", "StatefulSet", "app")),
		subjects: []runtime.Object{statefulSet("app", podSpec(nil, app))},
		reactors: []clientgotesting.ReactionFunc{fail("list", "statefulsets",
			apierrs.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "", errors.New("RBAC: access denied")))},
		wantOutcome:    "error",
		wantConditions: []cond{isFalse(apis.ConditionReady, "SubjectUnavailable"), sinkProvided},
		wantMessage:    `a ClusterRole labelled duck.knative.dev/podspecable: "true"`,
		wantSinkURI:    sinkURL,
		want:           []subjectWant{{statefulSets, "app", podSpec(nil, app)}},
	}, {
		name:           "a kind the API server does not serve: Ready False SubjectUnavailable naming the fields to correct, no retry",
		binding:        newBinding(WithSubject("example.com/v1", "Widget", "app")),
		reactors:       []clientgotesting.ReactionFunc{fail("list", "widgets", apierrs.NewNotFound(schema.GroupResource{Group: "example.com", Resource: "widgets"}, ""))},
		wantOutcome:    "permanent error",
		wantConditions: []cond{isFalse(apis.ConditionReady, "SubjectUnavailable"), sinkProvided},
		wantMessage:    "The API server serves no kind Widget in example.com/v1: correct spec.subject.apiVersion and spec.subject.kind.",
		wantSinkURI:    sinkURL,
	}, {
		name:           "a patch that fails: Ready False BindingFailed, retried",
		binding:        newBinding(),
		subjects:       []runtime.Object{deployment("app", nil, podSpec(nil, app))},
		reactors:       []clientgotesting.ReactionFunc{fail("patch", "deployments", apierrs.NewServiceUnavailable("etcd leader changed"))},
		wantOutcome:    "error",
		wantConditions: []cond{isFalse(apis.ConditionReady, "BindingFailed"), sinkProvided},
		wantMessage:    "etcd leader changed",
		wantSinkURI:    sinkURL,
		wantPatched:    []string{"deployments/app"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.sinks, tc.subjects, tc.reactors...)
			sb := tc.binding.DeepCopy()

			got := w.r.ReconcileKind(w.ctx, sb)

			if kind := outcomeKind(got); kind != tc.wantOutcome {
				t.Errorf("ReconcileKind() = %s, want %s", outcome(got), tc.wantOutcome)
			}
			if d := cmp.Diff(tc.wantConditions, conditionsOf(sb.Status.Status), sortConds); d != "" {
				t.Errorf("Conditions (-want, +got):\n%s", d)
			}
			if ready := sb.Status.GetCondition(apis.ConditionReady); !strings.Contains(ready.Message, tc.wantMessage) {
				t.Errorf("Ready's message = %q, want it to hold %q", ready.Message, tc.wantMessage)
			}
			if got := sb.Status.SinkURI.String(); got != tc.wantSinkURI {
				t.Errorf("SinkURI = %q, want %q", got, tc.wantSinkURI)
			}
			for _, want := range tc.want {
				if d := cmp.Diff(want.spec, w.podSpecOf(t, want.gvr, want.name)); d != "" {
					t.Errorf("%s %s's pod template (-want, +got):\n%s", want.gvr.Resource, want.name, d)
				}
			}
			if d := cmp.Diff(tc.wantPatched, w.patched()); d != "" {
				t.Errorf("subjects patched (-want, +got):\n%s", d)
			}
		})
	}
}

// TestEachSubjectKind binds and unbinds one subject of every kind the
// SinkBinding documents, each where the kind keeps its pod template.
func TestEachSubjectKind(t *testing.T) {
	spec := podSpec([]string{"announce"}, []string{"app"}, appEnv)
	bound := podSpec([]string{"announce"}, []string{"app"}, appEnv, sinkEnv)
	tests := []struct {
		apiVersion, kind string
		gvr              schema.GroupVersionResource
		subject          runtime.Object
	}{
		{"apps/v1", "Deployment", deployments, deployment("app", nil, spec)},
		{"apps/v1", "StatefulSet", statefulSets, statefulSet("app", spec)},
		{"apps/v1", "DaemonSet", daemonSets, daemonSet("app", spec)},
		// A Job new enough that the API server lets its template change;
		// the webhook binds Jobs as they are created.
		{"batch/v1", "Job", jobsV1, job("app", spec)},
		{"batch/v1", "CronJob", cronJobsV1, cronJob("app", spec)},
		{"serving.knative.dev/v1", "Service", ksvcs, knativeService("app", "", spec)},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			w := newWorld(t, nil, []runtime.Object{tc.subject})
			sb := newBinding(WithSubject(tc.apiVersion, tc.kind, "app"))

			if err := w.r.ReconcileKind(w.ctx, sb); err != nil {
				t.Fatalf("ReconcileKind() = %v; Ready = %+v", err, sb.Status.GetCondition(apis.ConditionReady))
			}
			if !sb.Status.GetCondition(apis.ConditionReady).IsTrue() {
				t.Errorf("Ready = %+v, want True", sb.Status.GetCondition(apis.ConditionReady))
			}
			if d := cmp.Diff(bound, w.podSpecOf(t, tc.gvr, "app")); d != "" {
				t.Errorf("bound pod template (-want, +got):\n%s", d)
			}

			sb.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			if err := w.r.FinalizeKind(w.ctx, sb); err != nil {
				t.Fatalf("FinalizeKind() = %v", err)
			}
			if d := cmp.Diff(spec, w.podSpecOf(t, tc.gvr, "app")); d != "" {
				t.Errorf("pod template after the binding went (-want, +got):\n%s", d)
			}
		})
	}
}

// TestSinkMoves changes the address of the sink a binding refers to and
// reconciles again, as the resolver's tracking does: the subject's
// K_SINK follows, in place.
func TestSinkMoves(t *testing.T) {
	app := []string{"app"}
	w := newWorld(t,
		[]runtime.Object{knativeService("display", "http://display.shop.svc.cluster.local", podSpec(nil, app))},
		[]runtime.Object{deployment("app", nil, podSpec(nil, app, appEnv))})
	sb := newBinding(WithSink(refTo("serving.knative.dev/v1", "Service", "display")))
	if err := w.r.ReconcileKind(w.ctx, sb); err != nil {
		t.Fatalf("ReconcileKind() = %v", err)
	}

	moved := knativeService("display", "http://display-v2.shop.svc.cluster.local", podSpec(nil, app))
	if _, err := w.sinks.Resource(ksvcs).Namespace(testNamespace).Update(w.ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The resolver reads through an informer: reconcile until it has
	// seen the move.
	err := wait.PollUntilContextTimeout(w.ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := w.r.ReconcileKind(ctx, sb); err != nil {
			return false, err
		}
		return sb.Status.SinkURI.String() == "http://display-v2.shop.svc.cluster.local", nil
	})
	if err != nil {
		t.Fatalf("the binding never followed its sink: %v; sinkUri = %s", err, sb.Status.SinkURI)
	}
	want := podSpec(nil, app, appEnv, corev1.EnvVar{Name: sources.SinkEnv, Value: "http://display-v2.shop.svc.cluster.local"})
	if d := cmp.Diff(want, w.podSpecOf(t, deployments, "app")); d != "" {
		t.Errorf("pod template after the sink moved (-want, +got):\n%s", d)
	}
}

func TestFinalizeKind(t *testing.T) {
	app := []string{"app"}
	tests := []struct {
		name        string
		binding     *sourcesv1.SinkBinding
		subjects    []runtime.Object
		reactors    []clientgotesting.ReactionFunc
		wantOutcome string
		want        []subjectWant
	}{{
		name:        "the variables go, the others stay",
		binding:     newBinding(WithOverrides(map[string]string{"team": "shop"})),
		subjects:    []runtime.Object{deployment("app", nil, podSpec(nil, app, appEnv, sinkEnv, corev1.EnvVar{Name: sources.CEOverridesEnv, Value: "{}"}))},
		wantOutcome: "done",
		want:        []subjectWant{{deployments, "app", podSpec(nil, app, appEnv)}},
	}, {
		name:        "every subject of a selector",
		binding:     newBinding(WithSubjectSelector(map[string]string{"role": "producer"})),
		subjects:    []runtime.Object{deployment("orders", map[string]string{"role": "producer"}, podSpec(nil, app, sinkEnv))},
		wantOutcome: "done",
		want:        []subjectWant{{deployments, "orders", podSpec(nil, app)}},
	}, {
		name:        "the subject gone: nothing to undo",
		binding:     newBinding(),
		wantOutcome: "done",
	}, {
		name:        "a Job, whose template cannot change: it keeps the variables, the binding goes",
		binding:     newBinding(WithSubject("batch/v1", "Job", "migrate")),
		subjects:    []runtime.Object{job("migrate", podSpec(nil, app, sinkEnv))},
		reactors:    []clientgotesting.ReactionFunc{jobImmutable},
		wantOutcome: "done",
	}, {
		name:        "a patch that fails: retried, the finalizer stays",
		binding:     newBinding(),
		subjects:    []runtime.Object{deployment("app", nil, podSpec(nil, app, sinkEnv))},
		reactors:    []clientgotesting.ReactionFunc{fail("patch", "deployments", apierrs.NewServiceUnavailable("etcd leader changed"))},
		wantOutcome: "error",
		want:        []subjectWant{{deployments, "app", podSpec(nil, app, sinkEnv)}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil, tc.subjects, tc.reactors...)
			sb := tc.binding.DeepCopy()
			sb.DeletionTimestamp = &metav1.Time{Time: time.Now()}

			got := w.r.FinalizeKind(w.ctx, sb)

			if kind := outcomeKind(got); kind != tc.wantOutcome {
				t.Errorf("FinalizeKind() = %s, want %s", outcome(got), tc.wantOutcome)
			}
			for _, want := range tc.want {
				if d := cmp.Diff(want.spec, w.podSpecOf(t, want.gvr, want.name)); d != "" {
					t.Errorf("%s %s's pod template (-want, +got):\n%s", want.gvr.Resource, want.name, d)
				}
			}
		})
	}
}
