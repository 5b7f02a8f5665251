//go:build integration

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
)

// TestControlPlane starts a control plane of its own, with the controller
// manager, and checks what later layers rely on: the pinned version, the
// admin kubeconfig, controllers acting under their own ServiceAccounts,
// service-account tokens, and the aggregation layer. Then it checks that
// Stop leaves no process and no directory behind.
func TestControlPlane(t *testing.T) {
	began := time.Now()
	cp := controlplanetest.StartForTest(t, controlplane.Options{ControllerManager: true})
	t.Logf("control plane with controller manager ready in %v", time.Since(began).Round(10*time.Millisecond))

	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(cp.RESTConfig())

	t.Run("version", func(t *testing.T) {
		want := pinnedKubernetesVersion(t)
		v, err := kube.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != want {
			t.Errorf("server gitVersion = %q, want %q (third_party/controlplane/go.mod)", v.GitVersion, want)
		}
	})

	t.Run("kubeconfig", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", cp.KubeconfigPath)
		if err != nil {
			t.Fatalf("loading %s: %v", cp.KubeconfigPath, err)
		}
		review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("who am I, through the kubeconfig: %v", err)
		}
		if diff := cmp.Diff(controlplane.AdminUser, review.Status.UserInfo.Username); diff != "" {
			t.Errorf("user (-want, +got):\n%s", diff)
		}
		if !slices.Contains(review.Status.UserInfo.Groups, "system:masters") {
			t.Errorf("groups %v lack system:masters", review.Status.UserInfo.Groups)
		}
	})

	ns, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "controlplane-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}

	t.Run("configmap round trip", func(t *testing.T) {
		want := map[string]string{"greeting": "hello"}
		if _, err := kube.CoreV1().ConfigMaps(ns.Name).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: want,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := kube.CoreV1().ConfigMaps(ns.Name).Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got.Data); diff != "" {
			t.Errorf("ConfigMap data (-want, +got):\n%s", diff)
		}
	})

	t.Run("controller manager publishes the root CA and default ServiceAccount", func(t *testing.T) {
		ca, err := os.ReadFile(cp.CACertPath)
		if err != nil {
			t.Fatal(err)
		}
		var published *corev1.ConfigMap
		waitUntil(t, 30*time.Second, "ConfigMap kube-root-ca.crt in the new namespace", func(ctx context.Context) (bool, error) {
			published, err = kube.CoreV1().ConfigMaps(ns.Name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err == nil, notFoundIsPending(err)
		})
		if diff := cmp.Diff(string(ca), published.Data["ca.crt"]); diff != "" {
			t.Errorf("published CA (-want, +got):\n%s", diff)
		}
		waitUntil(t, 30*time.Second, "ServiceAccount default in the new namespace", func(ctx context.Context) (bool, error) {
			_, err := kube.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, notFoundIsPending(err)
		})
	})

	// The deployment and replicaset controllers act with their own
	// ServiceAccounts (--use-service-account-credentials), so this also
	// checks that the controller manager's RBAC works.
	t.Run("controller manager turns a Deployment into Pods", func(t *testing.T) {
		labels := map[string]string{"app": "web"}
		d, err := kube.AppsV1().Deployments(ns.Name).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web"}}},
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "two Pods of the Deployment", func(ctx context.Context) (bool, error) {
			pods, err := kube.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			return err == nil && len(pods.Items) == 2, err
		})
		waitUntil(t, 30*time.Second, "the Deployment's status to count its replicas", func(ctx context.Context) (bool, error) {
			got, err := kube.AppsV1().Deployments(ns.Name).Get(ctx, d.Name, metav1.GetOptions{})
			return err == nil && got.Status.Replicas == 2, err
		})
	})

	t.Run("service-account tokens authenticate", func(t *testing.T) {
		tr, err := kube.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.AnonymousClientConfig(cp.RESTConfig())
		cfg.BearerToken = tr.Status.Token
		review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("who am I, with the token: %v", err)
		}
		if want := "system:serviceaccount:" + ns.Name + ":default"; review.Status.UserInfo.Username != want {
			t.Errorf("user = %q, want %q", review.Status.UserInfo.Username, want)
		}
	})

	t.Run("aggregation layer", func(t *testing.T) {
		apiServices := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
		var local *unstructured.Unstructured
		waitUntil(t, 30*time.Second, "APIService v1.apps to be Available", func(ctx context.Context) (bool, error) {
			var err error
			local, err = dynamic.NewForConfigOrDie(cp.RESTConfig()).Resource(apiServices).Get(ctx, "v1.apps", metav1.GetOptions{})
			return err == nil && apiServiceAvailable(local), notFoundIsPending(err)
		})

		// Aggregated API servers (custom.metrics.k8s.io later) learn whom
		// to trust for proxied requests from this ConfigMap.
		auth, err := kube.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		frontProxyCA, err := os.ReadFile(cp.FrontProxyCACertPath)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"requestheader-allowed-names":        `["front-proxy-client"]`,
			"requestheader-username-headers":     `["X-Remote-User"]`,
			"requestheader-group-headers":        `["X-Remote-Group"]`,
			"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
			"requestheader-client-ca-file":       string(frontProxyCA),
		}
		got := map[string]string{}
		for k := range want {
			got[k] = auth.Data[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("extension-apiserver-authentication (-want, +got):\n%s", diff)
		}
	})

	pids, dataDir := cp.PIDs(), cp.DataDir
	if len(pids) != 3 {
		t.Errorf("PIDs() = %v, want etcd, kube-apiserver and kube-controller-manager", pids)
	}
	stopped := time.Now()
	if err := cp.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	t.Logf("stopped in %v", time.Since(stopped).Round(10*time.Millisecond))
	for name, pid := range pids {
		if processRunning(pid) {
			t.Errorf("%s (pid %d) still runs after Stop", name, pid)
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data directory %s after Stop: %v, want it removed", dataDir, err)
	}
}

// waitUntil waits for cond, failing the test with what it waited for.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// notFoundIsPending treats NotFound as "not yet" while polling.
func notFoundIsPending(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// apiServiceAvailable reports whether the API server can serve the
// APIService's group version.
func apiServiceAvailable(apiService *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(apiService.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// processRunning reports whether pid is a live process; a zombie is not.
func processRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(s[i+1:], " Z")
}

// pinnedKubernetesVersion reads the Kubernetes release the binaries are
// built from, so the test follows a version bump.
func pinnedKubernetesVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "third_party", "controlplane", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return fields[1]
		}
	}
	t.Fatal("third_party/controlplane/go.mod requires no k8s.io/kubernetes")
	return ""
}
