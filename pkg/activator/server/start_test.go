package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingfake "flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/network/listentest"
)

// TestRequestsAtStartAreForwarded starts the activator while the API
// server is slow to list the Revisions, as after a restart under load,
// and sends requests for a Revision with a ready pod meanwhile: each must
// be held until the Revisions are loaded and then reach the pod, never
// get a 503 or 404 that only says the activator is starting; and /readyz
// fails until then.
func TestRequestsAtStartAreForwarded(t *testing.T) {
	pod := startApp(t, "pod-1", 0)
	key := types.NamespacedName{Namespace: testNamespace, Name: "hello"}
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1.RevisionSpec{ContainerConcurrency: ptr.To[int64](0), TimeoutSeconds: ptr.To[int64](30)},
	}
	rev.Spec.Containers = []corev1.Container{{Image: "app"}}
	e := &env{t: t, kube: kubefake.NewClientset(), serving: servingfake.NewSimpleClientset(rev)}
	e.writeSlices(key, true, pod.addr())
	held := listentest.HoldList(t, &e.serving.Fake, "revisions")

	a, err := New(Config{
		Kube: e.kube, Serving: e.serving,
		Address: "127.0.0.1:0", AdminAddress: "127.0.0.1:0", DrainWindow: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.a, e.url = a, "http://"+a.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		held.Release()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("activator Run: %v", err)
		}
	}()
	ready := func() int {
		resp, err := http.Get("http://" + a.AdminAddr().String() + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	<-held.Listing()
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the Revisions load: %d, want 503", code)
	}
	const clients = 10
	answers := listentest.SendAll(e.url+"/", "hello.example.com", http.Header{
		serving.RevisionHeader:  {key.Name},
		serving.NamespaceHeader: {key.Namespace},
	}, clients)
	// Not one may be accepted, let alone answered, before the Revisions
	// are loaded: each waits in the listener's backlog.
	waitFor(t, "the connections held unaccepted", func() bool {
		return len(answers) > 0 || listentest.HeldConnections(t, a.Addr().String()) == clients
	})
	if len(answers) > 0 {
		t.Fatalf("a request sent while the Revisions loaded was answered before they were: %q", <-answers)
	}
	held.Release()

	var got []string
	for range clients {
		got = append(got, <-answers)
	}
	want := make([]string, clients)
	for i := range want {
		want[i] = "200 pod-1 host=hello.example.com"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers to the requests sent while the activator started (-want, +got):\n%s", diff)
	}
	waitFor(t, "the activator ready", func() bool { return ready() == http.StatusOK })
}
