package config_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"

	"flywheel.dev/config"
	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// coreCRDs returns the CRDs that config.Core installs, by kind, decoded
// strictly so that a field the API server would not know fails here.
func coreCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	objs, err := config.Manifests(config.Core)
	if err != nil {
		t.Fatal(err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, o := range objs {
		if o.GroupVersionKind() != apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition") {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, crd, true); err != nil {
			t.Fatalf("CRD %s: %v", o.GetName(), err)
		}
		crds[crd.Spec.Names.Kind] = crd
	}
	var kinds []string
	for k := range crds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	want := []string{
		"ApiServerSource", "Broker", "Configuration", "ContainerSource", "PingSource",
		"PodAutoscaler", "Revision", "Route", "Service", "SinkBinding", "Trigger",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("kinds with a CRD in config/core (-want, +got):\n%s", diff)
	}
	return crds
}

// TestManifestsInstallCRDsFirst checks the order Manifests returns: by
// file name across directories, so that the CRDs in core/crds (300) come
// before the webhooks and components (500) that name their kinds, and
// empty documents are skipped.
func TestManifestsInstallCRDsFirst(t *testing.T) {
	fsys := fstest.MapFS{
		"core/500-webhook.yaml":   {Data: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: webhook}\n")},
		"core/crds/300-kind.yaml": {Data: []byte("# generated\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: kinds.example.com}\n---\n# nothing\n")},
		"core/100-namespace.yaml": {Data: []byte("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")},
		"core/README.md":          {Data: []byte("not a manifest")},
	}
	objs, err := config.Manifests(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	want := []string{"Namespace/ns", "ConfigMap/cm", "CustomResourceDefinition/kinds.example.com", "Service/webhook"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects in install order (-want, +got):\n%s", diff)
	}

	if _, err := config.Manifests(fstest.MapFS{"bad.yaml": {Data: []byte("kind: [")}}); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("Manifests of a malformed file: error %v, want one naming bad.yaml", err)
	}

	// The same holds for what Flywheel installs.
	objs, err = config.Manifests(config.Core)
	if err != nil {
		t.Fatal(err)
	}
	lastCRD, firstWebhook := -1, len(objs)
	for i, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			lastCRD = i
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			firstWebhook = min(firstWebhook, i)
		}
	}
	if lastCRD < 0 || lastCRD > firstWebhook {
		t.Errorf("config.Core: last CRD at %d, first webhook configuration at %d; CRDs must come first", lastCRD, firstWebhook)
	}
}

// structural returns the schema of the CRD's stored version as the API
// server sees it: converted to the internal type, then to a structural
// schema, which is what it prunes, defaults and validates with.
func structural(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *structuralschema.Structural {
	t.Helper()
	return structuralVersion(t, crd, storageVersion(t, crd).Name)
}

func storageVersion(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) apiextensionsv1.CustomResourceDefinitionVersion {
	t.Helper()
	i := slices.IndexFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Storage })
	if i < 0 {
		t.Fatalf("CRD %s has no storage version", crd.Name)
	}
	return crd.Spec.Versions[i]
}

func structuralVersion(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition, version string) *structuralschema.Structural {
	t.Helper()
	i := slices.IndexFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Name == version })
	if i < 0 {
		t.Fatalf("CRD %s has no version %s", crd.Name, version)
	}
	v := crd.Spec.Versions[i]
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		t.Fatalf("CRD %s version %s has no schema", crd.Name, v.Name)
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatalf("CRD %s: %v", crd.Name, err)
	}
	return s
}

// TestServedVersionsShareTheStoredSchema checks the versions each CRD
// serves: one stored, v1, and besides it only copies of it (PingSource's
// v1beta2, which the stock kn of Knative 1.15 uses). The CRDs have no
// conversion webhook, so the API server converts between versions by
// rewriting apiVersion alone, which loses nothing only while every served
// version has the stored one's schema.
func TestServedVersionsShareTheStoredSchema(t *testing.T) {
	served := map[string][]string{}
	for kind, crd := range coreCRDs(t) {
		stored := storageVersion(t, crd)
		if stored.Name != "v1" && kind != "PodAutoscaler" {
			t.Errorf("%s stores %s, want v1", kind, stored.Name)
		}
		if crd.Spec.Conversion != nil && crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
			t.Errorf("%s converts with %s, want None", kind, crd.Spec.Conversion.Strategy)
		}
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				continue
			}
			name := v.Name
			served[kind] = append(served[kind], name)
			if !v.Served || !v.Deprecated || v.DeprecationWarning == nil {
				t.Errorf("%s %s: served %t, deprecated %t, warning %v; want a served, deprecated version with a warning", kind, name, v.Served, v.Deprecated, v.DeprecationWarning)
			}
			v.Name, v.Served, v.Storage, v.Deprecated, v.DeprecationWarning = stored.Name, stored.Served, stored.Storage, stored.Deprecated, stored.DeprecationWarning
			if diff := cmp.Diff(stored, v); diff != "" {
				t.Errorf("%s: version %s differs from the stored %s (-stored, +served):\n%s", kind, name, stored.Name, diff)
			}
		}
	}
	if diff := cmp.Diff(map[string][]string{"PingSource": {"v1beta2"}}, served); diff != "" {
		t.Errorf("versions served beside the stored one (-want, +got):\n%s", diff)
	}
}

