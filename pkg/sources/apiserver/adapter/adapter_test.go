package adapter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources/apiserver"
)

// recorder is a Sink that keeps what it is sent, and fails each event
// whose subject is in fail.
type recorder struct {
	mu   sync.Mutex
	sent []event.Event
	fail map[string]bool
}

func (r *recorder) Send(_ context.Context, ev event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[ev.Subject()] {
		return errors.New("sink answered 503 five times")
	}
	r.sent = append(r.sent, ev)
	return nil
}

// sentEvent is what a test checks of an event the adapter sent.
type sentEvent struct{ Type, Subject string }

func (r *recorder) events() []sentEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := make([]sentEvent, 0, len(r.sent))
	for _, ev := range r.sent {
		got = append(got, sentEvent{ev.Type(), ev.Subject()})
	}
	return got
}

// waitFor polls cond until it holds, for at most ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForEvents waits until the recorder holds n events, and returns
// them.
func waitForEvents(t *testing.T, r *recorder, n int) []sentEvent {
	t.Helper()
	waitFor(t, "the adapter to send events", func() bool { return len(r.events()) >= n })
	return r.events()
}

// cluster is a fake API server holding objs, and an adapter of cfg
// watching it until the test ends, once its watches synced.
type cluster struct {
	client *dynamicfake.FakeDynamicClient
	sink   *recorder
}

func start(t *testing.T, cfg apiserver.Config, objs ...runtime.Object) *cluster {
	t.Helper()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		gvr(configMaps):  "ConfigMapList",
		gvr(deployments): "DeploymentList",
		gvr(namespaces):  "NamespaceList",
	}, objs...)
	// Changes made before a watch is open would reach it collapsed (the
	// fake replays only each object's last state), so start waits for
	// every watch to be open, not only listed.
	var mu sync.Mutex
	open := 0
	client.PrependWatchReactor("*", func(action clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if w, ok := action.(clienttesting.WatchActionImpl); ok {
			opts = w.ListOptions
		}
		w, err := client.Tracker().Watch(action.GetResource(), action.GetNamespace(), opts)
		mu.Lock()
		open++
		mu.Unlock()
		return true, w, err
	})
	watches := 0
	for _, res := range cfg.Resources {
		watches += len(cfg.NamespacesOf(res))
	}
	sink := &recorder{fail: map[string]bool{}}
	cfg.CloudEventSource = "https://10.96.0.1:443"
	if cfg.Mode == "" {
		cfg.Mode = string(sourcesv1.EventModeReference)
	}
	a := New(cfg, client, sink, clocktesting.NewFakePassiveClock(time.Now()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watches to sync", a.Synced)
	waitFor(t, "the watches to open", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return open >= watches
	})
	return &cluster{client: client, sink: sink}
}

func gvr(r apiserver.Resource) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// configMap is a ConfigMap at resourceVersion, with opts applied.
func configMap(ns, name, resourceVersion string, opts ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	u := object("v1", "ConfigMap", ns, name)
	u.SetResourceVersion(resourceVersion)
	for _, opt := range opts {
		opt(u)
	}
	return u
}

func (c *cluster) create(t *testing.T, res apiserver.Resource, obj *unstructured.Unstructured) {
	t.Helper()
	if _, err := c.client.Resource(gvr(res)).Namespace(obj.GetNamespace()).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) update(t *testing.T, res apiserver.Resource, obj *unstructured.Unstructured) {
	t.Helper()
	if _, err := c.client.Resource(gvr(res)).Namespace(obj.GetNamespace()).Update(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) delete(t *testing.T, res apiserver.Resource, ns, name string) {
	t.Helper()
	if err := c.client.Resource(gvr(res)).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestChangesAreSentInOrderAndTheInitialListIsNot(t *testing.T) {
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{configMaps}, Namespaces: []string{"shop"}},
		configMap("shop", "existing", "1"))

	c.create(t, configMaps, configMap("shop", "prices", "2"))
	c.update(t, configMaps, configMap("shop", "prices", "3"))
	c.delete(t, configMaps, "shop", "prices")

	subject := "/apis/v1/namespaces/shop/configmaps/prices"
	want := []sentEvent{
		{"dev.knative.apiserver.ref.add", subject},
		{"dev.knative.apiserver.ref.update", subject},
		{"dev.knative.apiserver.ref.delete", subject},
	}
	// The ConfigMap that existed before the adapter started was listed
	// first, so an event for it would have come before these.
	if diff := cmp.Diff(want, waitForEvents(t, c.sink, len(want))); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}

