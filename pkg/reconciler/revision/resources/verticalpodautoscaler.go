package resources

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// The Vertical Pod Autoscaler's API, autoscaling.k8s.io/v1. Flywheel
// writes and reads it as unstructured objects, not through the VPA
// module's clientset: that module would move versions the main module
// pins, and its CRD may well be missing from a cluster.
var (
	VerticalPodAutoscalerGVR = schema.GroupVersionResource{Group: "autoscaling.k8s.io", Version: "v1", Resource: "verticalpodautoscalers"}
	VerticalPodAutoscalerGVK = schema.GroupVersionKind{Group: "autoscaling.k8s.io", Version: "v1", Kind: "VerticalPodAutoscaler"}
)

// VerticalPodAutoscalerCheckpointGVR is where the recommender keeps what
// it learnt of each container: one checkpoint a VPA and container.
var VerticalPodAutoscalerCheckpointGVR = schema.GroupVersionResource{Group: "autoscaling.k8s.io", Version: "v1", Resource: "verticalpodautoscalercheckpoints"}

// VerticalPodAutoscalerCheckpointName is the name the recommender gives
// the checkpoint of container under the VPA vpaName.
func VerticalPodAutoscalerCheckpointName(vpaName, container string) string {
	return vpaName + "-" + container
}

// SamplesOf reads how many usage samples a checkpoint says the
// recommender has learnt from.
func SamplesOf(checkpoint *unstructured.Unstructured) int64 {
	n, _, _ := unstructured.NestedInt64(checkpoint.Object, "status", "totalSamplesCount")
	return n
}

// vpaSpec is the part of a VerticalPodAutoscaler's spec that Flywheel
// sets, with the API's field names.
type vpaSpec struct {
	TargetRef      vpaTargetRef      `json:"targetRef"`
	UpdatePolicy   vpaUpdatePolicy   `json:"updatePolicy"`
	ResourcePolicy vpaResourcePolicy `json:"resourcePolicy"`
}

type vpaTargetRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type vpaUpdatePolicy struct {
	UpdateMode string `json:"updateMode"`
}

type vpaResourcePolicy struct {
	ContainerPolicies []vpaContainerPolicy `json:"containerPolicies"`
}

type vpaContainerPolicy struct {
	ContainerName       string   `json:"containerName"`
	Mode                string   `json:"mode"`
	ControlledResources []string `json:"controlledResources,omitempty"`
}

// vpaStatus is the part of a VerticalPodAutoscaler's status that Flywheel
// reads.
type vpaStatus struct {
	Recommendation *struct {
		ContainerRecommendations []struct {
			ContainerName string              `json:"containerName"`
			Target        corev1.ResourceList `json:"target"`
			LowerBound    corev1.ResourceList `json:"lowerBound"`
			UpperBound    corev1.ResourceList `json:"upperBound"`
		} `json:"containerRecommendations"`
	} `json:"recommendation"`
	Conditions []struct {
		Type    string `json:"type"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"conditions"`
}

// Modes of the VPA's update policy and container policies.
const (
	vpaModeOff  = "Off"
	vpaModeAuto = "Auto"
)

// MakeVerticalPodAutoscaler returns the VPA that advises on the requests
// of the Revision's serving container, or an error when the Revision has
// none to advise on.
//
// Its update mode is Off: the recommender only writes a recommendation
// into the VPA's status, and nothing evicts or resizes a pod. That keeps
// it from fighting the autoscaler (above all the HPA class on cpu, whose
// utilization is a share of the very request a VPA would change) and
// keeps a Revision the immutable snapshot it is: applying advice is a new
// Revision. The queue-proxy and any sidecar of the user are left out:
// their requests are the platform's or someone else's business, and a
// pod-level recommendation would blur the app's own.
func MakeVerticalPodAutoscaler(rev *v1.Revision) (*unstructured.Unstructured, error) {
	serving := rev.Spec.ServingContainer()
	if serving == nil {
		return nil, fmt.Errorf("revision %s has no serving container to advise on", rev.Name)
	}
	policies := []vpaContainerPolicy{{
		ContainerName:       serving.Name,
		Mode:                vpaModeAuto,
		ControlledResources: []string{string(corev1.ResourceCPU), string(corev1.ResourceMemory)},
	}, {
		ContainerName: queue.ContainerName,
		Mode:          vpaModeOff,
	}}
	for _, c := range rev.Spec.Containers {
		if c.Name != serving.Name {
			policies = append(policies, vpaContainerPolicy{ContainerName: c.Name, Mode: vpaModeOff})
		}
	}
	spec, err := toMap(vpaSpec{
		TargetRef:      vpaTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: names.Deployment(rev.Name)},
		UpdatePolicy:   vpaUpdatePolicy{UpdateMode: vpaModeOff},
		ResourcePolicy: vpaResourcePolicy{ContainerPolicies: policies},
	})
	if err != nil {
		return nil, err
	}
	vpa := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	vpa.SetGroupVersionKind(VerticalPodAutoscalerGVK)
	vpa.SetName(names.VerticalPodAutoscaler(rev.Name))
	vpa.SetNamespace(rev.Namespace)
	vpa.SetLabels(Labels(rev))
	vpa.SetOwnerReferences([]metav1.OwnerReference{*kmeta.NewControllerRef(rev)})
	return vpa, nil
}

// RecommendationOf reads the recommendation for container from a VPA's
// status. Without one it returns nil and, when the recommender said why
// (its RecommendationProvided condition), that message.
func RecommendationOf(vpa *unstructured.Unstructured, container string) (*v1.ResourceRecommendation, string, error) {
	raw, ok := vpa.Object["status"]
	if !ok {
		return nil, "", nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, "", err
	}
	var status vpaStatus
	if err := json.Unmarshal(b, &status); err != nil {
		return nil, "", fmt.Errorf("reading the status of VerticalPodAutoscaler %s: %w", vpa.GetName(), err)
	}
	if status.Recommendation != nil {
		for _, c := range status.Recommendation.ContainerRecommendations {
			if c.ContainerName == container && len(c.Target) > 0 {
				return &v1.ResourceRecommendation{
					ContainerName: container,
					Target:        c.Target,
					LowerBound:    c.LowerBound,
					UpperBound:    c.UpperBound,
				}, "", nil
			}
		}
	}
	for _, c := range status.Conditions {
		if c.Type == "RecommendationProvided" && c.Status != string(corev1.ConditionTrue) {
			return nil, c.Message, nil
		}
	}
	return nil, "", nil
}

// VerticalPodAutoscalerSpec returns a VPA's spec, for comparing what is
// with what should be.
func VerticalPodAutoscalerSpec(vpa *unstructured.Unstructured) map[string]any {
	spec, _, _ := unstructured.NestedMap(vpa.Object, "spec")
	return spec
}

// toMap turns v into the JSON-shaped map an unstructured object holds.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}
