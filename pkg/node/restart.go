package node

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// ReasonNodeRestarted is the reason of the Ready condition, and of each
// container's waiting state, of a pod whose processes ended with an
// earlier run of its node.
const ReasonNodeRestarted = "NodeRestarted"

// markPodsRestarted says, in the status of every pod bound to nodeName
// that is not finished, that its containers no longer run: they ended
// with the node's last run (local mode's `fw local down`, a crash, a
// reboot), and this run starts them anew. Until then their status would
// still say Ready from before, and Services, Deployments and whoever
// waits for them would count pods that do not exist. A kubelet that
// restarts reports the same through its status manager.
func markPodsRestarted(ctx context.Context, kube kubernetes.Interface, nodeName string, clk clock.PassiveClock) error {
	pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", nodeName).String(),
	})
	if err != nil {
		return fmt.Errorf("listing the pods bound to node %s: %w", nodeName, err)
	}
	var errs []error
	for i := range pods.Items {
		pod := &pods.Items[i]
		// The field selector already says so; checked again for clients
		// that ignore it (fakes).
		if pod.Spec.NodeName != nodeName || !hasRunningStatus(pod) {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			markRestarted(pod, metav1.NewTime(clk.Now()))
			_, err := kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			if !apierrors.IsConflict(err) {
				return err
			}
			latest, getErr := kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			*pod = *latest
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

// hasRunningStatus says the pod's status claims something runs or is
// ready: a finished pod keeps its status as the record of how it ended.
func hasRunningStatus(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		if cs.State.Running != nil || cs.Ready {
			return true
		}
	}
	return false
}

// markRestarted rewrites the status of a pod whose processes are gone:
// not ready, every running container now waiting, what ran kept as its
// last state, as a kubelet shows a container that is started again.
func markRestarted(pod *corev1.Pod, now metav1.Time) {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != corev1.ConditionFalse {
			c.Status = corev1.ConditionFalse
			c.Reason = ReasonNodeRestarted
			c.Message = "the node restarted; the pod's containers are being started again"
			c.LastTransitionTime = now
		}
	}
	restart := func(statuses []corev1.ContainerStatus) {
		for i := range statuses {
			cs := &statuses[i]
			if running := cs.State.Running; running != nil {
				cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					Reason:     ReasonNodeRestarted,
					Message:    "the node stopped",
					ExitCode:   137,
					StartedAt:  running.StartedAt,
					FinishedAt: now,
				}}
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason:  ReasonNodeRestarted,
					Message: "the node restarted; the container is being started again",
				}}
			}
			cs.Ready = false
			cs.Started = ptr.To(false)
		}
	}
	restart(pod.Status.InitContainerStatuses)
	restart(pod.Status.ContainerStatuses)
}