func TestCRDSchemasAreStructural(t *testing.T) {
	for kind, crd := range coreCRDs(t) {
		t.Run(kind, func(t *testing.T) {
			s := structural(t, crd)
			if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
				t.Errorf("schema is not structural:\n%v", errs.ToAggregate())
			}
			// The API server refuses a CRD whose list-map keys are neither
			// required nor defaulted.
			for _, err := range listMapKeysPresent(field.NewPath("openAPIV3Schema"), s) {
				t.Error(err)
			}
		})
	}
}

// listMapKeysPresent applies the API server's rule for new CRDs: every key
// of an x-kubernetes-list-type=map list is required or has a default.
func listMapKeysPresent(path *field.Path, s *structuralschema.Structural) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.XListType != nil && *s.XListType == "map" && s.Items != nil {
		for _, k := range s.XListMapKeys {
			p, ok := s.Items.Properties[k]
			if !ok {
				errs = append(errs, field.Invalid(path, k, "list-map key is not a property of the items"))
				continue
			}
			var required []string
			if s.Items.ValueValidation != nil {
				required = s.Items.ValueValidation.Required
			}
			if !slices.Contains(required, k) && p.Default.Object == nil {
				errs = append(errs, field.Required(path.Child("items", "properties", k), "list-map key must be required or defaulted"))
			}
		}
	}
	for name, p := range s.Properties {
		errs = append(errs, listMapKeysPresent(path.Child("properties", name), &p)...)
	}
	errs = append(errs, listMapKeysPresent(path.Child("items"), s.Items)...)
	if s.AdditionalProperties != nil {
		errs = append(errs, listMapKeysPresent(path.Child("additionalProperties"), s.AdditionalProperties.Structural)...)
	}
	return errs
}

