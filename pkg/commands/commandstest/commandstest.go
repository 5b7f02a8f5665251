// Package commandstest runs `fw` commands in tests against a fake Serving
// API, with a fixed clock and captured output.
package commandstest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/client/clientset/versioned/fake"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/params"
)

// Now is the time the fake clock of NewParams shows.
var Now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// Namespace is the namespace of the kubeconfig NewParams writes.
const Namespace = "demo"

// NewParams returns parameters whose client is a fake clientset holding
// objs, whose clock stands at Now, and whose kubeconfig (a file in a
// temporary directory) names the namespace Namespace.
func NewParams(t *testing.T, objs ...runtime.Object) (*params.Params, *fake.Clientset) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	return &params.Params{
		Kubeconfig:       WriteKubeconfig(t, Namespace),
		NewServingClient: func() (servingv1client.ServingV1Interface, error) { return client.ServingV1(), nil },
		Clock:            clocktesting.NewFakePassiveClock(Now),
		// A unit test reaches no server: what fw asks the API server or
		// an app by HTTP fails here unless the test answers it.
		HTTPTransport: NoNetwork{},
	}, client
}

// NoNetwork is an http.RoundTripper that fails every request.
type NoNetwork struct{}

// RoundTrip fails, naming the request.
func (NoNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("a unit test has no network (%s %s)", r.Method, r.URL)
}

// WriteKubeconfig writes a kubeconfig whose current context names
// namespace, and returns its path.
func WriteKubeconfig(t *testing.T, namespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	content := `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:6443
users:
- name: test
  user:
    token: test
contexts:
- name: test
  context:
    cluster: test
    user: test
    namespace: ` + namespace + `
current-context: test
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Run executes cmd with args as a user would type them after the
// command's name, and returns what it printed.
func Run(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}
