package local

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"flywheel.dev/config"
	"flywheel.dev/pkg/node"
)

// Cluster networking in local mode: the real kube-proxy programs the
// host's nftables for ClusterIPs, and CoreDNS answers cluster.local at
// the kube-dns Service, both as pods of config/local's workloads on the
// node, both executables built from their pinned modules by
// hack/build-controlplane.sh and mapped to their manifests' images
// through the node's images ConfigMap.
const (
	// kubeSystem is where config/local installs kube-proxy and CoreDNS.
	kubeSystem = "kube-system"
	// kubeProxyName names kube-proxy's DaemonSet, ConfigMap and container
	// (its executable in the control plane's directory).
	kubeProxyName = "kube-proxy"
	// kubeProxyConfigKey is the key of its KubeProxyConfiguration.
	kubeProxyConfigKey = "config.conf"
	// clusterDNSService is the cluster DNS's Service, at clusterDNSIP.
	clusterDNSService = "kube-dns"
	// clusterDNSIndex is the cluster DNS's place in the service range: the
	// tenth address, as on kubeadm clusters (10.96.0.10).
	clusterDNSIndex = 10
	// kubernetesService is the API server's Service in the default
	// namespace.
	kubernetesService = "kubernetes"
	// kubernetesServicePort is its port, where the node relays to the API
	// server on its address.
	kubernetesServicePort = 443
)

// clusterDNSIP is the cluster DNS's address in the service range.
func clusterDNSIP(serviceCIDR netip.Prefix) netip.Addr {
	ip := serviceCIDR.Masked().Addr()
	for range clusterDNSIndex {
		ip = ip.Next()
	}
	return ip
}

// clusterNetworking is config/local fitted to this cluster: kube-proxy
// knows the pod range and uses nftables where the host has nft (else
// iptables), and the kube-dns Service has the range's DNS address.
func clusterNetworking(podCIDR, serviceCIDR netip.Prefix, nftables bool) ([]*unstructured.Unstructured, error) {
	objs, err := config.Manifests(config.Local)
	if err != nil {
		return nil, err
	}
	var proxyConfig, dnsService bool
	for _, o := range objs {
		switch {
		case o.GetKind() == "ConfigMap" && o.GetNamespace() == kubeSystem && o.GetName() == kubeProxyName:
			if err := fitKubeProxyConfig(o, podCIDR, nftables); err != nil {
				return nil, err
			}
			proxyConfig = true
		case o.GetKind() == "Service" && o.GetNamespace() == kubeSystem && o.GetName() == clusterDNSService:
			if err := unstructured.SetNestedField(o.Object, clusterDNSIP(serviceCIDR).String(), "spec", "clusterIP"); err != nil {
				return nil, err
			}
			dnsService = true
		}
	}
	if !proxyConfig || !dnsService {
		return nil, fmt.Errorf("config/local lacks the ConfigMap %s/%s or the Service %s/%s", kubeSystem, kubeProxyName, kubeSystem, clusterDNSService)
	}
	return objs, nil
}

// fitKubeProxyConfig sets the pod range and the mode in kube-proxy's
// ConfigMap.
func fitKubeProxyConfig(cm *unstructured.Unstructured, podCIDR netip.Prefix, nftables bool) error {
	text, _, _ := unstructured.NestedString(cm.Object, "data", kubeProxyConfigKey)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		return fmt.Errorf("config/local: ConfigMap %s/%s key %s: %w", kubeSystem, kubeProxyName, kubeProxyConfigKey, err)
	}
	if cfg == nil {
		return fmt.Errorf("config/local: ConfigMap %s/%s has no KubeProxyConfiguration at key %s", kubeSystem, kubeProxyName, kubeProxyConfigKey)
	}
	cfg["clusterCIDR"] = podCIDR.String()
	cfg["mode"] = "nftables"
	if !nftables {
		cfg["mode"] = "iptables"
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return unstructured.SetNestedField(cm.Object, string(b), "data", kubeProxyConfigKey)
}

