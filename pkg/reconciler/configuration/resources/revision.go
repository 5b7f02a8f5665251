package resources

import (
	"maps"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/configuration/resources/names"
)

// MakeRevision returns the Revision for the Configuration's current
// template, made at now. Its spec is the template's spec; its metadata is
// the template's labels and annotations plus those the platform relies on:
//
//   - labels configuration, configurationUID and configurationGeneration,
//     which is how the reconciler finds the Revision of a generation again,
//     and service and serviceUID when a Service owns the Configuration, so
//     `kubectl get revisions -l serving.knative.dev/service=<name>` works;
//   - routingState "pending" with its routingStateModified time: no Route
//     has picked the new Revision up yet;
//   - creator: who made the change that produced this Revision, i.e. the
//     Configuration's lastModifier (its creator for the first one).
//
// A controller reference ties the Revision to the Configuration, so it is
// garbage collected with it.
func MakeRevision(cfg *v1.Configuration, now time.Time) *v1.Revision {
	tmpl := cfg.Spec.Template.DeepCopy()

	labels := make(map[string]string, len(tmpl.Labels)+6)
	maps.Copy(labels, tmpl.Labels)
	labels[serving.ConfigurationLabel.String()] = cfg.Name
	labels[serving.ConfigurationUIDLabel.String()] = string(cfg.UID)
	labels[serving.ConfigurationGenerationLabel.String()] = strconv.FormatInt(cfg.Generation, 10)
	for _, key := range []serving.LabelKey{serving.ServiceLabel, serving.ServiceUIDLabel} {
		if v, ok := key.Get(cfg.Labels); ok {
			labels[key.String()] = v
		} else {
			// A template label must not claim a Service that does not own
			// the Configuration.
			delete(labels, key.String())
		}
	}
	labels[serving.RoutingStateLabel.String()] = string(serving.RoutingStatePending)

	annotations := make(map[string]string, len(tmpl.Annotations)+2)
	maps.Copy(annotations, tmpl.Annotations)
	delete(annotations, serving.CreatorAnnotation.String())
	if who, ok := serving.LastModifierAnnotation.Get(cfg.Annotations); ok {
		annotations[serving.CreatorAnnotation.String()] = who
	} else if who, ok := serving.CreatorAnnotation.Get(cfg.Annotations); ok {
		annotations[serving.CreatorAnnotation.String()] = who
	}
	annotations[serving.RoutingStateModifiedAnnotation.String()] = now.UTC().Format(time.RFC3339)

	return &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Revision(cfg),
			Namespace:       cfg.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(cfg)},
		},
		Spec: tmpl.Spec,
	}
}
