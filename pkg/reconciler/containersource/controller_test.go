package containersource

import (
	"testing"

	rtesting "knative.dev/pkg/reconciler/testing"

	// The fake clients and informers NewController takes from the context.
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment/fake"

	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/containersource/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/sinkbinding/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	ctx, _ := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
}
