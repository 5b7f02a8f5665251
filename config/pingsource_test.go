package config_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/config"
	"flywheel.dev/pkg/sources/ping"
)

// TestPingSourceAdapterManifestsMatchTheirConstants holds the adapter's
// Deployment and RBAC to pkg/sources/ping: the names the reconciler and
// the adapter use, the environment the adapter reads, its probes, and the
// permissions it needs, no more.
func TestPingSourceAdapterManifestsMatchTheirConstants(t *testing.T) {
	objs, err := config.Manifests(config.Eventing)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(kind, namespace, name string, into any) {
		t.Helper()
		for _, o := range objs {
			if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("config/eventing has no %s %s/%s", kind, namespace, name)
	}
	const systemNamespace = "flywheel-system"

	var d appsv1.Deployment
	decode("Deployment", systemNamespace, ping.AdapterDeploymentName, &d)
	if got := d.Spec.Template.Spec.ServiceAccountName; got != ping.AdapterServiceAccountName {
		t.Errorf("the adapter runs as %q, want %q", got, ping.AdapterServiceAccountName)
	}
	c := d.Spec.Template.Spec.Containers[0]
	const importPath = "flywheel.dev/cmd/pingsource-adapter"
	if c.Image != "ko://"+importPath {
		t.Errorf("image %s, want ko://%s", c.Image, importPath)
	}
	if _, err := os.Stat("../" + strings.TrimPrefix(importPath, "flywheel.dev/")); err != nil {
		t.Errorf("the image's package: %v", err)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for name, field := range map[string]string{ping.PodNameEnv: "metadata.name", ping.PodNamespaceEnv: "metadata.namespace"} {
		if f := env[name].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != field {
			t.Errorf("%s comes from %+v, want the downward API's %s", name, env[name].ValueFrom, field)
		}
	}
	if got := env["GOMAXPROCS"].Value; got != "1" {
		t.Errorf("GOMAXPROCS = %q, want 1", got)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != ping.ProbePort {
		t.Errorf("ports %+v, want the probes on %d", c.Ports, ping.ProbePort)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != ping.ReadyPath {
		t.Errorf("readiness probe %+v, want %s", c.ReadinessProbe, ping.ReadyPath)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != ping.HealthPath {
		t.Errorf("liveness probe %+v, want %s", c.LivenessProbe, ping.HealthPath)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("security context %+v, want a non-root user and a read-only root filesystem", sc)
	}

	var sa corev1.ServiceAccount
	decode("ServiceAccount", systemNamespace, ping.AdapterServiceAccountName, &sa)

	// What the adapter's account may do, by binding: PingSources in every
	// namespace, and the Lease.
	var clusterRole rbacv1.ClusterRole
	decode("ClusterRole", "", ping.AdapterServiceAccountName, &clusterRole)
	var role rbacv1.Role
	decode("Role", systemNamespace, ping.AdapterServiceAccountName, &role)
	var clusterBinding rbacv1.ClusterRoleBinding
	decode("ClusterRoleBinding", "", ping.AdapterServiceAccountName, &clusterBinding)
	var binding rbacv1.RoleBinding
	decode("RoleBinding", systemNamespace, ping.AdapterServiceAccountName, &binding)
	account := rbacv1.Subject{Kind: "ServiceAccount", Name: ping.AdapterServiceAccountName, Namespace: systemNamespace}
	for _, b := range []struct {
		name     string
		roleRef  rbacv1.RoleRef
		subjects []rbacv1.Subject
		kind     string
	}{
		{"ClusterRoleBinding", clusterBinding.RoleRef, clusterBinding.Subjects, "ClusterRole"},
		{"RoleBinding", binding.RoleRef, binding.Subjects, "Role"},
	} {
		if b.roleRef.Kind != b.kind || b.roleRef.Name != ping.AdapterServiceAccountName || !slices.Contains(b.subjects, account) {
			t.Errorf("%s binds %+v to %+v; want the %s %s to the adapter's account", b.name, b.roleRef, b.subjects, b.kind, ping.AdapterServiceAccountName)
		}
	}
	allows := func(rules []rbacv1.PolicyRule, group, resource, name, verb string) bool {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) &&
				(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
				return true
			}
		}
		return false
	}
	for _, verb := range []string{"get", "list", "watch"} {
		if !allows(clusterRole.Rules, "sources.knative.dev", "pingsources", "", verb) {
			t.Errorf("the adapter may not %s PingSources", verb)
		}
	}
	for _, verb := range []string{"get", "create", "update"} {
		if !allows(role.Rules, "coordination.k8s.io", "leases", ping.LeaseName, verb) {
			t.Errorf("the adapter may not %s its Lease %s", verb, ping.LeaseName)
		}
	}
	if allows(role.Rules, "coordination.k8s.io", "leases", "flywheel-controller", "update") {
		t.Error("the adapter may update other components' Leases")
	}
}
