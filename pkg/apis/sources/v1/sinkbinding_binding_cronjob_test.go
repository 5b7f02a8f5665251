package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func heartbeatCronJob(containers ...corev1.Container) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "heartbeat", Namespace: "shop"},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: containers},
			}}},
		},
	}
}

// TestCronJobBinding binds a CronJob the way the webhook and the
// reconciler do (shown as a PodSpecable, bound, the patch moved) and
// applies the patch as the API server would: the CronJob's job template
// carries K_SINK, and nothing else changes.
func TestCronJobBinding(t *testing.T) {
	cronJob := heartbeatCronJob(container("beat", env("A", "1")))
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cronJob)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CronJobAsPodSpecable(obj); !ok || err != nil {
		t.Fatalf("CronJobAsPodSpecable() = %v, %v; want true, nil", ok, err)
	}
	var shown duckv1.WithPod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &shown); err != nil {
		t.Fatal(err)
	}
	if got := len(shown.Spec.Template.Spec.Containers); got != 1 {
		t.Fatalf("the CronJob shown as a PodSpecable has %d containers, want its job's 1", got)
	}
	bound := shown.DeepCopy()
	boundBinding(map[string]string{"team": "shop"}).Do(context.Background(), bound)
	patch, err := duck.CreateBytePatch(&shown, bound)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := CronJobPatch(patch)
	if err != nil {
		t.Fatalf("CronJobPatch(%s): %v", patch, err)
	}

	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := dynamicfake.NewSimpleDynamicClient(scheme, cronJob)
	patched, err := client.Resource(batchv1.SchemeGroupVersion.WithResource("cronjobs")).Namespace("shop").Patch(
		context.Background(), "heartbeat", types.JSONPatchType, moved, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("applying %s: %v", moved, err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(patched.Object, "spec", "template"); found {
		t.Errorf("the patched CronJob has a spec.template: the patch %s was not moved", moved)
	}
	var got batchv1.CronJob
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(patched.Object, &got); err != nil {
		t.Fatal(err)
	}
	want := heartbeatCronJob(container("beat", env("A", "1"), sinkEnv, teamOverride))
	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("the bound CronJob's spec (-want, +got):\n%s", diff)
	}
}

func TestCronJobAsPodSpecableWithoutJobTemplate(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"schedule": "* * * * *"}}
	ok, err := CronJobAsPodSpecable(obj)
	if ok || err != nil {
		t.Errorf("CronJobAsPodSpecable() = %v, %v; want false, nil", ok, err)
	}
	if diff := cmp.Diff(map[string]any{"spec": map[string]any{"schedule": "* * * * *"}}, obj); diff != "" {
		t.Errorf("the object changed (-want, +got):\n%s", diff)
	}
}

func TestCronJobPatch(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		want  string
	}{{
		name:  "below the pod template: moved to the job template",
		patch: `[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"K_SINK","value":"http://sink"}]}]`,
		want:  `[{"op":"add","path":"/spec/jobTemplate/spec/template/spec/containers/0/env","value":[{"name":"K_SINK","value":"http://sink"}]}]`,
	}, {
		name:  "the pod template itself, and a from",
		patch: `[{"op":"copy","from":"/spec/template","path":"/spec/template/metadata"}]`,
		want:  `[{"op":"copy","path":"/spec/jobTemplate/spec/template/metadata","from":"/spec/jobTemplate/spec/template"}]`,
	}, {
		name:  "elsewhere, or a field whose name only starts like it: unchanged; a null value kept",
		patch: `[{"op":"replace","path":"/metadata/labels/app","value":null},{"op":"remove","path":"/spec/templates"}]`,
		want:  `[{"op":"replace","path":"/metadata/labels/app","value":null},{"op":"remove","path":"/spec/templates"}]`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CronJobPatch([]byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("CronJobPatch (-want, +got):\n%s", diff)
			}
		})
	}
	if _, err := CronJobPatch([]byte(`{"op":"add"}`)); err == nil {
		t.Error("CronJobPatch of an object, not a list of operations: no error")
	}
}
