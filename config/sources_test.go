package config_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

var sourcesCategories = []string{"all", "knative", "sources"}

// TestSourceCRDsAreDiscoverable checks the labels by which the stock
// `kn source list` finds the kinds to list (duck.knative.dev/source) and
// Knative's tooling tells sources and bindings: every source kind carries
// them, and no other kind claims to be a source.
func TestSourceCRDsAreDiscoverable(t *testing.T) {
	source := map[string]string{"duck.knative.dev/source": "true", "eventing.knative.dev/source": "true"}
	binding := map[string]string{"duck.knative.dev/source": "true", "eventing.knative.dev/source": "true", "duck.knative.dev/binding": "true"}
	want := map[string]map[string]string{
		"PingSource":      source,
		"ApiServerSource": source,
		"ContainerSource": source,
		"SinkBinding":     binding,
	}
	for kind, crd := range coreCRDs(t) {
		t.Run(kind, func(t *testing.T) {
			for _, key := range []string{"duck.knative.dev/source", "eventing.knative.dev/source", "duck.knative.dev/binding"} {
				if got, want := crd.Labels[key], want[kind][key]; got != want {
					t.Errorf("label %s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

// TestKnativeSourceManifestsValidate checks manifests in the shape Knative
// documents, and kn writes, against the schemas as the API server
// validates a create.
func TestKnativeSourceManifestsValidate(t *testing.T) {
	crds := coreCRDs(t)
	for _, tt := range []struct {
		name     string
		manifest string
	}{{
		name: "a PingSource with JSON data in a time zone",
		manifest: `
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: morning}
spec:
  schedule: "0 9 * * 1-5"
  timezone: Europe/Berlin
  contentType: application/json
  data: '{"message": "good morning"}'
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`,
	}, {
		name: "an ApiServerSource in Resource mode",
		manifest: `
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: changes}
spec:
  mode: Resource
  serviceAccountName: watcher
  resources:
  - {apiVersion: v1, kind: Event}
  - apiVersion: apps/v1
    kind: Deployment
    selector: {matchLabels: {app: shop}}
  owner: {apiVersion: serving.knative.dev/v1, kind: Service}
  ceOverrides:
    extensions: {team: shop}
  sink:
    uri: http://events.example.com
`,
	}, {
		name: "a SinkBinding by selector",
		manifest: `
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: bind}
spec:
  subject:
    apiVersion: batch/v1
    kind: Job
    selector:
      matchExpressions:
      - {key: app, operator: In, values: [heartbeat]}
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: event-display}
`,
	}, {
		name: "a ContainerSource whose container has no name",
		manifest: `
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata: {name: heartbeats}
spec:
  template:
    spec:
      containers:
      - image: ko://flywheel.dev/examples/heartbeats
        args: [--period=1]
        env:
        - {name: POD_NAME, value: heartbeats}
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: event-display}
`,
	}} {
		t.Run(tt.name, func(t *testing.T) {
			if errs := validateManifest(t, crds, tt.manifest); len(errs) > 0 {
				t.Errorf("validation errors: %v", errs)
			}
		})
	}
}

// fullSourceSpec sets every field of the SourceSpec all sources share.
func fullSourceSpec() duckv1.SourceSpec {
	return duckv1.SourceSpec{
		Sink: duckv1.Destination{
			Ref:      &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: "default", Name: "default"},
			URI:      &apis.URL{Path: "/events"},
			CACerts:  ptr("-----BEGIN CERTIFICATE-----"),
			Audience: ptr("broker"),
		},
		CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop"}},
	}
}

// fullSourceStatus sets every field of the SourceStatus all sources share.
func fullSourceStatus() duckv1.SourceStatus {
	return duckv1.SourceStatus{
		Status:               status(),
		SinkURI:              &apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/default/default"},
		CloudEventAttributes: []duckv1.CloudEventAttributes{{Type: "dev.knative.sources.ping", Source: "/apis/v1/namespaces/default/pingsources/tick"}},
		SinkCACerts:          ptr("-----BEGIN CERTIFICATE-----"),
		SinkAudience:         ptr("broker"),
		Auth:                 &duckv1.AuthStatus{ServiceAccountName: ptr("tick-oidc"), ServiceAccountNames: []string{"tick-oidc"}},
	}
}

func fullPingSource() *sourcesv1.PingSource {
	return &sourcesv1.PingSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "PingSource"},
		ObjectMeta: objectMeta("tick"),
		Spec: sourcesv1.PingSourceSpec{
			SourceSpec:  fullSourceSpec(),
			Schedule:    "*/2 * * * *",
			Timezone:    "Europe/Berlin",
			ContentType: "application/json",
			Data:        `{"message": "tick"}`,
			DataBase64:  "eyJtZXNzYWdlIjogInRpY2sifQ==", // both, though validation allows one
		},
		Status: sourcesv1.PingSourceStatus{SourceStatus: fullSourceStatus()},
	}
}

func fullApiServerSource() *sourcesv1.ApiServerSource {
	return &sourcesv1.ApiServerSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "ApiServerSource"},
		ObjectMeta: objectMeta("changes"),
		Spec: sourcesv1.ApiServerSourceSpec{
			SourceSpec: fullSourceSpec(),
			Resources: []sourcesv1.APIVersionKindSelector{{
				APIVersion: "apps/v1", Kind: "Deployment",
				Selector: &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app": "shop"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}},
				},
			}},
			Owner:              &sourcesv1.APIVersionKind{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
			Mode:               sourcesv1.EventModeResource,
			ServiceAccountName: "watcher",
			NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"env": "test"}},
		},
		Status: sourcesv1.ApiServerSourceStatus{SourceStatus: fullSourceStatus(), Namespaces: []string{"default", "test"}},
	}
}

func fullSinkBinding() *sourcesv1.SinkBinding {
	return &sourcesv1.SinkBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "SinkBinding"},
		ObjectMeta: objectMeta("bind"),
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec: fullSourceSpec(),
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
				APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "producer",
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "producer"}}, // both, though validation allows one
			}},
		},
		Status: sourcesv1.SinkBindingStatus{SourceStatus: fullSourceStatus()},
	}
}

func fullContainerSource() *sourcesv1.ContainerSource {
	return &sourcesv1.ContainerSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "ContainerSource"},
		ObjectMeta: objectMeta("heartbeats"),
		Spec: sourcesv1.ContainerSourceSpec{
			SourceSpec: fullSourceSpec(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "heartbeats"}, Annotations: map[string]string{"note": "x"}},
				Spec:       revisionSpec().PodSpec,
			},
		},
		Status: sourcesv1.ContainerSourceStatus{SourceStatus: fullSourceStatus()},
	}
}
