package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestMakeVerticalPodAutoscaler(t *testing.T) {
	rev := revision(withPort("http1", 8080), func(r *v1.Revision) {
		r.Spec.Containers = append(r.Spec.Containers, corev1.Container{Name: "log-shipper", Image: "example.com/shipper"})
	})
	vpa, err := MakeVerticalPodAutoscaler(rev)
	if err != nil {
		t.Fatal(err)
	}
	// In Off mode, on the Revision's Deployment, advising on the app's
	// container alone: not on the queue-proxy, not on the user's sidecar.
	want := map[string]any{
		"targetRef":    map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-00001-deployment"},
		"updatePolicy": map[string]any{"updateMode": "Off"},
		"resourcePolicy": map[string]any{"containerPolicies": []any{
			map[string]any{"containerName": "user-container", "mode": "Auto", "controlledResources": []any{"cpu", "memory"}},
			map[string]any{"containerName": "queue-proxy", "mode": "Off"},
			map[string]any{"containerName": "log-shipper", "mode": "Off"},
		}},
	}
	if diff := cmp.Diff(want, VerticalPodAutoscalerSpec(vpa)); diff != "" {
		t.Errorf("spec (-want, +got):\n%s", diff)
	}
	if got := vpa.GroupVersionKind(); got != VerticalPodAutoscalerGVK {
		t.Errorf("kind %v, want %v", got, VerticalPodAutoscalerGVK)
	}
	if vpa.GetName() != rev.Name || vpa.GetNamespace() != rev.Namespace {
		t.Errorf("VPA %s/%s, want the Revision's name %s/%s", vpa.GetNamespace(), vpa.GetName(), rev.Namespace, rev.Name)
	}
	owner := vpa.GetOwnerReferences()
	if len(owner) != 1 || owner[0].UID != rev.UID || owner[0].Controller == nil || !*owner[0].Controller {
		t.Errorf("owner references %+v, want the Revision as controller", owner)
	}
	if got := vpa.GetLabels()["serving.knative.dev/revision"]; got != rev.Name {
		t.Errorf("revision label %q, want %q: the controller's VPA informer selects by it", got, rev.Name)
	}
}

func TestMakeVerticalPodAutoscalerWithoutServingContainer(t *testing.T) {
	rev := revision(func(r *v1.Revision) {
		r.Spec.Containers = append(r.Spec.Containers, corev1.Container{Name: "other"})
	})
	if _, err := MakeVerticalPodAutoscaler(rev); err == nil {
		t.Error("two containers, none with a port: want an error, got a VPA")
	}
}

// vpaWithStatus is a VPA as the recommender leaves it.
func vpaWithStatus(status map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "hello-00001"},
		"status":   status,
	}}
}

func TestRecommendationOf(t *testing.T) {
	q := resource.MustParse
	tests := []struct {
		name    string
		vpa     *unstructured.Unstructured
		want    *v1.ResourceRecommendation
		wantWhy string
	}{{
		name: "no status yet",
		vpa:  vpaWithStatus(nil),
	}, {
		name: "the recommender's reason for no recommendation",
		vpa: vpaWithStatus(map[string]any{"conditions": []any{map[string]any{
			"type": "RecommendationProvided", "status": "False", "message": "No pods match this VPA object",
			"lastTransitionTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z"),
		}}}),
		wantWhy: "No pods match this VPA object",
	}, {
		name: "the serving container's recommendation, not another's",
		vpa: vpaWithStatus(map[string]any{"recommendation": map[string]any{"containerRecommendations": []any{
			map[string]any{"containerName": "other", "target": map[string]any{"cpu": "1"}},
			map[string]any{
				"containerName":  "user-container",
				"target":         map[string]any{"cpu": "120m", "memory": "48Mi"},
				"lowerBound":     map[string]any{"cpu": "25m", "memory": "32Mi"},
				"upperBound":     map[string]any{"cpu": "2", "memory": "1Gi"},
				"uncappedTarget": map[string]any{"cpu": "120m", "memory": "48Mi"},
			},
		}}}),
		want: &v1.ResourceRecommendation{
			ContainerName: "user-container",
			Target:        corev1.ResourceList{corev1.ResourceCPU: q("120m"), corev1.ResourceMemory: q("48Mi")},
			LowerBound:    corev1.ResourceList{corev1.ResourceCPU: q("25m"), corev1.ResourceMemory: q("32Mi")},
			UpperBound:    corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.vpa.Object["status"] == nil {
				delete(tc.vpa.Object, "status")
			}
			got, why, err := RecommendationOf(tc.vpa, "user-container")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("recommendation (-want, +got):\n%s", diff)
			}
			if why != tc.wantWhy {
				t.Errorf("why = %q, want %q", why, tc.wantWhy)
			}
		})
	}
}
