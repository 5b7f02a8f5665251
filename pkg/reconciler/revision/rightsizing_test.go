package revision

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/revision/resources"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// advising asks for right-sizing advice with the annotation.
func advising(r *v1.Revision) {
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations[autoscaling.RightSizingAnnotation.String()] = config.RightSizingAdvise
}

// readyWith is a Revision whose pods served (Ready True), built with
// opts, with mark applied to its status.
func readyWith(opts []fwtesting.RevisionOption, mark func(*v1.RevisionStatus)) *v1.Revision {
	return statusOf(rev(opts...), func(s *v1.RevisionStatus) {
		s.MarkResourcesAvailableTrue()
		s.MarkContainerHealthyTrue()
		s.ActualReplicas = ptrTo[int32](1)
		mark(s)
	})
}

// servingWorld is what a served Revision has: its Deployment with a
// ready pod, its Services and PodAutoscaler.
func servingWorld(r *v1.Revision) []runtime.Object {
	return objects(r, deploymentOf(r, progressing(corev1.ConditionTrue, 1)),
		resources.MakePrivateService(r), resources.MakePublicService(r), resources.MakePodAutoscaler(r))
}

// vpaOf is the VPA the reconciler makes for r, with opts applied.
func vpaOf(r *v1.Revision, opts ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	vpa, err := resources.MakeVerticalPodAutoscaler(r)
	if err != nil {
		panic(err)
	}
	for _, o := range opts {
		o(vpa)
	}
	return vpa
}

// recommending gives a VPA the recommender's advice for the app.
func recommending(vpa *unstructured.Unstructured) {
	vpa.Object["status"] = map[string]any{"recommendation": map[string]any{"containerRecommendations": []any{map[string]any{
		"containerName": "user-container",
		"target":        map[string]any{"cpu": "120m", "memory": "48Mi"},
		"lowerBound":    map[string]any{"cpu": "25m", "memory": "32Mi"},
		"upperBound":    map[string]any{"cpu": "1", "memory": "256Mi"},
	}}}}
}

// learnt is the recommender's checkpoint of r's app, after samples
// usage samples.
func learnt(r *v1.Revision, samples int64) *unstructured.Unstructured {
	cp := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{"totalSamplesCount": samples},
	}}
	cp.SetAPIVersion("autoscaling.k8s.io/v1")
	cp.SetKind("VerticalPodAutoscalerCheckpoint")
	cp.SetNamespace(r.Namespace)
	cp.SetName(resources.VerticalPodAutoscalerCheckpointName(r.Name, "user-container"))
	return cp
}

var recommendation = &v1.ResourceRecommendation{
	ContainerName: "user-container",
	Target:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("120m"), corev1.ResourceMemory: resource.MustParse("48Mi")},
	LowerBound:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("25m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
	UpperBound:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")},
}

func TestReconcileRightSizing(t *testing.T) {
	advised := []fwtesting.RevisionOption{advising}
	table := rtesting.TableTest{{
		Name:        "a Revision that asks for advice gets a VPA in Off mode and waits for the recommender",
		Key:         testKey,
		Objects:     servingWorld(rev(advising)),
		WantCreates: []runtime.Object{vpaOf(rev(advising))},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, awaitingRecommendationMessage)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created VerticalPodAutoscaler %q", revName)},
	}, {
		Name:        "config-autoscaler's right-sizing: advise asks for every Revision without the annotation",
		Key:         testKey,
		Objects:     append(servingWorld(rev()), fwtesting.ConfigMap(config.AutoscalerConfigName, map[string]string{"right-sizing": "advise"})),
		WantCreates: []runtime.Object{vpaOf(rev())},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(nil, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, awaitingRecommendationMessage)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created VerticalPodAutoscaler %q", revName)},
	}, {
		Name:    "the recommender's advice shows on the Revision's status",
		Key:     testKey,
		Objects: append(servingWorld(rev(advising)), vpaOf(rev(advising), recommending), learnt(rev(), 12)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommended(recommendation)
		})}},
	}, {
		Name:    "advice before any usage sample is only the recommender's floor: it waits, and looks again",
		Key:     testKey,
		Objects: append(servingWorld(rev(advising)), vpaOf(rev(advising), recommending), learnt(rev(), 0)),
		WantErr: true, // the requeue
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, noSamplesMessage)
		})}},
	}, {
		Name: "the recommender's reason for no advice shows on the condition",
		Key:  testKey,
		Objects: append(servingWorld(rev(advising)), vpaOf(rev(advising), func(u *unstructured.Unstructured) {
			u.Object["status"] = map[string]any{"conditions": []any{map[string]any{
				"type": "RecommendationProvided", "status": "False", "message": "No pods match this VPA object",
			}}}
		})),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, "The VPA recommender: No pods match this VPA object")
		})}},
	}, {
		Name: "a VPA changed by hand is put back into Off mode",
		Key:  testKey,
		Objects: append(servingWorld(rev(advising)), vpaOf(rev(advising), recommending, func(u *unstructured.Unstructured) {
			if err := unstructured.SetNestedField(u.Object, "Recreate", "spec", "updatePolicy", "updateMode"); err != nil {
				panic(err)
			}
		}), learnt(rev(), 12)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: vpaOf(rev(advising), recommending)}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommended(recommendation)
		})}},
	}, {
		Name: "a VPA of the same name owned by another is left alone and the Revision stays Ready",
		Key:  testKey,
		Objects: append(servingWorld(rev(advising)), vpaOf(rev(advising), func(u *unstructured.Unstructured) {
			u.SetOwnerReferences(nil)
		})),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith(advised, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationUnavailable(ReasonNotOwned, `There is an existing VerticalPodAutoscaler "hello-00001" that we do not own.`)
		})}},
	}, {
		Name:    "advice turned off removes the Revision's VPA and the advice",
		Key:     testKey,
		Objects: append(servingWorld(readyWith(nil, func(s *v1.RevisionStatus) { s.MarkResourcesRecommended(recommendation) })), vpaOf(rev(), recommending)),
		WantDeletes: []clientgotesting.DeleteActionImpl{{
			ActionImpl: clientgotesting.ActionImpl{Namespace: ns, Verb: "delete", Resource: resources.VerticalPodAutoscalerGVR},
			Name:       revName,
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: ready()}},
	}}
	table.Test(t, fwtesting.MakeFactory(newTestReconciler(vpaInstalled)))
}

func TestReconcileRightSizingWithoutTheVPA(t *testing.T) {
	table := rtesting.TableTest{{
		Name:    "without the VPA's CRD the Revision says so and stays Ready",
		Key:     testKey,
		Objects: servingWorld(rev(advising)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: readyWith([]fwtesting.RevisionOption{advising}, func(s *v1.RevisionStatus) {
			s.MarkResourcesRecommendationUnavailable(v1.ReasonVPANotInstalled, vpaNotInstalledMessage)
		})}},
		PostConditions: []func(*testing.T, *rtesting.TableRow){func(t *testing.T, row *rtesting.TableRow) {
			t.Helper()
			r := row.WantStatusUpdates[0].Object.(*v1.Revision)
			if !r.Status.GetCondition(v1.RevisionConditionReady).IsTrue() {
				t.Error("the Revision is not Ready without the VPA; advice must not decide readiness")
			}
		}},
	}, {
		Name:              "a Revision without advice needs no VPA",
		Key:               testKey,
		Objects:           servingWorld(ready()),
		WantStatusUpdates: nil,
	}}
	table.Test(t, fwtesting.MakeFactory(newTestReconciler(vpaNotInstalled)))
}
