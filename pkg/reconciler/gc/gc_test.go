package gc

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/configuration"
	"flywheel.dev/pkg/reconciler/gc/config"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testName      = "hello"
	testKey       = testNamespace + "/" + testName
)

var cfg = fwtesting.Configuration(testName, testNamespace,
	fwtesting.WithConfigReady("hello-00009"))

// revision is a Revision of cfg created age ago, then opts.
func revision(name string, age time.Duration, opts ...fwtesting.RevisionOption) *v1.Revision {
	return fwtesting.Revision(name, testNamespace, append([]fwtesting.RevisionOption{
		fwtesting.WithRevisionLabels(map[string]string{serving.ConfigurationLabel.String(): testName}),
		fwtesting.WithRevisionOwner(cfg),
		fwtesting.WithRevisionCreated(now.Add(-age)),
	}, opts...)...)
}

// reserve is a Revision of cfg that no Route has served for idleFor.
func reserve(name string, age, idleFor time.Duration) *v1.Revision {
	return revision(name, age, fwtesting.WithRoutingState(serving.RoutingStateReserve, now.Add(-idleFor)))
}

func deleted(name string) clientgotesting.DeleteActionImpl {
	return clientgotesting.DeleteActionImpl{
		ActionImpl: clientgotesting.ActionImpl{Namespace: testNamespace, Resource: v1.SchemeGroupVersion.WithResource("revisions")},
		Name:       name,
	}
}

func collected(name string) string {
	return rtesting.Eventf(corev1.EventTypeNormal, ReasonCollected,
		"Deleted Revision %q: no Route serves it and config-gc keeps it no longer", name)
}

// gcConfig is config-gc keeping no minimum, with data on top.
func gcConfig(data map[string]string) *corev1.ConfigMap {
	all := map[string]string{"min-non-active-revisions": "0"}
	for k, v := range data {
		all[k] = v
	}
	return fwtesting.ConfigMap(apisconfig.GCConfigName, all)
}

func TestReconcile(t *testing.T) {
	const day = 24 * time.Hour
	var requeue time.Duration
	requeued := func(d time.Duration) []func(*testing.T, *rtesting.TableRow) {
		return []func(*testing.T, *rtesting.TableRow){func(t *testing.T, _ *rtesting.TableRow) {
			if requeue != d {
				t.Errorf("requeued after %v, want %v", requeue, d)
			}
		}}
	}

	table := rtesting.TableTest{{
		Name: "key of a deleted Configuration: nothing to do",
		Key:  testKey,
	}, {
		Name: "with the default bounds, twenty non-active Revisions are kept whatever their age",
		Key:  testKey,
		Objects: func() []runtime.Object {
			objs := []runtime.Object{cfg}
			for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"} {
				objs = append(objs, reserve("hello-"+name, 300*day, 300*day))
			}
			return objs
		}(),
	}, {
		Name: "an old, long idle Revision beyond the minimum is deleted",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(nil), cfg,
			reserve("hello-00001", 3*day, 2*day),
			revision("hello-00009", 3*day, fwtesting.WithRoutingState(serving.RoutingStateActive, now.Add(-2*day))),
		},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted("hello-00001")},
		WantEvents:  []string{collected("hello-00001")},
	}, {
		Name: "a Revision idle for less than retain-since-last-active-time stays, and is looked at again then",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(nil), cfg,
			reserve("hello-00001", 3*day, 10*time.Hour),
		},
		PostConditions: requeued(5 * time.Hour),
	}, {
		Name: "Revisions a Route serves stay, and so does the latest ready one",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(nil), cfg,
			revision("hello-00001", 30*day, fwtesting.WithRoutingState(serving.RoutingStateActive, now.Add(-30*day))),
			revision("hello-00002", 30*day, fwtesting.WithRoutingState(serving.RoutingStateReserve, now.Add(-30*day)),
				fwtesting.WithRevisionRoutes("other")),
			revision("hello-00009", 30*day, fwtesting.WithRoutingState(serving.RoutingStateReserve, now.Add(-30*day))),
		},
	}, {
		Name: "a Revision with the Configuration's label that it does not control is not its to delete",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(nil), cfg,
			reserve("hello-00001", 30*day, 30*day),
			func() *v1.Revision {
				rev := reserve("impostor", 30*day, 30*day)
				rev.OwnerReferences = nil
				return rev
			}(),
		},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted("hello-00001")},
		WantEvents:  []string{collected("hello-00001")},
	}, {
		Name: "max-non-active-revisions: the least recently active beyond it go, however young",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(map[string]string{"max-non-active-revisions": "1"}), cfg,
			reserve("hello-00001", time.Hour, 30*time.Minute),
			reserve("hello-00002", time.Hour, 20*time.Minute),
			reserve("hello-00003", time.Hour, 10*time.Minute),
		},
		WantDeletes:    []clientgotesting.DeleteActionImpl{deleted("hello-00001"), deleted("hello-00002")},
		WantEvents:     []string{collected("hello-00001"), collected("hello-00002")},
		PostConditions: requeued(47 * time.Hour),
	}, {
		Name: "deleting fails: retried",
		Key:  testKey,
		Objects: []runtime.Object{
			gcConfig(nil), cfg,
			reserve("hello-00001", 3*day, 2*day),
		},
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("delete", "revisions")},
		WantErr:      true,
		WantDeletes:  []clientgotesting.DeleteActionImpl{deleted("hello-00001")},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"deleting Revision hello-00001: inducing failure for delete revisions")},
	}}

	table.Test(t, fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, cmw configmap.Watcher) controller.Reconciler {
		requeue = 0
		r := &Reconciler{
			client:         servingclient.Get(ctx),
			revisionLister: listers.GetRevisionLister(),
			clock:          clocktesting.NewFakePassiveClock(now),
			enqueueAfter:   func(_ *v1.Configuration, d time.Duration) { requeue = d },
		}
		store := config.NewStore(logging.FromContext(ctx))
		store.WatchConfigs(cmw)
		return configurationreconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetConfigurationLister(), controller.GetEventRecorder(ctx), r,
			controller.Options{ConfigStore: store, SkipStatusUpdates: true})
	}))
}
