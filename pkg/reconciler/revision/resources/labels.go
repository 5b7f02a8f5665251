package resources

import (
	"maps"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// Labels returns the labels of every object the Revision owns: the
// Revision's own labels (configuration, service…) plus the revision's
// name and UID, which select its pods. The routing labels are left out:
// they change whenever a Route starts or stops sending traffic, and on a
// Deployment's pod template every change is a rollout that replaces the
// Revision's pods for nothing.
func Labels(rev *v1.Revision) map[string]string {
	labels := make(map[string]string, len(rev.Labels)+2)
	maps.Copy(labels, rev.Labels)
	delete(labels, serving.RoutingStateLabel.String())
	delete(labels, serving.RouteLabel.String())
	labels[serving.RevisionLabel.String()] = rev.Name
	labels[serving.RevisionUIDLabel.String()] = string(rev.UID)
	return labels
}

// Selector returns the labels that select the Revision's pods. The UID
// rather than the name: a Revision deleted and created again under the
// same name must not adopt the old pods.
func Selector(rev *v1.Revision) map[string]string {
	return map[string]string{serving.RevisionUIDLabel.String(): string(rev.UID)}
}

// annotations returns the Revision's annotations that belong on its
// objects: all but kubectl's record of the last applied manifest, which
// describes the Revision, not them, and the routing annotations, which
// change with traffic (see Labels).
func annotations(rev *v1.Revision) map[string]string {
	out := make(map[string]string, len(rev.Annotations))
	for k, v := range rev.Annotations {
		switch k {
		case "kubectl.kubernetes.io/last-applied-configuration",
			serving.RoutesAnnotation.String(), serving.RoutingStateModifiedAnnotation.String():
		default:
			out[k] = v
		}
	}
	return out
}
