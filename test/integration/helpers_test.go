//go:build integration

package integration

import (
	"context"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// newNamespace creates a namespace for one test and deletes it after.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	ns, err := cluster.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cluster.Kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// template is the smallest valid revision template: one image.
func template(image string) servingv1.RevisionTemplateSpec {
	return servingv1.RevisionTemplateSpec{
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{
			Containers: []corev1.Container{{Image: image}},
		}},
	}
}

func ptrTo[T any](v T) *T { return &v }

func itoa(i int) string { return strconv.Itoa(i) }