// TestCRDNames checks what kubectl and kn users type and see: short names,
// categories (`kubectl get knative`), the status subresource the
// reconcilers write through, and the printer columns.
func TestCRDNames(t *testing.T) {
	type names struct {
		Name       string
		Scope      apiextensionsv1.ResourceScope
		ShortNames []string
		Categories []string
		Versions   []string
		Status     bool
		Columns    []string
	}
	servingCategories := []string{"all", "knative", "serving"}
	want := map[string]names{
		"Service": {
			Name: "services.serving.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			ShortNames: []string{"ksvc", "kservice"}, Categories: servingCategories,
			Versions: []string{"v1"}, Status: true,
			Columns: []string{"URL", "LatestCreated", "LatestReady", "Ready", "Reason"},
		},
		"Configuration": {
			Name: "configurations.serving.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			ShortNames: []string{"config", "cfg"}, Categories: servingCategories,
			Versions: []string{"v1"}, Status: true,
			Columns: []string{"LatestCreated", "LatestReady", "Ready", "Reason"},
		},
		"Revision": {
			Name: "revisions.serving.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			ShortNames: []string{"rev"}, Categories: servingCategories,
			Versions: []string{"v1"}, Status: true,
			Columns: []string{"Config Name", "Generation", "Ready", "Reason", "Actual Replicas", "Desired Replicas"},
		},
		"Route": {
			Name: "routes.serving.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			ShortNames: []string{"rt"}, Categories: servingCategories,
			Versions: []string{"v1"}, Status: true,
			Columns: []string{"URL", "Ready", "Reason"},
		},
		"PodAutoscaler": {
			Name: "podautoscalers.autoscaling.flywheel.dev", Scope: apiextensionsv1.NamespaceScoped,
			ShortNames: []string{"kpa", "pa"}, Categories: []string{"all", "knative", "serving", "autoscaling"},
			Versions: []string{"v1alpha1"}, Status: true,
			Columns: []string{"DesiredScale", "ActualScale", "Ready", "Reason"},
		},
		"Broker": {
			Name: "brokers.eventing.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: eventingCategories, Versions: []string{"v1"}, Status: true,
			Columns: []string{"URL", "Age", "Ready", "Reason"},
		},
		"Trigger": {
			Name: "triggers.eventing.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: eventingCategories, Versions: []string{"v1"}, Status: true,
			Columns: []string{"Broker", "Subscriber_URI", "Age", "Ready", "Reason"},
		},
		// As Knative's sources: no short names. PingSource serves v1beta2
		// too, as Knative does (the stock kn of Knative 1.15 uses it).
		"PingSource": {
			Name: "pingsources.sources.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: sourcesCategories, Versions: []string{"v1", "v1beta2"}, Status: true,
			Columns: []string{"Sink", "Schedule", "Age", "Ready", "Reason"},
		},
		"ApiServerSource": {
			Name: "apiserversources.sources.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: sourcesCategories, Versions: []string{"v1"}, Status: true,
			Columns: []string{"Sink", "Age", "Ready", "Reason"},
		},
		"SinkBinding": {
			Name: "sinkbindings.sources.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: append(slices.Clone(sourcesCategories), "bindings"), Versions: []string{"v1"}, Status: true,
			Columns: []string{"Sink", "Age", "Ready", "Reason"},
		},
		"ContainerSource": {
			Name: "containersources.sources.knative.dev", Scope: apiextensionsv1.NamespaceScoped,
			Categories: sourcesCategories, Versions: []string{"v1"}, Status: true,
			Columns: []string{"Sink", "Age", "Ready", "Reason"},
		},
	}
	for kind, crd := range coreCRDs(t) {
		t.Run(kind, func(t *testing.T) {
			got := names{
				Name:       crd.Name,
				Scope:      crd.Spec.Scope,
				ShortNames: crd.Spec.Names.ShortNames,
				Categories: crd.Spec.Names.Categories,
			}
			for _, v := range crd.Spec.Versions {
				got.Versions = append(got.Versions, v.Name)
			}
			// The others are copies (TestServedVersionsShareTheStoredSchema).
			stored := storageVersion(t, crd)
			got.Status = stored.Served && stored.Subresources != nil && stored.Subresources.Status != nil
			for _, c := range stored.AdditionalPrinterColumns {
				got.Columns = append(got.Columns, c.Name)
			}
			if diff := cmp.Diff(want[kind], got); diff != "" {
				t.Errorf("names (-want, +got):\n%s", diff)
			}
			if got := crd.Labels["app.kubernetes.io/part-of"]; got != "flywheel" {
				t.Errorf("label app.kubernetes.io/part-of = %q, want flywheel", got)
			}
		})
	}
}

