package resources

import (
	"fmt"
	"math"
	"strconv"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	"flywheel.dev/pkg/apis/autoscaling"
	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// Targets of the resource metrics when the target annotation is unset,
// as Knative's HPA class has them: 80% of the requested cpu, and 100 Mi
// of memory per pod.
const (
	DefaultCPUUtilization = 80
	DefaultMemoryTarget   = "100Mi"
)

// MakeHPA returns the HorizontalPodAutoscaler that scales pa's Deployment
// from one pod (or min-scale) up to max-scale (no bound: the largest
// count the API takes) on pa's metric: the custom metric concurrency or
// requests-per-second with the target as each pod's average value, or
// cpu (target in percent of the request) or memory (target in Mi). The
// window annotation becomes the scale-down stabilization window. Zero is
// not the HPA's to reach: it never goes below one, and the reconciler
// takes the Deployment to zero and back.
func MakeHPA(pa *autoscalingv1alpha1.PodAutoscaler, cfg *config.Autoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	a, ferr := autoscaling.ParseAnnotations(pa.Annotations)
	if ferr != nil {
		return nil, ferr
	}
	minScale, maxScale := a.ScaleBoundsOr(cfg)
	if maxScale <= 0 {
		maxScale = math.MaxInt32
	}
	metric, err := metricSpec(pa.Metric(), a, pa.Spec.ContainerConcurrency, cfg)
	if err != nil {
		return nil, err
	}
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:            pa.Name,
			Namespace:       pa.Namespace,
			Labels:          pa.Labels,
			Annotations:     pa.Annotations,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(pa)},
		},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: pa.Spec.ScaleTargetRef.APIVersion,
				Kind:       pa.Spec.ScaleTargetRef.Kind,
				Name:       pa.Spec.ScaleTargetRef.Name,
			},
			MinReplicas: ptr.To(max(1, minScale)),
			MaxReplicas: max(1, minScale, maxScale),
			Metrics:     []autoscalingv2.MetricSpec{metric},
		},
	}
	if a.Window != nil {
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(a.Window.Seconds()))},
		}
	}
	return h, nil
}

// metricSpec is the HPA's metric for the PodAutoscaler's.
func metricSpec(metric string, a autoscaling.Annotations, containerConcurrency int64, cfg *config.Autoscaler) (autoscalingv2.MetricSpec, error) {
	switch metric {
	case serving.MetricCPU:
		utilization := int32(DefaultCPUUtilization)
		if a.Target != nil {
			utilization = int32(math.Ceil(*a.Target))
		}
		return resourceMetric(corev1.ResourceCPU, autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &utilization}), nil
	case serving.MetricMemory:
		value := resource.MustParse(DefaultMemoryTarget)
		if a.Target != nil {
			value = *resource.NewQuantity(int64(math.Ceil(*a.Target))*1024*1024, resource.BinarySI)
		}
		return resourceMetric(corev1.ResourceMemory, autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &value}), nil
	}
	name, ok := autoscaling.CustomMetricFor(metric)
	if !ok {
		return autoscalingv2.MetricSpec{}, fmt.Errorf("the HPA class cannot scale on metric %q: use concurrency, rps, cpu or memory", metric)
	}
	target := cfg.ContainerConcurrencyTargetDefault
	if metric == serving.MetricRPS {
		target = cfg.RPSTargetDefault
	} else if containerConcurrency > 0 {
		target = float64(containerConcurrency)
	}
	if a.Target != nil {
		target = *a.Target
	}
	value, err := resource.ParseQuantity(strconv.FormatFloat(target, 'f', -1, 64))
	if err != nil {
		return autoscalingv2.MetricSpec{}, fmt.Errorf("target %v: %w", target, err)
	}
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.PodsMetricSourceType,
		Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: name},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &value},
		},
	}, nil
}

func resourceMetric(name corev1.ResourceName, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type:     autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: name, Target: target},
	}
}
