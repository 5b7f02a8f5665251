package revision

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
)

// podFailure is why a Revision's pods cannot serve, in the words the
// Revision's status will carry.
type podFailure struct {
	// resources says the failure is about getting the pod running at all
	// (image, scheduling) rather than about the running app.
	resources bool
	reason    string
	message   string
}

// Waiting reasons of a container that mean its image cannot be had.
var imageFailures = map[string]bool{
	"ErrImagePull":      true,
	"ImagePullBackOff":  true,
	"InvalidImageName":  true,
	"ErrImageNeverPull": true,
}

// diagnose looks at a Revision's pods for the first failure a user must
// fix: an image that cannot be pulled, a pod no node will take, or an app
// that keeps crashing (with its exit code and last words). It returns nil
// while the pods are merely on their way.
func diagnose(pods []*corev1.Pod) *podFailure {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				return &podFailure{resources: true, reason: v1.ReasonUnschedulable, message: cond.Message}
			}
		}
		statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			if cs.Name == queue.ContainerName {
				continue
			}
			if w := cs.State.Waiting; w != nil && imageFailures[w.Reason] {
				return &podFailure{
					resources: true,
					reason:    w.Reason,
					message:   fmt.Sprintf("Unable to fetch image %q: %s", cs.Image, strings.TrimSpace(w.Message)),
				}
			}
			if t := lastTermination(cs); t != nil && t.ExitCode != 0 && (cs.RestartCount > 0 || cs.State.Waiting != nil) {
				msg := fmt.Sprintf("Container %s failed with exit code %d", cs.Name, t.ExitCode)
				if last := lastLine(t.Message); last != "" {
					msg += ": " + last
				}
				return &podFailure{reason: v1.ReasonExitCode, message: msg}
			}
		}
	}
	return nil
}

func lastTermination(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if cs.State.Terminated != nil {
		return cs.State.Terminated
	}
	return cs.LastTerminationState.Terminated
}

// lastLine is the last non-empty line of a termination message, which for
// a crashed app is usually the error it died with.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// recordDigests fills in the digest of each container that resolution
// left empty with the one the node reports for it, from any of the
// Revision's pods. Locally the node runs executables and reports their
// content digest as the image ID. The digest is a record of what runs:
// the Deployment keeps the image as written (resources.ResolvesTags), so
// recording it starts no new pods.
func recordDigests(rev *v1.Revision, pods []*corev1.Pod) {
	images := make(map[string]string, len(rev.Spec.Containers))
	for _, c := range rev.Spec.Containers {
		images[c.Name] = c.Image
	}
	for i := range rev.Status.ContainerStatuses {
		s := &rev.Status.ContainerStatuses[i]
		if s.ImageDigest != "" {
			continue
		}
		image, ok := images[s.Name]
		if !ok {
			continue
		}
		if d := reportedDigest(pods, s.Name); d != "" {
			// The image as written, with the digest it ran: a node
			// that maps images by name (local mode's) finds it again.
			s.ImageDigest = strings.SplitN(image, "@", 2)[0] + "@" + d
		}
	}
}

// reportedDigest is the digest a node reported for the container of that
// name in one of pods, or "".
func reportedDigest(pods []*corev1.Pod, container string) string {
	for _, pod := range pods {
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name != container {
				continue
			}
			if d := digestOf(cs.ImageID); d != "" {
				return d
			}
		}
	}
	return ""
}

// digestOf extracts sha256:… from an image ID, in either of the forms
// runtimes report (a bare digest, or repository@digest).
func digestOf(imageID string) string {
	if i := strings.LastIndex(imageID, "sha256:"); i >= 0 {
		return imageID[i:]
	}
	return ""
}
