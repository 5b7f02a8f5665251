package metrics

import corev1 "k8s.io/api/core/v1"

// PodServing says whether a pod of a Revision counts as serving: Ready
// and not being deleted. The scrapes, the decider's ready pods and the
// custom metrics' per-pod share all count pods this way.
func PodServing(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
