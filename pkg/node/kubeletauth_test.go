package node

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestKubeletAPIChecksTokensWithTheCluster(t *testing.T) {
	kube := fake.NewClientset()
	var asked []authorizationv1.ResourceAttributes
	kube.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if tr.Spec.Token == "metrics-server-token" {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
				Username: "system:serviceaccount:kube-system:metrics-server", Groups: []string{"system:serviceaccounts"},
			}}
		}
		return true, tr, nil
	})
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		asked = append(asked, *sar.Spec.ResourceAttributes)
		// metrics-server's ClusterRole: nodes/metrics get, nothing more.
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "system:serviceaccount:kube-system:metrics-server" &&
			ra.Resource == "nodes" && ra.Subresource == "metrics" && ra.Verb == "get" && ra.Name == "n1"
		return true, sar, nil
	})
	served := 0
	auth := &kubeletAuth{kube: kube, nodeName: "n1", log: slog.New(slog.DiscardHandler), next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served++
	})}

	for _, tc := range []struct {
		name, method, path, token string
		cert                      bool
		want                      int
	}{
		{name: "metrics with an allowed token", method: "GET", path: "/metrics/resource", token: "metrics-server-token", want: 200},
		{name: "stats with a token allowed only metrics", method: "GET", path: "/stats/summary", token: "metrics-server-token", want: 403},
		{name: "exec with a token allowed only metrics", method: "POST", path: "/exec/ns/pod/c", token: "metrics-server-token", want: 403},
		{name: "an unknown token", method: "GET", path: "/metrics/resource", token: "forged", want: 401},
		{name: "no credentials", method: "GET", path: "/metrics/resource", want: 401},
		{name: "the API server's client certificate", method: "GET", path: "/containerLogs/ns/pod/c", cert: true, want: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.cert {
				r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
			}
			w := httptest.NewRecorder()
			before := served
			auth.ServeHTTP(w, r)
			if w.Code == 0 || (w.Code == 200) != (served > before) {
				t.Fatalf("code %d, served %v", w.Code, served > before)
			}
			if w.Code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, w.Code, w.Body, tc.want)
			}
		})
	}
	want := []authorizationv1.ResourceAttributes{
		{Verb: "get", Resource: "nodes", Subresource: "metrics", Name: "n1"},
		{Verb: "get", Resource: "nodes", Subresource: "stats", Name: "n1"},
		{Verb: "create", Resource: "nodes", Subresource: "proxy", Name: "n1"},
	}
	if len(asked) != len(want) {
		t.Fatalf("access reviews %+v, want %+v", asked, want)
	}
	for i := range want {
		if asked[i] != want[i] {
			t.Errorf("access review %d: %+v, want %+v", i, asked[i], want[i])
		}
	}
}
