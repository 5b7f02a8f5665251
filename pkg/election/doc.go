// Package election sets up the leader election of Flywheel's components
// that run knative.dev/pkg controllers (controller, autoscaler, webhook):
// config-leader-election's settings, and the pod's name as the identity,
// so that a container restarted in its pod leads again at once.
package election
