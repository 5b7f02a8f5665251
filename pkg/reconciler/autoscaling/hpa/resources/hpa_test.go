package resources

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

func pa(annotations map[string]string) *autoscalingv1alpha1.PodAutoscaler {
	a := map[string]string{serving.ClassAnnotation.String(): serving.HPAClass}
	for k, v := range annotations {
		a[k] = v
	}
	return &autoscalingv1alpha1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "hello-00001", UID: "u1", Annotations: a},
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello-00001-deployment"},
		},
	}
}

func TestMakeHPA(t *testing.T) {
	q := resource.MustParse
	pods := func(name, value string) []autoscalingv2.MetricSpec {
		return []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: name},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(q(value))},
		}}}
	}
	for _, tc := range []struct {
		name         string
		annotations  map[string]string
		wantMin      int32
		wantMax      int32
		wantMetrics  []autoscalingv2.MetricSpec
		wantBehavior *autoscalingv2.HorizontalPodAutoscalerBehavior
		wantErr      bool
	}{{
		name:        "concurrency with a target, bounds and a window",
		annotations: map[string]string{"autoscaling.knative.dev/metric": "concurrency", "autoscaling.knative.dev/target": "10", "autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "8", "autoscaling.knative.dev/window": "30s"},
		wantMin:     2, wantMax: 8,
		wantMetrics: pods("concurrency", "10"),
		wantBehavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](30)},
		},
	}, {
		name:        "rps with the default target and no bounds: one pod up to any number",
		annotations: map[string]string{"autoscaling.knative.dev/metric": "rps"},
		wantMin:     1, wantMax: math.MaxInt32,
		wantMetrics: pods("requests-per-second", "200"),
	}, {
		name:        "cpu utilization",
		annotations: map[string]string{"autoscaling.knative.dev/metric": "cpu", "autoscaling.knative.dev/target": "60"},
		wantMin:     1, wantMax: math.MaxInt32,
		wantMetrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](60)},
		}}},
	}, {
		name:        "memory in Mi",
		annotations: map[string]string{"autoscaling.knative.dev/metric": "memory", "autoscaling.knative.dev/target": "75"},
		wantMin:     1, wantMax: math.MaxInt32,
		wantMetrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(*resource.NewQuantity(75*1024*1024, resource.BinarySI))},
		}}},
	}, {
		name:        "an unparsable annotation",
		annotations: map[string]string{"autoscaling.knative.dev/min-scale": "many"},
		wantErr:     true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := pa(tc.annotations)
			h, err := MakeHPA(p, config.DefaultAutoscaler())
			if (err != nil) != tc.wantErr {
				t.Fatalf("MakeHPA error = %v, want error %t", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			want := autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello-00001-deployment"},
				MinReplicas:    ptr.To(tc.wantMin),
				MaxReplicas:    tc.wantMax,
				Metrics:        tc.wantMetrics,
				Behavior:       tc.wantBehavior,
			}
			if diff := cmp.Diff(want, h.Spec); diff != "" {
				t.Errorf("HPA spec (-want, +got):\n%s", diff)
			}
			if h.Name != p.Name || h.Namespace != p.Namespace || len(h.OwnerReferences) != 1 || h.OwnerReferences[0].UID != p.UID {
				t.Errorf("HPA %s/%s owned by %+v, want %s/%s owned by the PodAutoscaler", h.Namespace, h.Name, h.OwnerReferences, p.Namespace, p.Name)
			}
		})
	}
}
