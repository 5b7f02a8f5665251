package config

import (
	"testing"
)

// TestManifestsAreWellFormed checks what every installer relies on: each
// object names its kind and itself, namespaced objects of Flywheel live in
// its namespace, and no object is declared twice. The one exception is the
// RoleBinding an aggregated API server needs in kube-system, where the
// Role it binds lives.
func TestManifestsAreWellFormed(t *testing.T) {
	objs, err := Manifests(Core)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("config/core holds no objects")
	}
	// config/eventing installs beside config/core: neither may declare
	// what the other does.
	eventing, err := Manifests(Eventing)
	if err != nil {
		t.Fatal(err)
	}
	if len(eventing) == 0 {
		t.Fatal("config/eventing holds no objects")
	}
	objs = append(objs, eventing...)
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.GetAPIVersion() + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			t.Errorf("object without apiVersion, kind or name: %v", o.Object)
		}
		if seen[key] {
			t.Errorf("%s is declared twice", key)
		}
		seen[key] = true
		if ns := o.GetNamespace(); ns != "" && ns != "flywheel-system" && key != authReaderBinding {
			t.Errorf("%s is in namespace %q; Flywheel installs into flywheel-system", key, ns)
		}
		if o.GetLabels()["app.kubernetes.io/part-of"] != "flywheel" {
			t.Errorf("%s lacks the label app.kubernetes.io/part-of: flywheel", key)
		}
	}
}

// authReaderBinding lets the autoscaler read kube-system's
// extension-apiserver-authentication ConfigMap.
const authReaderBinding = "rbac.authorization.k8s.io/v1/RoleBinding/kube-system/flywheel-autoscaler-auth-reader"
