package pingsource

import (
	"testing"

	rtesting "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"

	// The fake clients and informers NewController takes from the context.
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"

	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/pingsource/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	t.Setenv(system.NamespaceEnvKey, systemNamespace)
	ctx, _ := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
}
