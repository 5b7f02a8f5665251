package custommetrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/metrics/pkg/apis/custom_metrics/v1beta1"
	"k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/serving"
)

// serve runs the API server for p, with no delegation, on a free
// loopback port until the test ends.
func serve(t *testing.T, p provider.CustomMetricsProvider) (string, *http.Client) {
	t.Helper()
	s, err := NewServer(ServerOptions{Address: "127.0.0.1:0", SkipDelegation: true}, p)
	if err != nil {
		t.Fatalf("NewServer() = %v", err)
	}
	// The certificate is self-signed, made in memory for this server.
	return run(t, s, &tls.Config{InsecureSkipVerify: true})
}

// run runs s until the test ends, waits until it is ready, and returns
// its base URL and a client for it with tlsConfig.
func run(t *testing.T, s *Server, tlsConfig *tls.Config) (string, *http.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})

	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig},
	}
	t.Cleanup(client.CloseIdleConnections)
	base := "https://" + s.Addr().String()

	// Requests wait in the listener's backlog until the server serves;
	// readyz also waits for its post-start hooks.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := get(t, client, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz = %d after 5s", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base, client
}

func get(t *testing.T, client *http.Client, u string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", u, err)
	}
	return resp.StatusCode, body
}

// objectReference is how the API versions name a pod of fixture.
func objectReference(namespace, name string) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: namespace, Name: name, UID: types.UID("uid-" + name)}
}

// v1beta2Value is what the API should say of a pod of fixture.
func v1beta2Value(namespace, name, metric string, window int64, milli int64) v1beta2.MetricValue {
	return v1beta2.MetricValue{
		DescribedObject: objectReference(namespace, name),
		Metric:          v1beta2.MetricIdentifier{Name: metric},
		Timestamp:       metav1.NewTime(t0),
		WindowSeconds:   &window,
		Value:           *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
}

func TestServerHTTP(t *testing.T) {
	base, client := serve(t, fixture(t))
	api := base + "/apis/custom.metrics.k8s.io/"
	hpaSelector := "?labelSelector=" + url.QueryEscape(string(serving.RevisionLabel)+"="+hello.Name)

	t.Run("values", func(t *testing.T) {
		tests := []struct {
			name string
			path string
			want []v1beta2.MetricValue
		}{{
			name: "every pod of the namespace",
			path: "v1beta2/namespaces/demo/pods/*/concurrency",
			want: []v1beta2.MetricValue{
				v1beta2Value("demo", "a", autoscaling.ConcurrencyMetric, 60, 1500),
				v1beta2Value("demo", "b", autoscaling.ConcurrencyMetric, 60, 1500),
			},
		}, {
			name: "the pods of a Revision, as the HPA asks",
			path: "v1beta2/namespaces/demo/pods/*/requests-per-second" + hpaSelector,
			want: []v1beta2.MetricValue{
				v1beta2Value("demo", "a", autoscaling.RequestsPerSecondMetric, 60, 5250),
				v1beta2Value("demo", "b", autoscaling.RequestsPerSecondMetric, 60, 5250),
			},
		}, {
			name: "a Revision's cold starts, as fw service describe asks",
			path: "v1beta2/namespaces/demo/revisions.serving.knative.dev/hello-00001/cold-start-p95",
			want: []v1beta2.MetricValue{{
				DescribedObject: corev1.ObjectReference{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Namespace: "demo", Name: "hello-00001"},
				Metric:          v1beta2.MetricIdentifier{Name: autoscaling.ColdStartP95Metric},
				Timestamp:       metav1.NewTime(t0),
				WindowSeconds:   ptr.To[int64](3600),
				Value:           *resource.NewMilliQuantity(1250, resource.DecimalSI),
			}},
		}, {
			name: "one pod",
			path: "v1beta2/namespaces/demo/pods/b/requests-per-second",
			want: []v1beta2.MetricValue{
				v1beta2Value("demo", "b", autoscaling.RequestsPerSecondMetric, 60, 5250),
			},
		}}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, body := get(t, client, api+tt.path)
				if code != http.StatusOK {
					t.Fatalf("GET %s = %d, want 200: %s", tt.path, code, body)
				}
				var got v1beta2.MetricValueList
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("decoding %s: %v", body, err)
				}
				if got.Kind != "MetricValueList" || got.APIVersion != "custom.metrics.k8s.io/v1beta2" {
					t.Errorf("GET %s: kind %s/%s, want custom.metrics.k8s.io/v1beta2 MetricValueList", tt.path, got.APIVersion, got.Kind)
				}
				if diff := cmp.Diff(tt.want, got.Items, quantityEqual); diff != "" {
					t.Errorf("GET %s items (-want, +got):\n%s", tt.path, diff)
				}
			})
		}
	})

	t.Run("v1beta1", func(t *testing.T) {
		path := "v1beta1/namespaces/demo/pods/*/concurrency" + hpaSelector
		code, body := get(t, client, api+path)
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200: %s", path, code, body)
		}
		var got v1beta1.MetricValueList
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		window := int64(60)
		want := []v1beta1.MetricValue{{
			DescribedObject: objectReference("demo", "a"),
			MetricName:      autoscaling.ConcurrencyMetric,
			Timestamp:       metav1.NewTime(t0),
			WindowSeconds:   &window,
			Value:           *resource.NewMilliQuantity(1500, resource.DecimalSI),
		}, {
			DescribedObject: objectReference("demo", "b"),
			MetricName:      autoscaling.ConcurrencyMetric,
			Timestamp:       metav1.NewTime(t0),
			WindowSeconds:   &window,
			Value:           *resource.NewMilliQuantity(1500, resource.DecimalSI),
		}}
		if diff := cmp.Diff(want, got.Items, quantityEqual); diff != "" {
			t.Errorf("GET %s items (-want, +got):\n%s", path, diff)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{
			"v1beta2/namespaces/demo/pods/*/memory",
			"v1beta2/namespaces/demo/pods/a/memory",
			"v1beta2/namespaces/demo/pods/plain/concurrency",
			"v1beta2/namespaces/demo/pods/q/concurrency",
		} {
			code, body := get(t, client, api+path)
			var status metav1.Status
			if err := json.Unmarshal(body, &status); err != nil {
				t.Errorf("GET %s: decoding %s: %v", path, body, err)
				continue
			}
			if code != http.StatusNotFound || status.Reason != metav1.StatusReasonNotFound {
				t.Errorf("GET %s = %d %s, want 404 NotFound: %s", path, code, status.Reason, body)
			}
		}
	})

	t.Run("discovery", func(t *testing.T) {
		code, body := get(t, client, api+"v1beta2")
		if code != http.StatusOK {
			t.Fatalf("GET v1beta2 = %d, want 200: %s", code, body)
		}
		var got metav1.APIResourceList
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		var names []string
		for _, r := range got.APIResources {
			names = append(names, r.Name)
		}
		want := []string{"pods/" + autoscaling.ConcurrencyMetric, "pods/" + autoscaling.RequestsPerSecondMetric}
		for _, m := range revisionMetrics {
			want = append(want, "revisions.serving.knative.dev/"+m)
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("resources of v1beta2 (-want, +got):\n%s", diff)
		}
	})
}

