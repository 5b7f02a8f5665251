package apiserversource

import (
	"testing"

	rtesting "knative.dev/pkg/reconciler/testing"

	// The fake clients and informers NewController takes from the context.
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/namespace/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"

	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/apiserversource/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	ctx, _ := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
}

func TestAdapterImage(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := AdapterImage(getenv); got != DefaultAdapterImage {
		t.Errorf("AdapterImage() without %s = %q, want %q", AdapterImageEnv, got, DefaultAdapterImage)
	}
	env[AdapterImageEnv] = "registry.example/flywheel/apiserversource-adapter@sha256:abc"
	if got := AdapterImage(getenv); got != env[AdapterImageEnv] {
		t.Errorf("AdapterImage() = %q, want %q", got, env[AdapterImageEnv])
	}
}
