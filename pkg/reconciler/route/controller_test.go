package route

import (
	"testing"

	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/service/fake"
	rtesting "knative.dev/pkg/reconciler/testing"

	// The fake clients and informers NewController takes from the context.
	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/revision/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/route/fake"
	_ "flywheel.dev/pkg/reconciler/route/gatewayapi/fake"

	"flywheel.dev/pkg/reconciler/route/gatewayapi"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestNewController(t *testing.T) {
	ctx, informers := rtesting.SetupFakeContext(t)
	if c := NewController(ctx, fwtesting.NewConfigMapWatcher()); c == nil {
		t.Fatal("NewController() = nil")
	}
	// The HTTPRoute informer is registered with injection, so sharedmain
	// starts it and waits for it with the others.
	want := gatewayapi.GetHTTPRouteInformer(ctx).Informer()
	for _, inf := range informers {
		if inf == want {
			return
		}
	}
	t.Error("the HTTPRoute informer is not among the informers injection starts")
}
