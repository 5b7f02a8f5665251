// Package params holds what every `fw` subcommand shares, so that the noun
// packages need not import each other or the root: the kubeconfig and
// namespace flags, the API clients built from them, and the clock.
package params

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	eventingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/eventing/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/offline"
)

// Params are the settings shared by every subcommand.
type Params struct {
	// Kubeconfig is the kubeconfig file to use; empty means the usual
	// lookup (KUBECONFIG, ~/.kube/config, then the one `fw local up`
	// wrote).
	Kubeconfig string

	// Namespace is the namespace to work in; empty means the one of the
	// kubeconfig's current context, else "default".
	Namespace string

	// Context, Cluster, As, AsGroups and AsUID override the kubeconfig's
	// current context, that context's cluster, and whom the requests
	// impersonate, as kubectl's and kn's flags of those names do.
	Context  string
	Cluster  string
	As       string
	AsGroups []string
	AsUID    string

	// Target, when set, is kn's --target: the directory or file that
	// Services are read from and written to instead of a cluster
	// (package offline).
	Target string

	// NewServingClient, when set, replaces the client built from the
	// kubeconfig. Tests set it to a fake clientset's.
	NewServingClient func() (servingv1client.ServingV1Interface, error)

	// NewEventingClient, when set, replaces the eventing.knative.dev/v1
	// client built from the kubeconfig. Tests set it to a fake
	// clientset's.
	NewEventingClient func() (eventingv1client.EventingV1Interface, error)

	// HTTPTransport, when set, carries the HTTP requests fw makes itself
	// rather than through a typed client (fw event send), in place of
	// the network. Requests to the API server still get the kubeconfig's
	// credentials. Tests set it to answer without a cluster.
	HTTPTransport http.RoundTripper

	// Clock tells the age of objects; nil means the real clock. Tests
	// set a fake one so that tables do not depend on when they run.
	Clock clock.PassiveClock
}

// KubeconfigEnv is the environment variable kubectl and every other
// Kubernetes client read a list of kubeconfig files from.
const KubeconfigEnv = clientcmd.RecommendedConfigPathEnvVar

// LocalKubeconfigName is the file, in the data directory of `fw local up`,
// that holds the kubeconfig of the local cluster.
const LocalKubeconfigName = "kubeconfig"

// LocalDataDir is where `fw local up` keeps its logs and kubeconfig when
// not told otherwise: $XDG_DATA_HOME/flywheel/local, else
// ~/.local/share/flywheel/local.
func LocalDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "flywheel", "local")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "flywheel", "local")
}

// AddClusterFlags adds --kubeconfig, -n/--namespace, --context,
// --cluster and the impersonation flags (kubectl's and kn's) to fs.
// Values set on p before stay the defaults.
func (p *Params) AddClusterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.Kubeconfig, "kubeconfig", p.Kubeconfig,
		"kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else the one fw local up wrote)")
	fs.StringVarP(&p.Namespace, "namespace", "n", p.Namespace,
		"namespace to work in (default the namespace of the kubeconfig's context, else default)")
	fs.StringVar(&p.Context, "context", p.Context, "kubeconfig context to use instead of the current one")
	fs.StringVar(&p.Cluster, "cluster", p.Cluster, "kubeconfig cluster to talk to instead of the context's")
	fs.StringVar(&p.As, "as", p.As, "user to impersonate for the requests")
	fs.StringArrayVar(&p.AsGroups, "as-group", p.AsGroups, "group to impersonate for the requests (repeatable)")
	fs.StringVar(&p.AsUID, "as-uid", p.AsUID, "UID to impersonate for the requests")
}

// AddTargetFlag adds kn's --target to fs, for the fw service commands
// that can work on files instead of a cluster.
func (p *Params) AddTargetFlag(fs *pflag.FlagSet) {
	fs.StringVar(&p.Target, "target", p.Target,
		"work on files instead of a cluster: a directory, holding each Service at NAMESPACE/ksvc/NAME.yaml, or one .yaml, .yml or .json file holding one Service; nothing is waited for")
}

// Now returns the time of the clock, the real one unless a test set it.
func (p *Params) Now() time.Time {
	if p.Clock == nil {
		return time.Now()
	}
	return p.Clock.Now()
}

// ServingClient returns a client for the serving.knative.dev/v1 API.
func (p *Params) ServingClient() (servingv1client.ServingV1Interface, error) {
	if p.NewServingClient != nil {
		return p.NewServingClient()
	}
	cfg, err := p.RESTConfig()
	if err != nil {
		return nil, err
	}
	return servingv1client.NewForConfig(cfg)
}

