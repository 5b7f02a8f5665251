// Package resources builds the HorizontalPodAutoscaler of a PodAutoscaler
// of the HPA class.
package resources
