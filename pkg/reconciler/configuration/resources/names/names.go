package names

import (
	"fmt"

	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// Revision returns the name of the Revision made from the Configuration's
// current template: the name the user chose in the template, or the
// Configuration's name and its generation padded to five digits
// (hello-00001), so that revisions list in the order they were made. A
// name that would pass the 63-character limit is shortened with a hash.
func Revision(cfg *v1.Configuration) string {
	if name := cfg.Spec.Template.Name; name != "" {
		return name
	}
	return kmeta.ChildName(cfg.Name, fmt.Sprintf("-%05d", cfg.Generation))
}
