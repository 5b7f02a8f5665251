package apiserversource

import (
	"context"
	"os"

	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	namespaceinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/namespace"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	apiserversourceinformer "flywheel.dev/pkg/client/injection/informers/sources/v1/apiserversource"
	apiserversourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/apiserversource"
)

// AdapterImageEnv names the controller's environment variable that holds
// the image of the adapter (cmd/apiserversource-adapter). In
// config/core/500-controller.yaml it is a ko:// reference, which a
// release build replaces with the published image.
const AdapterImageEnv = "APISERVER_SOURCE_ADAPTER_IMAGE"

// DefaultAdapterImage is the adapter's image when AdapterImageEnv is
// unset: right on a cluster whose nodes build ko:// images, as local
// mode's process node does.
const DefaultAdapterImage = "ko://flywheel.dev/cmd/apiserversource-adapter"

// AdapterImage is the adapter's image as getenv (os.Getenv) gives it.
func AdapterImage(getenv func(string) string) string {
	if image := getenv(AdapterImageEnv); image != "" {
		return image
	}
	return DefaultAdapterImage
}

// NewController returns the controller of ApiServerSources. It reconciles
// a source when it changes, when its adapter's Deployment changes, when
// what its sink refers to changes, and, for the sources with a namespace
// selector, when a namespace comes, goes or changes its labels.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	sourceInformer := apiserversourceinformer.Get(ctx)
	deploymentInformer := deploymentinformer.Get(ctx)
	namespaceInformer := namespaceinformer.Get(ctx)
	kube := kubeclient.Get(ctx)

	r := &Reconciler{
		kube:             kube,
		deploymentLister: deploymentInformer.Lister(),
		namespaceLister:  namespaceInformer.Lister(),
		mapper:           restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery())),
		access:           SubjectAccessReviewer{Reviews: kube.AuthorizationV1().SubjectAccessReviews()},
		adapterImage:     AdapterImage(os.Getenv),
		ceSource:         apiServerURL(ctx),
	}
	impl := apiserversourcereconciler.NewImpl(ctx, r)
	r.uriResolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	watch := func(what string, informer cache.SharedIndexInformer, handler cache.ResourceEventHandler) {
		if _, err := informer.AddEventHandler(handler); err != nil {
			logger.Fatalw("Watching "+what, "error", err)
		}
	}
	watch("ApiServerSources", sourceInformer.Informer(), controller.HandleAll(impl.Enqueue))
	watch("Deployments", deploymentInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&sourcesv1.ApiServerSource{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	})
	watch("Namespaces", namespaceInformer.Informer(), controller.HandleAll(func(any) {
		impl.FilteredGlobalResync(hasNamespaceSelector, sourceInformer.Informer())
	}))
	return impl
}

func hasNamespaceSelector(obj any) bool {
	src, ok := obj.(*sourcesv1.ApiServerSource)
	return ok && src.Spec.NamespaceSelector != nil
}

// apiServerURL is the API server's URL as the controller reaches it: in a
// cluster, https://<the kubernetes Service's IP>:443, which the adapters
// reach it by too. It is the source attribute of every event.
func apiServerURL(ctx context.Context) string {
	if cfg := injection.GetConfig(ctx); cfg != nil {
		return cfg.Host
	}
	return ""
}
