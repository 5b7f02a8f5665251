package hpa

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	autoscalingv2listers "k8s.io/client-go/listers/autoscaling/v2"
	corev1listers "k8s.io/client-go/listers/core/v1"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

type fakeDeciders struct {
	decision *scaling.Decision
	watched  bool
}

func (f *fakeDeciders) Watch(types.NamespacedName, metrics.Figure, *scaling.Spec) { f.watched = true }

func (f *fakeDeciders) Decision(types.NamespacedName) (scaling.Decision, bool) {
	if f.decision == nil {
		return scaling.Decision{}, false
	}
	return *f.decision, true
}

const ns, name = "demo", "hello-00001"

func pa(initialized bool) *autoscalingv1alpha1.PodAutoscaler {
	p := &autoscalingv1alpha1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: "pa-uid", Annotations: map[string]string{
			serving.ClassAnnotation.String():  serving.HPAClass,
			serving.MetricAnnotation.String(): serving.MetricConcurrency,
			serving.TargetAnnotation.String(): "10",
		}},
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name + "-deployment"},
			Reachability:   autoscalingv1alpha1.ReachabilityReachable,
		},
	}
	if initialized {
		p.Status.InitializeConditions()
		p.Status.MarkScaleTargetInitialized()
	}
	return p
}

func hpaOf(p *autoscalingv1alpha1.PodAutoscaler, desired int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(p)}},
		Status:     autoscalingv2.HorizontalPodAutoscalerStatus{DesiredReplicas: desired},
	}
}

func readyPod(n string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n, Labels: map[string]string{serving.RevisionLabel.String(): name}},
		Status: corev1.PodStatus{PodIP: "10.244.0.9", Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
}

func TestReconcileKind(t *testing.T) {
	initialized := pa(true)
	for _, tc := range []struct {
		name        string
		pa          *autoscalingv1alpha1.PodAutoscaler
		hpa         *autoscalingv2.HorizontalPodAutoscaler
		replicas    int32
		pods        int
		decision    *scaling.Decision
		wantCreate  bool
		wantScale   *int32
		wantDesired int32
		wantReason  string
		wantErr     bool
	}{{
		name:       "the HPA is made",
		pa:         pa(false),
		replicas:   1,
		wantCreate: true, wantDesired: 1, wantReason: podscale.ReasonQueued,
	}, {
		name:     "between one and the maximum the HPA scales alone",
		pa:       initialized,
		hpa:      hpaOf(initialized, 5),
		replicas: 3, pods: 3,
		decision:    &scaling.Decision{DesiredPods: 9, ExcessBurstCapacity: -200},
		wantDesired: 5,
		// The HPA class has no burst capacity: short capacity does not
		// bring the activator in.
		wantReason: podscale.ReasonEnoughCapacity,
	}, {
		name:     "no requests through the grace period: to zero",
		pa:       initialized,
		hpa:      hpaOf(initialized, 1),
		replicas: 1, pods: 1,
		decision:  &scaling.Decision{DesiredPods: 0},
		wantScale: ptr.To[int32](0), wantDesired: 0,
	}, {
		name:      "a request waits at the activator: back to one, the HPA goes on from there",
		pa:        initialized,
		hpa:       hpaOf(initialized, 1),
		replicas:  0,
		decision:  &scaling.Decision{DesiredPods: 3},
		wantScale: ptr.To[int32](1), wantDesired: 1, wantReason: podscale.ReasonQueued,
	}, {
		name:        "at zero and nothing asks for more: stays, inactive",
		pa:          initialized,
		hpa:         hpaOf(initialized, 1),
		replicas:    0,
		decision:    &scaling.Decision{DesiredPods: 0},
		wantDesired: 0, wantReason: podscale.ReasonNoTraffic,
	}, {
		name:     "an HPA of the name that is not ours",
		pa:       pa(false),
		hpa:      &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		replicas: 1,
		wantErr:  true, wantReason: ReasonNotOwned,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-deployment"},
				Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(tc.replicas)},
			}
			deployments := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			_ = deployments.Add(d)
			hpas := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			objs := []runtime.Object{d}
			if tc.hpa != nil {
				_ = hpas.Add(tc.hpa)
				objs = append(objs, tc.hpa)
			}
			pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			for i := range tc.pods {
				_ = pods.Add(readyPod(string(rune('a' + i))))
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
			r := &Reconciler{
				kube:             kube,
				hpaLister:        autoscalingv2listers.NewHorizontalPodAutoscalerLister(hpas),
				deploymentLister: appsv1listers.NewDeploymentLister(deployments),
				podLister:        corev1listers.NewPodLister(pods),
				deciders:         &fakeDeciders{decision: tc.decision},
				config:           func(context.Context) *config.Autoscaler { return config.DefaultAutoscaler() },
			}
			p := tc.pa.DeepCopy()
			err := r.ReconcileKind(context.Background(), p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ReconcileKind error = %v, want error %t", err, tc.wantErr)
			}
			if tc.wantReason != "" && !hasReason(p, tc.wantReason) {
				t.Errorf("no condition has reason %s: %+v", tc.wantReason, p.Status.Conditions)
			}
			if tc.wantErr {
				return
			}
			created := false
			for _, a := range kube.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "horizontalpodautoscalers" {
					created = true
				}
			}
			if created != tc.wantCreate {
				t.Errorf("HPA created = %t, want %t", created, tc.wantCreate)
			}
			if diff := cmp.Diff(tc.wantScale, scaled); diff != "" {
				t.Errorf("replicas written through the scale subresource (-want, +got):\n%s", diff)
			}
			if got := ptr.Deref(p.Status.DesiredScale, -1); got != tc.wantDesired {
				t.Errorf("status.desiredScale = %d, want %d", got, tc.wantDesired)
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