func TestResourceModeSendsTheObject(t *testing.T) {
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{configMaps}, Namespaces: []string{"shop"}, Mode: string(sourcesv1.EventModeResource)})
	c.create(t, configMaps, configMap("shop", "prices", "1", func(u *unstructured.Unstructured) {
		u.Object["data"] = map[string]any{"apple": "3"}
	}))
	waitForEvents(t, c.sink, 1)
	c.sink.mu.Lock()
	defer c.sink.mu.Unlock()
	ev := c.sink.sent[0]
	if ev.Type() != "dev.knative.apiserver.resource.add" {
		t.Errorf("type = %q, want dev.knative.apiserver.resource.add", ev.Type())
	}
	want := `{"apiVersion":"v1","data":{"apple":"3"},"kind":"ConfigMap","metadata":{"name":"prices","namespace":"shop","resourceVersion":"1"}}`
	if diff := cmp.Diff(want, string(ev.Data())); diff != "" {
		t.Errorf("data (-want, +got):\n%s", diff)
	}
}

func TestAnUpdateThatDoesNotMoveTheVersionIsNotSent(t *testing.T) {
	// A re-list replays every object as an update at the version the
	// adapter already has; here, an update the fake makes at the same
	// version stands in for it.
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{configMaps}, Namespaces: []string{"shop"}},
		configMap("shop", "prices", "1"))
	c.update(t, configMaps, configMap("shop", "prices", "1"))
	c.update(t, configMaps, configMap("shop", "prices", "2"))

	want := []sentEvent{{"dev.knative.apiserver.ref.update", "/apis/v1/namespaces/shop/configmaps/prices"}}
	if diff := cmp.Diff(want, waitForEvents(t, c.sink, 1)); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}

func TestOwnerFilterKeepsOnlyControlledObjects(t *testing.T) {
	c := start(t, apiserver.Config{
		Resources:  []apiserver.Resource{configMaps},
		Namespaces: []string{"shop"},
		Owner:      &apiserver.Owner{APIVersion: "apps/v1", Kind: "Deployment"},
	})
	controlledBy := func(apiVersion, kind string, controller bool) func(*unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: "web", UID: "uid", Controller: ptr.To(controller)}})
		}
	}
	c.create(t, configMaps, configMap("shop", "free", "1"))
	c.create(t, configMaps, configMap("shop", "of-a-job", "2", controlledBy("batch/v1", "Job", true)))
	c.create(t, configMaps, configMap("shop", "referring", "3", controlledBy("apps/v1", "Deployment", false)))
	c.create(t, configMaps, configMap("shop", "of-web", "4", controlledBy("apps/v1", "Deployment", true)))

	// The one controlled object comes last: had any other been sent, it
	// would have come before.
	want := []sentEvent{{"dev.knative.apiserver.ref.add", "/apis/v1/namespaces/shop/configmaps/of-web"}}
	if diff := cmp.Diff(want, waitForEvents(t, c.sink, 1)); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}

