package fake

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"flywheel.dev/pkg/reconciler/route/gatewayapi"
)

func init() {
	injection.Fake.RegisterClient(func(ctx context.Context, _ *rest.Config) context.Context {
		ctx, _ = With(ctx)
		return ctx
	})
	injection.Fake.RegisterClientFetcher(func(ctx context.Context) any { return Get(ctx) })
	injection.Fake.RegisterInformerFactory(func(ctx context.Context) context.Context {
		return context.WithValue(ctx, gatewayapi.FactoryKey{}, gatewayapi.NewInformerFactory(ctx, Get(ctx)))
	})
	injection.Fake.RegisterInformer(func(ctx context.Context) (context.Context, controller.Informer) {
		return gatewayapi.WithHTTPRouteInformer(ctx, gatewayapi.GetInformerFactory(ctx))
	})
}

// With returns ctx carrying a fake clientset seeded with objects, which
// gatewayapi.GetClient also returns.
func With(ctx context.Context, objects ...runtime.Object) (context.Context, *fake.Clientset) {
	cs := fake.NewSimpleClientset(objects...)
	return context.WithValue(ctx, gatewayapi.ClientKey{}, cs), cs
}

// Get returns the fake clientset of ctx.
func Get(ctx context.Context) *fake.Clientset {
	cs, ok := ctx.Value(gatewayapi.ClientKey{}).(*fake.Clientset)
	if !ok {
		logging.FromContext(ctx).Panic("No fake Gateway API clientset in the context")
	}
	return cs
}