// TestSchemasKeepEveryField checks that the CRD schemas match the Go types:
// an object with every field set goes through the API server's pruning
// unchanged. A field missing from a schema would otherwise be dropped
// silently when the object is stored.
func TestSchemasKeepEveryField(t *testing.T) {
	crds := coreCRDs(t)
	tests := []struct {
		name string
		kind string
		obj  any
	}{
		{"Service", "Service", fullService()},
		{"Configuration", "Configuration", fullConfiguration()},
		{"Revision", "Revision", fullRevision()},
		{"Route", "Route", fullRoute()},
		{"PodAutoscaler", "PodAutoscaler", fullPodAutoscaler()},
		// Random fill reaches every field of every type, the whole pod spec
		// included, which no hand-written object does.
		{"random Service", "Service", randomFill(&servingv1.Service{})},
		{"random Configuration", "Configuration", randomFill(&servingv1.Configuration{})},
		{"random Revision", "Revision", randomFill(&servingv1.Revision{})},
		{"random Route", "Route", randomFill(&servingv1.Route{})},
		{"random PodAutoscaler", "PodAutoscaler", randomFill(&autoscalingv1alpha1.PodAutoscaler{})},
		{"Broker", "Broker", fullBroker()},
		{"Trigger", "Trigger", fullTrigger()},
		{"random Broker", "Broker", randomFill(&eventingv1.Broker{})},
		{"random Trigger", "Trigger", randomFill(&eventingv1.Trigger{})},
		{"PingSource", "PingSource", fullPingSource()},
		{"ApiServerSource", "ApiServerSource", fullApiServerSource()},
		{"SinkBinding", "SinkBinding", fullSinkBinding()},
		{"ContainerSource", "ContainerSource", fullContainerSource()},
		{"random PingSource", "PingSource", randomFill(&sourcesv1.PingSource{})},
		{"random ApiServerSource", "ApiServerSource", randomFill(&sourcesv1.ApiServerSource{})},
		{"random SinkBinding", "SinkBinding", randomFill(&sourcesv1.SinkBinding{})},
		{"random ContainerSource", "ContainerSource", randomFill(&sourcesv1.ContainerSource{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := toMap(t, tt.obj)
			after := toMap(t, tt.obj)
			pruned := pruning.PruneWithOptions(after, structural(t, crds[tt.kind]), true,
				structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(pruned) > 0 {
				t.Errorf("pruned fields: %v", pruned)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("object after pruning (-before, +after):\n%s", diff)
			}
		})
	}
}

// TestTemplatesKeepANullCreationTimestamp checks the templates' object
// metadata against what clients built with k8s.io/apimachinery before 0.35
// send (the stock kn, YAML from `kubectl create --dry-run -o yaml`):
// `creationTimestamp: null`. Pruned, it would be an unknown field, a
// warning, and under kubectl's strict field validation a refusal.
func TestTemplatesKeepANullCreationTimestamp(t *testing.T) {
	crds := coreCRDs(t)
	template := map[string]any{
		"metadata": map[string]any{"creationTimestamp": nil, "labels": map[string]any{"app": "x"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"image": "ghcr.io/example/app"}}},
	}
	for _, kind := range []string{"Service", "Configuration", "ContainerSource"} {
		t.Run(kind, func(t *testing.T) {
			obj := map[string]any{
				"apiVersion": "v1", "kind": kind,
				"metadata": map[string]any{"name": "x"},
				"spec":     map[string]any{"template": template},
			}
			pruned := pruning.PruneWithOptions(obj, structural(t, crds[kind]), true,
				structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(pruned) > 0 {
				t.Errorf("pruned fields: %v", pruned)
			}
			s := structural(t, crds[kind])
			if errs := validate.NewSchemaValidator(s.ToKubeOpenAPI(), nil, "", strfmt.Default).Validate(obj).Errors; len(errs) > 0 {
				t.Errorf("validation errors: %v", errs)
			}
		})
	}
}

// TestKnativeManifestsValidate checks manifests that Knative accepts
// against the schemas as the API server validates a create: types,
// required fields and list semantics. Each leaves out something
// k8s.io/api marks required but Knative fills in.
func TestKnativeManifestsValidate(t *testing.T) {
	crds := coreCRDs(t)
	tests := []struct {
		name     string
		manifest string
		wantErr  bool
	}{{
		name: "a container with neither name nor port",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/example/hello
        env:
        - {name: TARGET, value: world}
`,
	}, {
		name: "a port given by name only, probes without a port",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: grpc}
spec:
  template:
    metadata:
      name: grpc-v1
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers:
      - image: ghcr.io/example/grpc
        ports:
        - name: h2c
        readinessProbe:
          httpGet: {path: /ready}
        livenessProbe:
          tcpSocket: {}
        startupProbe:
          grpc: {}
`,
	}, {
		name: "an env var set twice, two unnamed containers",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Configuration
metadata: {name: multi}
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/example/app
        ports: [{containerPort: 8080}]
        env:
        - {name: MODE, value: a}
        - {name: MODE, value: b}
      - image: ghcr.io/example/sidecar
`,
	}, {
		name: "a Revision",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Revision
metadata: {name: hello-00001}
spec:
  containerConcurrency: 10
  containers:
  - image: ghcr.io/example/hello
    readinessProbe:
      httpGet: {path: /}
`,
	}, {
		name: "a Route splitting by tag",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Route
metadata: {name: split}
spec:
  traffic:
  - {revisionName: split-00001, percent: 90, tag: stable}
  - {configurationName: split, latestRevision: true, percent: 10, tag: next}
`,
	}, {
		// Shows the validator does reject: a string where an integer goes.
		name: "a string for containerConcurrency",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: bad}
spec:
  template:
    spec:
      containerConcurrency: many
      containers:
      - image: ghcr.io/example/hello
`,
		wantErr: true,
	}, {
		name: "a Service without containers",
		manifest: `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: empty}
spec:
  template:
    spec: {}
`,
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateManifest(t, crds, tt.manifest)
			if gotErr := len(errs) > 0; gotErr != tt.wantErr {
				t.Errorf("validation errors %v, want errors: %t", errs, tt.wantErr)
			}
		})
	}
}

// validateManifest validates a manifest against its kind's CRD schema as
// the API server does on create, and returns what it finds wrong.
func validateManifest(t *testing.T, crds map[string]*apiextensionsv1.CustomResourceDefinition, manifest string) []error {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatal(err)
	}
	kind, _ := obj["kind"].(string)
	crd, ok := crds[kind]
	if !ok {
		t.Fatalf("no CRD for kind %q", kind)
	}
	s := structural(t, crd)
	result := validate.NewSchemaValidator(s.ToKubeOpenAPI(), nil, "", strfmt.Default).Validate(obj)
	errs := append([]error(nil), result.Errors...)
	for _, err := range listtype.ValidateListSetsAndMaps(nil, s, obj) {
		errs = append(errs, err)
	}
	return errs
}

