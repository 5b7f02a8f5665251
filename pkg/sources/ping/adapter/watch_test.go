package adapter

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	fakeclient "flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/client/informers/externalversions"
)

// TestWatchFollowsTheAPI drives the scheduler from a PingSource informer:
// a source is scheduled once its sink resolved, rescheduled when its
// schedule changes, and dropped when it is deleted.
func TestWatchFollowsTheAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	client := fakeclient.NewSimpleClientset()
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithTransform(stripManagedFields))
	informer := factory.Sources().V1().PingSources().Informer()
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	if err := Watch(informer, r.scheduler, r.scheduler.log); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("the informer did not sync")
	}
	sources := client.SourcesV1().PingSources(testNamespace)
	key := types.NamespacedName{Namespace: testNamespace, Name: "tick"}
	scheduled := func() (string, bool) {
		r.scheduler.mu.Lock()
		defer r.scheduler.mu.Unlock()
		e, ok := r.scheduler.sources[key]
		if !ok {
			return "", false
		}
		return e.when, true
	}

	src := newSource("tick", WithoutSink)
	src.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	src, err := sources.Create(ctx, src, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the informer to hold the source", func() bool {
		_, exists, _ := informer.GetStore().GetByKey(key.String())
		return exists
	})
	if _, ok := scheduled(); ok {
		t.Error("a source whose sink has not resolved is scheduled")
	}
	held, _, _ := informer.GetStore().GetByKey(key.String())
	if mf := held.(*sourcesv1.PingSource).ManagedFields; mf != nil {
		t.Errorf("the informer keeps managed fields %v; want them dropped", mf)
	}

	ready := newSource("tick")
	ready.ResourceVersion = src.ResourceVersion
	if _, err := sources.UpdateStatus(ctx, ready, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source to be scheduled", func() bool { _, ok := scheduled(); return ok })

	every5 := newSource("tick", WithSchedule("*/5 * * * *", ""))
	if _, err := sources.Update(ctx, every5, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new schedule", func() bool { when, _ := scheduled(); return when == "*/5 * * * *\x00" })

	if err := sources.Delete(ctx, "tick", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source to be dropped", func() bool { _, ok := scheduled(); return !ok })
}
