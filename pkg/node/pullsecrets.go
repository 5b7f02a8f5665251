package node

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pullSecrets is the keychain of a pod's image pull secrets, as the
// kubelet gathers them: the pod's imagePullSecrets, then those of its
// ServiceAccount. A secret that is missing or not a docker config is
// skipped, as the kubelet skips it, and the pull goes on with the rest.
type pullSecrets struct {
	ctx  context.Context
	kube kubernetes.Interface
	pod  *corev1.Pod
}

var _ authn.Keychain = (*pullSecrets)(nil)

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
func (p *pullSecrets) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if p.pod == nil || p.kube == nil {
		return authn.Anonymous, nil
	}
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

// secretNames are the pod's pull secrets, then its ServiceAccount's.
func (p *pullSecrets) secretNames() []string {
	var names []string
	for _, ref := range p.pod.Spec.ImagePullSecrets {
		names = append(names, ref.Name)
	}
	sa := p.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	acct, err := p.kube.CoreV1().ServiceAccounts(p.pod.Namespace).Get(p.ctx, sa, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return names
	}
	if err == nil {
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
