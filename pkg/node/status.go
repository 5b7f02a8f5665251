package node

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Waiting and terminated reasons, as the kubelet reports them.
const (
	reasonContainerCreating     = "ContainerCreating"
	reasonPodInitializing       = "PodInitializing"
	reasonCrashLoopBackOff      = "CrashLoopBackOff"
	reasonErrImagePull          = "ErrImagePull"
	reasonImagePullBackOff      = "ImagePullBackOff"
	reasonCreateContainerConfig = "CreateContainerConfigError"
	reasonCreateContainer       = "CreateContainerError"
	reasonRunContainer          = "RunContainerError"
	reasonCompleted             = "Completed"
	reasonError                 = "Error"
	// reasonOOMKilled ends a container the kernel killed for exceeding
	// its memory limit.
	reasonOOMKilled     = "OOMKilled"
	reasonStatusUnknown = "ContainerStatusUnknown"
)

// Event reasons, as the kubelet records them.
const (
	eventPulled    = "Pulled"
	eventFailed    = "Failed"
	eventBackOff   = "BackOff"
	eventStarted   = "Started"
	eventKilling   = "Killing"
	eventUnhealthy = "Unhealthy"
	// eventVolumesNotSupported names volumes of kinds the node does not
	// provide (persistentVolumeClaim, csi, ...); they are not mounted.
	eventVolumesNotSupported = "VolumesNotSupported"
	// eventFailedMount says why a volume keeps a container from starting.
	eventFailedMount = "FailedMount"
)

// backOff is the kubelet's restart back-off: the first restart at once,
// then base, doubling, capped at max. A run that lasted longer than
// resetAfter starts the sequence over, as a container that crashes once a
// day should not wait five minutes.
type backOff struct {
	base, max  time.Duration
	resetAfter time.Duration

	next time.Duration
}

func newBackOff(base, maxDelay time.Duration) *backOff {
	return &backOff{base: base, max: maxDelay, resetAfter: 2 * maxDelay}
}

// delay returns how long to wait before the next start after a run that
// lasted ran.
func (b *backOff) delay(ran time.Duration) time.Duration {
	if ran >= b.resetAfter {
		b.next = 0
	}
	d := b.next
	switch {
	case b.next == 0:
		b.next = b.base
	case b.next < b.max:
		b.next = min(2*b.next, b.max)
	}
	return d
}

// failed returns the wait after a failure to start at all (an image that
// does not resolve): base at first, then doubling.
func (b *backOff) failed() time.Duration {
	if b.next == 0 {
		b.next = b.base
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}

// shouldRestart applies a restart policy to an exit code.
func shouldRestart(policy corev1.RestartPolicy, exitCode int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// podPhase is the kubelet's phase rule: Pending until the init containers
// are done and every container has started at least once; Running while
// any runs or will be restarted; Succeeded or Failed once all have stopped
// for good.
func podPhase(policy corev1.RestartPolicy, initialized, initFailed bool, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	if !initialized {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.LastTerminationState.Terminated != nil:
			// Waiting to be restarted.
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped == 0:
		return corev1.PodPending
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped == succeeded:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	}
	// OnFailure: some failed and will be restarted, unless they are
	// terminated for good (which only deletion does).
	for _, s := range statuses {
		if s.State.Terminated == nil {
			return corev1.PodRunning
		}
	}
	return corev1.PodFailed
}

// podConditions are the conditions the node owns. Ready follows
// ContainersReady: readiness gates are not evaluated by this node.
func podConditions(now time.Time, old []corev1.PodCondition, sandboxReady, initialized bool, statuses []corev1.ContainerStatus, phase corev1.PodPhase) []corev1.PodCondition {
	containersReady := len(statuses) > 0
	for _, s := range statuses {
		if !s.Ready {
			containersReady = false
		}
	}
	// A pod that completed is not ready, but stays initialized.
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		containersReady = false
	}
	want := []struct {
		t  corev1.PodConditionType
		ok bool
	}{
		{corev1.PodReadyToStartContainers, sandboxReady},
		{corev1.PodInitialized, initialized},
		{corev1.ContainersReady, containersReady},
		{corev1.PodReady, containersReady},
	}
	var out []corev1.PodCondition
	owned := map[corev1.PodConditionType]bool{}
	for _, w := range want {
		owned[w.t] = true
		status := corev1.ConditionFalse
		if w.ok {
			status = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: w.t, Status: status, LastTransitionTime: metaTime(now)}
		// Keep the transition time while the status stays the same.
		for _, o := range old {
			if o.Type == w.t && o.Status == status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	// Conditions others own (PodScheduled, readiness gates, disruption)
	// are kept as they were.
	hasScheduled := false
	for _, o := range old {
		if !owned[o.Type] {
			out = append(out, o)
			hasScheduled = hasScheduled || o.Type == corev1.PodScheduled
		}
	}
	if !hasScheduled {
		// Nothing schedules pods in local mode: spec.nodeName is set
		// directly. Say so the way a scheduler would.
		out = append(out, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metaTime(now)})
	}
	return out
}
