package vpacrds

import (
	"os"
	"testing"

	"golang.org/x/mod/modfile"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"flywheel.dev/config"
)

// vpaModule is the module the recommender is built from.
const vpaModule = "k8s.io/autoscaler/vertical-pod-autoscaler"

// TestVersionIsTheRecommenders checks that the CRDs are of the release
// that third_party/vpa builds the recommender from: a recommender of
// another release could write status fields these CRDs prune.
func TestVersionIsTheRecommenders(t *testing.T) {
	b, err := os.ReadFile("../vpa/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mod.Require {
		if r.Mod.Path == vpaModule {
			if r.Mod.Version != Version {
				t.Errorf("third_party/vpa builds the recommender from %s %s, but the CRDs are of %s: copy the CRDs of the new version (README.md)", vpaModule, r.Mod.Version, Version)
			}
			return
		}
	}
	t.Errorf("third_party/vpa/go.mod does not require %s", vpaModule)
}

// TestCRDsServeV1 checks that the file holds the two CRDs, each serving
// and storing autoscaling.k8s.io/v1, the version the Revision reconciler
// writes and reads.
func TestCRDsServeV1(t *testing.T) {
	objs, err := config.Manifests(CRDs)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		b, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			t.Fatalf("%s: %v", o.GetName(), err)
		}
		if crd.Spec.Group != "autoscaling.k8s.io" {
			t.Errorf("%s: group %q, want autoscaling.k8s.io", crd.Name, crd.Spec.Group)
		}
		served := false
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1" {
				served = v.Served && v.Storage
			}
		}
		if !served {
			t.Errorf("%s does not serve and store v1", crd.Name)
		}
		kinds[crd.Spec.Names.Kind] = true
	}
	for _, kind := range []string{"VerticalPodAutoscaler", "VerticalPodAutoscalerCheckpoint"} {
		if !kinds[kind] {
			t.Errorf("no CRD of kind %s", kind)
		}
	}
}
