package params

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
)

// kubeconfig writes a kubeconfig whose context is in namespace and whose
// server is server, into dir.
func kubeconfig(t *testing.T, dir, server, namespace string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config")
	content := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: " + namespace +
		"\nusers:\n- name: u\n  user:\n    token: t\ncurrent-context: c\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isolate makes the test's home and data directory empty temporary
// ones, and unsets KUBECONFIG.
func isolate(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv(KubeconfigEnv, "")
	return home
}

func TestKubeconfigLookup(t *testing.T) {
	home := isolate(t)
	local := kubeconfig(t, filepath.Join(home, ".local", "share", "flywheel", "local"), "https://127.0.0.1:1111", "")
	if err := os.Rename(local, filepath.Join(filepath.Dir(local), LocalKubeconfigName)); err != nil {
		t.Fatal(err)
	}
	local = filepath.Join(filepath.Dir(local), LocalKubeconfigName)

	var p Params
	if diff := cmp.Diff([]string{local}, p.KubeconfigFiles()); diff != "" {
		t.Errorf("with nothing else, the files (-want, +got):\n%s", diff)
	}
	checkServer(t, &p, "https://127.0.0.1:1111")

	homeConfig := kubeconfig(t, filepath.Join(home, ".kube"), "https://127.0.0.1:2222", "")
	if diff := cmp.Diff([]string{homeConfig}, p.KubeconfigFiles()); diff != "" {
		t.Errorf("~/.kube/config comes before fw local's (-want, +got):\n%s", diff)
	}
	checkServer(t, &p, "https://127.0.0.1:2222")

	env := kubeconfig(t, filepath.Join(home, "env"), "https://127.0.0.1:3333", "")
	t.Setenv(KubeconfigEnv, env)
	checkServer(t, &p, "https://127.0.0.1:3333")

	p.Kubeconfig = kubeconfig(t, filepath.Join(home, "flag"), "https://127.0.0.1:4444", "")
	checkServer(t, &p, "https://127.0.0.1:4444")
}

func checkServer(t *testing.T, p *Params, want string) {
	t.Helper()
	cfg, err := p.RESTConfig()
	if err != nil {
		t.Fatalf("RESTConfig: %v", err)
	}
	if cfg.Host != want {
		t.Errorf("server = %s, want %s", cfg.Host, want)
	}
}

func TestNoKubeconfigSaysHowToGetOne(t *testing.T) {
	isolate(t)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod
	var p Params
	_, err := p.RESTConfig()
	if err == nil || !strings.Contains(err.Error(), "--kubeconfig") || !strings.Contains(err.Error(), "fw local up") {
		t.Errorf("RESTConfig = %v, want an error that names --kubeconfig and fw local up", err)
	}
}

func TestAMissingKubeconfigFileIsAnError(t *testing.T) {
	isolate(t)
	p := Params{Kubeconfig: filepath.Join(t.TempDir(), "nope")}
	if _, err := p.RESTConfig(); err == nil {
		t.Error("RESTConfig with --kubeconfig naming no file succeeded")
	}
}

func TestNamespace(t *testing.T) {
	home := isolate(t)
	var p Params
	if ns, err := p.CurrentNamespace(); err != nil || ns != "default" {
		t.Errorf("with no kubeconfig, namespace = %q, %v; want default", ns, err)
	}
	p.Kubeconfig = kubeconfig(t, home, "https://127.0.0.1:1111", "team-a")
	if ns, err := p.CurrentNamespace(); err != nil || ns != "team-a" {
		t.Errorf("namespace = %q, %v; want the context's, team-a", ns, err)
	}
	p.Namespace = "team-b"
	if ns, err := p.CurrentNamespace(); err != nil || ns != "team-b" {
		t.Errorf("namespace = %q, %v; want the flag's, team-b", ns, err)
	}
}

// TestContextClusterAndImpersonationFlags: kn's and kubectl's --context,
// --cluster and --as flags choose another context, cluster and identity
// than the kubeconfig's current ones.
func TestContextClusterAndImpersonationFlags(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "config")
	content := `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: "https://127.0.0.1:1111"}
- name: prod
  cluster: {server: "https://127.0.0.1:2222"}
- name: staging
  cluster: {server: "https://127.0.0.1:3333"}
contexts:
- name: dev
  context: {cluster: dev, user: u, namespace: dev-ns}
- name: prod
  context: {cluster: prod, user: u, namespace: prod-ns}
users:
- name: u
  user: {token: t}
current-context: dev
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) *Params {
		t.Helper()
		p := &Params{}
		fs := pflag.NewFlagSet("fw", pflag.ContinueOnError)
		p.AddClusterFlags(fs)
		if err := fs.Parse(append([]string{"--kubeconfig", path}, args...)); err != nil {
			t.Fatal(err)
		}
		return p
	}

	checkServer(t, parse(), "https://127.0.0.1:1111")
	prod := parse("--context", "prod")
	checkServer(t, prod, "https://127.0.0.1:2222")
	if ns, err := prod.CurrentNamespace(); err != nil || ns != "prod-ns" {
		t.Errorf("--context prod works in namespace %q (%v), want that context's prod-ns", ns, err)
	}
	checkServer(t, parse("--context", "prod", "--cluster", "staging"), "https://127.0.0.1:3333")

	cfg, err := parse("--as", "alice", "--as-group", "devs", "--as-group", "ops", "--as-uid", "42").RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := rest.ImpersonationConfig{UserName: "alice", Groups: []string{"devs", "ops"}, UID: "42"}
	if diff := cmp.Diff(want, cfg.Impersonate, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("impersonation (-want, +got):\n%s", diff)
	}

	if _, err := parse("--context", "nope").RESTConfig(); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("--context nope: %v, want an error naming the context", err)
	}
}
