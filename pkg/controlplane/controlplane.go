package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// The binaries Start runs, as named in Options.BinDir.
const (
	EtcdBinary              = "etcd"
	APIServerBinary         = "kube-apiserver"
	ControllerManagerBinary = "kube-controller-manager"
)

const (
	// DefaultServiceClusterIPRange is the service range when Options leave
	// it empty; it matches kubeadm's default, so manifests and habits from
	// real clusters carry over.
	DefaultServiceClusterIPRange = "10.96.0.0/16"
	// DefaultHPASyncPeriod is how often the controller manager's HPA
	// controller reconciles when Options leave it zero: far shorter than
	// the upstream 15 s, so autoscaling tests see decisions promptly.
	DefaultHPASyncPeriod = time.Second
	// DefaultStartTimeout bounds Start when Options leave it zero. The API
	// server is ready in a few seconds here; the margin is for loaded CI
	// machines.
	DefaultStartTimeout = 60 * time.Second
	// ServiceAccountIssuer is the issuer of service-account tokens and the
	// API server's audience, as on kubeadm clusters.
	ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// portAttempts bounds the retries after a port was taken.
	portAttempts = 3
)

// Options say which binaries to run and how to configure them. The zero
// value of every field but BinDir is a working default.
type Options struct {
	// BinDir holds the etcd, kube-apiserver and kube-controller-manager
	// binaries (hack/build-controlplane.sh prints such a directory).
	BinDir string
	// DataDir holds the PKI, the kubeconfigs, etcd's data and the logs.
	// When empty, Start makes a temporary directory and Stop removes it.
	// Certificates are made anew on every Start.
	DataDir string
	// ControllerManager also starts kube-controller-manager: namespaces
	// get their default ServiceAccount and kube-root-ca.crt, Deployments
	// get ReplicaSets, HPAs act, and garbage collection runs.
	ControllerManager bool
	// ServiceClusterIPRange is the range of Service cluster IPs;
	// DefaultServiceClusterIPRange when empty.
	ServiceClusterIPRange string
	// HPASyncPeriod is the controller manager's
	// --horizontal-pod-autoscaler-sync-period; DefaultHPASyncPeriod when
	// zero.
	HPASyncPeriod time.Duration
	// ServingIPs are more addresses the API server's certificate names:
	// where something relays to it for clients that cannot reach
	// loopback, as the process node does for pods.
	ServingIPs []netip.Addr
	// FeatureGates are passed to kube-apiserver and kube-controller-manager
	// as --feature-gates.
	FeatureGates map[string]bool
	// EtcdArgs, APIServerArgs and ControllerManagerArgs are appended to the
	// flags Start sets; a flag given again there overrides Start's value.
	EtcdArgs              []string
	APIServerArgs         []string
	ControllerManagerArgs []string
	// StartTimeout bounds Start from first process to last readiness;
	// DefaultStartTimeout when zero. Start also stops at ctx's deadline.
	StartTimeout time.Duration
	// Log receives one line per step of Start and Stop; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if o.BinDir == "" {
		return o, errors.New("controlplane: Options.BinDir is empty; it must hold etcd, kube-apiserver and kube-controller-manager")
	}
	bins := []string{EtcdBinary, APIServerBinary}
	if o.ControllerManager {
		bins = append(bins, ControllerManagerBinary)
	}
	for _, b := range bins {
		st, err := os.Stat(filepath.Join(o.BinDir, b))
		if err != nil {
			return o, fmt.Errorf("controlplane: looking for %s in BinDir: %w", b, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return o, fmt.Errorf("controlplane: %s is not an executable file", filepath.Join(o.BinDir, b))
		}
	}
	if o.DataDir != "" {
		// Paths handed out in ControlPlane must not depend on the caller
		// keeping its working directory.
		abs, err := filepath.Abs(o.DataDir)
		if err != nil {
			return o, fmt.Errorf("controlplane: %w", err)
		}
		o.DataDir = abs
	}
	if o.ServiceClusterIPRange == "" {
		o.ServiceClusterIPRange = DefaultServiceClusterIPRange
	}
	if o.HPASyncPeriod == 0 {
		o.HPASyncPeriod = DefaultHPASyncPeriod
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, nil
}

// ControlPlane is a running etcd, kube-apiserver and optionally
// kube-controller-manager. Its fields are set by Start and read-only
// after.
type ControlPlane struct {
	// APIServerURL is the API server's https URL on 127.0.0.1.
	APIServerURL string
	// EtcdURL is etcd's client URL (plain http on 127.0.0.1).
	EtcdURL string
	// ControllerManagerURL is the controller manager's https URL on
	// 127.0.0.1, or empty when it was not started.
	ControllerManagerURL string
	// KubeconfigPath is an admin kubeconfig with the server URL, the CA
	// and the client certificate embedded.
	KubeconfigPath string
	// DataDir is Options.DataDir or the temporary directory used instead.
	DataDir string
	// LogDir holds <process>.log for each process.
	LogDir string
	// ServiceClusterIPRange is the range the API server allocates Service
	// cluster IPs from; its first address belongs to the kubernetes Service.
	ServiceClusterIPRange string

	// CACertPath and CAKeyPath are the cluster CA. Every component trusts
	// it for client certificates and for the API server's serving
	// certificate; callers sign webhook serving certificates with it.
	CACertPath string
	CAKeyPath  string
	// FrontProxyCACertPath and FrontProxyCAKeyPath are the CA that
	// aggregated API servers trust for requests the API server proxies.
	FrontProxyCACertPath string
	FrontProxyCAKeyPath  string
	// FrontProxyClientCertPath and FrontProxyClientKeyPath are the
	// certificate the API server presents to aggregated API servers.
	FrontProxyClientCertPath string
	FrontProxyClientKeyPath  string
	// KubeletClientCertPath and KubeletClientKeyPath are the certificate
	// the API server presents to kubelets (logs, exec, port-forward).
	KubeletClientCertPath string
	KubeletClientKeyPath  string
	// ServiceAccountKeyPath is the RSA private key (PEM) that signs
	// service-account tokens; ServiceAccountPublicKeyPath verifies them.
	ServiceAccountKeyPath       string
	ServiceAccountPublicKeyPath string

	admin       *rest.Config
	tempDataDir bool
	log         io.Writer
	// procs are in start order; Stop ends them in reverse.
	procs []*process

	stopOnce sync.Once
	stopErr  error
}

// Start runs etcd, kube-apiserver and, when opts.ControllerManager is set,
// kube-controller-manager, and returns once each is ready. On error,
// everything it started is stopped again and the error carries the end of
// the log of the process that failed.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, opts)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == portAttempts || ctx.Err() != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "controlplane: a port was taken while starting, retrying with new ports: %v\n", err)
	}
}