// hpaUser is the user the fake kube-apiserver knows the HPA's token as.
const hpaUser = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"

// fakeKubeAPIServer answers what a server with delegated authentication
// and authorization asks the kube-apiserver: TokenReviews (token
// "hpa-token" is hpaUser, "stranger-token" is user stranger, any other
// is unknown), SubjectAccessReviews (hpaUser may read
// custom.metrics.k8s.io, no one else anything) and the
// extension-apiserver-authentication ConfigMap (empty: no client CAs).
func fakeKubeAPIServer(t *testing.T) string {
	t.Helper()
	users := map[string]string{"hpa-token": hpaUser, "stranger-token": "stranger"}
	configMap := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "extension-apiserver-authentication", ResourceVersion: "1"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", func(w http.ResponseWriter, r *http.Request) {
		var review authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if name, ok := users[review.Spec.Token]; ok {
			review.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: name}}
		}
		writeJSON(w, &review)
	})
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		var review authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ra := review.Spec.ResourceAttributes
		review.Status.Allowed = review.Spec.User == hpaUser && ra != nil && ra.Group == "custom.metrics.k8s.io"
		writeJSON(w, &review)
	})
	mux.HandleFunc("GET /api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, configMap)
	})
	mux.HandleFunc("GET /api/v1/namespaces/kube-system/configmaps", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			// Nothing changes: hold the watch open until the watcher
			// goes.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		writeJSON(w, &corev1.ConfigMapList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"},
			ListMeta: metav1.ListMeta{ResourceVersion: "1"},
			Items:    []corev1.ConfigMap{*configMap},
		})
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	content := "apiVersion: v1\nkind: Config\n" +
		"clusters:\n- name: fake\n  cluster:\n    server: " + s.URL + "\n" +
		"users:\n- name: fake\n  user: {}\n" +
		"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n" +
		"current-context: fake\n"
	if err := os.WriteFile(kubeconfig, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestServerDelegation(t *testing.T) {
	kubeconfig := fakeKubeAPIServer(t)
	s, err := NewServer(ServerOptions{Address: "127.0.0.1:0", Kubeconfig: kubeconfig}, fixture(t))
	if err != nil {
		t.Fatalf("NewServer() = %v", err)
	}
	base, client := run(t, s, &tls.Config{InsecureSkipVerify: true})
	path := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/demo/pods/a/concurrency"

	tests := []struct {
		name  string
		token string
		want  int
	}{
		{name: "the HPA may read", token: "hpa-token", want: http.StatusOK},
		{name: "another user may not", token: "stranger-token", want: http.StatusForbidden},
		{name: "anonymous may not", want: http.StatusForbidden},
		{name: "an unknown token is refused", token: "bogus", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s as %q = %d, want %d: %s", path, tt.token, resp.StatusCode, tt.want, body)
			}
		})
	}
}

func TestServerCertFiles(t *testing.T) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := NewServer(ServerOptions{Address: "127.0.0.1:0", CertFile: certFile, SkipDelegation: true}, fixture(t)); err == nil {
		t.Error("NewServer() with a certificate and no key succeeded, want an error")
	}

	s, err := NewServer(ServerOptions{Address: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, SkipDelegation: true}, fixture(t))
	if err != nil {
		t.Fatalf("NewServer() = %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("no certificate in the generated PEM")
	}
	// The client trusts only the certificate in the files.
	base, client := run(t, s, &tls.Config{RootCAs: roots})
	path := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/demo/pods/a/concurrency"
	if code, body := get(t, client, base+path); code != http.StatusOK {
		t.Errorf("GET %s = %d, want 200: %s", path, code, body)
	}
}