// toMap is obj as the API server receives it: JSON, decoded into maps.
func toMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// randomFill sets every field of obj, pointers and lists included, with a
// fixed seed so that a failure reproduces.
func randomFill[T any](obj T) T {
	randfill.NewWithSeed(1).NilChance(0).NumElements(1, 2).Funcs(
		// Only the metadata a template may carry: the schema keeps name,
		// namespace, labels, annotations and finalizers of an embedded
		// ObjectMeta and, on purpose, nothing else.
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			m.Name = "n" + c.String(8)
			m.Namespace = "ns" + c.String(8)
			m.Labels = map[string]string{"l" + c.String(8): c.String(8)}
			m.Annotations = map[string]string{"a" + c.String(8): c.String(8)}
			m.Finalizers = []string{"f" + c.String(8)}
		},
		// The types below marshal to a string or number through methods;
		// their random internals would not.
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(int64(c.Uint64()%100000)+1, resource.DecimalSI)
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(int32(c.Uint64()%65535) + 1)
			} else {
				*v = intstr.FromString("p" + c.String(8))
			}
		},
		func(tm *metav1.Time, c randfill.Continue) {
			*tm = metav1.Unix(int64(c.Uint64()%2000000000)+1, 0)
		},
		func(u *apis.URL, c randfill.Continue) {
			*u = apis.URL{Scheme: "https", Host: "h" + c.String(8) + ".example.com", Path: "/p"}
		},
		// Filters nest without end; two levels reach every field.
		func(f *eventingv1.SubscriptionsAPIFilter, c randfill.Continue) {
			*f = randomFilter(c, 2)
		},
	).Fill(obj)
	return obj
}

// revisionSpec is a pod spec with what Knative users set most, and every
// field Knative adds.
func revisionSpec() servingv1.RevisionSpec {
	return servingv1.RevisionSpec{
		PodSpec: corev1.PodSpec{
			ServiceAccountName: "app",
			Containers: []corev1.Container{{
				Name:       "app",
				Image:      "ghcr.io/example/app@sha256:0123",
				Command:    []string{"/app"},
				Args:       []string{"--verbose"},
				WorkingDir: "/srv",
				Ports:      []corev1.ContainerPort{{Name: "h2c", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env: []corev1.EnvVar{
					{Name: "TARGET", Value: "world"},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 2, SuccessThreshold: 1,
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("h2c")}},
					InitialDelaySeconds: 3,
				},
				VolumeMounts:    []corev1.VolumeMount{{Name: "settings", MountPath: "/etc/settings", ReadOnly: true}},
				SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr(true)},
			}},
			Volumes: []corev1.Volume{{
				Name:         "settings",
				VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
			}},
		},
		ContainerConcurrency:        ptr[int64](50),
		TimeoutSeconds:              ptr[int64](300),
		ResponseStartTimeoutSeconds: ptr[int64](60),
		IdleTimeoutSeconds:          ptr[int64](30),
	}
}

func template() servingv1.RevisionTemplateSpec {
	return servingv1.RevisionTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "app-v2",
			Labels:      map[string]string{"tier": "backend"},
			Annotations: map[string]string{"autoscaling.knative.dev/min-scale": "1"},
		},
		Spec: revisionSpec(),
	}
}

