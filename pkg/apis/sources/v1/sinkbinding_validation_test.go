package v1

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"
)

// validSinkBinding returns a valid, defaulted SinkBinding for rows to
// change.
func validSinkBinding() *SinkBinding {
	sink := brokerSink()
	sink.Ref.Namespace = "shop"
	return &SinkBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bind", Namespace: "shop"},
		Spec: SinkBindingSpec{
			SourceSpec:  duckv1.SourceSpec{Sink: sink},
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "app"}},
		},
	}
}

func TestSinkBindingValidation(t *testing.T) {
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "producer"}}
	tests := []struct {
		name   string
		change func(*SinkBinding)
		want   []string
	}{{
		name:   "valid",
		change: func(*SinkBinding) {},
	}, {
		name: "subject by selector",
		change: func(sb *SinkBinding) {
			sb.Spec.Subject.Name = ""
			sb.Spec.Subject.Selector = selector
		},
	}, {
		name: "a Knative Service as subject",
		change: func(sb *SinkBinding) {
			sb.Spec.Subject.APIVersion, sb.Spec.Subject.Kind = "serving.knative.dev/v1", "Service"
		},
	}, {
		name:   "subject by name and selector",
		change: func(sb *SinkBinding) { sb.Spec.Subject.Selector = selector },
		want: []string{"expected exactly one, got both", "spec.subject.name", "spec.subject.selector",
			"set name to bind one object, or selector to bind every object of the kind whose labels match"},
	}, {
		name:   "subject by neither",
		change: func(sb *SinkBinding) { sb.Spec.Subject.Name = "" },
		want:   []string{"expected exactly one, got neither", "spec.subject.name", "spec.subject.selector"},
	}, {
		name:   "subject in another namespace",
		change: func(sb *SinkBinding) { sb.Spec.Subject.Namespace = "other" },
		want: []string{`the subject is in namespace "other", the SinkBinding in "shop": spec.subject.namespace`,
			`create the SinkBinding in namespace "other", or remove subject.namespace`},
	}, {
		name:   "subject without kind",
		change: func(sb *SinkBinding) { sb.Spec.Subject.Kind = "" },
		want:   []string{"missing field(s): spec.subject.kind"},
	}, {
		name:   "subject without apiVersion",
		change: func(sb *SinkBinding) { sb.Spec.Subject.APIVersion = "" },
		want:   []string{"missing field(s): spec.subject.apiVersion"},
	}, {
		name:   "subject name that cannot exist",
		change: func(sb *SinkBinding) { sb.Spec.Subject.Name = "My_App" },
		want:   []string{`invalid value "My_App"`, "spec.subject.name", "set the name of the object to bind"},
	}, {
		name: "subject selector that does not parse",
		change: func(sb *SinkBinding) {
			sb.Spec.Subject.Name = ""
			sb.Spec.Subject.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Like"}}}
		},
		want: []string{"invalid label selector", "spec.subject.selector"},
	}, {
		name:   "no sink",
		change: func(sb *SinkBinding) { sb.Spec.Sink = duckv1.Destination{} },
		want:   []string{"a sink is required: spec.sink"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := validSinkBinding()
			tc.change(sb)
			checkErr(t, fieldErr(sb.Validate(context.Background())), tc.want...)
		})
	}
}
