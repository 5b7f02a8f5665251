package node

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubeletAuth guards the kubelet API as a kubelet run with webhook
// authentication and authorization does (kubeadm's default), so that
// in-cluster clients such as metrics-server reach it with their
// ServiceAccount token:
//
//   - a client certificate signed by the cluster CA (the API server's
//     kubelet client) is trusted as it was before this check existed;
//   - a bearer token is checked with a TokenReview, and the user it names
//     must be allowed, by a SubjectAccessReview, the verb on the node's
//     subresource the path belongs to (nodes/metrics for /metrics,
//     nodes/stats for /stats, nodes/log for /logs, nodes/proxy for the
//     rest), as system:kubelet-api-admin and metrics-server's ClusterRole
//     grant;
//   - anything else is 401.
type kubeletAuth struct {
	kube     kubernetes.Interface
	nodeName string
	log      *slog.Logger
	next     http.Handler
}

func (a *kubeletAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		a.next.ServeHTTP(w, r)
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		http.Error(w, "Unauthorized: present a client certificate of the cluster CA or a bearer token", http.StatusUnauthorized)
		return
	}
	review, err := a.kube.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		a.log.Warn("reviewing a kubelet API client's token", "error", err)
		http.Error(w, "Unauthorized: the token could not be reviewed", http.StatusUnauthorized)
		return
	}
	if !review.Status.Authenticated {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	user := review.Status.User
	verb, subresource := kubeletAttributes(r)
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar, err := a.kube.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Resource: "nodes", Subresource: subresource, Name: a.nodeName,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		a.log.Warn("reviewing a kubelet API client's access", "user", user.Username, "error", err)
		http.Error(w, "Forbidden: the access could not be reviewed", http.StatusForbidden)
		return
	}
	if !sar.Status.Allowed {
		http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", user.Username, verb, subresource), http.StatusForbidden)
		return
	}
	a.next.ServeHTTP(w, r)
}

// kubeletAttributes are the verb and the nodes subresource a kubelet API
// request is authorized as, after the kubelet's own mapping.
func kubeletAttributes(r *http.Request) (verb, subresource string) {
	switch r.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = "get"
	}
	switch p := r.URL.Path; {
	case p == "/stats" || strings.HasPrefix(p, "/stats/"):
		subresource = "stats"
	case p == "/metrics" || strings.HasPrefix(p, "/metrics/"):
		subresource = "metrics"
	case p == "/logs" || strings.HasPrefix(p, "/logs/"):
		subresource = "log"
	default:
		subresource = "proxy"
	}
	return verb, subresource
}
