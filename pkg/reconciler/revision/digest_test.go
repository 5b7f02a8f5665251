package revision

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/node/imagetest"
	"flywheel.dev/pkg/registryauth"
)

// registryTest is a real registry protocol server (go-containerregistry's
// in-memory registry, behind what wrap puts before it) on loopback with TLS,
// named registryHost: every connection of transport is dialled to it, so
// that the controller does not take it for the node's loopback registry.
func registryTest(t *testing.T, wrap func(http.Handler) http.Handler) (transport *http.Transport) {
	t.Helper()
	reg := httptest.NewTLSServer(wrap(registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	t.Cleanup(reg.Close)
	transport = reg.Client().Transport.(*http.Transport).Clone()
	addr := reg.Listener.Addr().String()
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	// httptest's certificate names example.com.
	transport.TLSClientConfig.ServerName = "example.com"
	return transport
}

const registryHost = "registry.test"

// pushRandom pushes a random image as ref and returns its digest.
func pushRandom(t *testing.T, ref string, opts ...remote.Option) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.String()
}

// TestRegistryResolver resolves against a registry on loopback that the
// resolver takes for a remote one; a registry named by a loopback address
// is one the controller leaves to the node.
func TestRegistryResolver(t *testing.T) {
	transport := registryTest(t, func(h http.Handler) http.Handler { return h })
	const host = registryHost
	digest := pushRandom(t, host+"/hello:v1", remote.WithTransport(transport))

	cfg := config.DefaultDeployment()
	cfg.DigestResolutionTimeout = 5 * time.Second
	skipping := config.DefaultDeployment()
	skipping.RegistriesSkippingTagResolving = []string{host}
	r := RegistryResolver{Options: []remote.Option{remote.WithTransport(transport)}}

	tests := []struct {
		name    string
		image   string
		cfg     *config.Deployment
		want    string
		wantErr string
	}{
		{name: "a tag resolves to its digest", image: host + "/hello:v1", cfg: cfg, want: host + "/hello@" + digest},
		{name: "a digest is kept", image: host + "/hello@" + digest, cfg: cfg, want: host + "/hello@" + digest},
		{name: "ko:// is left to the node", image: "ko://flywheel.dev/examples/hello", cfg: cfg},
		{name: "a path is left to the node", image: "/usr/local/bin/app", cfg: cfg},
		{name: "a skipped registry is not asked", image: host + "/hello:v1", cfg: skipping},
		{name: "a registry on localhost is left to the node", image: "localhost:5000/hello:v1", cfg: cfg},
		{name: "a registry on a loopback address is left to the node", image: "127.0.0.1:5000/hello:v1", cfg: cfg},
		{name: "an unknown tag names the image", image: host + "/hello:nope", cfg: cfg, wantErr: `resolving image "` + host + `/hello:nope"`},
		{name: "a malformed reference", image: "Not A Reference", cfg: cfg, wantErr: "not a valid reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), tc.image, authn.NewMultiKeychain(), tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Resolve = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestRegistryResolverUsesPullSecrets resolves a private image with the
// credentials the Revision's pods would pull with: its own pull secret,
// or its ServiceAccount's; without one the registry's refusal is named.
func TestRegistryResolverUsesPullSecrets(t *testing.T) {
	transport := registryTest(t, func(h http.Handler) http.Handler { return imagetest.BasicAuth(h, "robot", "s3cret") })
	ref := registryHost + "/private:v1"
	digest := pushRandom(t, ref, remote.WithTransport(transport), remote.WithAuth(&authn.Basic{Username: "robot", Password: "s3cret"}))

	dockerConfig := func(name string) *corev1.Secret {
		cfg := fmt.Sprintf(`{"auths":{%q:{"username":"robot","password":"s3cret"}}}`, registryHost)
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
			Type:       corev1.SecretTypeDockerConfigJson,
			Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)},
		}
	}
	kube := fake.NewClientset(
		dockerConfig("regcred"),
		dockerConfig("robot-cred"),
		&corev1.ServiceAccount{
			ObjectMeta:       metav1.ObjectMeta{Namespace: "apps", Name: "robot"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "robot-cred"}},
		},
	)
	cfg := config.DefaultDeployment()
	cfg.DigestResolutionTimeout = 5 * time.Second
	r := RegistryResolver{Options: []remote.Option{remote.WithTransport(transport)}}
	for _, tc := range []struct {
		name    string
		spec    corev1.PodSpec
		wantErr string
	}{
		{name: "the Revision's pull secret", spec: corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}},
		{name: "its ServiceAccount's pull secret", spec: corev1.PodSpec{ServiceAccountName: "robot"}},
		{name: "none", spec: corev1.PodSpec{}, wantErr: "UNAUTHORIZED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := registryauth.Keychain(t.Context(), kube, registryauth.PodOf("apps", &tc.spec))
			got, err := r.Resolve(t.Context(), ref, auth, cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if want := registryHost + "/private@" + digest; err != nil || got != want {
				t.Errorf("Resolve = %q, %v; want %q", got, err, want)
			}
		})
	}
}
