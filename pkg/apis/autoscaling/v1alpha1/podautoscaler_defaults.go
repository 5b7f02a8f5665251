package v1alpha1

import (
	"context"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// SetDefaults implements apis.Defaultable. It writes the class and metric
// onto the PodAutoscaler, so that a later change to config-autoscaler does
// not move a running Revision to another autoscaler or metric. Reachability
// stays as set: unknown until the Revision reconciler has looked at the
// routes.
func (pa *PodAutoscaler) SetDefaults(ctx context.Context) {
	cfg := config.FromContextOrDefaults(ctx).Autoscaler
	class, _ := serving.ClassAnnotation.Get(pa.Annotations)
	if class == "" {
		class = cfg.PodAutoscalerClass
		setAnnotation(pa, serving.ClassAnnotation, class)
	}
	// A class other than KPA or HPA belongs to a third-party autoscaler,
	// which chooses its own default metric.
	if _, ok := serving.MetricAnnotation.Get(pa.Annotations); !ok && (class == serving.KPAClass || class == serving.HPAClass) {
		setAnnotation(pa, serving.MetricAnnotation, autoscaling.Annotations{Class: class}.MetricOr(cfg))
	}
	if pa.Spec.ProtocolType == "" {
		pa.Spec.ProtocolType = ProtocolHTTP1
	}
}

func setAnnotation(pa *PodAutoscaler, key serving.AnnotationKey, value string) {
	if pa.Annotations == nil {
		pa.Annotations = make(map[string]string, 2)
	}
	pa.Annotations[key.String()] = value
}
