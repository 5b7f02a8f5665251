package reconciler

import (
	"testing"

	rtesting "knative.dev/pkg/reconciler/testing"

	// The fake clients and informers the controllers take from the context.
	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake"
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/namespace/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/pod/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/core/v1/service/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/discovery/v1/endpointslice/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"

	_ "flywheel.dev/pkg/client/injection/client/fake"
	_ "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler/fake"
	_ "flywheel.dev/pkg/client/injection/informers/eventing/v1/broker/fake"
	_ "flywheel.dev/pkg/client/injection/informers/eventing/v1/trigger/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/revision/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/route/fake"
	_ "flywheel.dev/pkg/client/injection/informers/serving/v1/service/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/apiserversource/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/containersource/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/pingsource/fake"
	_ "flywheel.dev/pkg/client/injection/informers/sources/v1/sinkbinding/fake"
	_ "flywheel.dev/pkg/reconciler/route/gatewayapi/fake"

	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// TestControllers builds every controller the process runs, the way
// sharedmain does, so that a constructor whose informer is not registered
// or whose wiring panics fails here rather than at start-up.
func TestControllers(t *testing.T) {
	ctx, _ := rtesting.SetupFakeContext(t)
	cmw := fwtesting.NewConfigMapWatcher()
	for i, ctor := range Controllers() {
		if c := ctor(ctx, cmw); c == nil {
			t.Errorf("Controllers()[%d] returned nil", i)
		}
	}
}
