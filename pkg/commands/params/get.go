package params

import (
	"context"
	"fmt"
	"strings"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Get reads the kind (as users name it, e.g. "Route") called name in
// namespace ns with get, a typed client's Get. When there is none, the
// error says where to look.
func Get[T any](ctx context.Context, get func(context.Context, string, metav1.GetOptions) (T, error), kind, ns, name string) (T, error) {
	obj, err := get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrs.IsNotFound(err):
		return obj, fmt.Errorf("no %s %s in namespace %s; see fw %s list -n %s", kind, name, ns, strings.ToLower(kind), ns)
	case err != nil:
		return obj, fmt.Errorf("getting %s %s: %w", kind, name, err)
	}
	return obj, nil
}
