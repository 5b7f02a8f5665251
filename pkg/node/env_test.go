package node

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEnvResolve(t *testing.T) {
	kube := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{"greeting": "hello", "A": "from-cm"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{"token": []byte("t0k3n")}},
	)
	r := &envResolver{kube: kube, capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n", ServiceAccountName: "sa"},
	}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		Env: []corev1.EnvVar{
			{Name: "NAME", ValueFrom: field("metadata.name")},
			{Name: "NS", ValueFrom: field("metadata.namespace")},
			{Name: "UID", ValueFrom: field("metadata.uid")},
			{Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
			{Name: "IP", ValueFrom: field("status.podIP")},
			{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
			{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "greeting"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k", Optional: ptrBool(true)}}},
			{Name: "CPUS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MSG", Value: "$(GREETING) $(NAME), $(UNDEFINED) costs $$5"},
			{Name: "PATH", Value: "/opt/bin:$(PATH)"},
		},
	}
	got, err := r.resolve(t.Context(), pod, c, podAddresses{podIP: "10.244.0.2", hostIP: "10.244.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/opt/bin:" + defaultPath,
		"HOSTNAME=p",
		"CM_A=from-cm",
		"CM_greeting=hello",
		"NAME=p", "NS=ns", "UID=uid-1", "APP=web", "NODE=n", "SA=sa",
		"IP=10.244.0.2", "HOST_IP=10.244.0.1",
		"GREETING=hello", "TOKEN=t0k3n", "CPUS=4",
		"MSG=hello p, $(UNDEFINED) costs $5",
	}
	// envFrom keys come from a map: compare as a set, with order checked
	// for the rest.
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("environment (-want, +got):\n%s", diff)
	}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("PATH and HOSTNAME come first (a later value keeps the first position): %q", got[:2])
	}

	for _, tc := range []struct {
		name string
		env  corev1.EnvVar
		want string
	}{
		{"a missing ConfigMap", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}}, "ConfigMap missing"},
		{"a missing key", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "nope"}}}, `key "nope" is not in Secret s`},
		{"an unsupported field", corev1.EnvVar{Name: "X", ValueFrom: field("status.phase")}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.resolve(t.Context(), pod, &corev1.Container{Env: []corev1.EnvVar{tc.env}}, podAddresses{})
			var ee *envError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !asEnvError(err, &ee) {
				t.Errorf("resolve() error %v, want an envError containing %q", err, tc.want)
			}
		})
	}
}

func TestExpandAll(t *testing.T) {
	got := expandAll([]string{"--port=$(PORT)", "$(MISSING)", "$$(PORT)", "tail$"}, []string{"PORT=8080"})
	if diff := cmp.Diff([]string{"--port=8080", "$(MISSING)", "$(PORT)", "tail$"}, got); diff != "" {
		t.Errorf("expandAll (-want, +got):\n%s", diff)
	}
}

func ptrBool(b bool) *bool { return &b }

func TestEnvAPIServer(t *testing.T) {
	r := &envResolver{kube: fake.NewClientset(), apiServer: netip.MustParseAddrPort("10.244.0.1:6443")}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	c := &corev1.Container{Env: []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_PORT", Value: "8443"}}}
	env, err := r.resolve(t.Context(), pod, c, podAddresses{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=" + defaultPath,
		"HOSTNAME=p",
		"KUBERNETES_SERVICE_HOST=10.244.0.1",
		// The container's own value wins, in the first position.
		"KUBERNETES_SERVICE_PORT=8443",
		"KUBERNETES_SERVICE_PORT_HTTPS=6443",
		"KUBERNETES_PORT=tcp://10.244.0.1:6443",
		"KUBERNETES_PORT_6443_TCP=tcp://10.244.0.1:6443",
		"KUBERNETES_PORT_6443_TCP_PROTO=tcp",
		"KUBERNETES_PORT_6443_TCP_PORT=6443",
		"KUBERNETES_PORT_6443_TCP_ADDR=10.244.0.1",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want, +got):\n%s", diff)
	}

	r.apiServer = netip.AddrPort{}
	env, err = r.resolve(t.Context(), pod, &corev1.Container{}, podAddresses{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PATH=" + defaultPath, "HOSTNAME=p"}, env); diff != "" {
		t.Errorf("env without an API server address (-want, +got):\n%s", diff)
	}
}
