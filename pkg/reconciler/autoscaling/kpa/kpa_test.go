package kpa

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/controller"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// fakeDeciders stands in for the autoscaler's loops: it hands out the
// decisions a row sets and remembers what it was asked to watch.
type fakeDeciders struct {
	decisions map[types.NamespacedName]scaling.Decision
	watched   map[types.NamespacedName]metrics.Figure
}

func (f *fakeDeciders) Watch(rev types.NamespacedName, figure metrics.Figure, _ *scaling.Spec) {
	f.watched[rev] = figure
}

func (f *fakeDeciders) Decision(rev types.NamespacedName) (scaling.Decision, bool) {
	d, ok := f.decisions[rev]
	return d, ok
}

const ns, name = "demo", "hello-00001"

var rev = types.NamespacedName{Namespace: ns, Name: name}

func pa(opts ...func(*autoscalingv1alpha1.PodAutoscaler)) *autoscalingv1alpha1.PodAutoscaler {
	p := &autoscalingv1alpha1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			serving.ClassAnnotation.String(): serving.KPAClass,
		}},
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name + "-deployment"},
			Reachability:   autoscalingv1alpha1.ReachabilityReachable,
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withInitialized(p *autoscalingv1alpha1.PodAutoscaler) {
	p.Status.InitializeConditions()
	p.Status.MarkScaleTargetInitialized()
}

func withAnnotation(k serving.AnnotationKey, v string) func(*autoscalingv1alpha1.PodAutoscaler) {
	return func(p *autoscalingv1alpha1.PodAutoscaler) { p.Annotations[k.String()] = v }
}

func deployment(replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-deployment"},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
	}
}