func TestWatchesCarryTheLabelSelectorAndTheNamespaces(t *testing.T) {
	selected := configMaps
	selected.LabelSelector = "watched=yes"
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{selected, deployments, namespaces}, Namespaces: []string{"shop", "web"}})

	type request struct{ Verb, Resource, Namespace, LabelSelector string }
	var got []request
	for _, a := range c.client.Actions() {
		var selector string
		switch a := a.(type) {
		case clienttesting.ListAction:
			selector = a.GetListRestrictions().Labels.String()
		case clienttesting.WatchAction:
			selector = a.GetWatchRestrictions().Labels.String()
		default:
			continue
		}
		got = append(got, request{a.GetVerb(), a.GetResource().Resource, a.GetNamespace(), selector})
	}
	want := []request{
		{"list", "configmaps", "shop", "watched=yes"}, {"watch", "configmaps", "shop", "watched=yes"},
		{"list", "configmaps", "web", "watched=yes"}, {"watch", "configmaps", "web", "watched=yes"},
		{"list", "deployments", "shop", ""}, {"watch", "deployments", "shop", ""},
		{"list", "deployments", "web", ""}, {"watch", "deployments", "web", ""},
		// Namespaces are cluster-scoped: one watch, across the cluster.
		{"list", "namespaces", "", ""}, {"watch", "namespaces", "", ""},
	}
	sortRequests := func(rs []request) {
		slices.SortFunc(rs, func(a, b request) int {
			for _, c := range [][2]string{{a.Resource, b.Resource}, {a.Namespace, b.Namespace}, {a.Verb, b.Verb}} {
				if c[0] != c[1] {
					if c[0] < c[1] {
						return -1
					}
					return 1
				}
			}
			return 0
		})
	}
	sortRequests(got)
	sortRequests(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("list and watch requests (-want, +got):\n%s", diff)
	}
}

func TestAllNamespacesIsOneWatch(t *testing.T) {
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{configMaps}, AllNamespaces: true, Namespaces: []string{"shop"}})
	var namespaces []string
	for _, a := range c.client.Actions() {
		if a.GetVerb() == "watch" {
			namespaces = append(namespaces, a.GetNamespace())
		}
	}
	if diff := cmp.Diff([]string{""}, namespaces); diff != "" {
		t.Errorf("namespaces watched (-want, +got):\n%s", diff)
	}
	c.create(t, configMaps, configMap("web", "prices", "1"))
	want := []sentEvent{{"dev.knative.apiserver.ref.add", "/apis/v1/namespaces/web/configmaps/prices"}}
	if diff := cmp.Diff(want, waitForEvents(t, c.sink, 1)); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}

func TestAnEventTheSinkRefusesIsDroppedAndTheNextSent(t *testing.T) {
	c := start(t, apiserver.Config{Resources: []apiserver.Resource{configMaps}, Namespaces: []string{"shop"}})
	c.sink.mu.Lock()
	c.sink.fail["/apis/v1/namespaces/shop/configmaps/refused"] = true
	c.sink.mu.Unlock()
	c.create(t, configMaps, configMap("shop", "refused", "1"))
	c.create(t, configMaps, configMap("shop", "taken", "2"))

	want := []sentEvent{{"dev.knative.apiserver.ref.add", "/apis/v1/namespaces/shop/configmaps/taken"}}
	if diff := cmp.Diff(want, waitForEvents(t, c.sink, 1)); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}

func TestADeletionSeenOnlyByARelistIsSentWithTheLastKnownState(t *testing.T) {
	sink := &recorder{}
	a := New(apiserver.Config{CloudEventSource: "https://api", Mode: string(sourcesv1.EventModeReference)},
		nil, sink, clocktesting.NewFakePassiveClock(time.Now()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := a.handler(context.Background(), configMaps)
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "shop/prices", Obj: configMap("shop", "prices", "7")})

	want := []sentEvent{{"dev.knative.apiserver.ref.delete", "/apis/v1/namespaces/shop/configmaps/prices"}}
	if diff := cmp.Diff(want, sink.events()); diff != "" {
		t.Errorf("events (-want, +got):\n%s", diff)
	}
}
