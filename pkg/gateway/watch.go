package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/gateway/status"
)

const controllerName = status.ControllerName

// serviceIndex indexes EndpointSlices by namespace/service, from their
// kubernetes.io/service-name label.
const serviceIndex = "service"

// Retries of a failed status write back off from the first to the last.
const (
	firstRetry = 500 * time.Millisecond
	lastRetry  = 30 * time.Second
)

// caches are the informers' listers.
type caches struct {
	classes    gatewaylisters.GatewayClassLister
	gateways   gatewaylisters.GatewayLister
	routes     gatewaylisters.HTTPRouteLister
	services   corelisters.ServiceLister
	namespaces corelisters.NamespaceLister
	slices     cache.Indexer
	endpoints  *routing.EndpointPool
}

// watch keeps the tables and status current until ctx is done. Every
// change of a watched object marks the state dirty; one loop rebuilds
// every table from the caches, so that changes arriving together make one
// rebuild and builds never race.
func (g *Gateway) watch(ctx context.Context) error {
	gwf := externalversions.NewSharedInformerFactory(g.gateways, g.cfg.ResyncPeriod)
	kf := informers.NewSharedInformerFactory(g.kube, g.cfg.ResyncPeriod)
	classes := gwf.Gateway().V1().GatewayClasses()
	gateways := gwf.Gateway().V1().Gateways()
	routes := gwf.Gateway().V1().HTTPRoutes()
	services := kf.Core().V1().Services()
	namespaces := kf.Core().V1().Namespaces()
	slices := kf.Discovery().V1().EndpointSlices()
	if err := slices.Informer().AddIndexers(cache.Indexers{serviceIndex: sliceService}); err != nil {
		return err
	}

	dirty := make(chan struct{}, 1)
	markDirty := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { markDirty() },
		UpdateFunc: func(any, any) { markDirty() },
		DeleteFunc: func(any) { markDirty() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		classes.Informer(), gateways.Informer(), routes.Informer(),
		services.Informer(), namespaces.Informer(), slices.Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	c := &caches{
		classes: classes.Lister(), gateways: gateways.Lister(), routes: routes.Lister(),
		services: services.Lister(), namespaces: namespaces.Lister(), slices: slices.Informer().GetIndexer(),
		endpoints: routing.NewEndpointPool(),
	}

	gwf.Start(ctx.Done())
	kf.Start(ctx.Done())
	defer gwf.Shutdown()
	defer kf.Shutdown()
	for typ, ok := range gwf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return cacheError(ctx, typ.String())
		}
	}
	for typ, ok := range kf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return cacheError(ctx, typ.String())
		}
	}
	g.log.Info("caches synced")

	retry := time.NewTimer(0)
	<-retry.C
	backoff := firstRetry
	markDirty()
	for {
		select {
		case <-ctx.Done():
			retry.Stop()
			return nil
		case <-dirty:
		case <-retry.C:
		}
		if err := g.sync(ctx, c); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			g.log.Warn("writing status failed; retrying", "error", err, "after", backoff.String())
			retry.Reset(backoff)
			backoff = min(2*backoff, lastRetry)
			continue
		}
		backoff = firstRetry
	}
}

func cacheError(ctx context.Context, typ string) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("the cache of %s did not sync", typ)
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + svc}, nil
}

