package podscale

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"flywheel.dev/pkg/apis/serving"
)

func TestActualPodsCountsThoseNotOnTheirWayOut(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	pod := func(name, rev string, phase corev1.PodPhase, deleting bool) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, Labels: map[string]string{serving.RevisionLabel.String(): rev}},
			Status:     corev1.PodStatus{Phase: phase},
		}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{}
		}
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	pod("running", "hello-00001", corev1.PodRunning, false)
	pod("starting", "hello-00001", corev1.PodPending, false)
	pod("terminating", "hello-00001", corev1.PodRunning, true)
	pod("done", "hello-00001", corev1.PodSucceeded, false)
	pod("failed", "hello-00001", corev1.PodFailed, false)
	pod("other", "hello-00002", corev1.PodRunning, false)
	n, err := ActualPods(corev1listers.NewPodLister(indexer), types.NamespacedName{Namespace: "demo", Name: "hello-00001"})
	if err != nil || n != 2 {
		t.Errorf("ActualPods = %d, %v; want 2 (running and starting)", n, err)
	}
}
