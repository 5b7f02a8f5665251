package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"flywheel.dev/config"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/manifest"
	"flywheel.dev/pkg/webhook"
)

// SystemNamespace is where config/core installs Flywheel.
const SystemNamespace = "flywheel-system"

// Options say where and how to bring Flywheel up.
type Options struct {
	// ControlPlane configures etcd, kube-apiserver and, on request,
	// kube-controller-manager.
	ControlPlane controlplane.Options
	// WorkDir holds built binaries, kubeconfigs and component logs. When
	// empty, a temporary directory is used and removed by Stop.
	WorkDir string
}

// Flywheel is a real control plane with Flywheel's manifests installed and
// Flywheel's webhook binary running in a network sandbox, admitting
// requests through the API server as it would on a real cluster.
type Flywheel struct {
	ControlPlane *controlplane.ControlPlane
	Kube         kubernetes.Interface

	workDir     string
	tempWorkDir bool
	sandbox     *Sandbox
}

// Up starts the control plane, installs config/core, and runs the
// webhook. On error everything already started is stopped.
func Up(ctx context.Context, opts Options) (*Flywheel, error) {
	c := &Flywheel{workDir: opts.WorkDir}
	if err := c.up(ctx, opts); err != nil {
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
	if c.ControlPlane, err = controlplane.Start(ctx, opts.ControlPlane); err != nil {
		return err
	}
	if c.Kube, err = kubernetes.NewForConfig(c.ControlPlane.RESTConfig()); err != nil {
		return err
	}
	objs, err := config.Manifests(config.Core)
	if err != nil {
		return err
	}
	if err := manifest.Apply(ctx, c.ControlPlane.RESTConfig(), objs, manifest.Options{}); err != nil {
		return fmt.Errorf("installing config/core: %w", err)
	}
	return c.startWebhook(ctx)
}

// Stop ends the webhook, removes its sandbox and stops the control plane.
// It is safe to call more than once.
func (c *Flywheel) Stop() {
	if c.sandbox != nil {
		c.sandbox.Close()
		c.sandbox = nil
	}
	if c.ControlPlane != nil {
		_ = c.ControlPlane.Stop()
	}
	if c.tempWorkDir {
		_ = os.RemoveAll(c.workDir)
	}
}

// WebhookLog returns what the webhook printed, for failure messages.
func (c *Flywheel) WebhookLog() string {
	b, _ := os.ReadFile(filepath.Join(c.workDir, "webhook.log"))
	return string(b)
}

// startWebhook runs cmd/webhook the way its Deployment would: in its own
// network namespace with a pod-like IP that the webhook Service's
// EndpointSlice points at, authenticated as its own ServiceAccount so that
// config/core's RBAC is what is tested.
func (c *Flywheel) startWebhook(ctx context.Context) error {
	bin := filepath.Join(c.workDir, "webhook")
	if err := goBuild(ctx, bin, "./cmd/webhook"); err != nil {
		return err
	}

	var err error
	if c.sandbox, err = NewSandbox(); err != nil {
		return err
	}
	// Inside the sandbox, the API server is at its usual loopback address.
	apiserver, err := url.Parse(c.ControlPlane.APIServerURL)
	if err != nil {
		return err
	}
	const insideAPIServer = "127.0.0.1:6443"
	if err := c.sandbox.ForwardFromInside(insideAPIServer, apiserver.Host); err != nil {
		return err
	}
	kubeconfig, err := c.serviceAccountKubeconfig(ctx, "flywheel-webhook", "https://"+insideAPIServer)
	if err != nil {
		return err
	}
	if err := c.pointServiceAt(ctx, webhook.ServiceName, "https-webhook", webhook.DefaultPort); err != nil {
		return err
	}

	logFile, err := os.Create(filepath.Join(c.workDir, "webhook.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, fmt.Sprintf("--port=%d", webhook.DefaultPort))
	cmd.Env = append(os.Environ(), "SYSTEM_NAMESPACE="+SystemNamespace)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := c.sandbox.Start(cmd); err != nil {
		return fmt.Errorf("starting the webhook: %w", err)
	}
	if err := c.waitWebhookServing(ctx); err != nil {
		return fmt.Errorf("%w\nwebhook log:\n%s", err, tail(c.WebhookLog(), 30))
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

// pointServiceAt writes an EndpointSlice for the Service that holds the
// sandbox's IP, as the EndpointSlice controller would for a ready pod.
func (c *Flywheel) pointServiceAt(ctx context.Context, service, portName string, port int32) error {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      service + "-sandbox",
			Namespace: SystemNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: service,
				discoveryv1.LabelManagedBy:   "flywheel-integration-test",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{c.sandbox.IP.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	_, err := c.Kube.DiscoveryV1().EndpointSlices(SystemNamespace).Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// waitWebhookServing waits until the webhook has filled in both webhook
// configurations and the API server reaches it through them.
func (c *Flywheel) waitWebhookServing(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhook.DefaultingWebhookName, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		v, err := c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhook.ValidationWebhookName, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		if len(m.Webhooks) == 0 || len(m.Webhooks[0].ClientConfig.CABundle) == 0 || len(m.Webhooks[0].Rules) == 0 ||
			len(v.Webhooks) == 0 || len(v.Webhooks[0].ClientConfig.CABundle) == 0 || len(v.Webhooks[0].Rules) == 0 {
			last = errors.New("the webhook has not yet filled in the CA bundle and rules of its configurations")
			return false, nil
		}
		if err := probeWebhook(ctx, c.sandbox.IP, webhook.DefaultPort); err != nil {
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

// probeWebhook checks that the webhook accepts connections at the address
// the API server will use.
func probeWebhook(ctx context.Context, ip net.IP, port int32) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)))
	if err != nil {
		return err
	}
	return conn.Close()
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
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module flywheel.dev\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the flywheel.dev repository")
		}
		dir = parent
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RESTConfig returns an admin client configuration.
func (c *Flywheel) RESTConfig() *rest.Config { return c.ControlPlane.RESTConfig() }
