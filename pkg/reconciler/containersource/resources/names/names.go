// Package names names the objects a ContainerSource owns.
package names

import (
	"knative.dev/pkg/kmeta"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// Deployment is the name of the Deployment that runs the source's
// template.
func Deployment(source *sourcesv1.ContainerSource) string {
	return kmeta.ChildName(source.Name, "-deployment")
}

// SinkBinding is the name of the SinkBinding that binds that Deployment
// to the source's sink.
func SinkBinding(source *sourcesv1.ContainerSource) string {
	return kmeta.ChildName(source.Name, "-sinkbinding")
}
