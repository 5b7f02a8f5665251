package v1

import (
	"context"
	"fmt"
	"testing"

	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// TestSourceSpecValidation checks the rules every kind shares, the sink
// and the CloudEvents overrides, on each kind.
func TestSourceSpecValidation(t *testing.T) {
	kinds := []func() apis.Validatable{
		func() apis.Validatable { return validPingSource() },
		func() apis.Validatable { return validApiServerSource() },
		func() apis.Validatable { return validSinkBinding() },
		func() apis.Validatable { return validContainerSource() },
	}
	tests := []struct {
		name   string
		change func(*duckv1.SourceSpec)
		want   []string
	}{{
		name:   "sink by URI",
		change: func(s *duckv1.SourceSpec) { s.Sink = duckv1.Destination{URI: apis.HTTP("events.example.com")} },
	}, {
		name: "overrides with valid names",
		change: func(s *duckv1.SourceSpec) {
			s.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop", "region2": "eu"}}
		},
	}, {
		name:   "no sink",
		change: func(s *duckv1.SourceSpec) { s.Sink = duckv1.Destination{} },
		want: []string{"a sink is required: spec.sink",
			"set ref to the Broker, Knative Service or other addressable object that receives the events, or uri to its URL"},
	}, {
		name:   "a relative sink URI without a ref",
		change: func(s *duckv1.SourceSpec) { s.Sink = duckv1.Destination{URI: &apis.URL{Path: "/events"}} },
		want:   []string{"Relative URI is not allowed", "spec.sink.uri"},
	}, {
		name:   "a sink ref with a path below its address",
		change: func(s *duckv1.SourceSpec) { s.Sink.URI = &apis.URL{Path: "/events"} },
	}, {
		name: "a sink ref without a name, with a path",
		change: func(s *duckv1.SourceSpec) {
			s.Sink.Ref.Name = ""
			s.Sink.URI = &apis.URL{Path: "/events"}
		},
		want: []string{"missing field(s): spec.sink.ref.name"},
	}, {
		name:   "a sink ref without a name",
		change: func(s *duckv1.SourceSpec) { s.Sink.Ref.Name = "" },
		want:   []string{"missing field(s): spec.sink.ref.name"},
	}, {
		name: "an override name with a dash",
		change: func(s *duckv1.SourceSpec) {
			s.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"my-ext": "x"}}
		},
		want: []string{`invalid key name "my-ext": spec.ceOverrides.extensions[my-ext]`,
			"CloudEvents attribute names hold only lower-case letters and digits", `rename the extension, for example to "myext"`},
	}, {
		name: "an override name in capitals",
		change: func(s *duckv1.SourceSpec) {
			s.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"Team": "x"}}
		},
		want: []string{`invalid key name "Team": spec.ceOverrides.extensions[Team]`, `for example to "team"`},
	}, {
		name: "an empty override name",
		change: func(s *duckv1.SourceSpec) {
			s.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"": "x"}}
		},
		want: []string{`invalid key name "": spec.ceOverrides.extensions[]`, "an attribute name cannot be empty: rename the extension"},
	}}
	for _, valid := range kinds {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%T/%s", valid(), tc.name), func(t *testing.T) {
				obj := valid()
				tc.change(sourceSpecOf(t, obj))
				checkErr(t, fieldErr(obj.Validate(context.Background())), tc.want...)
			})
		}
	}
}

// sourceSpecOf returns the SourceSpec inside one of the kinds.
func sourceSpecOf(t *testing.T, obj apis.Validatable) *duckv1.SourceSpec {
	t.Helper()
	switch o := obj.(type) {
	case *PingSource:
		return &o.Spec.SourceSpec
	case *ApiServerSource:
		return &o.Spec.SourceSpec
	case *SinkBinding:
		return &o.Spec.SourceSpec
	case *ContainerSource:
		return &o.Spec.SourceSpec
	}
	t.Fatalf("no SourceSpec in a %T", obj)
	return nil
}
