package server

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	discoveryv1listers "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// revision is what the activator knows of one Revision: its pods, the
// requests waiting for them, and the load it has sent it.
type revision struct {
	key       types.NamespacedName
	throttler *throttler
	tracker   *stats.Tracker
	// starting probes the pods the slices list as starting.
	starting *startingPods
	// coldStarts are its cold starts not reported yet.
	coldStarts coldStarts

	mu sync.Mutex
	// timeout bounds the wait for a request's response to start,
	// waiting for a pod included: the Revision's timeoutSeconds.
	timeout time.Duration
	// h2c says the pods speak HTTP/2 without TLS.
	h2c bool
	// inPath says the Revision's status puts the activator in its path
	// (its ActivatorInPath condition), for routeIndex.
	inPath bool
}

func (r *revision) settings() (timeout time.Duration, h2c bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timeout, r.h2c
}

// registry keeps a revision for each Revision the informers know, fed by
// their events.
type registry struct {
	clk            clock.PassiveClock
	maxQueue       int
	defaultTimeout time.Duration
	slices         discoveryv1listers.EndpointSliceLister
	// probe asks a starting pod whether it takes requests yet.
	probe func(ctx context.Context, addr string) bool
	log   *slog.Logger

	mu        sync.RWMutex
	revisions map[types.NamespacedName]*revision
}

func newRegistry(clk clock.PassiveClock, maxQueue int, defaultTimeout time.Duration, slices discoveryv1listers.EndpointSliceLister, probe func(ctx context.Context, addr string) bool, log *slog.Logger) *registry {
	return &registry{
		clk:            clk,
		maxQueue:       maxQueue,
		defaultTimeout: defaultTimeout,
		slices:         slices,
		probe:          probe,
		log:            log,
		revisions:      map[types.NamespacedName]*revision{},
	}
}

// get returns the Revision key names, or nil when there is no such
// Revision.
func (g *registry) get(key types.NamespacedName) *revision {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.revisions[key]
}

// inPath says whether Revision key has the activator in its path.
func (g *registry) inPath(key types.NamespacedName) bool {
	r := g.get(key)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inPath
}

// each calls f for every known Revision.
func (g *registry) each(f func(*revision)) {
	g.mu.RLock()
	revs := make([]*revision, 0, len(g.revisions))
	for _, r := range g.revisions {
		revs = append(revs, r)
	}
	g.mu.RUnlock()
	for _, r := range revs {
		f(r)
	}
}

// upsertRevision records a Revision's settings, making its entry when it
// is new.
func (g *registry) upsertRevision(rev *v1.Revision) {
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	limit := 0
	if cc := rev.Spec.ContainerConcurrency; cc != nil {
		limit = int(*cc)
	}
	timeout := g.defaultTimeout
	if ts := rev.Spec.TimeoutSeconds; ts != nil && *ts > 0 {
		timeout = time.Duration(*ts) * time.Second
	}
	h2c := rev.Spec.AppProtocol() == queue.AppProtocolH2C
	inPath := rev.Status.GetCondition(v1.RevisionConditionActivatorInPath).IsTrue()

	g.mu.Lock()
	r, ok := g.revisions[key]
	if !ok {
		// Wall-clock seconds: the reporter sends each one just after it
		// ends (reporter.run).
		r = &revision{key: key, throttler: newThrottler(limit, g.maxQueue), tracker: stats.NewWallClockTracker(g.clk)}
		r.starting = newStartingPods(g.probe, func() { g.syncPods(key) })
		g.revisions[key] = r
	}
	g.mu.Unlock()

	r.mu.Lock()
	r.timeout, r.h2c, r.inPath = timeout, h2c, inPath
	r.mu.Unlock()
	r.throttler.setLimit(limit)
	if !ok {
		// The slices may have come first.
		g.syncPods(key)
	}
}

// deleteRevision forgets a Revision, failing the requests that wait for
// it.
func (g *registry) deleteRevision(key types.NamespacedName) {
	g.mu.Lock()
	r, ok := g.revisions[key]
	delete(g.revisions, key)
	g.mu.Unlock()
	if ok {
		r.starting.close()
		r.throttler.close()
	}
}

// syncPods gives the Revision's throttler the pods that take requests:
// those its private Service's EndpointSlices call ready now, and starting
// ones that answered the activator's probe first.
func (g *registry) syncPods(key types.NamespacedName) {
	r := g.get(key)
	if r == nil {
		return // the Revision's own event syncs it
	}
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: names.PrivateService(key.Name)})
	slices, err := g.slices.EndpointSlices(key.Namespace).List(selector)
	if err != nil {
		g.log.Error("listing EndpointSlices", "revision", key.String(), "error", err)
		return
	}
	ready, starting := endpointAddresses(slices)
	r.throttler.setPods(r.starting.update(ready, starting))
}

// endpointAddresses returns the host:port, at the private Service's
// request port, of every ready endpoint and of every starting one (not
// ready, not terminating), each sorted and without duplicates.
func endpointAddresses(epSlices []*discoveryv1.EndpointSlice) (ready, starting []string) {
	seen := map[string]bool{}
	seenStarting := map[string]bool{}
	for _, s := range epSlices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port, ok := requestPort(s)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			// A terminating pod is draining, whatever else it says; an
			// unset ready condition on a slice the controller wrote
			// cannot happen, but means ready by the API's definition.
			into := seen
			switch {
			case ep.Conditions.Terminating != nil && *ep.Conditions.Terminating:
				continue
			case ep.Conditions.Ready != nil && !*ep.Conditions.Ready:
				into = seenStarting
			}
			for _, a := range ep.Addresses {
				into[net.JoinHostPort(a, strconv.Itoa(int(port)))] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(seenStarting))
}

// requestPort returns the number of the slice port that carries requests
// (the Revision Services' "http" or "http2" port).
func requestPort(s *discoveryv1.EndpointSlice) (int32, bool) {
	for _, p := range s.Ports {
		if p.Name == nil || p.Port == nil {
			continue
		}
		if *p.Name == names.ServicePortNameHTTP || *p.Name == names.ServicePortNameH2C {
			return *p.Port, true
		}
	}
	return 0, false
}

// revisionHandlers feeds the registry from the Revision informer.
func (g *registry) revisionHandlers() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { g.onRevision(obj) },
		UpdateFunc: func(_, obj any) { g.onRevision(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if rev, ok := obj.(*v1.Revision); ok {
				g.deleteRevision(types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name})
			}
		},
	}
}

func (g *registry) onRevision(obj any) {
	if rev, ok := obj.(*v1.Revision); ok {
		g.upsertRevision(rev)
	}
}

// sliceHandlers feeds the registry from the EndpointSlice informer, which
// lists only slices with a Revision label.
func (g *registry) sliceHandlers() cache.ResourceEventHandler {
	on := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return
		}
		rev := s.Labels[serving.RevisionLabel.String()]
		if rev == "" || s.Labels[discoveryv1.LabelServiceName] != names.PrivateService(rev) {
			return // the public Service's slices, which point here
		}
		g.syncPods(types.NamespacedName{Namespace: s.Namespace, Name: rev})
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    on,
		UpdateFunc: func(_, obj any) { on(obj) },
		DeleteFunc: on,
	}
}
