package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// requesting gives a Revision's app the requests of a guess.
func requesting(cpu, memory string) func(*servingv1.Revision) {
	return func(r *servingv1.Revision) {
		r.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
		}
	}
}

// recommended gives a Revision the VPA's advice for its app.
func recommended(cpu, memory string) func(*servingv1.Revision) {
	return func(r *servingv1.Revision) {
		r.Status.MarkResourcesRecommended(&servingv1.ResourceRecommendation{
			ContainerName: "user-container",
			Target:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		})
	}
}

// awaitingAdvice is a Revision with advice on and none yet.
func awaitingAdvice(r *servingv1.Revision) {
	r.Status.Conditions = append(r.Status.Conditions, apis.Condition{
		Type: servingv1.RevisionConditionResourcesRecommended, Status: corev1.ConditionUnknown,
		Reason: servingv1.ReasonAwaitingRecommendation, Message: "Waiting for the VPA recommender",
	})
}

func TestDescribeShowsTheRecommendationNextToTheRequests(t *testing.T) {
	objs := []runtime.Object{
		svc("hello", split),
		rev("hello-00001", "1", 10*time.Minute, digest, corev1.ConditionTrue, "", requesting("500m", "128Mi"), recommended("120m", "48Mi")),
		rev("hello-00002", "2", 3*time.Minute, "", corev1.ConditionTrue, "", awaitingAdvice),
	}
	out, _, err := run(t, objs, "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := `
Right-sizing (requests now → recommended; advice only, fw service update --apply-recommendation applies it):
  REVISION     CONTAINER       REQUESTS
  hello-00002                  Waiting for the VPA recommender
  hello-00001  user-container  cpu 500m → 120m, memory 128Mi → 48Mi
`
	if !strings.Contains(out, want) {
		t.Errorf("describe shows no right-sizing section like\n%s\ngot:\n%s", want, out)
	}
}

func TestDescribeWithoutAdviceHasNoRightSizingSection(t *testing.T) {
	objs := []runtime.Object{svc("hello"), rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, "")}
	out, _, err := run(t, objs, "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Right-sizing") {
		t.Errorf("describe shows a right-sizing section for a Service that asked for no advice:\n%s", out)
	}
}

func TestRecommendationChange(t *testing.T) {
	q := resource.MustParse
	recommendation := corev1.ResourceList{corev1.ResourceCPU: q("120m"), corev1.ResourceMemory: q("48Mi")}
	if got, want := recommendationChange(corev1.ResourceList{corev1.ResourceCPU: q("500m")}, recommendation), "cpu 500m → 120m, memory unset → 48Mi"; got != want {
		t.Errorf("recommendationChange = %q, want %q", got, want)
	}
}

func TestMemoryAdviceIsRoundedUpToAWholeMebibyte(t *testing.T) {
	recommendation := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("63m"), corev1.ResourceMemory: resource.MustParse("52428801"),
	}
	if got, want := recommendationChange(nil, recommendation), "cpu unset → 63m, memory unset → 51Mi"; got != want {
		t.Errorf("recommendationChange = %q, want %q", got, want)
	}
}

func TestUpdateAppliesTheRecommendationOfTheLatestReadyRevision(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) {
		s.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
		}
		s.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	})
	objs := []runtime.Object{before,
		rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, "", requesting("500m", "128Mi"), recommended("120m", "48Mi"))}
	out, client, err := run(t, objs, "update", "hello", "--apply-recommendation", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	want := before.DeepCopy()
	want.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("120m"), corev1.ResourceMemory: resource.MustParse("48Mi"),
	}
	if diff := cmp.Diff(want, getService(t, client, "hello")); diff != "" {
		t.Errorf("updated Service (-want, +got):\n%s", diff)
	}
}

func TestUpdateApplyRecommendationWithoutOneSaysWhy(t *testing.T) {
	tests := []struct {
		name string
		rev  *servingv1.Revision
		want string
	}{{
		name: "advice off",
		rev:  rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, ""),
		want: "no recommendation to apply for Revision hello-00001: right-sizing advice is off for it: turn it on with --annotation autoscaling.flywheel.dev/right-sizing=advise",
	}, {
		name: "advice awaited",
		rev:  rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, "", awaitingAdvice),
		want: "no recommendation to apply for Revision hello-00001: Waiting for the VPA recommender",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, []runtime.Object{svc("hello"), tc.rev}, "update", "hello", "--apply-recommendation", "--no-wait")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
			if w := writes(client); len(w) > 0 {
				t.Errorf("the command sent %v, want nothing", w)
			}
		})
	}
}

func TestUpdateRefusesARecommendationAboveTheLimit(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) {
		s.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	})
	objs := []runtime.Object{before, rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, "", recommended("120m", "48Mi"))}
	_, _, err := run(t, objs, "update", "hello", "--apply-recommendation", "--no-wait")
	if err == nil || !strings.Contains(err.Error(), "memory request 48Mi is above the container's memory limit 32Mi") {
		t.Errorf("error = %v, want it to name the limit in the way", err)
	}
}
