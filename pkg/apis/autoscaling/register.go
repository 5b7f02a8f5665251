package autoscaling

// GroupName is Flywheel's internal autoscaling API group. It is not part of
// the Knative API: users read it but never write it.
const GroupName = "autoscaling.flywheel.dev"
