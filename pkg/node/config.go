package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/controlplane"
)

const (
	// DefaultNodeName is the Node's name when Config leaves it empty.
	DefaultNodeName = "flywheel-local"
	// DefaultPodCIDR is the pod range when Config leaves it empty: the range
	// kubeadm and flannel use, so addresses look familiar.
	DefaultPodCIDR = "10.244.0.0/16"
	// DefaultClusterDomain is the cluster's DNS domain when Config leaves
	// it empty, as on every kubeadm cluster.
	DefaultClusterDomain = "cluster.local"
	// DefaultKubeletPort is where the node serves the kubelet API (logs)
	// on its InternalIP, the port a kubelet uses.
	DefaultKubeletPort = 10250
	// DefaultImagesConfigMap maps image names to executables.
	DefaultImagesConfigMap = "flywheel-system/node-images"
	// DefaultRestartBackOff is the kubelet's first crash-loop back-off,
	// doubled on each further crash.
	DefaultRestartBackOff = 10 * time.Second
	// DefaultMaxRestartBackOff caps the back-off, as the kubelet does.
	DefaultMaxRestartBackOff = 5 * time.Minute
	// DefaultShutdownGracePeriod caps the grace period each pod gets when
	// the node stops, so that `fw local down` does not wait 30 s per pod.
	DefaultShutdownGracePeriod = 10 * time.Second
	// DefaultLeaseDurationSeconds is the node lease's duration, the
	// kubelet's default; the lease is renewed every quarter of it.
	DefaultLeaseDurationSeconds = 40
	// DefaultMaxPods is the pods capacity, the kubelet's default.
	DefaultMaxPods = 110
	// DefaultVolumeSyncPeriod is how often ConfigMap, Secret, downward API
	// and projected volumes are projected again (and service-account
	// tokens checked for renewal). The kubelet takes about a minute;
	// local mode wants edits to show sooner.
	DefaultVolumeSyncPeriod = 10 * time.Second
)

// Config says how the node registers and runs pods. Only RESTConfig is
// required; every other zero value is a working default.
type Config struct {
	// RESTConfig reaches the API server. The node lists and watches pods,
	// ConfigMaps, Secrets and Services, writes pod status, the Node, its
	// lease and events.
	RESTConfig *rest.Config
	// NodeName is the Node's name; DefaultNodeName when empty.
	NodeName string
	// DataDir holds the node's state (what it allocated, so that Sweep can
	// remove it after a crash) and the pods' logs. It must not be shared
	// by two running nodes. Default: <user cache dir>/flywheel/node/<name>.
	DataDir string
	// PodCIDR is the range pod IPs come from (one /32 per pod); its first
	// address is the node's own, on the host's loopback device.
	// DefaultPodCIDR when empty. Two nodes on one host need disjoint
	// ranges.
	PodCIDR string
	// ServiceCIDR is the cluster's Service range; packets for it get an
	// unreachable route so that none leaves the machine.
	// controlplane.DefaultServiceClusterIPRange when empty.
	ServiceCIDR string
	// ClusterDNS are the cluster DNS servers (a kubelet's --cluster-dns):
	// pods whose dnsPolicy is ClusterFirst get them in resolv.conf, with
	// search domains under ClusterDomain. Empty: every pod gets the
	// host's resolver configuration, as a kubelet without a cluster DNS
	// gives.
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster's DNS domain (a kubelet's
	// --cluster-domain); DefaultClusterDomain when empty.
	ClusterDomain string
	// KubeletPort is the port of the kubelet API on the node's IP;
	// DefaultKubeletPort when zero.
	KubeletPort int
	// ClientCAFile is the CA whose client certificates the kubelet API
	// accepts: the cluster CA, which signs the API server's kubelet client
	// certificate (controlplane.ControlPlane.CACertPath). When empty the
	// kubelet API is not served and logs are only available through
	// Node.Logs.
	ClientCAFile string
	// ModuleRoot is the Go module ko:// images are built in. Default: the
	// first directory above the working directory whose go.mod declares
	// module flywheel.dev.
	ModuleRoot string
	// ImageCacheDir holds executables built from ko:// images, named by
	// their sha256, and under oci/ the layers and unpacked root
	// filesystems of registry images. Default: <user cache
	// dir>/flywheel/images.
	ImageCacheDir string
	// ImageCacheMaxBytes bounds the registry images' cache: past it the
	// least recently used images no container runs are removed.
	// DefaultImageCacheMaxBytes when zero; negative: no bound.
	ImageCacheMaxBytes int64
	// ExecutableCacheMaxBytes bounds the executables built from ko://
	// images (ImageCacheDir's copies by digest and its build outputs):
	// past it the least recently used are removed, none used in the last
	// ten minutes. DefaultExecutableCacheMaxBytes when zero; negative: no
	// bound.
	ExecutableCacheMaxBytes int64
	// ImagesConfigMap ("namespace/name") maps image names to absolute
	// paths of executables; DefaultImagesConfigMap when empty.
	ImagesConfigMap string
	// RestartBackOff is the first crash-loop (and image pull) back-off,
	// doubled on each further failure up to MaxRestartBackOff. Defaults:
	// DefaultRestartBackOff and DefaultMaxRestartBackOff; tests shorten
	// them.
	RestartBackOff    time.Duration
	MaxRestartBackOff time.Duration
	// ShutdownGracePeriod caps each pod's grace period when the node
	// stops; DefaultShutdownGracePeriod when zero.
	ShutdownGracePeriod time.Duration
	// APIServerAddress is the API server as pods reach it: the
	// KUBERNETES_SERVICE_HOST/PORT (and KUBERNETES_PORT_*) every container
	// gets, which in-cluster clients use. Something must listen there, on
	// an address routed to pods: the node's IP (the pod range's first
	// address, on the host's lo) is. Unset: pods get no such variables,
	// unless APIServerTarget is set.
	APIServerAddress netip.AddrPort
	// APIServerTarget is where the API server listens on the host
	// (host:port), typically loopback, which pods cannot reach. When set,
	// the node relays APIServerAddress (default: the node's IP, port 443)
	// to it, as kube-proxy does for the kubernetes Service; the API
	// server's certificate must name that IP.
	APIServerTarget string
	// VolumeSyncPeriod is how often API data volumes are projected again;
	// DefaultVolumeSyncPeriod when zero.
	VolumeSyncPeriod time.Duration
	// LeaseDurationSeconds is the node lease's duration;
	// DefaultLeaseDurationSeconds when zero.
	LeaseDurationSeconds int32
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
	// Clock drives probes, back-off and timestamps; the real clock when
	// nil.
	Clock clock.WithTicker
}

