package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"flywheel.dev/config"
	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/manifest"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/repo"
	webhooknames "flywheel.dev/pkg/webhook/names"
	gatewayapi "flywheel.dev/third_party/gateway-api"
	vpacrds "flywheel.dev/third_party/vpa-crds"
)

// SystemNamespace is where config/core installs Flywheel.
const SystemNamespace = "flywheel-system"

// Options say where and how to bring Flywheel up.
type Options struct {
	// ControlPlane configures etcd, kube-apiserver and, on request,
	// kube-controller-manager.
	ControlPlane controlplane.Options
	// Controller runs the reconcilers. Tests of the API alone leave it
	// off, so that no reconciler writes the objects they inspect; they
	// can start it later with StartController. With Node it is always on.
	Controller bool
	// WorkDir holds built binaries, kubeconfigs and component logs. When
	// empty, a temporary directory is used and removed by Stop.
	WorkDir string
	// Node runs the process node (pods as processes; needs root), binds
	// every pod to it, and runs Flywheel's components, kube-proxy and
	// CoreDNS as pods from config/core's and config/local's workloads, as
	// on a real cluster, with the built-in external gateway's port on the
	// host at GatewayAddress: the whole request path on one machine,
	// Routes served under LocalDomain, Services and cluster DNS for pods.
	// Without it the webhook and the controller run as processes in
	// sandboxes.
	Node bool
	// GatewayAddress is where the external Gateway listens with Node;
	// default DefaultGatewayAddress. The cluster-local one is reached from
	// pods only, through its Service.
	GatewayAddress string
	// Progress, when not nil, gets a line as each long step begins.
	Progress io.Writer
	// Tracing, with Node, runs Jaeger (config/tracing) as a pod, from the
	// jaeger executable in ControlPlane.BinDir, and points every
	// component's traces at it, all sampled; its UI is at
	// JaegerUIAddress. Without it, a Jaeger an earlier run left in a
	// kept cluster is removed.
	Tracing bool
	// Release, with Node, is installed in place of the Gateway API CRDs,
	// config/core and config/eventing: the objects of a release's
	// flywheel.yaml (pkg/release), whose components the node runs from
	// the images the release names, pulled from their registry, instead
	// of building them from source. What a cluster brings itself
	// (config/local, the VPA's CRDs) is added as without it.
	Release []*unstructured.Unstructured
}

// DefaultGatewayAddress is where local mode serves Routes.
const DefaultGatewayAddress = "127.0.0.1:8080"

// Flywheel is a real control plane with Flywheel's manifests installed and
// Flywheel's webhook admitting requests through the API server as it
// would on a real cluster; on request also the controller, or the process
// node and every component as its pods (Options).
type Flywheel struct {
	ControlPlane *controlplane.ControlPlane
	Kube         kubernetes.Interface

	workDir     string
	tempWorkDir bool
	// GatewayAddr is where the external Gateway listens, with
	// Options.Node.
	GatewayAddr string

	// sandboxes of the components, by name, in start order.
	sandboxes []*Sandbox
	// stopNode ends the node and with it every pod; closers close log
	// files after that.
	stopNode func()
	// kubeProxy is the executable whose --cleanup removes what
	// kube-proxy programmed, once the node is gone; empty without a node.
	kubeProxy string
	closers   []func() error

	// state is what StateFileName records; nil before Up claimed the
	// work directory.
	state *State
}

