package revision

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakedynamic "k8s.io/client-go/dynamic/fake"
	fakekube "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	logtesting "knative.dev/pkg/logging/testing"

	"flywheel.dev/pkg/reconciler/revision/resources"
)

// discoveryServing is a discovery client that serves the VPA's API or
// not.
func discoveryServing(vpa bool) *fakediscovery.FakeDiscovery {
	d := fakekube.NewSimpleClientset().Discovery().(*fakediscovery.FakeDiscovery)
	if vpa {
		gvr := resources.VerticalPodAutoscalerGVR
		d.Resources = []*metav1.APIResourceList{{
			GroupVersion: gvr.GroupVersion().String(),
			APIResources: []metav1.APIResource{{Name: gvr.Resource, Namespaced: true, Kind: "VerticalPodAutoscaler"}},
		}}
	}
	return d
}

func fakeVPAClient(objs ...runtime.Object) *fakedynamic.FakeDynamicClient {
	return fakedynamic.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{resources.VerticalPodAutoscalerGVR: "VerticalPodAutoscalerList"}, objs...)
}

func TestVPAWatchStartsOnceTheAPIIsServed(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	vpa := vpaOf(rev(advising))
	w := &vpaWatch{}
	installed := make(chan struct{})
	go w.run(ctx, discoveryServing(true), fakeVPAClient(vpa), 10*time.Millisecond, cache.ResourceEventHandlerFuncs{}, func() { close(installed) })
	select {
	case <-installed:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch never reported the VPA's API installed")
	}
	lister, ok := w.Lister()
	if !ok {
		t.Fatal("Lister() says not installed after the watch started")
	}
	if _, err := lister.ByNamespace(ns).Get(revName); err != nil {
		t.Errorf("the lister does not serve the Revision's VPA: %v", err)
	}
}

func TestVPAWatchWaitsWhileTheAPIIsNotServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(logtesting.TestContextWithLogger(t), 200*time.Millisecond)
	defer cancel()
	w := &vpaWatch{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, discoveryServing(false), fakeVPAClient(), 10*time.Millisecond, cache.ResourceEventHandlerFuncs{}, func() {
			t.Error("installed was called though the API is not served")
		})
	}()
	<-done
	if _, ok := w.Lister(); ok {
		t.Error("Lister() says installed though the API is not served")
	}
}
