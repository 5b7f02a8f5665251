package gc

import (
	"testing"

	rtesting "knative.dev/pkg/reconciler/testing"

	// The fake clients and informers NewController takes from the context.
	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/revision/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	ctx, _ := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
}
