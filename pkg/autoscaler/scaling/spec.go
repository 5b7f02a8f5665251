package scaling

import (
	"fmt"
	"time"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// SpecFor returns the Spec of a Revision from its autoscaling.knative.dev
// annotations, its containerConcurrency, whether a Route sends it
// traffic, and config-autoscaler. Only the request metrics (concurrency,
// rps) are the built-in class's; the others belong to the HPA class.
func SpecFor(annotations map[string]string, containerConcurrency int64, reachable bool, cfg *config.Autoscaler) (Spec, error) {
	a, ferr := autoscaling.ParseAnnotations(annotations)
	if ferr != nil {
		return Spec{}, ferr
	}
	var target float64
	switch metric := a.MetricOr(cfg); metric {
	case serving.MetricConcurrency:
		// A hard limit is also the most a pod can carry: aim below it.
		target = cfg.ContainerConcurrencyTargetDefault
		if containerConcurrency > 0 {
			target = float64(containerConcurrency)
		}
		if a.Target != nil {
			target = *a.Target
			if containerConcurrency > 0 {
				target = min(target, float64(containerConcurrency))
			}
		}
	case serving.MetricRPS:
		target = cfg.RPSTargetDefault
		if a.Target != nil {
			target = *a.Target
		}
	default:
		return Spec{}, fmt.Errorf("metric %q is not one the built-in autoscaler scales on; use %q or %q, or the class %s",
			metric, serving.MetricConcurrency, serving.MetricRPS, serving.HPAClass)
	}
	utilization := cfg.ContainerConcurrencyTargetFraction
	if p := a.TargetUtilizationPercentage; p != nil {
		utilization = *p / 100
	}
	minScale, maxScale := a.ScaleBoundsOr(cfg)
	activation := int32(1)
	if a.ActivationScale != nil {
		activation = *a.ActivationScale
	}
	return Spec{
		TargetPerPod:           target * utilization,
		TotalPerPod:            target,
		TargetBurstCapacity:    a.TargetBurstCapacityOr(cfg),
		PanicThreshold:         a.PanicThresholdPercentageOr(cfg) / 100,
		MaxScaleUpRate:         cfg.MaxScaleUpRate,
		MaxScaleDownRate:       cfg.MaxScaleDownRate,
		StableWindow:           a.WindowOr(cfg),
		PanicWindow:            panicWindow(a.WindowOr(cfg), a.PanicWindowPercentageOr(cfg)),
		ScaleDownDelay:         a.ScaleDownDelayOr(cfg),
		MinScale:               minScale,
		MaxScale:               maxScale,
		Reachable:              reachable,
		ActivationScale:        activation,
		EnableScaleToZero:      cfg.EnableScaleToZero,
		ScaleToZeroGracePeriod: cfg.ScaleToZeroGracePeriod,
	}, nil
}

// panicWindow is pct percent of the stable window, at least a second:
// the figures come by the second.
func panicWindow(stable time.Duration, pct float64) time.Duration {
	return max(time.Duration(float64(stable)*pct/100).Round(time.Second), time.Second)
}
