package gatewayapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/consts"
	"sigs.k8s.io/yaml"
)

// vapFile is the one file of the channel that holds no CRD: a
// ValidatingAdmissionPolicy and its binding.
const vapFile = "gateway.networking.k8s.io_vap_safeupgrades.yaml"

// documents splits a YAML stream into its documents.
func documents(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// decodeStrict decodes doc into obj, refusing fields obj does not know.
func decodeStrict(t *testing.T, doc []byte, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("decoding as %T: %v", obj, err)
	}
}

// TestCRDsAreTheStandardChannelOfTheGoModule checks that each embedded
// file is a Gateway API CRD of the standard channel, of the version whose
// Go types go.mod requires (or, in vapFile, the channel's admission
// policy): CRDs of another version could refuse fields the reconciler
// writes, or store objects the types cannot read.
func TestCRDsAreTheStandardChannelOfTheGoModule(t *testing.T) {
	if consts.BundleVersion != "v1.6.1" {
		t.Errorf("go.mod requires gateway-api %s but README.md names v1.6.1; copy the CRDs of the new version", consts.BundleVersion)
	}
	files, err := fs.Glob(CRDs, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := fs.ReadFile(CRDs, f)
			if err != nil {
				t.Fatal(err)
			}
			docs := documents(t, b)
			var metas []metav1.ObjectMeta
			if f == vapFile {
				if len(docs) != 2 {
					t.Fatalf("%d documents, want a policy and its binding", len(docs))
				}
				policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
				decodeStrict(t, docs[0], policy)
				binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
				decodeStrict(t, docs[1], binding)
				if policy.Kind != "ValidatingAdmissionPolicy" || binding.Kind != "ValidatingAdmissionPolicyBinding" ||
					binding.Spec.PolicyName != policy.Name {
					t.Errorf("kinds %s and %s, binding of %q to policy %q: want a ValidatingAdmissionPolicy and its binding",
						policy.Kind, binding.Kind, binding.Spec.PolicyName, policy.Name)
				}
				metas = append(metas, policy.ObjectMeta, binding.ObjectMeta)
			} else {
				if len(docs) != 1 {
					t.Fatalf("%d documents, want one CRD", len(docs))
				}
				crd := &apiextensionsv1.CustomResourceDefinition{}
				decodeStrict(t, docs[0], crd)
				if crd.Kind != "CustomResourceDefinition" || crd.Spec.Group != gatewayv1.GroupName {
					t.Errorf("kind %q of group %q, want a CustomResourceDefinition of %s", crd.Kind, crd.Spec.Group, gatewayv1.GroupName)
				}
				if want := crd.Spec.Names.Plural + "." + crd.Spec.Group; crd.Name != want || !strings.Contains(f, "_"+crd.Spec.Names.Plural+".") {
					t.Errorf("CRD %s (plural %s) in file %s: the name and the file should follow the plural", crd.Name, crd.Spec.Names.Plural, f)
				}
				kinds[crd.Spec.Names.Kind] = true
				metas = append(metas, crd.ObjectMeta)
			}
			for _, meta := range metas {
				if got := meta.Annotations[consts.BundleVersionAnnotation]; got != consts.BundleVersion {
					t.Errorf("%s: annotation %s = %q, want %q", meta.Name, consts.BundleVersionAnnotation, got, consts.BundleVersion)
				}
				if got := meta.Annotations[consts.ChannelAnnotation]; got != "standard" {
					t.Errorf("%s: annotation %s = %q, want standard", meta.Name, consts.ChannelAnnotation, got)
				}
			}
		})
	}
	// The kinds Flywheel relies on: HTTPRoute is what it writes, Gateway
	// and GatewayClass are what an HTTPRoute attaches to.
	for _, kind := range []string{"HTTPRoute", "Gateway", "GatewayClass", "ReferenceGrant"} {
		if !kinds[kind] {
			t.Errorf("no CRD of kind %s", kind)
		}
	}
}

// TestHTTPRouteServesV1 checks that the HTTPRoute CRD serves and stores
// gateway.networking.k8s.io/v1, the version the reconciler writes.
func TestHTTPRouteServesV1(t *testing.T) {
	b, err := fs.ReadFile(CRDs, "gateway.networking.k8s.io_httproutes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(b, crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == gatewayv1.GroupVersion.Version {
			if !v.Served || !v.Storage {
				t.Errorf("version %s: served %t, storage %t; want both", v.Name, v.Served, v.Storage)
			}
			return
		}
	}
	t.Errorf("the HTTPRoute CRD has no version %s", gatewayv1.GroupVersion.Version)
}