func readyPod(n string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n, Labels: map[string]string{serving.RevisionLabel.String(): name}},
		Status: corev1.PodStatus{
			PodIP:      "10.244.0." + n[len(n)-1:],
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func TestReconcileKind(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pa         *autoscalingv1alpha1.PodAutoscaler
		deployment *appsv1.Deployment
		pods       []*corev1.Pod
		decision   *scaling.Decision
		// wantScale is the replicas written through the scale
		// subresource; nil for none.
		wantScale   *int32
		wantDesired int32
		wantActual  int32
		wantActive  corev1.ConditionStatus
		wantReason  string
		wantFigure  metrics.Figure
		// wantActivator is the ActivatorInPath condition's status; not
		// checked when empty.
		wantActivator corev1.ConditionStatus
		wantErr       bool
	}{{
		name:       "a decision above the current scale scales the Deployment up",
		pa:         pa(withInitialized),
		deployment: deployment(1),
		pods:       []*corev1.Pod{readyPod("p1", true)},
		decision:   &scaling.Decision{DesiredPods: 4},
		wantScale:  ptr.To[int32](4), wantDesired: 4, wantActual: 1, wantActive: corev1.ConditionTrue,
	}, {
		name:        "ready pods short of the burst capacity keep the activator in the path",
		pa:          pa(withInitialized),
		deployment:  deployment(1),
		pods:        []*corev1.Pod{readyPod("p1", true)},
		decision:    &scaling.Decision{DesiredPods: 1, ExcessBurstCapacity: -120},
		wantDesired: 1, wantActual: 1, wantActive: corev1.ConditionTrue,
		wantActivator: corev1.ConditionTrue, wantReason: podscale.ReasonBelowBurstCapacity,
	}, {
		name:        "ready pods with spare capacity take requests directly",
		pa:          pa(withInitialized),
		deployment:  deployment(3),
		pods:        []*corev1.Pod{readyPod("p1", true), readyPod("p2", true), readyPod("p3", true)},
		decision:    &scaling.Decision{DesiredPods: 3, ExcessBurstCapacity: 40},
		wantDesired: 3, wantActual: 3, wantActive: corev1.ConditionTrue,
		wantActivator: corev1.ConditionFalse, wantReason: podscale.ReasonEnoughCapacity,
	}, {
		name:        "no decision yet: the Deployment keeps its scale",
		pa:          pa(),
		deployment:  deployment(1),
		pods:        []*corev1.Pod{readyPod("p1", false)},
		wantDesired: 1, wantActual: 0, wantActive: corev1.ConditionUnknown, wantReason: podscale.ReasonQueued,
	}, {
		name:        "before the initial scale was reached, a lower decision waits",
		pa:          pa(),
		deployment:  deployment(2),
		pods:        []*corev1.Pod{readyPod("p1", true), readyPod("p2", false)},
		decision:    &scaling.Decision{DesiredPods: 0},
		wantDesired: 2, wantActual: 1, wantActive: corev1.ConditionTrue,
	}, {
		name:       "reaching the initial scale lets the decision apply in the same pass",
		pa:         pa(),
		deployment: deployment(1),
		pods:       []*corev1.Pod{readyPod("p1", true)},
		decision:   &scaling.Decision{DesiredPods: 0, ScalingToZero: false},
		wantScale:  ptr.To[int32](0), wantDesired: 0, wantActual: 1, wantActive: corev1.ConditionTrue,
	}, {
		name:        "at zero with no pod: inactive",
		pa:          pa(withInitialized),
		deployment:  deployment(0),
		decision:    &scaling.Decision{DesiredPods: 0},
		wantDesired: 0, wantActual: 0, wantActive: corev1.ConditionFalse, wantReason: podscale.ReasonNoTraffic,
	}, {
		name:       "a request at zero: the decision brings a pod, activating meanwhile",
		pa:         pa(withInitialized),
		deployment: deployment(0),
		decision:   &scaling.Decision{DesiredPods: 1},
		wantScale:  ptr.To[int32](1), wantDesired: 1, wantActual: 0, wantActive: corev1.ConditionUnknown, wantReason: podscale.ReasonQueued,
	}, {
		name:       "pods being deleted are not counted",
		pa:         pa(withInitialized),
		deployment: deployment(1),
		pods: []*corev1.Pod{func() *corev1.Pod {
			p := readyPod("p1", true)
			p.DeletionTimestamp = &metav1.Time{}
			p.Finalizers = []string{"x"}
			return p
		}()},
		decision:    &scaling.Decision{DesiredPods: 1},
		wantDesired: 1, wantActual: 0, wantActive: corev1.ConditionUnknown, wantReason: podscale.ReasonQueued,
	}, {
		name:        "rps as the metric scrapes requests per second",
		pa:          pa(withInitialized, withAnnotation(serving.MetricAnnotation, serving.MetricRPS), withAnnotation(serving.TargetAnnotation, "100")),
		deployment:  deployment(1),
		pods:        []*corev1.Pod{readyPod("p1", true)},
		wantDesired: 1, wantActual: 1, wantActive: corev1.ConditionTrue, wantFigure: metrics.RPS,
	}, {
		name:       "a metric the built-in class does not scale on is a permanent error",
		pa:         pa(withAnnotation(serving.MetricAnnotation, serving.MetricCPU)),
		deployment: deployment(1),
		wantErr:    true, wantReason: podscale.ReasonInvalidSpec,
	}, {
		name:       "no Deployment yet: waits for it",
		pa:         pa(),
		wantReason: podscale.ReasonTargetMissing,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			deployments := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			if tc.deployment != nil {
				objs = append(objs, tc.deployment)
				_ = deployments.Add(tc.deployment)
			}
			pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			for _, p := range tc.pods {
				_ = pods.Add(p)
			}
			kube := fake.NewClientset(objs...)
			var scaled *int32
			kube.PrependReactor("update", "deployments", func(a clientgotesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "scale" {
					return false, nil, nil
				}
				s := a.(clientgotesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
				scaled = ptr.To(s.Spec.Replicas)
				return true, s, nil
			})
			deciders := &fakeDeciders{decisions: map[types.NamespacedName]scaling.Decision{}, watched: map[types.NamespacedName]metrics.Figure{}}
			if tc.decision != nil {
				deciders.decisions[rev] = *tc.decision
			}
			r := &Reconciler{
				kube:             kube,
				deploymentLister: appsv1listers.NewDeploymentLister(deployments),
				podLister:        corev1listers.NewPodLister(pods),
				deciders:         deciders,
			}
			p := tc.pa.DeepCopy()
			err := r.ReconcileKind(context.Background(), p)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("ReconcileKind error = %v, want error %t", err, tc.wantErr)
			}
			if tc.wantErr && !controller.IsPermanentError(errors.Unwrap(err)) && !controller.IsPermanentError(err) {
				t.Errorf("ReconcileKind error %v is not permanent", err)
			}
			if tc.wantReason != "" && !hasReason(p, tc.wantReason) {
				t.Errorf("no condition has reason %s: %+v", tc.wantReason, p.Status.Conditions)
			}
			if tc.wantErr || tc.deployment == nil {
				return
			}
			if diff := cmp.Diff(tc.wantScale, scaled); diff != "" {
				t.Errorf("replicas written through the scale subresource (-want, +got):\n%s", diff)
			}
			if got := ptr.Deref(p.Status.DesiredScale, -1); got != tc.wantDesired {
				t.Errorf("status.desiredScale = %d, want %d", got, tc.wantDesired)
			}
			if got := ptr.Deref(p.Status.ActualScale, -1); got != tc.wantActual {
				t.Errorf("status.actualScale = %d, want %d", got, tc.wantActual)
			}
			if got := p.Status.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionActive).Status; got != tc.wantActive {
				t.Errorf("Active = %s, want %s", got, tc.wantActive)
			}
			if tc.wantActivator != "" {
				if got := p.Status.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionActivatorInPath); got == nil || got.Status != tc.wantActivator {
					t.Errorf("ActivatorInPath = %+v, want status %s", got, tc.wantActivator)
				}
			}
			if got, ok := deciders.watched[rev]; !ok || got != tc.wantFigure {
				t.Errorf("watched with figure %v (watched %t), want %v", got, ok, tc.wantFigure)
			}
		})
	}
}

func hasReason(p *autoscalingv1alpha1.PodAutoscaler, reason string) bool {
	for _, c := range p.Status.Conditions {
		if c.Reason == reason {
			return true
		}
	}
	return false
}
