package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/apiserver"
)

// Sender sends one event to the source's sink, retrying as it sees fit.
// An error means the event was given up.
type Sender interface {
	Send(ctx context.Context, ev event.Event) error
}

// SinkSender sends through a sources.Sender to one sink, with the
// source's CloudEvents overrides.
type SinkSender struct {
	Sender    *sources.Sender
	Sink      *url.URL
	Overrides *duckv1.CloudEventOverrides
}

// Send implements Sender.
func (s SinkSender) Send(ctx context.Context, ev event.Event) error {
	return s.Sender.Send(ctx, s.Sink, ev, s.Overrides)
}

// Adapter watches what its Config names and sends an event for each
// change.
type Adapter struct {
	cfg    apiserver.Config
	client dynamic.Interface
	sender Sender
	log    *slog.Logger
	events eventMaker
	// started is set, and watches filled (one informer per resource and
	// namespace), by Start.
	started bool
	watches []cache.SharedIndexInformer
}

// New returns an Adapter that watches through client and sends through
// sender. Events get a random UUID as id and clk's time.
func New(cfg apiserver.Config, client dynamic.Interface, sender Sender, clk clock.PassiveClock, log *slog.Logger) *Adapter {
	return &Adapter{
		cfg:    cfg,
		client: client,
		sender: sender,
		log:    log,
		events: eventMaker{source: cfg.CloudEventSource, mode: cfg.Mode, newID: uuid.NewString, now: clk.Now},
	}
}

// Start starts a watch of each resource in each namespace (or one across
// the cluster), which run until ctx ends. Call it once.
//
// Each watch is an informer that lists before it watches. The objects of
// that first list are not sent: an adapter that starts (a new source, a
// changed one, a restarted pod) reports changes from then on, as
// Knative's does, rather than an add for every object that already
// exists. After that, its cache is what a later re-list (when the watch
// falls too far behind the API server) is compared with, so that changes
// made while no watch was open are sent too: an object that appeared as
// an add, one that changed as an update, one that went as a delete of its
// last known state.
func (a *Adapter) Start(ctx context.Context) error {
	for _, res := range a.cfg.Resources {
		for _, ns := range a.cfg.NamespacesOf(res) {
			informer := a.newInformer(res, ns)
			if _, err := informer.AddEventHandler(a.handler(ctx, res)); err != nil {
				return fmt.Errorf("watching %s: %w", describe(res, ns), err)
			}
			where := describe(res, ns)
			if err := informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
				// The informer retries with back-off; a refusal here most
				// often means the service account lost a permission.
				a.log.Warn("watch failed, retrying", "watch", where, "error", err)
			}); err != nil {
				return fmt.Errorf("watching %s: %w", where, err)
			}
			a.watches = append(a.watches, informer)
			go informer.RunWithContext(ctx)
		}
	}
	a.started = true
	return nil
}

// Synced reports whether every watch has listed what it watches, after
// which every change is reported. Call it once Start returned.
func (a *Adapter) Synced() bool {
	if !a.started {
		return false
	}
	for _, w := range a.watches {
		if !w.HasSynced() {
			return false
		}
	}
	return true
}

// newInformer watches res in namespace with its label selector. Nothing
// resyncs: a resync would report every object as updated.
func (a *Adapter) newInformer(res apiserver.Resource, namespace string) cache.SharedIndexInformer {
	gvr := schema.GroupVersionResource{Group: res.Group, Version: res.Version, Resource: res.Resource}
	return dynamicinformer.NewFilteredDynamicInformer(a.client, gvr, namespace, 0, cache.Indexers{}, func(opts *metav1.ListOptions) {
		opts.LabelSelector = res.LabelSelector
	}).Informer()
}

// handler reports the changes one informer sees. An informer calls it
// from one goroutine, in the order of the changes, and sendOne blocks
// while an event is retried: the events of an object reach the sink in
// the order of its changes.
func (a *Adapter) handler(ctx context.Context, res apiserver.Resource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			if isInInitialList {
				return
			}
			a.sendOne(ctx, apiserver.Added, res, obj)
		},
		UpdateFunc: func(oldObj, newObj any) {
			// A re-list delivers every object it finds as an update; an
			// object whose version did not move has not changed.
			if sameVersion(oldObj, newObj) {
				return
			}
			a.sendOne(ctx, apiserver.Updated, res, newObj)
		},
		DeleteFunc: func(obj any) {
			// An object deleted while no watch was open comes as a
			// tombstone holding its last known state.
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			a.sendOne(ctx, apiserver.Deleted, res, obj)
		},
	}
}

// sendOne sends the event that reports change to obj, unless the owner
// filter leaves obj out. An event the sink does not take after the
// Sender's retries is logged and given up: the watch does not wait for a
// sink that is down, and a later change of the object is sent as usual.
func (a *Adapter) sendOne(ctx context.Context, change apiserver.Change, res apiserver.Resource, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		a.log.Error("ignoring an object the watch returned in an unexpected form", "resource", res.Resource, "type", fmt.Sprintf("%T", obj))
		return
	}
	if !controlledBy(u, a.cfg.Owner) {
		return
	}
	ev, err := a.events.make(change, res, u)
	if err != nil {
		a.log.Error("dropping a change that cannot be encoded", "change", change.String(), "error", err)
		return
	}
	start := time.Now()
	if err := a.sender.Send(ctx, ev); err != nil {
		a.log.Error("event given up", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject(), "after", time.Since(start).String(), "error", err)
		return
	}
	a.log.Debug("event sent", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject())
}

// sameVersion reports whether two states of an object have the same
// resourceVersion.
func sameVersion(oldObj, newObj any) bool {
	o, okOld := oldObj.(metav1.Object)
	n, okNew := newObj.(metav1.Object)
	return okOld && okNew && o.GetResourceVersion() != "" && o.GetResourceVersion() == n.GetResourceVersion()
}

// describe names a watch in logs and errors.
func describe(res apiserver.Resource, namespace string) string {
	what := res.Resource
	if res.Group != "" {
		what += "." + res.Group
	}
	if res.LabelSelector != "" {
		what += " matching " + res.LabelSelector
	}
	if namespace == metav1.NamespaceAll {
		return what + " in all namespaces"
	}
	return what + " in namespace " + namespace
}