func status() duckv1.Status {
	return duckv1.Status{
		ObservedGeneration: 3,
		Annotations:        map[string]string{"note": "x"},
		Conditions: duckv1.Conditions{{
			Type:               apis.ConditionReady,
			Status:             corev1.ConditionFalse,
			Severity:           apis.ConditionSeverityError,
			LastTransitionTime: apis.VolatileTime{Inner: metav1.Unix(1700000000, 0)},
			Reason:             "RevisionFailed",
			Message:            "the image cannot be pulled",
		}},
	}
}

func traffic(withURL bool) []servingv1.TrafficTarget {
	targets := []servingv1.TrafficTarget{
		{Tag: "stable", RevisionName: "app-v1", LatestRevision: ptr(false), Percent: ptr[int64](90)},
		{Tag: "next", ConfigurationName: "app", LatestRevision: ptr(true), Percent: ptr[int64](10)},
	}
	if withURL {
		for i := range targets {
			targets[i].URL = apis.HTTPS(targets[i].Tag + "-app.default.example.com")
		}
	}
	return targets
}

func routeStatus() servingv1.RouteStatusFields {
	return servingv1.RouteStatusFields{
		URL: apis.HTTPS("app.default.example.com"),
		Address: &duckv1.Addressable{
			Name:     ptr("http"),
			URL:      apis.HTTP("app.default.svc.cluster.local"),
			CACerts:  ptr("-----BEGIN CERTIFICATE-----"),
			Audience: ptr("app"),
		},
		Traffic: traffic(true),
	}
}

func configurationStatus() servingv1.ConfigurationStatusFields {
	return servingv1.ConfigurationStatusFields{
		LatestCreatedRevisionName: "app-v2",
		LatestReadyRevisionName:   "app-v1",
	}
}

func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"team": "a"}}
}

func fullService() *servingv1.Service {
	return &servingv1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: objectMeta("app"),
		Spec: servingv1.ServiceSpec{
			ConfigurationSpec: servingv1.ConfigurationSpec{Template: template()},
			RouteSpec:         servingv1.RouteSpec{Traffic: traffic(false)},
		},
		Status: servingv1.ServiceStatus{
			Status:                    status(),
			ConfigurationStatusFields: configurationStatus(),
			RouteStatusFields:         routeStatus(),
		},
	}
}

func fullConfiguration() *servingv1.Configuration {
	return &servingv1.Configuration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Configuration"},
		ObjectMeta: objectMeta("app"),
		Spec:       servingv1.ConfigurationSpec{Template: template()},
		Status: servingv1.ConfigurationStatus{
			Status:                    status(),
			ConfigurationStatusFields: configurationStatus(),
		},
	}
}

func fullRevision() *servingv1.Revision {
	return &servingv1.Revision{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Revision"},
		ObjectMeta: objectMeta("app-v2"),
		Spec:       revisionSpec(),
		Status: servingv1.RevisionStatus{
			Status:                status(),
			LogURL:                "https://logs.example.com/app-v2",
			ContainerStatuses:     []servingv1.ContainerStatus{{Name: "app", ImageDigest: "ghcr.io/example/app@sha256:0123"}},
			InitContainerStatuses: []servingv1.ContainerStatus{{Name: "init", ImageDigest: "ghcr.io/example/init@sha256:4567"}},
			ActualReplicas:        ptr[int32](2),
			DesiredReplicas:       ptr[int32](3),
		},
	}
}

func fullRoute() *servingv1.Route {
	return &servingv1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Route"},
		ObjectMeta: objectMeta("app"),
		Spec:       servingv1.RouteSpec{Traffic: traffic(false)},
		Status:     servingv1.RouteStatus{Status: status(), RouteStatusFields: routeStatus()},
	}
}

func fullPodAutoscaler() *autoscalingv1alpha1.PodAutoscaler {
	return &autoscalingv1alpha1.PodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling.flywheel.dev/v1alpha1", Kind: "PodAutoscaler"},
		ObjectMeta: objectMeta("app-v2"),
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{
				APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "app-v2-deployment",
				UID: "1234", ResourceVersion: "7", FieldPath: "spec", // every field, though a target uses three
			},
			ContainerConcurrency: 50,
			Reachability:         autoscalingv1alpha1.ReachabilityReachable,
			ProtocolType:         autoscalingv1alpha1.ProtocolH2C,
		},
		Status: autoscalingv1alpha1.PodAutoscalerStatus{
			Status:             status(),
			ServiceName:        "app-v2",
			MetricsServiceName: "app-v2-private",
			DesiredScale:       ptr[int32](3),
			ActualScale:        ptr[int32](2),
		},
	}
}

func ptr[T any](v T) *T { return &v }