// EventingClient returns a client for the eventing.knative.dev/v1 API.
func (p *Params) EventingClient() (eventingv1client.EventingV1Interface, error) {
	if p.NewEventingClient != nil {
		return p.NewEventingClient()
	}
	cfg, err := p.RESTConfig()
	if err != nil {
		return nil, err
	}
	return eventingv1client.NewForConfig(cfg)
}

// APIServer returns an HTTP client that carries the kubeconfig's
// credentials, and the URL of the API server it talks to: for paths no
// typed client covers, such as a Service's proxy.
func (p *Params) APIServer() (*http.Client, *url.URL, error) {
	cfg, err := p.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	if p.HTTPTransport != nil {
		cfg.Transport = p.HTTPTransport
		// client-go refuses TLS settings next to a transport of one's
		// own; the replacement carries no TLS.
		cfg.TLSClientConfig = rest.TLSClientConfig{}
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	server, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the API server's address from the kubeconfig: %w", err)
	}
	return client, server, nil
}

// HTTPClient returns a client for URLs outside the API server, with no
// credentials.
func (p *Params) HTTPClient() *http.Client {
	if p.HTTPTransport != nil {
		return &http.Client{Transport: p.HTTPTransport}
	}
	return &http.Client{}
}

// RESTConfig returns the connection settings of the kubeconfig's current
// context (or, inside a pod, of the pod's service account).
func (p *Params) RESTConfig() (*rest.Config, error) {
	cfg, err := p.clientConfig().ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, errors.New("no cluster configured: pass --kubeconfig, set " + KubeconfigEnv +
			", or start a local cluster with fw local up")
	}
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	return cfg, nil
}

// CurrentNamespace returns the namespace to work in: --namespace, else the
// kubeconfig context's, else "default".
func (p *Params) CurrentNamespace() (string, error) {
	if p.Namespace != "" {
		return p.Namespace, nil
	}
	ns, _, err := p.clientConfig().Namespace()
	if clientcmd.IsEmptyConfig(err) || ns == "" {
		return "default", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// KubeconfigFiles returns the kubeconfig files that are read, in order of
// precedence: --kubeconfig; else the list in $KUBECONFIG; else
// ~/.kube/config if it exists; else the kubeconfig `fw local up` wrote if
// it exists; else none, and only an in-cluster configuration can work.
func (p *Params) KubeconfigFiles() []string {
	if p.Kubeconfig != "" {
		return []string{p.Kubeconfig}
	}
	if env := os.Getenv(KubeconfigEnv); env != "" {
		return filepath.SplitList(env)
	}
	// Looked up now, not when the process started, so that $HOME decides.
	if home, err := os.UserHomeDir(); err == nil {
		if f := filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName); exists(f) {
			return []string{f}
		}
	}
	if f := filepath.Join(LocalDataDir(), LocalKubeconfigName); exists(f) {
		return []string{f}
	}
	return nil
}

func (p *Params) clientConfig() clientcmd.ClientConfig {
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: p.KubeconfigFiles()}
	if p.Kubeconfig != "" {
		// An explicit file that does not exist is an error, not an empty
		// configuration.
		rules.ExplicitPath = p.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: p.Context}
	overrides.Context.Cluster = p.Cluster
	overrides.AuthInfo.Impersonate = p.As
	overrides.AuthInfo.ImpersonateGroups = p.AsGroups
	overrides.AuthInfo.ImpersonateUID = p.AsUID
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Connect returns the Serving API client and the namespace to work in:
// with --target, one that reads and writes files.
func (p *Params) Connect() (servingv1client.ServingV1Interface, string, error) {
	ns, err := p.CurrentNamespace()
	if err != nil {
		return nil, "", err
	}
	if p.Target != "" {
		return offline.Serving(p.Target), ns, nil
	}
	client, err := p.ServingClient()
	if err != nil {
		return nil, "", err
	}
	return client, ns, nil
}

// ConnectEventing returns the Eventing API client and the namespace to
// work in.
func (p *Params) ConnectEventing() (eventingv1client.EventingV1Interface, string, error) {
	ns, err := p.CurrentNamespace()
	if err != nil {
		return nil, "", err
	}
	client, err := p.EventingClient()
	if err != nil {
		return nil, "", err
	}
	return client, ns, nil
}
