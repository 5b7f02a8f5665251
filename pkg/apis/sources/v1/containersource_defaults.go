package v1

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// SetDefaults names the template's unnamed containers, and gives the
// sink's ref the source's namespace.
func (cs *ContainerSource) SetDefaults(context.Context) {
	for i := range cs.Spec.Template.Spec.Containers {
		c := &cs.Spec.Template.Spec.Containers[i]
		if c.Name == "" {
			c.Name = containerName(cs.Name, i)
		}
	}
	setSinkDefaults(&cs.Spec.SourceSpec, cs.Namespace)
}

// containerName names the i-th container after its source, as Knative
// does (<source>-<i>), unless that would not be a valid container name (a
// source's name may be longer, or hold dots), or the source's name is not
// known yet (generateName): then container-<i>.
func containerName(source string, i int) string {
	suffix := "-" + strconv.Itoa(i)
	if source != "" && len(validation.IsDNS1123Label(source+suffix)) == 0 {
		return source + suffix
	}
	return "container" + suffix
}
