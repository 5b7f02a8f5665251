// Package autoscaling holds Flywheel's internal autoscaling API group
// (autoscaling.flywheel.dev) and the parsing and validation of the Knative
// autoscaling annotations that every autoscaler class and the webhook share.
package autoscaling
