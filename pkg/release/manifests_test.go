package release

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"flywheel.dev/config"
)

func releaseObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Manifests()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("the release has no %s %s", kind, name)
	return nil
}

func TestManifestsShipTheGatewayAPICRDsFlywheelUses(t *testing.T) {
	objs := releaseObjects(t)
	var gateway []string
	for _, o := range objs {
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		if o.GetKind() == "CustomResourceDefinition" && group == gatewayGroup {
			gateway = append(gateway, o.GetName())
		}
	}
	want := []string{
		"gatewayclasses.gateway.networking.k8s.io",
		"gateways.gateway.networking.k8s.io",
		"httproutes.gateway.networking.k8s.io",
	}
	slices.Sort(gateway)
	if diff := cmp.Diff(want, gateway); diff != "" {
		t.Errorf("Gateway API CRDs (-want, +got):\n%s", diff)
	}
	// They come first: a GatewayClass or Gateway cannot be applied
	// before its CRD.
	for i, o := range objs[:len(want)] {
		if o.GetKind() != "CustomResourceDefinition" {
			t.Errorf("object %d is %s %s, want the Gateway API CRDs first", i, o.GetKind(), o.GetName())
		}
	}
}

func TestGatewayCRDsFollowTheRoles(t *testing.T) {
	role := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "r"},
		"rules": []any{map[string]any{
			"apiGroups": []any{gatewayGroup},
			"resources": []any{"grpcroutes", "grpcroutes/status"},
		}},
	}}
	crds, err := gatewayCRDs([]*unstructured.Unstructured{role})
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].GetName() != "grpcroutes.gateway.networking.k8s.io" {
		t.Errorf("a role granting grpcroutes gets CRDs %v, want grpcroutes' alone", crds)
	}

	role.Object["rules"] = []any{map[string]any{"apiGroups": []any{gatewayGroup}, "resources": []any{"meshes"}}}
	if _, err := gatewayCRDs([]*unstructured.Unstructured{role}); err == nil {
		t.Error("a role granting a resource third_party/gateway-api has no CRD for passed")
	}
}

// TestManifestsAreLabelled holds what docs/install.md tells users: every
// object of the release but the Gateway API CRDs carries
// app.kubernetes.io/part-of=flywheel, so that a cluster whose Gateway API
// implementation brings its own CRDs can apply the rest alone.
func TestManifestsAreLabelled(t *testing.T) {
	for _, o := range releaseObjects(t) {
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		if o.GetKind() == "CustomResourceDefinition" && group == gatewayGroup {
			if o.GetLabels()["app.kubernetes.io/part-of"] != "" {
				t.Errorf("Gateway API CRD %s is labelled part of %s", o.GetName(), o.GetLabels()["app.kubernetes.io/part-of"])
			}
			continue
		}
		if got := o.GetLabels()["app.kubernetes.io/part-of"]; got != "flywheel" {
			t.Errorf("%s %s: app.kubernetes.io/part-of=%q, want flywheel", o.GetKind(), o.GetName(), got)
		}
	}
}

func TestManifestsBuildEveryImage(t *testing.T) {
	objs := releaseObjects(t)
	want := []string{
		"ko://flywheel.dev/cmd/activator",
		"ko://flywheel.dev/cmd/apiserversource-adapter",
		"ko://flywheel.dev/cmd/autoscaler",
		"ko://flywheel.dev/cmd/broker-dispatcher",
		"ko://flywheel.dev/cmd/broker-ingress",
		"ko://flywheel.dev/cmd/controller",
		"ko://flywheel.dev/cmd/gateway",
		"ko://flywheel.dev/cmd/pingsource-adapter",
		"ko://flywheel.dev/cmd/queue",
		"ko://flywheel.dev/cmd/webhook",
		"ko://github.com/nats-io/nats-server/v2",
	}
	if diff := cmp.Diff(want, Images(objs)); diff != "" {
		t.Errorf("images (-want, +got):\n%s", diff)
	}

	cm := find(t, objs, "ConfigMap", "config-deployment")
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "queue-sidecar-image"); got != "ko://flywheel.dev/cmd/queue" {
		t.Errorf("config-deployment's queue-sidecar-image = %q, want the sidecar built by ko", got)
	}

	// NATS's upstream image runs its server as root, and its volume
	// expects it; the base image would run it as nonroot.
	nats := find(t, objs, "StatefulSet", "flywheel-nats")
	containers, _, _ := unstructured.NestedSlice(nats.Object, "spec", "template", "spec", "containers")
	user, _, _ := unstructured.NestedInt64(containers[0].(map[string]any), "securityContext", "runAsUser")
	if user != 0 {
		t.Errorf("NATS runs as user %d, want 0 as its upstream image", user)
	}
	if _, found, _ := unstructured.NestedInt64(containers[0].(map[string]any), "securityContext", "runAsGroup"); found {
		t.Error("NATS got a runAsGroup its upstream image does not set")
	}
}

// TestManifestsLeaveOutLocalMode checks that nothing local mode adds
// (config/local, config/tracing) is in a release.
func TestManifestsLeaveOutLocalMode(t *testing.T) {
	objs := releaseObjects(t)
	key := func(o *unstructured.Unstructured) string {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	shipped := map[string]bool{}
	for _, o := range objs {
		shipped[key(o)] = true
	}
	for _, fsys := range []struct {
		name string
		objs func() ([]*unstructured.Unstructured, error)
	}{
		{"config/local", func() ([]*unstructured.Unstructured, error) { return config.Manifests(config.Local) }},
		{"config/tracing", func() ([]*unstructured.Unstructured, error) { return config.Manifests(config.Tracing) }},
	} {
		local, err := fsys.objs()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range local {
			if shipped[key(o)] {
				t.Errorf("the release ships %s of %s", key(o), fsys.name)
			}
		}
	}
}

func TestWriteYAMLRoundTrips(t *testing.T) {
	objs := releaseObjects(t)
	b, err := WriteYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(objs, back); diff != "" {
		t.Errorf("objects read back (-want, +got):\n%s", diff)
	}
}
