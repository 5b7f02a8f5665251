package apiserversource

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakekube "k8s.io/client-go/kubernetes/fake"
	clientgotesting "k8s.io/client-go/testing"
)

func TestSubjectAccessReviewerAsksAsTheServiceAccount(t *testing.T) {
	kube := fakekube.NewClientset()
	var asked []authorizationv1.SubjectAccessReviewSpec
	kube.PrependReactor("create", "subjectaccessreviews", func(action clientgotesting.Action) (bool, runtime.Object, error) {
		review := action.(clientgotesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		asked = append(asked, review.Spec)
		// The authorizer of this test lets the account list, nothing else.
		review.Status.Allowed = review.Spec.ResourceAttributes.Verb == "list"
		return true, review, nil
	})
	reviewer := SubjectAccessReviewer{Reviews: kube.AuthorizationV1().SubjectAccessReviews()}
	account := types.NamespacedName{Namespace: "shop", Name: "watcher"}
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}

	// In order: the review checked below is the last one, watch's.
	for _, c := range []struct {
		verb string
		want bool
	}{{"list", true}, {"watch", false}} {
		got, err := reviewer.Allowed(context.Background(), account, Access{Verb: c.verb, Resource: deployments, Namespace: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Allowed(%s) = %v, want %v", c.verb, got, c.want)
		}
	}
	want := authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:shop:watcher",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: "web", Verb: "watch", Group: "apps", Resource: "deployments",
		},
	}
	if diff := cmp.Diff(want, asked[len(asked)-1]); diff != "" {
		t.Errorf("review (-want, +got):\n%s", diff)
	}
}

func TestDescribeMissingManyNamespaces(t *testing.T) {
	configMaps := schema.GroupResource{Resource: "configmaps"}
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	var missing []Access
	for _, ns := range []string{"a", "b", "c", "d", "e"} {
		missing = append(missing, refuse(configMaps, ns, "list", "watch")...)
	}
	missing = append(missing, refuse(deployments, "a", "get")...)
	got := describeMissing(types.NamespacedName{Namespace: "shop", Name: "changes"}, types.NamespacedName{Namespace: "shop", Name: "watcher"}, missing)

	for _, want := range []string{
		`ServiceAccount "watcher" in namespace "shop" may not list, watch configmaps in namespace a; nor list, watch configmaps in namespace b;`,
		"nor get deployments.apps in namespace a,",
		// Both resources of namespace a in its one Role.
		"kubectl create role changes-apiserversource --namespace=a --verb=get,list,watch --resource=configmaps,deployments.apps",
		"kubectl create rolebinding changes-apiserversource --namespace=c --role=changes-apiserversource --serviceaccount=shop:watcher",
		"and the same Role and RoleBinding in namespaces d, e.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("describeMissing =\n%s\nwhich does not say\n%s", got, want)
		}
	}
	if strings.Contains(got, "--namespace=d") {
		t.Errorf("describeMissing spells a fix for more than %d namespaces:\n%s", maxNamespacesNamed, got)
	}
}
