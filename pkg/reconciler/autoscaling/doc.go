// Package autoscaling holds the PodAutoscaler reconcilers, one package
// per autoscaler class (kpa, the built-in class; hpa, the
// HorizontalPodAutoscaler class) and podscale, what they share. Both run
// in cmd/autoscaler, beside the per-Revision loops they act on.
package autoscaling
