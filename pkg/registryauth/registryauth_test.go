package registryauth

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func secret(name string, kind corev1.SecretType, key, data string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
		Type:       kind,
		Data:       map[string][]byte{key: []byte(data)},
	}
}

// TestKeychain asks for each registry the user the kubelet would pull
// with: the pod's secrets in order, then its ServiceAccount's; Docker
// Hub's names are one registry; keys may carry a scheme and a path.
func TestKeychain(t *testing.T) {
	kube := fake.NewClientset(
		secret("json", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
			`{"auths":{"https://registry.example/v2/":{"username":"from-json","password":"p"}}}`),
		secret("legacy", corev1.SecretTypeDockercfg, corev1.DockerConfigKey,
			`{"registry.example":{"username":"from-dockercfg","password":"p"},"docker.io":{"username":"hub","password":"p"}}`),
		secret("opaque", corev1.SecretTypeOpaque, corev1.DockerConfigJsonKey,
			`{"auths":{"other.example":{"username":"never","password":"p"}}}`),
		secret("broken", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `{not json`),
		secret("account", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
			`{"auths":{"other.example":{"username":"from-account","password":"p"}}}`),
		&corev1.ServiceAccount{
			ObjectMeta:       metav1.ObjectMeta{Namespace: "apps", Name: "default"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "account"}},
		},
	)
	pod := PodOf("apps", &corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{
		{Name: "missing"}, {Name: "broken"}, {Name: "opaque"}, {Name: "json"}, {Name: "legacy"},
	}})
	kc := Keychain(t.Context(), kube, pod)
	for _, tc := range []struct {
		image, wantUser string
	}{
		{image: "registry.example/app:v1", wantUser: "from-json"},
		{image: "library/busybox", wantUser: "hub"},
		{image: "registry-1.docker.io/library/busybox", wantUser: "hub"},
		{image: "other.example/app", wantUser: "from-account"},
		{image: "nobody.example/app", wantUser: ""},
	} {
		ref, err := name.ParseReference(tc.image)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(ref.Context())
		if err != nil {
			t.Fatalf("%s: %v", tc.image, err)
		}
		if tc.wantUser == "" {
			if a != authn.Anonymous {
				t.Errorf("%s: got %v, want anonymous access", tc.image, a)
			}
			continue
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != tc.wantUser {
			t.Errorf("%s: user %q, want %q", tc.image, cfg.Username, tc.wantUser)
		}
	}
}

// TestKeychainWithoutServiceAccount still tries the pod's own secrets.
func TestKeychainWithoutServiceAccount(t *testing.T) {
	kube := fake.NewClientset(secret("json", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
		`{"auths":{"registry.example":{"username":"u","password":"p"}}}`))
	kc := Keychain(t.Context(), kube, Pod{Namespace: "apps", ServiceAccountName: "gone",
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "json"}}})
	ref, _ := name.ParseReference("registry.example/app")
	a, err := kc.Resolve(ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := a.Authorization(); err != nil || cfg.Username != "u" {
		t.Errorf("got %+v, %v; want user u", cfg, err)
	}
}
