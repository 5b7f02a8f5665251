package node

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestConfigDefaults(t *testing.T) {
	s, err := Config{RESTConfig: &rest.Config{}, DataDir: "d", ImageCacheDir: "/c"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if s.NodeName != DefaultNodeName || s.podCIDR.String() != DefaultPodCIDR || s.serviceCIDR.String() != "10.96.0.0/16" ||
		s.nodeIP != netip.MustParseAddr("10.244.0.1") || s.KubeletPort != DefaultKubeletPort ||
		s.imagesNamespace != "flywheel-system" || s.imagesConfigName != "node-images" || !strings.HasPrefix(s.DataDir, "/") ||
		s.VolumeSyncPeriod != DefaultVolumeSyncPeriod || s.APIServerAddress.IsValid() {
		t.Errorf("defaults: %+v", s)
	}
}

func TestConfigValidation(t *testing.T) {
	rc := &rest.Config{}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no REST config", Config{}, "RESTConfig"},
		{"IPv6 pods", Config{RESTConfig: rc, DataDir: "d", ImageCacheDir: "c", PodCIDR: "fd00::/64"}, "not IPv4"},
		{"a tiny pod range", Config{RESTConfig: rc, DataDir: "d", ImageCacheDir: "c", PodCIDR: "10.1.0.0/30"}, "too small"},
		{"overlapping ranges", Config{RESTConfig: rc, DataDir: "d", ImageCacheDir: "c", PodCIDR: "10.96.0.0/24"}, "overlaps"},
		{"a ConfigMap without namespace", Config{RESTConfig: rc, DataDir: "d", ImageCacheDir: "c", ImagesConfigMap: "images"}, "namespace/name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("withDefaults() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
