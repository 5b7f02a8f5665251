package testing

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	fakedynamicclient "knative.dev/pkg/injection/clients/dynamicclient/fake"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/reconciler"
	rtesting "knative.dev/pkg/reconciler/testing"
	"knative.dev/pkg/system"

	fakeservingclient "flywheel.dev/pkg/client/injection/client/fake"
	fakegatewayclient "flywheel.dev/pkg/reconciler/route/gatewayapi/fake"
)

// maxEvents bounds the events one reconciliation may record; the fake
// recorder blocks beyond it, so it is far above what any row expects.
const maxEvents = 100

// Ctor builds the reconciler under test. ctx carries a logger, the fake
// clients (fakeservingclient.Get, fakekubeclient.Get, the Gateway API
// one of pkg/reconciler/route/gatewayapi/fake.Get, and a dynamic one,
// fakedynamicclient.Get, holding the row's unstructured objects) and the event
// recorder (controller.GetEventRecorder); listers serve the row's objects;
// cmw serves the row's ConfigMaps, and an empty one for any name the row
// leaves out, so a config store built on it holds the defaults unless the
// row says otherwise.
type Ctor func(ctx context.Context, listers *Listers, cmw configmap.Watcher) controller.Reconciler

// MakeFactory returns a Factory for rtesting.TableTest that runs the
// reconciler ctor builds against fake clients seeded with the row's objects
// and records what it wrote and which events it sent.
//
// Everything a reconciler creates or updates first goes through the
// webhook's validation, as it would on a cluster: a row fails when a
// reconciler writes an object the API would refuse. The row's reactors run
// before that, so a row can make any call fail.
func MakeFactory(ctor Ctor) rtesting.Factory {
	return func(t *testing.T, row *rtesting.TableRow) (controller.Reconciler, rtesting.ActionRecorderList, rtesting.EventList) {
		t.Helper()
		ls := NewListers(row.Objects)

		ctx := logtesting.TestContextWithLogger(t)
		ctx, kubeClient := fakekubeclient.With(ctx, ls.GetKubeObjects()...)
		ctx, servingClient := fakeservingclient.With(ctx, ls.GetServingObjects()...)
		ctx, gatewayClient := fakegatewayclient.With(ctx, ls.GetGatewayObjects()...)
		ctx, dynamicClient := fakedynamicclient.With(ctx, runtime.NewScheme(), ls.unstructured...)
		trackGenerations(gatewayClient)
		recorder := record.NewFakeRecorder(maxEvents)
		ctx = controller.WithEventRecorder(ctx, recorder)

		servingClient.PrependReactor("create", "*", func(action clientgotesting.Action) (bool, runtime.Object, error) {
			return rtesting.ValidateCreates(ctx, action)
		})
		servingClient.PrependReactor("update", "*", func(action clientgotesting.Action) (bool, runtime.Object, error) {
			return rtesting.ValidateUpdates(ctx, action)
		})
		for _, reactor := range row.WithReactors {
			kubeClient.PrependReactor("*", "*", reactor)
			servingClient.PrependReactor("*", "*", reactor)
			gatewayClient.PrependReactor("*", "*", reactor)
			dynamicClient.PrependReactor("*", "*", reactor)
		}

		cmw, err := configMapWatcher(&ls)
		if err != nil {
			t.Fatal("Listing the row's ConfigMaps:", err)
		}
		r := ctor(ctx, &ls, cmw)
		// The generated reconcilers act only as leader of a key's bucket;
		// in a row the one reconciler leads every bucket.
		if la, ok := r.(reconciler.LeaderAware); ok {
			if err := la.Promote(reconciler.UniversalBucket(), func(reconciler.Bucket, types.NamespacedName) {}); err != nil {
				t.Fatal("Promoting the reconciler to leader:", err)
			}
		}
		return r, rtesting.ActionRecorderList{servingClient, kubeClient, gatewayClient, dynamicClient}, rtesting.EventList{Recorder: recorder}
	}
}

// configMapWatcher serves the row's ConfigMaps.
func configMapWatcher(ls *Listers) (configmap.Watcher, error) {
	cms, err := ls.GetConfigMapLister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return NewConfigMapWatcher(cms...), nil
}

// NewConfigMapWatcher returns a configmap.Watcher over cms. Unlike
// configmap.StaticWatcher it serves an empty ConfigMap for a name it does
// not hold, so each parser's defaults apply and a test need not list every
// ConfigMap a config store reads, including ones added later.
func NewConfigMapWatcher(cms ...*corev1.ConfigMap) configmap.Watcher {
	w := make(mapWatcher, len(cms))
	for _, cm := range cms {
		w[cm.Name] = cm
	}
	return w
}

// mapWatcher is a configmap.Watcher over ConfigMaps that never change.
type mapWatcher map[string]*corev1.ConfigMap

// Watch calls each observer at once with the ConfigMap name.
func (w mapWatcher) Watch(name string, observers ...configmap.Observer) {
	cm, ok := w[name]
	if !ok {
		cm = ConfigMap(name, nil)
	}
	for _, observe := range observers {
		observe(cm)
	}
}

// Start does nothing: the ConfigMaps never change.
func (mapWatcher) Start(<-chan struct{}) error { return nil }

// ConfigMap returns a ConfigMap of the system namespace, e.g. a
// config-defaults with the data a row wants the reconciler to see.
func ConfigMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: system.Namespace()},
		Data:       data,
	}
}
