// Package registryauth is the keychain a pod's images are pulled with,
// gathered as the kubelet gathers it: the pod's imagePullSecrets, then
// those of its ServiceAccount. The process node pulls with it, and the
// Revision reconciler resolves tags to digests with the same credentials,
// so that an image a Revision's pods may pull also resolves.
package registryauth

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Pod is what of a pod names its pull secrets.
type Pod struct {
	Namespace string
	// ServiceAccountName is the pod's account; empty: "default".
	ServiceAccountName string
	ImagePullSecrets   []corev1.LocalObjectReference
}

// PodOf is the pull-secret part of a pod's spec.
func PodOf(namespace string, spec *corev1.PodSpec) Pod {
	return Pod{Namespace: namespace, ServiceAccountName: spec.ServiceAccountName, ImagePullSecrets: spec.ImagePullSecrets}
}

// Keychain returns the keychain of pod's pull secrets, read through kube
// when a registry asks (ctx bounds those reads). A secret that is missing,
// unreadable or not a docker config is skipped, as the kubelet skips it,
// and the rest are tried; a registry none of them names gets anonymous
// access.
func Keychain(ctx context.Context, kube kubernetes.Interface, pod Pod) authn.Keychain {
	return &podKeychain{ctx: ctx, kube: kube, pod: pod}
}

type podKeychain struct {
	ctx  context.Context
	kube kubernetes.Interface
	pod  Pod
}

// dockerAuth is one registry's entry of a docker config.
type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// Resolve implements authn.Keychain: the first secret with an entry for
// the registry answers.
func (p *podKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, name := range p.secretNames() {
		s, err := p.kube.CoreV1().Secrets(p.pod.Namespace).Get(p.ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if a, ok := secretAuth(s, target.RegistryStr()); ok {
			return authn.FromConfig(authn.AuthConfig{
				Username: a.Username, Password: a.Password, Auth: a.Auth,
				IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// secretNames are the pod's pull secrets, then its ServiceAccount's (none
// when the account cannot be read: the pod's own are still tried).
func (p *podKeychain) secretNames() []string {
	var names []string
	for _, ref := range p.pod.ImagePullSecrets {
		names = append(names, ref.Name)
	}
	sa := p.pod.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	if acct, err := p.kube.CoreV1().ServiceAccounts(p.pod.Namespace).Get(p.ctx, sa, metav1.GetOptions{}); err == nil {
		for _, ref := range acct.ImagePullSecrets {
			names = append(names, ref.Name)
		}
	}
	return names
}

// secretAuth finds registry's entry in a kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg Secret.
func secretAuth(s *corev1.Secret, registry string) (dockerAuth, bool) {
	var auths map[string]dockerAuth
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		if json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg) != nil {
			return dockerAuth{}, false
		}
		auths = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths) != nil {
			return dockerAuth{}, false
		}
	default:
		return dockerAuth{}, false
	}
	for key, a := range auths {
		if registryOfKey(key) == registryOfKey(registry) {
			return a, true
		}
	}
	return dockerAuth{}, false
}

// registryOfKey is the registry a docker config key names: the key
// without a scheme or path ("https://index.docker.io/v1/" is
// index.docker.io), Docker Hub's other names as index.docker.io.
func registryOfKey(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return key
}
