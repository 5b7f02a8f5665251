package gatewayapi

import (
	"context"

	"k8s.io/client-go/rest"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gatewayv1informers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions/apis/v1"
)

func init() {
	injection.Default.RegisterClient(withClientFromConfig)
	injection.Default.RegisterClientFetcher(func(ctx context.Context) any { return GetClient(ctx) })
	injection.Default.RegisterInformerFactory(withInformerFactory)
	injection.Default.RegisterInformer(withHTTPRouteInformer)
}

// The context keys. They are exported so that package fake can store its
// fakes under them and the Get functions serve both.
type (
	// ClientKey holds the clientset.
	ClientKey struct{}
	// FactoryKey holds the shared informer factory.
	FactoryKey struct{}
	// HTTPRouteInformerKey holds the HTTPRoute informer.
	HTTPRouteInformerKey struct{}
)

func withClientFromConfig(ctx context.Context, cfg *rest.Config) context.Context {
	return context.WithValue(ctx, ClientKey{}, versioned.NewForConfigOrDie(cfg))
}

// GetClient returns the Gateway API clientset of ctx.
func GetClient(ctx context.Context) versioned.Interface {
	c, ok := ctx.Value(ClientKey{}).(versioned.Interface)
	if !ok {
		logging.FromContext(ctx).Panic("No Gateway API clientset in the context: it is not the controller's context, or this package was not imported")
	}
	return c
}

func withInformerFactory(ctx context.Context) context.Context {
	return context.WithValue(ctx, FactoryKey{}, NewInformerFactory(ctx, GetClient(ctx)))
}

// NewInformerFactory returns a shared informer factory over c with the
// controller's resync period and, when the context scopes injection to a
// namespace, that namespace. Package fake uses it with a fake clientset.
func NewInformerFactory(ctx context.Context, c versioned.Interface) externalversions.SharedInformerFactory {
	var opts []externalversions.SharedInformerOption
	if injection.HasNamespaceScope(ctx) {
		opts = append(opts, externalversions.WithNamespace(injection.GetNamespaceScope(ctx)))
	}
	return externalversions.NewSharedInformerFactoryWithOptions(c, controller.GetResyncPeriod(ctx), opts...)
}

// GetInformerFactory returns the Gateway API informer factory of ctx.
func GetInformerFactory(ctx context.Context) externalversions.SharedInformerFactory {
	f, ok := ctx.Value(FactoryKey{}).(externalversions.SharedInformerFactory)
	if !ok {
		logging.FromContext(ctx).Panic("No Gateway API informer factory in the context")
	}
	return f
}

func withHTTPRouteInformer(ctx context.Context) (context.Context, controller.Informer) {
	return WithHTTPRouteInformer(ctx, GetInformerFactory(ctx))
}

// WithHTTPRouteInformer stores the HTTPRoute informer of f in ctx and
// returns it for injection to start. Package fake uses it too.
func WithHTTPRouteInformer(ctx context.Context, f externalversions.SharedInformerFactory) (context.Context, controller.Informer) {
	inf := f.Gateway().V1().HTTPRoutes()
	return context.WithValue(ctx, HTTPRouteInformerKey{}, inf), inf.Informer()
}

// GetHTTPRouteInformer returns the HTTPRoute informer of ctx.
func GetHTTPRouteInformer(ctx context.Context) gatewayv1informers.HTTPRouteInformer {
	inf, ok := ctx.Value(HTTPRouteInformerKey{}).(gatewayv1informers.HTTPRouteInformer)
	if !ok {
		logging.FromContext(ctx).Panic("No HTTPRoute informer in the context")
	}
	return inf
}
