// Package autoscaling holds the PodAutoscaler reconcilers, one package
// per autoscaler class: kpa, the built-in class.
package autoscaling
