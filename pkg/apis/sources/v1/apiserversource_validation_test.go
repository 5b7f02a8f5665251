package v1

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// validApiServerSource returns a valid, defaulted ApiServerSource for rows
// to change.
func validApiServerSource() *ApiServerSource {
	sink := brokerSink()
	sink.Ref.Namespace = "shop"
	return &ApiServerSource{
		ObjectMeta: metav1.ObjectMeta{Name: "changes", Namespace: "shop"},
		Spec: ApiServerSourceSpec{
			SourceSpec:         duckv1.SourceSpec{Sink: sink},
			Resources:          []APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}},
			Mode:               EventModeReference,
			ServiceAccountName: "default",
		},
	}
}

func TestApiServerSourceValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ApiServerSource)
		want   []string
	}{{
		name:   "valid",
		change: func(*ApiServerSource) {},
	}, {
		name: "every field set",
		change: func(a *ApiServerSource) {
			a.Spec.Resources = append(a.Spec.Resources, APIVersionKindSelector{
				APIVersion: "apps/v1", Kind: "Deployment",
				Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}},
			})
			a.Spec.Owner = &APIVersionKind{APIVersion: "serving.knative.dev/v1", Kind: "Service"}
			a.Spec.Mode = EventModeResource
			a.Spec.ServiceAccountName = "watcher"
			a.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "test"}}
			a.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop"}}
		},
	}, {
		name:   "no mode is Reference",
		change: func(a *ApiServerSource) { a.Spec.Mode = "" },
	}, {
		name:   "no resources",
		change: func(a *ApiServerSource) { a.Spec.Resources = nil },
		want:   []string{"at least one resource is required: spec.resources", "list the kinds to watch, such as {apiVersion: v1, kind: ConfigMap}"},
	}, {
		name:   "a resource without apiVersion",
		change: func(a *ApiServerSource) { a.Spec.Resources[0].APIVersion = "" },
		want:   []string{"missing field(s): spec.resources[0].apiVersion", "set the kind's group and version, such as v1 for ConfigMap"},
	}, {
		name:   "a resource with an apiVersion of three parts",
		change: func(a *ApiServerSource) { a.Spec.Resources[0].APIVersion = "apps/v1/extra" },
		want:   []string{`invalid value "apps/v1/extra"`, "spec.resources[0].apiVersion", "write group/version, such as apps/v1"},
	}, {
		name:   "a resource without kind",
		change: func(a *ApiServerSource) { a.Spec.Resources[0].Kind = "" },
		want:   []string{"missing field(s): spec.resources[0].kind", "set the kind's name, such as ConfigMap"},
	}, {
		name: "a resource with a bad selector",
		change: func(a *ApiServerSource) {
			a.Spec.Resources[0].Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}
		},
		want: []string{"invalid label selector", "spec.resources[0].selector", "matchExpressions take operator In or NotIn with values"},
	}, {
		name:   "an owner without kind",
		change: func(a *ApiServerSource) { a.Spec.Owner = &APIVersionKind{APIVersion: "apps/v1"} },
		want:   []string{"missing field(s): spec.owner.kind"},
	}, {
		name:   "an unknown mode",
		change: func(a *ApiServerSource) { a.Spec.Mode = "Full" },
		want:   []string{`invalid value "Full": spec.mode`, "use Reference for events that carry a reference to the object, or Resource for the whole object"},
	}, {
		name:   "a service account name that cannot exist",
		change: func(a *ApiServerSource) { a.Spec.ServiceAccountName = "Watcher_1" },
		want:   []string{`invalid value "Watcher_1"`, "spec.serviceAccountName", "name a ServiceAccount in the source's namespace, or remove the field to use default"},
	}, {
		name: "a bad namespace selector",
		change: func(a *ApiServerSource) {
			a.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}
		},
		want: []string{"invalid label selector", "spec.namespaceSelector"},
	}, {
		name:   "no sink",
		change: func(a *ApiServerSource) { a.Spec.Sink = duckv1.Destination{} },
		want:   []string{"a sink is required: spec.sink"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validApiServerSource()
			tc.change(a)
			checkErr(t, fieldErr(a.Validate(context.Background())), tc.want...)
		})
	}
}
