package v1

import (
	"context"

	"knative.dev/pkg/apis"
)

// baseline returns the stored object an update replaces, when ctx is an
// update of a T.
func baseline[T any](ctx context.Context) (T, bool) {
	var zero T
	if !apis.IsInUpdate(ctx) {
		return zero, false
	}
	old, ok := apis.GetBaseline(ctx).(T)
	return old, ok
}
