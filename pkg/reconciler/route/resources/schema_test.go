package resources

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
	gatewayapi "flywheel.dev/third_party/gateway-api"
)

// httpRouteSchema returns the schema of gateway.networking.k8s.io/v1
// HTTPRoute from the CRDs Flywheel ships.
func httpRouteSchema(t *testing.T) *structuralschema.Structural {
	t.Helper()
	b, err := gatewayapi.CRDs.ReadFile("gateway.networking.k8s.io_httproutes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(b, crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != gatewayv1.GroupVersion.Version {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			t.Fatal(err)
		}
		s, err := structuralschema.NewStructural(internal)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("no version %s in the HTTPRoute CRD", gatewayv1.GroupVersion.Version)
	return nil
}

// TestHTTPRoutesPassTheAPIServer holds what MakeHTTPRoutes writes to the
// shipped HTTPRoute CRD as the API server would on create: the schema
// and its defaults, of which none may apply, or every reconciliation would
// see a difference and write the HTTPRoute again. (The CEL rules and
// apiextensions' own defaulting are left out: they need the CEL engine,
// which is not among this module's dependencies.)
func TestHTTPRoutesPassTheAPIServer(t *testing.T) {
	s := httpRouteSchema(t)
	schemaValidator := validate.NewSchemaValidator(s.ToKubeOpenAPI(), nil, "", strfmt.Default)

	var targets []traffic.Target
	timeouts := map[string]int64{}
	for i, tag := range strings.Fields("a b c d e f g h i j k l m n o") {
		rev := "hello-0000" + tag
		targets = append(targets, traffic.Target{RevisionName: rev, Tag: tag, Percent: int64(100/15 + min(i, 100%15))})
		timeouts[rev] = int64(100000 * i)
	}
	tc := &traffic.Config{Targets: targets, Revisions: revisions(timeouts)}
	routes, err := MakeHTTPRoutes(fwtesting.Route("hello", "demo"), tc, defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, hr := range routes {
		t.Run(hr.Name, func(t *testing.T) {
			hr := hr.DeepCopy()
			hr.APIVersion, hr.Kind = gatewayv1.GroupVersion.String(), "HTTPRoute"
			obj := toMap(t, hr)
			// The API server drops the status of a create when the kind has
			// a status subresource.
			delete(obj, "status")

			for _, err := range schemaValidator.Validate(obj).Errors {
				t.Error(err)
			}

			for _, path := range defaultsThatApply("", obj, s) {
				t.Errorf("the API server would fill in %s: write it out", path)
			}
		})
	}
}

// TestTheSchemaCatchesMistakes shows the checks above can fail: an
// HTTPRoute whose weight is negative and whose timeout is not a Gateway
// API duration is refused.
func TestTheSchemaCatchesMistakes(t *testing.T) {
	schemaValidator := validate.NewSchemaValidator(httpRouteSchema(t).ToKubeOpenAPI(), nil, "", strfmt.Default)
	tc := &traffic.Config{
		Targets:   []traffic.Target{{RevisionName: "hello-00001", Percent: 100}},
		Revisions: revisions(map[string]int64{"hello-00001": 300}),
	}
	routes, err := MakeHTTPRoutes(fwtesting.Route("hello", "demo"), tc, defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	hr := routes[0]
	hr.Spec.Rules[0].BackendRefs[0].Weight = ptr.To[int32](-1)
	hr.Spec.Rules[0].Timeouts.Request = ptr.To(gatewayv1.Duration("5 minutes"))
	obj := toMap(t, hr)
	delete(obj, "status")
	if errs := schemaValidator.Validate(obj).Errors; len(errs) != 2 {
		t.Errorf("validation errors %v, want one for the weight and one for the timeout", errs)
	}
}

// defaultsThatApply returns the paths in obj of the fields that are
// missing and that the schema s gives a default.
func defaultsThatApply(path string, obj any, s *structuralschema.Structural) []string {
	var paths []string
	switch v := obj.(type) {
	case map[string]any:
		for name, prop := range s.Properties {
			child, ok := v[name]
			switch {
			case !ok && prop.Default.Object != nil:
				paths = append(paths, path+"."+name)
			case ok:
				paths = append(paths, defaultsThatApply(path+"."+name, child, &prop)...)
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				paths = append(paths, defaultsThatApply(fmt.Sprintf("%s[%d]", path, i), item, s.Items)...)
			}
		}
	}
	return paths
}

// TestDefaultsThatApplyFindsThem shows the check above can fail: a rule
// without matches gets the API server's catch-all match.
func TestDefaultsThatApplyFindsThem(t *testing.T) {
	s := httpRouteSchema(t)
	obj := map[string]any{"spec": map[string]any{"rules": []any{map[string]any{}}}}
	if diff := cmp.Diff([]string{".spec.rules[0].matches"}, defaultsThatApply("", obj, s)); diff != "" {
		t.Errorf("defaults that apply (-want, +got):\n%s", diff)
	}
}

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