func start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	began := time.Now()
	c := &ControlPlane{DataDir: opts.DataDir, ServiceClusterIPRange: opts.ServiceClusterIPRange, log: opts.Log}
	// c, not the result, which is nil on error.
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	serviceIP, err := firstServiceIP(opts.ServiceClusterIPRange)
	if err != nil {
		return nil, err
	}
	if c.DataDir == "" {
		if c.DataDir, err = makeTempDataDir(); err != nil {
			return nil, err
		}
		c.tempDataDir = true
	}
	c.LogDir = filepath.Join(c.DataDir, "logs")
	if err := os.MkdirAll(c.LogDir, 0o700); err != nil {
		return nil, err
	}

	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	etcdClientPort, etcdPeerPort, apiserverPort, cmPort := ports[0], ports[1], ports[2], ports[3]
	c.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort)
	c.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", apiserverPort)

	p, err := writePKI(filepath.Join(c.DataDir, "pki"), serviceIP, opts.ServingIPs, began)
	if err != nil {
		return nil, err
	}
	c.setPaths(p)
	c.admin = restConfig(c.APIServerURL, p.ca.certPEM, p.admin)
	c.KubeconfigPath = filepath.Join(c.DataDir, "admin.kubeconfig")
	if err := writeKubeconfig(c.KubeconfigPath, c.APIServerURL, AdminUser, p.ca.certPEM, p.admin); err != nil {
		return nil, err
	}
	c.logf("certificates and kubeconfig written to %s in %v", c.DataDir, since(began))

	etcd, err := c.run(opts, EtcdBinary, append(etcdArgs(c.DataDir, etcdClientPort, etcdPeerPort), opts.EtcdArgs...))
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, etcd, c.EtcdURL+"/health", nil); err != nil {
		return nil, err
	}
	c.logf("etcd ready at %s after %v", c.EtcdURL, since(began))

	apiserver, err := c.run(opts, APIServerBinary, append(apiserverArgs(p, c.EtcdURL, apiserverPort, opts), opts.APIServerArgs...))
	if err != nil {
		return nil, err
	}
	adminClient, err := rest.HTTPClientFor(c.admin)
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, apiserver, c.APIServerURL+"/readyz", adminClient); err != nil {
		return nil, err
	}
	c.logf("kube-apiserver ready at %s after %v", c.APIServerURL, since(began))

	if !opts.ControllerManager {
		return c, nil
	}
	kubeconfig := filepath.Join(c.DataDir, "controller-manager.kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.APIServerURL, controllerManagerUser, p.ca.certPEM, p.controllerManager); err != nil {
		return nil, err
	}
	c.ControllerManagerURL = fmt.Sprintf("https://127.0.0.1:%d", cmPort)
	cm, err := c.run(opts, ControllerManagerBinary, append(controllerManagerArgs(p, c.DataDir, kubeconfig, cmPort, opts), opts.ControllerManagerArgs...))
	if err != nil {
		return nil, err
	}
	cmClient, err := caClient(p.ca.certPEM)
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, cm, c.ControllerManagerURL+"/healthz", cmClient); err != nil {
		return nil, err
	}
	c.logf("kube-controller-manager ready at %s after %v", c.ControllerManagerURL, since(began))
	return c, nil
}