// settings is Config with defaults applied and values parsed.
type settings struct {
	Config
	podCIDR     netip.Prefix
	serviceCIDR netip.Prefix
	// nodeIP is the pod range's first address: the host's address that
	// pods route through and the Node's InternalIP.
	nodeIP           netip.Addr
	imagesNamespace  string
	imagesConfigName string
}

func (c Config) withDefaults() (*settings, error) {
	if c.RESTConfig == nil {
		return nil, errors.New("node: Config.RESTConfig is required")
	}
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	cache, cacheErr := os.UserCacheDir()
	if c.DataDir == "" || c.ImageCacheDir == "" {
		if cacheErr != nil {
			return nil, fmt.Errorf("node: DataDir or ImageCacheDir is empty and there is no user cache directory: %w", cacheErr)
		}
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(cache, "flywheel", "node", c.NodeName)
	}
	if c.ImageCacheDir == "" {
		c.ImageCacheDir = filepath.Join(cache, "flywheel", "images")
	}
	var err error
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return nil, err
	}
	if c.ImageCacheDir, err = filepath.Abs(c.ImageCacheDir); err != nil {
		return nil, err
	}
	if c.PodCIDR == "" {
		c.PodCIDR = DefaultPodCIDR
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = controlplane.DefaultServiceClusterIPRange
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = DefaultKubeletPort
	}
	if c.ImagesConfigMap == "" {
		c.ImagesConfigMap = DefaultImagesConfigMap
	}
	if c.ImageCacheMaxBytes == 0 {
		c.ImageCacheMaxBytes = DefaultImageCacheMaxBytes
	}
	if c.ExecutableCacheMaxBytes == 0 {
		c.ExecutableCacheMaxBytes = DefaultExecutableCacheMaxBytes
	}
	if c.RestartBackOff == 0 {
		c.RestartBackOff = DefaultRestartBackOff
	}
	if c.MaxRestartBackOff == 0 {
		c.MaxRestartBackOff = DefaultMaxRestartBackOff
	}
	if c.MaxRestartBackOff < c.RestartBackOff {
		c.MaxRestartBackOff = c.RestartBackOff
	}
	if c.ShutdownGracePeriod == 0 {
		c.ShutdownGracePeriod = DefaultShutdownGracePeriod
	}
	if c.VolumeSyncPeriod == 0 {
		c.VolumeSyncPeriod = DefaultVolumeSyncPeriod
	}
	if c.LeaseDurationSeconds == 0 {
		c.LeaseDurationSeconds = DefaultLeaseDurationSeconds
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}

	s := &settings{Config: c}
	if s.podCIDR, err = parseIPv4Prefix("PodCIDR", c.PodCIDR); err != nil {
		return nil, err
	}
	if s.podCIDR.Bits() > 28 {
		return nil, fmt.Errorf("node: PodCIDR %s is too small: it needs room for the node's address and pods (at most /28)", c.PodCIDR)
	}
	if s.serviceCIDR, err = parseIPv4Prefix("ServiceCIDR", c.ServiceCIDR); err != nil {
		return nil, err
	}
	if s.podCIDR.Overlaps(s.serviceCIDR) {
		return nil, fmt.Errorf("node: PodCIDR %s overlaps ServiceCIDR %s", s.podCIDR, s.serviceCIDR)
	}
	s.nodeIP = s.podCIDR.Addr().Next()
	if c.APIServerTarget != "" && !c.APIServerAddress.IsValid() {
		s.APIServerAddress = netip.AddrPortFrom(s.nodeIP, 443)
	}
	ns, name, ok := strings.Cut(c.ImagesConfigMap, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("node: ImagesConfigMap %q is not namespace/name", c.ImagesConfigMap)
	}
	s.imagesNamespace, s.imagesConfigName = ns, name
	return s, nil
}

// IPOf returns the node's IP for a pod range (DefaultPodCIDR when empty):
// its first address, which pods route through and the API server's
// certificate must name for pods to reach it there.
func IPOf(podCIDR string) (netip.Addr, error) {
	if podCIDR == "" {
		podCIDR = DefaultPodCIDR
	}
	p, err := parseIPv4Prefix("PodCIDR", podCIDR)
	if err != nil {
		return netip.Addr{}, err
	}
	return p.Addr().Next(), nil
}

// parseIPv4Prefix parses a CIDR; the node's routing is IPv4 only.
func parseIPv4Prefix(field, cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("node: %s: %w", field, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("node: %s %s is not IPv4; the node routes IPv4 only", field, cidr)
	}
	return p.Masked(), nil
}
