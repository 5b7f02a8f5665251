//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/reconciler/revision/resources"
)

// recommendationTimeout bounds the wait for the recommender's first
// advice: metrics-server's first two scrapes (15 s apart, for a rate),
// then a recommender pass (every 15 s in config/local), then the
// controller copying it onto the Revision. A minute is typical.
const recommendationTimeout = 3 * time.Minute

// TestRightSizingAdvisesARevision asks for right-sizing advice on a
// Revision that requests far more CPU than it uses (500m for an app that
// mostly sleeps) and holds 48 MiB, under a light load. The controller must give it a VPA in
// Off mode, the real recommender (config/local) must advise through
// metrics-server within recommendationTimeout, and the advice must show
// on the Revision's status and in fw service describe next to the
// requests. fw service update --apply-recommendation must then make a
// Revision that requests what was advised.
func TestRightSizingAdvisesARevision(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "rightsizing")
	svc := sleeperService(ns, "guessed", map[string]string{
		autoscaling.RightSizingAnnotation.String(): config.RightSizingAdvise,
		// No load keeps it at zero pods, and a VPA needs a pod's usage.
		serving.MinScaleAnnotation.String(): "1",
	})
	c := &svc.Spec.Template.Spec.Containers[0]
	// It holds 48 MiB from the start: advice learnt from its usage
	// recommends at least that, above the recommender's 16 MB floor.
	c.Env = []corev1.EnvVar{{Name: "BURN", Value: "2ms"}, {Name: "HOLD", Value: "48"}}
	c.Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
	}
	created, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "guessed", created.Generation)
	revName := ready.Status.LatestReadyRevisionName
	start := time.Now()

	// The VPA the Revision owns only advises.
	dyn := dynamic.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	vpa, err := dyn.Resource(resources.VerticalPodAutoscalerGVR).Namespace(ns).Get(ctx, revName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Revision's VerticalPodAutoscaler: %v", err)
	}
	if mode, _, _ := unstructured.NestedString(vpa.Object, "spec", "updatePolicy", "updateMode"); mode != "Off" {
		t.Errorf("the VPA's updateMode is %q, want Off", mode)
	}

	// A little CPU to learn from, for the whole wait.
	loadCtx, stopLoad := context.WithTimeout(ctx, recommendationTimeout)
	defer stopLoad()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		runLoad(loadCtx, ready.Status.URL.Host, 1, 100000)
	}()
	defer func() { stopLoad(); <-loadDone }()

	var rev *servingv1.Revision
	err = wait.PollUntilContextTimeout(ctx, time.Second, recommendationTimeout, true, func(ctx context.Context) (bool, error) {
		rev, err = client.ServingV1().Revisions(ns).Get(ctx, revName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return rev.Status.ResourceRecommendation != nil, nil
	})
	if err != nil {
		t.Fatalf("no recommendation on Revision %s after %v: %v; its condition: %+v", revName, recommendationTimeout, err,
			rev.Status.GetCondition(servingv1.RevisionConditionResourcesRecommended))
	}
	stopLoad()
	rec := rev.Status.ResourceRecommendation
	t.Logf("recommendation after %v: %+v", time.Since(start).Round(time.Second), rec)
	if !rev.Status.GetCondition(servingv1.RevisionConditionResourcesRecommended).IsTrue() || !rev.IsReady() {
		t.Errorf("conditions %+v, want ResourcesRecommended and Ready True", rev.Status.Conditions)
	}
	cpu, memory := rec.Target[corev1.ResourceCPU], rec.Target[corev1.ResourceMemory]
	if rec.ContainerName != "user-container" || cpu.IsZero() || memory.IsZero() {
		t.Fatalf("recommendation %+v, want cpu and memory for user-container", rec)
	}
	if memory.Cmp(resource.MustParse("48Mi")) < 0 {
		t.Errorf("recommended memory %s, want at least the 48Mi the app holds", memory.String())
	}
	// An app that sleeps needs less than the guess.
	if cpu.Cmp(resource.MustParse("500m")) >= 0 {
		t.Errorf("recommended cpu %s, want less than the 500m requested", cpu.String())
	}

	// fw rounds memory advice up to a whole Mi; the recommender writes
	// bytes.
	mib := (memory.Value() + 1<<20 - 1) >> 20
	memory = *resource.NewQuantity(mib<<20, resource.BinarySI)

	out := fw(t, "service", "describe", "guessed", "-n", ns)
	if want := "cpu 500m → " + cpu.String() + ", memory 128Mi → " + memory.String(); !strings.Contains(out, want) {
		t.Errorf("fw service describe shows no %q:\n%s", want, out)
	}

	fw(t, "service", "update", "guessed", "-n", ns, "--apply-recommendation", "--no-wait")
	updated, err := client.ServingV1().Services(ns).Get(ctx, "guessed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied := waitReady(t, client, ns, "guessed", updated.Generation)
	if applied.Status.LatestReadyRevisionName == revName {
		t.Fatalf("--apply-recommendation made no new Revision")
	}
	next, err := client.ServingV1().Revisions(ns).Get(ctx, applied.Status.LatestReadyRevisionName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := next.Spec.Containers[0].Resources.Requests
	want := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("Revision %s requests %v, want the recommendation %v", next.Name, got, want)
	}
}