// Up starts the control plane, installs config/core, and runs the
// webhook. On error everything already started is stopped.
func Up(ctx context.Context, opts Options) (*Flywheel, error) {
	c := &Flywheel{workDir: opts.WorkDir}
	err := c.up(ctx, opts)
	if err == nil {
		err = c.record(func(st *State) { st.Ready = true })
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Flywheel) up(ctx context.Context, opts Options) error {
	var err error
	if c.workDir == "" {
		if c.workDir, err = os.MkdirTemp("", "flywheel-local-"); err != nil {
			return err
		}
		c.tempWorkDir = true
	} else if err := os.MkdirAll(c.workDir, 0o700); err != nil {
		return err
	}
	// Paths in the state must not depend on the working directory of
	// whoever reads it.
	if c.workDir, err = filepath.Abs(c.workDir); err != nil {
		return err
	}
	if err := c.claimWorkDir(); err != nil {
		return err
	}
	var gatewayExternal *net.TCPAddr
	if opts.Node {
		// A taken gateway port fails before anything starts.
		gatewayExternal, err = gatewayHostAddress(cmp.Or(opts.GatewayAddress, DefaultGatewayAddress))
		if err != nil {
			return err
		}
		// Flywheel's components run as pods and reach the API server
		// through the node's relay on its IP; their Deployments need
		// kube-controller-manager.
		nodeIP, err := node.IPOf("")
		if err != nil {
			return err
		}
		opts.ControlPlane.ServingIPs = append(opts.ControlPlane.ServingIPs, nodeIP)
		opts.ControlPlane.ControllerManager = true
	}
	if c.ControlPlane, err = controlplane.Start(ctx, opts.ControlPlane); err != nil {
		return err
	}
	if err := c.recordControlPlane(opts.ControlPlane.DataDir == ""); err != nil {
		return err
	}
	if c.Kube, err = kubernetes.NewForConfig(c.ControlPlane.RESTConfig()); err != nil {
		return err
	}
	// The Gateway API's CRDs first: routes are written as HTTPRoutes,
	// and the controller waits for their informer.
	gateway, err := config.Manifests(gatewayapi.CRDs)
	if err != nil {
		return err
	}
	core, err := config.Manifests(config.Core)
	if err != nil {
		return err
	}
	if opts.Node {
		// Eventing comes with local mode: its NATS, ingress and
		// dispatcher run as pods like the rest.
		eventing, err := config.Manifests(config.Eventing)
		if err != nil {
			return err
		}
		// The VPA's CRDs for config/local's recommender, and for the
		// controller, which writes VPAs for Revisions that ask for
		// right-sizing advice once it sees them.
		vpa, err := config.Manifests(vpacrds.CRDs)
		if err != nil {
			return err
		}
		objs := slices.Concat(gateway, vpa, core, eventing)
		if opts.Release != nil {
			// Copies: bringing up changes some (the gateway's host
			// port, NATS's volume).
			objs = vpa
			for _, o := range opts.Release {
				objs = append(objs, o.DeepCopy())
			}
		}
		var tracing []*unstructured.Unstructured
		if opts.Tracing {
			if tracing, err = tracingObjects(objs); err != nil {
				return err
			}
		}
		if err := c.upAsPods(ctx, objs, tracing, opts.ControlPlane.BinDir, gatewayExternal, opts.Progress); err != nil {
			return err
		}
		if !opts.Tracing {
			return removeTracing(ctx, c.Kube)
		}
		return nil
	}
	// Without a node nothing would run the components' Deployments:
	// this process runs the webhook and the controller itself, in
	// sandboxes. Nothing serves the autoscaler's aggregated API then,
	// and an APIService without a server fails discovery for every
	// client (namespace deletion among them): it is left out too.
	core = slices.DeleteFunc(core, func(o *unstructured.Unstructured) bool {
		return (o.GetKind() == "Deployment" && o.GetNamespace() == SystemNamespace) || o.GetKind() == "APIService"
	})
	if err := manifest.Apply(ctx, c.ControlPlane.RESTConfig(), append(gateway, core...), manifest.Options{}); err != nil {
		return fmt.Errorf("installing the Gateway API CRDs and config/core: %w", err)
	}
	if err := c.startWebhook(ctx); err != nil {
		return err
	}
	if opts.Controller {
		return c.StartController(ctx)
	}
	return nil
}

// useLocalDomain gives Routes hosts under LocalDomain, which resolve to
// the gateway on loopback.
func (c *Flywheel) useLocalDomain(ctx context.Context) error {
	cms := c.Kube.CoreV1().ConfigMaps(SystemNamespace)
	cm, err := cms.Get(ctx, apisconfig.DomainConfigName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Data = map[string]string{LocalDomain: ""}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// Stop ends the components, removes their sandboxes and stops the
// control plane. It is safe to call more than once.
func (c *Flywheel) Stop() {
	if c.stopNode != nil {
		c.stopNode()
		c.stopNode = nil
	}
	if c.kubeProxy != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := CleanUpKubeProxy(ctx, c.kubeProxy); err != nil {
			fmt.Fprintln(os.Stderr, "local:", err)
		}
		cancel()
		c.kubeProxy = ""
	}
	for _, closeLog := range c.closers {
		_ = closeLog()
	}
	c.closers = nil
	for i := len(c.sandboxes) - 1; i >= 0; i-- {
		c.sandboxes[i].Close()
	}
	c.sandboxes = nil
	if c.ControlPlane != nil {
		_ = c.ControlPlane.Stop()
	}
	if c.state != nil {
		// Last: until everything above is gone, Down must find it.
		_ = os.Remove(StatePath(c.workDir))
		c.state = nil
	}
	if c.tempWorkDir {
		_ = os.RemoveAll(c.workDir)
	}
}

// WorkDir is where binaries, kubeconfigs and component logs are kept.
func (c *Flywheel) WorkDir() string { return c.workDir }

// WebhookLog returns what the webhook printed, for failure messages.
func (c *Flywheel) WebhookLog() string { return c.Log("webhook") }

// Log returns what a component (webhook, controller) printed.
func (c *Flywheel) Log(component string) string {
	b, _ := os.ReadFile(filepath.Join(c.workDir, component+".log"))
	return string(b)
}

// startComponent runs a binary of this repository the way its Deployment
// would: in a network namespace of its own with a pod-like IP,
// authenticated as its own ServiceAccount so that config/core's RBAC is
// what is exercised. Inside the sandbox the API server is at its usual
// loopback address.
//
// port is where it serves in the sandbox, zero for nowhere.
func (c *Flywheel) startComponent(ctx context.Context, name, pkg, serviceAccount string, port int32, args ...string) (*Sandbox, error) {
	bin := filepath.Join(c.workDir, name)
	if err := goBuild(ctx, bin, pkg); err != nil {
		return nil, err
	}
	sb, err := newSandbox(func(r SandboxRecord) error {
		return c.record(func(st *State) { st.Sandboxes = append(st.Sandboxes, r) })
	})
	if err != nil {
		return nil, err
	}
	c.sandboxes = append(c.sandboxes, sb)
	apiserver, err := url.Parse(c.ControlPlane.APIServerURL)
	if err != nil {
		return nil, err
	}
	const insideAPIServer = "127.0.0.1:6443"
	if err := sb.ForwardFromInside(insideAPIServer, apiserver.Host); err != nil {
		return nil, err
	}
	kubeconfig, err := c.serviceAccountKubeconfig(ctx, serviceAccount, "https://"+insideAPIServer)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(c.workDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEM_NAMESPACE="+SystemNamespace)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := sb.Start(cmd); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	if err := c.recordProcess(name, cmd.Process.Pid, address(sb.IP.String(), port), logFile.Name()); err != nil {
		return nil, err
	}
	return sb, nil
}

// startWebhook runs cmd/webhook and points the webhook Service's
// EndpointSlice at it.
func (c *Flywheel) startWebhook(ctx context.Context) error {
	sb, err := c.startComponent(ctx, "webhook", "./cmd/webhook", "flywheel-webhook", webhooknames.DefaultPort, fmt.Sprintf("--port=%d", webhooknames.DefaultPort))
	if err != nil {
		return err
	}
	port := discoveryv1.EndpointPort{Name: ptr.To("https-webhook"), Port: ptr.To[int32](webhooknames.DefaultPort), Protocol: ptr.To(corev1.ProtocolTCP)}
	if err := c.pointServiceAt(ctx, webhooknames.ServiceName, sb.IP.String(), port); err != nil {
		return err
	}
	if err := c.waitWebhookServing(ctx); err != nil {
		return fmt.Errorf("%w\nwebhook log:\n%s", err, tail(c.WebhookLog(), 30))
	}
	return nil
}

// StartController runs cmd/controller and waits until its reconcilers
// hold their leases, which is when they act.
func (c *Flywheel) StartController(ctx context.Context) error {
	if _, err := c.startComponent(ctx, "controller", "./cmd/controller", "flywheel-controller", 0); err != nil {
		return err
	}
	if err := c.waitControllerLeading(ctx); err != nil {
		return fmt.Errorf("%w\ncontroller log:\n%s", err, tail(c.Log("controller"), 30))
	}
	return nil
}

// waitControllerLeading waits until a reconciler of the controller holds
// its lease.
func (c *Flywheel) waitControllerLeading(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		leases, err := c.Kube.CoordinationV1().Leases(SystemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		for _, l := range leases.Items {
			if strings.HasPrefix(l.Name, "controller.") && l.Spec.HolderIdentity != nil {
				return true, nil
			}
		}
		last = errors.New("no reconciler of the controller holds a lease yet")
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the controller (last: %w): %w", last, err)
	}
	return nil
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount with a bound token from the TokenRequest API.
func (c *Flywheel) serviceAccountKubeconfig(ctx context.Context, sa, server string) (string, error) {
	tr, err := c.Kube.CoreV1().ServiceAccounts(SystemNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s: %w", sa, err)
	}
	ca, err := os.ReadFile(c.ControlPlane.CACertPath)
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["flywheel"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts[sa] = &clientcmdapi.Context{Cluster: "flywheel", AuthInfo: sa}
	cfg.CurrentContext = sa
	path := filepath.Join(c.workDir, sa+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// pointServiceAt writes an EndpointSlice for the system namespace's
// Service that holds ip, ready, with ports, as the EndpointSlice
// controller would for a ready pod.
func (c *Flywheel) pointServiceAt(ctx context.Context, service, ip string, ports ...discoveryv1.EndpointPort) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      service + "-local",
			Namespace: SystemNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: service,
				discoveryv1.LabelManagedBy:   "local.flywheel.dev",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: ports,
	}
	_, err := c.Kube.DiscoveryV1().EndpointSlices(SystemNamespace).Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// waitWebhookServing waits until the webhook has filled in both webhook
// configurations and the API server reaches it through them.
func (c *Flywheel) waitWebhookServing(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhooknames.DefaultingWebhookName, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		v, err := c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhooknames.ValidationWebhookName, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		if len(m.Webhooks) == 0 || len(m.Webhooks[0].ClientConfig.CABundle) == 0 || len(m.Webhooks[0].Rules) == 0 ||
			len(v.Webhooks) == 0 || len(v.Webhooks[0].ClientConfig.CABundle) == 0 || len(v.Webhooks[0].Rules) == 0 {
			last = errors.New("the webhook has not yet filled in the CA bundle and rules of its configurations")
			return false, nil
		}
		if err := c.probeWebhook(ctx); err != nil {
			last = err
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the webhook (last: %w): %w", last, err)
	}
	return nil
}

// probeWebhook checks that the webhook accepts connections at the
// addresses of its Service's ready endpoints, which the API server uses.
func (c *Flywheel) probeWebhook(ctx context.Context) error {
	list, err := c.Kube.DiscoveryV1().EndpointSlices(SystemNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + webhooknames.ServiceName,
	})
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: time.Second}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || !*e.Conditions.Ready || len(e.Addresses) == 0 {
				continue
			}
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(e.Addresses[0], strconv.Itoa(webhooknames.DefaultPort)))
			if err != nil {
				return err
			}
			return conn.Close()
		}
	}
	return fmt.Errorf("the webhook's Service %s has no ready endpoint yet", webhooknames.ServiceName)
}

// goBuild builds a package of this repository into out.
func goBuild(ctx context.Context, out, pkg string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// RepoRoot finds the root of this repository from the working directory.
func RepoRoot() (string, error) { return repo.Root() }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RESTConfig returns an admin client configuration.
func (c *Flywheel) RESTConfig() *rest.Config { return c.ControlPlane.RESTConfig() }
