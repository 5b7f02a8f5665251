// Package v1alpha1 is Flywheel's internal autoscaling API,
// autoscaling.flywheel.dev/v1alpha1: the PodAutoscaler each Revision owns.
//
// +k8s:deepcopy-gen=package
// +groupName=autoscaling.flywheel.dev
package v1alpha1
