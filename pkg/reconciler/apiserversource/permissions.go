package apiserversource

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"flywheel.dev/pkg/sources/apiserver"
)

// watchVerbs are what a service account needs on every resource its
// source watches: an informer lists, then watches; get is what Knative
// asks for too, so that the same Role serves a source on either.
var watchVerbs = []string{"get", "list", "watch"}

// Access is one verb on one resource, in one namespace or ("") across the
// cluster.
type Access struct {
	Verb      string
	Resource  schema.GroupResource
	Namespace string
}

// AccessReviewer tells whether a service account may do something, as the
// API server's authorizer decides.
type AccessReviewer interface {
	Allowed(ctx context.Context, account types.NamespacedName, access Access) (bool, error)
}

// SubjectAccessReviewer asks the API server with a SubjectAccessReview.
type SubjectAccessReviewer struct {
	Reviews authorizationv1client.SubjectAccessReviewInterface
}

var _ AccessReviewer = SubjectAccessReviewer{}

// Allowed implements AccessReviewer. The review names the user and groups
// the account's tokens carry, so that a binding to a group
// (system:serviceaccounts:<namespace>, system:authenticated) counts as it
// does for the adapter itself.
func (s SubjectAccessReviewer) Allowed(ctx context.Context, account types.NamespacedName, access Access) (bool, error) {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   serviceaccount.MakeUsername(account.Namespace, account.Name),
		Groups: append(serviceaccount.MakeGroupNames(account.Namespace), user.AllAuthenticated),
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: access.Namespace,
			Verb:      access.Verb,
			Group:     access.Resource.Group,
			Resource:  access.Resource.Resource,
		},
	}}
	got, err := s.Reviews.Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("asking whether ServiceAccount %s may %s %s: %w", account, access.Verb, access.Resource, err)
	}
	return got.Status.Allowed, nil
}

// missingAccess is every access cfg's adapter needs that account lacks:
// get, list and watch on each resource, wherever the adapter watches it.
func missingAccess(ctx context.Context, reviewer AccessReviewer, account types.NamespacedName, cfg apiserver.Config) ([]Access, error) {
	var missing []Access
	for _, res := range cfg.Resources {
		gr := schema.GroupResource{Group: res.Group, Resource: res.Resource}
		for _, ns := range cfg.NamespacesOf(res) {
			for _, verb := range watchVerbs {
				access := Access{Verb: verb, Resource: gr, Namespace: ns}
				allowed, err := reviewer.Allowed(ctx, account, access)
				if err != nil {
					return nil, err
				}
				if !allowed {
					missing = append(missing, access)
				}
			}
		}
	}
	return missing, nil
}

// maxNamespacesNamed bounds how many namespaces a refusal spells a fix
// for; the others it only lists.
const maxNamespacesNamed = 3

// describeMissing says which accesses account lacks (missing, as
// missingAccess orders it) and how to grant them: kubectl commands that
// make a Role and RoleBinding in each namespace, or a ClusterRole and
// ClusterRoleBinding for what is watched across the cluster. source names
// the Roles.
func describeMissing(source, account types.NamespacedName, missing []Access) string {
	// Where each resource lacks which verbs, in the order first seen.
	type lack struct {
		namespace string
		resource  schema.GroupResource
		verbs     []string
	}
	var lacks []*lack
	var scopes []string // namespaces with something missing, "" for the cluster
	resourcesIn := map[string][]string{}
	for _, a := range missing {
		i := slices.IndexFunc(lacks, func(l *lack) bool { return l.namespace == a.Namespace && l.resource == a.Resource })
		if i < 0 {
			lacks = append(lacks, &lack{namespace: a.Namespace, resource: a.Resource})
			i = len(lacks) - 1
			if !slices.Contains(scopes, a.Namespace) {
				scopes = append(scopes, a.Namespace)
			}
			resourcesIn[a.Namespace] = append(resourcesIn[a.Namespace], kubectlResource(a.Resource))
		}
		lacks[i].verbs = append(lacks[i].verbs, a.Verb)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "ServiceAccount %q in namespace %q may not ", account.Name, account.Namespace)
	for i, l := range lacks {
		if i > 0 {
			b.WriteString("; nor ")
		}
		fmt.Fprintf(&b, "%s %s %s", strings.Join(l.verbs, ", "), kubectlResource(l.resource), where(l.namespace))
	}
	b.WriteString(", which the adapter needs to watch them. Grant get, list and watch: ")

	subject := account.Namespace + ":" + account.Name
	role := source.Name + "-apiserversource"
	var fixes, unnamed []string
	for _, ns := range scopes {
		verbs := "--verb=" + strings.Join(watchVerbs, ",")
		res := "--resource=" + strings.Join(resourcesIn[ns], ",")
		switch {
		case ns == "":
			clusterRole := source.Namespace + "-" + role
			fixes = append(fixes, fmt.Sprintf("kubectl create clusterrole %s %s %s && kubectl create clusterrolebinding %s --clusterrole=%s --serviceaccount=%s",
				clusterRole, verbs, res, clusterRole, clusterRole, subject))
		case len(fixes) < maxNamespacesNamed:
			fixes = append(fixes, fmt.Sprintf("kubectl create role %s --namespace=%s %s %s && kubectl create rolebinding %s --namespace=%s --role=%s --serviceaccount=%s",
				role, ns, verbs, res, role, ns, role, subject))
		default:
			unnamed = append(unnamed, ns)
		}
	}
	b.WriteString(strings.Join(fixes, "; "))
	if len(unnamed) > 0 {
		fmt.Fprintf(&b, "; and the same Role and RoleBinding in namespaces %s", strings.Join(unnamed, ", "))
	}
	b.WriteString(".")
	return b.String()
}

// kubectlResource writes a resource as kubectl's --resource flag takes
// it: configmaps, deployments.apps.
func kubectlResource(gr schema.GroupResource) string {
	if gr.Group == "" {
		return gr.Resource
	}
	return gr.Resource + "." + gr.Group
}

// where says where an access applies.
func where(namespace string) string {
	if namespace == "" {
		return "across the cluster"
	}
	return "in namespace " + namespace
}
