package local

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"flywheel.dev/config"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/node"
)

// TestLocalManifestsHoldTheDefaults holds config/local, as written, to
// the ranges local mode uses by default, so that a reader of the
// manifests sees the addresses pods really get.
func TestLocalManifestsHoldTheDefaults(t *testing.T) {
	objs, err := config.Manifests(config.Local)
	if err != nil {
		t.Fatal(err)
	}
	dns := find(t, objs, "Service", clusterDNSService)
	ip, _, _ := unstructured.NestedString(dns.Object, "spec", "clusterIP")
	if want := clusterDNSIP(netip.MustParsePrefix(controlplane.DefaultServiceClusterIPRange)).String(); ip != want {
		t.Errorf("Service %s has clusterIP %s, want %s (the service range's tenth address)", clusterDNSService, ip, want)
	}
	if got := proxyConfig(t, objs)["clusterCIDR"]; got != node.DefaultPodCIDR {
		t.Errorf("kube-proxy's clusterCIDR is %v, want the node's pod range %s", got, node.DefaultPodCIDR)
	}
}

func TestClusterNetworkingFitsTheCluster(t *testing.T) {
	podCIDR, serviceCIDR := netip.MustParsePrefix("10.250.0.0/16"), netip.MustParsePrefix("10.100.0.0/16")
	for _, tc := range []struct {
		nftables bool
		mode     string
	}{{true, "nftables"}, {false, "iptables"}} {
		objs, err := clusterNetworking(podCIDR, serviceCIDR, tc.nftables)
		if err != nil {
			t.Fatal(err)
		}
		ip, _, _ := unstructured.NestedString(find(t, objs, "Service", clusterDNSService).Object, "spec", "clusterIP")
		if ip != "10.100.0.10" {
			t.Errorf("kube-dns clusterIP = %s, want 10.100.0.10", ip)
		}
		cfg := proxyConfig(t, objs)
		got := map[string]any{"clusterCIDR": cfg["clusterCIDR"], "mode": cfg["mode"]}
		if diff := cmp.Diff(map[string]any{"clusterCIDR": podCIDR.String(), "mode": tc.mode}, got); diff != "" {
			t.Errorf("kube-proxy's configuration with nftables=%t (-want, +got):\n%s", tc.nftables, diff)
		}
		// The rest of the configuration is kept.
		if cfg["healthzBindAddress"] != "127.0.0.1:10256" {
			t.Errorf("kube-proxy's healthzBindAddress = %v, want the manifest's 127.0.0.1:10256", cfg["healthzBindAddress"])
		}
	}
}

func TestLocalImagesMapToTheBuiltExecutables(t *testing.T) {
	objs, err := config.Manifests(config.Local)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := localImages(objs, dir); err == nil || !strings.Contains(err.Error(), "hack/build-controlplane.sh") {
		t.Errorf("with no executables, localImages = %v, want an error that says how to build them", err)
	}
	for _, name := range []string{"kube-proxy", "coredns", "metrics-server", "vpa-recommender"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := localImages(objs, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Each runs as its upstream image's user: kube-proxy as root, the
	// others as nonroot, the node's default.
	want := map[string]string{
		node.ImagesConfigMapKey("registry.k8s.io/kube-proxy:v1.36.3"):                   node.ImageMapping(filepath.Join(dir, "kube-proxy"), "0"),
		node.ImagesConfigMapKey("registry.k8s.io/coredns/coredns:v1.15.0"):              filepath.Join(dir, "coredns"),
		node.ImagesConfigMapKey("registry.k8s.io/metrics-server/metrics-server:v0.8.0"): filepath.Join(dir, "metrics-server"),
		node.ImagesConfigMapKey("registry.k8s.io/autoscaling/vpa-recommender:1.7.0"):    filepath.Join(dir, "vpa-recommender"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images (-want, +got):\n%s", diff)
	}
}

func TestClusterDNSIP(t *testing.T) {
	for cidr, want := range map[string]string{"10.96.0.0/16": "10.96.0.10", "10.96.0.0/12": "10.96.0.10", "192.168.4.0/24": "192.168.4.10"} {
		if got := clusterDNSIP(netip.MustParsePrefix(cidr)).String(); got != want {
			t.Errorf("clusterDNSIP(%s) = %s, want %s", cidr, got, want)
		}
	}
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("config/local has no %s %s", kind, name)
	return nil
}

// proxyConfig is kube-proxy's configuration in objs.
func proxyConfig(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	text, _, _ := unstructured.NestedString(find(t, objs, "ConfigMap", kubeProxyName).Object, "data", kubeProxyConfigKey)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}
