package sourcecmd

import (
	"context"
	"fmt"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// get reads the source called name; when there is none, the error says
// where to look.
func get[T Object, L runtime.Object](ctx context.Context, c Client[T, L], k *Kind[T, L], ns, name string) (T, error) {
	obj, err := c.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrs.IsNotFound(err):
		return obj, fmt.Errorf("no %s %s in namespace %s; see %s -n %s", k.Kind, name, ns, k.Command("list"), ns)
	case err != nil:
		return obj, fmt.Errorf("getting %s %s: %w", k.Kind, name, err)
	}
	return obj, nil
}