func (c *ControlPlane) setPaths(p *pki) {
	c.CACertPath, c.CAKeyPath = p.caCert, p.caKey
	c.FrontProxyCACertPath, c.FrontProxyCAKeyPath = p.frontProxyCACert, p.frontProxyCAKey
	c.FrontProxyClientCertPath, c.FrontProxyClientKeyPath = p.frontProxyClientCert, p.frontProxyClientKey
	c.KubeletClientCertPath, c.KubeletClientKeyPath = p.kubeletClientCert, p.kubeletClientKey
	c.ServiceAccountKeyPath, c.ServiceAccountPublicKeyPath = p.serviceAccountKey, p.serviceAccountPub
}

// run starts one binary of opts.BinDir and records it for Stop.
func (c *ControlPlane) run(opts Options, name string, args []string) (*process, error) {
	p, err := startProcess(name, filepath.Join(opts.BinDir, name), args, c.LogDir)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.logf("started %s (pid %d), log %s", name, p.pid(), p.logPath)
	return p, nil
}

// RESTConfig returns an admin client configuration (system:masters), a
// new copy on each call so callers may change it.
func (c *ControlPlane) RESTConfig() *rest.Config {
	return rest.CopyConfig(c.admin)
}

// PIDs returns the process id of each process Start started, by binary
// name. After Stop, none of them runs.
func (c *ControlPlane) PIDs() map[string]int {
	pids := make(map[string]int, len(c.procs))
	for _, p := range c.procs {
		pids[p.name] = p.pid()
	}
	return pids
}

// Stop ends the controller manager, the API server and etcd, in that
// order so that none of them spends its shutdown retrying a dependency
// that is already gone: SIGTERM to each process group, SIGKILL after 10 s.
// It removes DataDir when Start made it. Stop may be called more than once
// and concurrently (t.Cleanup, a deferred recover, a signal handler); every
// call returns after the first has finished, with its result.
func (c *ControlPlane) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *ControlPlane) stop() error {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if p.stop(stopGrace) {
			c.logf("%s (pid %d) ignored SIGTERM for %v and was killed", p.name, p.pid(), stopGrace)
		}
	}
	if c.tempDataDir {
		if err := os.RemoveAll(c.DataDir); err != nil {
			return fmt.Errorf("removing the control plane's data directory: %w", err)
		}
	}
	return nil
}

func (c *ControlPlane) logf(format string, args ...any) {
	if c.log != nil {
		fmt.Fprintf(c.log, "controlplane: "+format+"\n", args...)
	}
}

// firstServiceIP returns the address the kubernetes Service gets: the
// first one after the range's network address.
func firstServiceIP(cidr string) (netip.Addr, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("controlplane: parsing the service cluster IP range: %w", err)
	}
	ip := prefix.Masked().Addr().Next()
	if !prefix.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("controlplane: service cluster IP range %s has no room for the kubernetes Service", cidr)
	}
	return ip, nil
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(10 * time.Millisecond)
}
