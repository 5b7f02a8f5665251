package revision

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"flywheel.dev/pkg/apis/config"
)

// TestRegistryResolver resolves against a real registry protocol server
// (go-containerregistry's in-memory registry) on loopback, named
// registry.test: every connection is dialled to the server, and a
// registry named by a loopback address is one the controller leaves to
// the node.
func TestRegistryResolver(t *testing.T) {
	reg := httptest.NewTLSServer(registry.New())
	defer reg.Close()
	const host = "registry.test"
	transport := reg.Client().Transport.(*http.Transport).Clone()
	addr := reg.Listener.Addr().String()
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	// httptest's certificate names example.com.
	transport.TLSClientConfig.ServerName = "example.com"

	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithTransport(transport)); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

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
		{name: "a tag resolves to its digest", image: host + "/hello:v1", cfg: cfg, want: host + "/hello@" + digest.String()},
		{name: "a digest is kept", image: host + "/hello@" + digest.String(), cfg: cfg, want: host + "/hello@" + digest.String()},
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
			got, err := r.Resolve(context.Background(), tc.image, tc.cfg)
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
