package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/reconciler/containersource/resources/names"
)

// SpecHashAnnotation holds, on the source's Deployment, a hash of the
// Deployment spec MakeDeployment made. The API server fills in defaults,
// so the spec it stores never equals the one made; the hash is how the
// reconciler tells that the source changed, a field removed included,
// which comparing the specs field by field cannot see.
const SpecHashAnnotation = "sources.flywheel.dev/spec-hash"

// MakeDeployment returns the Deployment that runs the source's template:
// one replica, its pods carrying the source's labels and the template's.
// The SinkBinding, not this, gives its containers the sink.
func MakeDeployment(source *sourcesv1.ContainerSource) (*appsv1.Deployment, error) {
	template := source.Spec.Template.DeepCopy()
	// The template's own labels win over the source's, which are only
	// passed on; the selector's win over both.
	template.Labels = kmeta.UnionMaps(source.Labels, template.Labels, Selector(source))
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Deployment(source),
			Namespace:       source.Namespace,
			Labels:          Labels(source),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(source)},
		},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: Selector(source)},
			Template: *template,
		},
	}
	hash, err := specHash(d.Spec)
	if err != nil {
		return nil, err
	}
	d.Annotations = map[string]string{SpecHashAnnotation: hash}
	return d, nil
}

func specHash(spec appsv1.DeploymentSpec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
