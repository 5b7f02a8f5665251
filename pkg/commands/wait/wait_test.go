package wait

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
)

// service is the Service at generation, as the controller reported it at
// observed, with the given Ready condition.
func service(generation, observed int64, ready corev1.ConditionStatus, reason, message string) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo", Generation: generation}}
	s.Status.ObservedGeneration = observed
	s.Status.URL = &apis.URL{Scheme: "http", Host: "hello.demo.example.com"}
	s.Status.LatestCreatedRevisionName = fmt.Sprintf("hello-%05d", generation)
	s.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: ready, Reason: reason, Message: message}}
	return s
}

// watched returns a fake clientset holding objs whose watches of
// Services see events, in order, and nothing else.
func watched(events []watch.Event, objs ...*servingv1.Service) *fake.Clientset {
	var stored []runtime.Object
	for _, o := range objs {
		stored = append(stored, o)
	}
	client := fake.NewSimpleClientset(stored...)
	w := watch.NewFakeWithChanSize(len(events), false)
	for _, ev := range events {
		w.Action(ev.Type, ev.Object)
	}
	client.PrependWatchReactor("services", k8stesting.DefaultWatchReactor(w, nil))
	return client
}

func modified(s *servingv1.Service) watch.Event { return watch.Event{Type: watch.Modified, Object: s} }

func TestForServiceReadyWaitsForTheNewGeneration(t *testing.T) {
	// Ready at generation 1 says nothing about generation 2.
	client := watched([]watch.Event{
		modified(service(2, 2, corev1.ConditionUnknown, "Deploying", "")),
		modified(service(2, 2, corev1.ConditionTrue, "", "")),
	}, service(2, 1, corev1.ConditionTrue, "", ""))

	got, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 2, For(time.Minute))
	if err != nil {
		t.Fatalf("ForServiceReady = %v", err)
	}
	if got.Status.ObservedGeneration != 2 || !got.IsReady() {
		t.Errorf("returned %+v, want the ready generation 2", got.Status)
	}
}

func TestForServiceReadyExplainsAFailure(t *testing.T) {
	failed := service(1, 1, corev1.ConditionFalse, "RevisionFailed", `Revision "hello-00001" failed`)
	failed.Status.Conditions = append(failed.Status.Conditions, apis.Condition{
		Type: servingv1.ServiceConditionConfigurationsReady, Status: corev1.ConditionFalse,
		Reason: "RevisionFailed", Message: `Revision "hello-00001" failed`,
	})
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "demo"}}
	rev.Status.Conditions = duckv1.Conditions{
		{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "ContainerMissing", Message: "Unable to fetch image"},
		{Type: servingv1.RevisionConditionContainerHealthy, Status: corev1.ConditionFalse, Reason: "ContainerMissing",
			Message: `Unable to fetch image "example.com/nope": not found`},
	}
	client := watched([]watch.Event{modified(failed)}, service(1, 0, corev1.ConditionUnknown, "", ""))
	if err := client.Tracker().Add(rev); err != nil {
		t.Fatal(err)
	}

	_, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 1, Bounds{Timeout: time.Minute, ErrorWindow: 10 * time.Millisecond})
	var notReady *NotReadyError
	if !errors.As(err, &notReady) {
		t.Fatalf("ForServiceReady = %v, want a *NotReadyError", err)
	}
	for _, want := range []string{
		"Service hello failed: ConfigurationsReady is False (RevisionFailed)",
		`Revision hello-00001: ContainerHealthy is False (ContainerMissing): Unable to fetch image "example.com/nope": not found`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestForServiceReadyTimesOutWithTheLastCondition(t *testing.T) {
	client := watched(nil, service(1, 1, corev1.ConditionUnknown, "Deploying", "waiting for a pod to become ready"))
	_, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 1, For(10*time.Millisecond))
	var notReady *NotReadyError
	if !errors.As(err, &notReady) || notReady.TimedOut == 0 {
		t.Fatalf("ForServiceReady = %v, want a timeout", err)
	}
	for _, want := range []string{"did not become ready within 10ms", "Ready is Unknown (Deploying): waiting for a pod", "--wait-timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestForServiceReadyFailsWhenTheServiceIsDeleted(t *testing.T) {
	s := service(1, 0, corev1.ConditionUnknown, "", "")
	client := watched([]watch.Event{{Type: watch.Deleted, Object: s}}, s)
	_, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 1, For(time.Minute))
	if err == nil || !strings.Contains(err.Error(), "was deleted") {
		t.Errorf("ForServiceReady = %v, want it to say the Service was deleted", err)
	}
}

func TestUntilGoneIgnoresOtherObjects(t *testing.T) {
	other := service(1, 1, corev1.ConditionTrue, "", "")
	other.Name = "other"
	s := service(1, 1, corev1.ConditionTrue, "", "")
	client := watched([]watch.Event{{Type: watch.Deleted, Object: other}, {Type: watch.Deleted, Object: s}}, s)
	var checks int
	_, err := Until(t.Context(), client.ServingV1().Services("demo"), "hello", func(_ *servingv1.Service, found bool) (bool, error) {
		checks++
		return !found, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checks != 2 { // the Get, then the deletion of hello
		t.Errorf("check ran %d times, want 2: the deletion of another object must not count", checks)
	}
}

func TestForServiceReadyAllowsAFalseThatHeals(t *testing.T) {
	client := watched([]watch.Event{
		modified(service(1, 1, corev1.ConditionFalse, "RevisionFailed", "the first pod crashed")),
		modified(service(1, 1, corev1.ConditionTrue, "", "")),
	}, service(1, 0, corev1.ConditionUnknown, "", ""))
	got, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 1, Bounds{Timeout: time.Minute, ErrorWindow: time.Minute})
	if err != nil || !got.IsReady() {
		t.Fatalf("ForServiceReady = %v, want Ready after a passing False", err)
	}
}

func TestForServiceReadyFailsOnceFalseLastsTheWindow(t *testing.T) {
	const window = 50 * time.Millisecond
	client := watched([]watch.Event{
		modified(service(1, 1, corev1.ConditionFalse, "RevisionFailed", "the pod crashes")),
	}, service(1, 0, corev1.ConditionUnknown, "", ""))
	start := time.Now()
	_, err := ForServiceReady(t.Context(), client.ServingV1(), "demo", "hello", 1, Bounds{Timeout: time.Minute, ErrorWindow: window})
	var notReady *NotReadyError
	if !errors.As(err, &notReady) || notReady.TimedOut != 0 {
		t.Fatalf("ForServiceReady = %v, want a failure, not a timeout", err)
	}
	if took := time.Since(start); took < window || took > 30*time.Second {
		t.Errorf("failed after %v, want after the %v window", took, window)
	}
}