// hostHasNftables says whether kube-proxy can use nftables here: the nft
// command is installed and the kernel answers it.
func hostHasNftables() bool {
	return exec.Command("nft", "list", "tables").Run() == nil
}

// localImageUsers are the users of the upstream images config/local's
// containers stand for, by container name, where they are not ko's
// nonroot, which the node assumes: kube-proxy's runs as root (it
// programs the host's nftables); CoreDNS's runs as nonroot.
var localImageUsers = map[string]string{
	kubeProxyName: "0",
}

// localImages maps the image of every container in objs' workloads to
// the executable of the container's name in binDir, run as the user of
// the image it stands for: config/local's kube-proxy and CoreDNS, which
// hack/build-controlplane.sh builds there.
func localImages(objs []*unstructured.Unstructured, binDir string) (map[string]string, error) {
	images := map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" && o.GetKind() != "DaemonSet" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			m, _ := c.(map[string]any)
			name, _ := m["name"].(string)
			image, _ := m["image"].(string)
			exe := filepath.Join(binDir, name)
			if st, err := os.Stat(exe); err != nil || st.IsDir() {
				rebuild := "hack/build-controlplane.sh"
				if name == jaegerName {
					rebuild = "FLYWHEEL_BUILD_JAEGER=1 " + rebuild
				}
				return nil, fmt.Errorf("%s %s/%s runs %s, but %s is not there: rebuild the control-plane directory with %s", o.GetKind(), o.GetNamespace(), o.GetName(), image, exe, rebuild)
			}
			images[node.ImagesConfigMapKey(image)] = node.ImageMapping(exe, localImageUsers[name])
		}
	}
	return images, nil
}

// mapNodeImages adds images to the node's images ConfigMap, creating it
// when missing.
func mapNodeImages(ctx context.Context, kube kubernetes.Interface, images map[string]string) error {
	ns, name, _ := strings.Cut(node.DefaultImagesConfigMap, "/")
	cms := kube.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: images}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	for k, v := range images {
		cm.Data[k] = v
	}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// pointKubernetesServiceAtNode gives the kubernetes Service an
// endpoint: the node's relay to the API server. The API server itself
// writes none here (its advertise address is loopback), so without this
// kubernetes.default.svc would answer nothing in pods.
func pointKubernetesServiceAtNode(ctx context.Context, kube kubernetes.Interface, nodeIP netip.Addr) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      kubernetesService,
			Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: kubernetesService,
				discoveryv1.LabelManagedBy:   "local.flywheel.dev",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{nodeIP.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](kubernetesServicePort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	_, err := kube.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// CleanUpKubeProxy removes what kube-proxy programmed on the host, with
// kube-proxy's own --cleanup, then checks that nothing of it is left.
// kube-proxy does not clean up when it is stopped (on a real node its
// rules outlive a restart), so local mode does once the node is gone.
func CleanUpKubeProxy(ctx context.Context, bin string) error {
	// --cleanup tries every mode and fails when one is not available here
	// (ipvs), even when it removed everything: what is left decides, and
	// its output says why.
	out, _ := exec.CommandContext(ctx, bin, "--cleanup").CombinedOutput()
	if left := KubeProxyLeftovers(); len(left) > 0 {
		return fmt.Errorf("kube-proxy --cleanup left %s on the host; its output:\n%s", strings.Join(left, ", "), tail(string(out), 20))
	}
	return nil
}

// KubeProxyLeftovers lists what of kube-proxy's is programmed on the
// host: its nftables tables and its iptables chains.
func KubeProxyLeftovers() []string {
	var left []string
	if out, err := exec.Command("nft", "list", "tables").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "table" && f[2] == kubeProxyName {
				left = append(left, "nftables table "+f[1]+" "+f[2])
			}
		}
	}
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(save).Output()
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, ":KUBE-") {
				left = append(left, save+" chain "+strings.Fields(line[1:])[0])
			}
		}
	}
	return left
}
