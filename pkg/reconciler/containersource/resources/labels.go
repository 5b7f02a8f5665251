package resources

import (
	"knative.dev/pkg/kmeta"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// SourceLabel is on every object a ContainerSource owns, and on its pods;
// its value is the source's name. It selects the source's pods, so it is
// never taken from the user's labels.
const SourceLabel = "sources.flywheel.dev/containersource"

// Labels are the labels of the objects the source owns: the source's own,
// so that what selects the source selects its Deployment and pods too,
// and SourceLabel.
func Labels(source *sourcesv1.ContainerSource) map[string]string {
	return kmeta.UnionMaps(source.Labels, Selector(source))
}

// Selector are the labels that select the source's pods.
func Selector(source *sourcesv1.ContainerSource) map[string]string {
	return map[string]string{SourceLabel: source.Name}
}