// sync builds the table of every Gateway this process serves, puts them
// in service, and only then writes the status that describes them: the
// Route reconciler reads an HTTPRoute accepted at its generation as
// "served", so that must already be true when it reads it.
func (g *Gateway) sync(ctx context.Context, c *caches) error {
	classList, err := c.classes.List(labels.Everything())
	if err != nil {
		return err
	}
	ours := map[gatewayv1.ObjectName]*gatewayv1.GatewayClass{}
	for _, gc := range classList {
		if gc.Spec.ControllerName == controllerName {
			ours[gatewayv1.ObjectName(gc.Name)] = gc
		}
	}
	routes, err := c.routes.List(labels.Everything())
	if err != nil {
		return err
	}

	results := map[types.NamespacedName]*routing.Result{}
	gateways := map[types.NamespacedName]*gatewayv1.Gateway{}
	for key := range g.servers {
		gw, err := c.gateways.Gateways(key.Namespace).Get(key.Name)
		if err != nil || ours[gw.Spec.GatewayClassName] == nil {
			continue
		}
		gateways[key] = gw
		results[key] = routing.Build(routing.Input{
			Gateway:         gw,
			Routes:          routes,
			NamespaceLabels: c.namespaceLabels,
			Service:         c.service,
			EndpointSlices:  c.endpointSlices,
			Endpoints:       c.endpoints,
		})
	}
	for key, s := range g.servers {
		var t *routing.Table
		if res := results[key]; res != nil {
			t = res.Table
		}
		s.table.Store(t)
	}
	c.endpoints.Prune()
	g.health.MarkLoaded()

	// The tables above are serving: status may now say so.
	now := metav1.Now()
	var errs []error
	for _, gc := range ours {
		errs = append(errs, g.writeClassStatus(ctx, gc, status.GatewayClass(gc, now)))
	}
	for key, gw := range gateways {
		addrs := []netip.AddrPort{g.servers[key].address}
		errs = append(errs, g.writeGatewayStatus(ctx, gw, status.Gateway(gw, results[key], addrs, now)))
	}
	for _, hr := range routes {
		errs = append(errs, g.writeRouteStatus(ctx, hr, results, now))
	}
	return errors.Join(errs...)
}

func (c *caches) namespaceLabels(name string) (labels.Set, bool) {
	ns, err := c.namespaces.Get(name)
	if err != nil {
		return nil, false
	}
	return ns.Labels, true
}

func (c *caches) service(namespace, name string) (*corev1.Service, bool) {
	svc, err := c.services.Services(namespace).Get(name)
	return svc, err == nil
}

func (c *caches) endpointSlices(namespace, service string) []*discoveryv1.EndpointSlice {
	objs, err := c.slices.ByIndex(serviceIndex, namespace+"/"+service)
	if err != nil {
		return nil
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}

func (g *Gateway) writeClassStatus(ctx context.Context, gc *gatewayv1.GatewayClass, want gatewayv1.GatewayClassStatus) error {
	if equality.Semantic.DeepEqual(gc.Status, want) {
		return nil
	}
	gc = gc.DeepCopy()
	gc.Status = want
	if _, err := g.gateways.GatewayV1().GatewayClasses().UpdateStatus(ctx, gc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of GatewayClass %s: %w", gc.Name, err)
	}
	return nil
}

func (g *Gateway) writeGatewayStatus(ctx context.Context, gw *gatewayv1.Gateway, want gatewayv1.GatewayStatus) error {
	if equality.Semantic.DeepEqual(gw.Status, want) {
		return nil
	}
	gw = gw.DeepCopy()
	gw.Status = want
	if _, err := g.gateways.GatewayV1().Gateways(gw.Namespace).UpdateStatus(ctx, gw, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of Gateway %s/%s: %w", gw.Namespace, gw.Name, err)
	}
	return nil
}

// writeRouteStatus writes hr's status.parents entries for the Gateways
// this process serves, leaving every other entry as it is.
func (g *Gateway) writeRouteStatus(ctx context.Context, hr *gatewayv1.HTTPRoute, results map[types.NamespacedName]*routing.Result, now metav1.Time) error {
	key := types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}
	var mine []*routing.RouteResult
	for _, gw := range g.served() {
		if res := results[gw]; res != nil {
			mine = append(mine, res.Routes[key])
		}
	}
	serves := func(ref gatewayv1.ParentReference) bool {
		for gw := range g.servers {
			if routing.RefersTo(hr.Namespace, ref, gw.Namespace, gw.Name) {
				return true
			}
		}
		return false
	}
	want := status.RouteParents(hr.Status.Parents, hr.Namespace, mine, serves, now)
	if equality.Semantic.DeepEqual(hr.Status.Parents, want) {
		return nil
	}
	hr = hr.DeepCopy()
	hr.Status.Parents = want
	if _, err := g.gateways.GatewayV1().HTTPRoutes(hr.Namespace).UpdateStatus(ctx, hr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of HTTPRoute %s/%s: %w", hr.Namespace, hr.Name, err)
	}
	return nil
}
