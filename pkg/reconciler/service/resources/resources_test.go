package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

func service(traffic ...v1.TrafficTarget) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "hello",
			Namespace: "demo",
			UID:       "svc-uid",
			Labels:    map[string]string{"team": "blue"},
			Annotations: map[string]string{
				"serving.knative.dev/creator":      "alice",
				"serving.knative.dev/lastModifier": "bob",
				"example.com/note":                 "kept",
				corev1.LastAppliedConfigAnnotation: `{"kind":"Service"}`,
			},
		},
		Spec: v1.ServiceSpec{
			ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Name:        "hello-v1",
					Annotations: map[string]string{"autoscaling.knative.dev/max-scale": "3"},
				},
				Spec: v1.RevisionSpec{
					PodSpec:        corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello:1"}}},
					TimeoutSeconds: ptr.To[int64](30),
				},
			}},
			RouteSpec: v1.RouteSpec{Traffic: traffic},
		},
	}
}

// wantMeta is what both children carry: the Service's labels plus the
// service labels, its annotations without kubectl's, and a controller
// reference.
func wantMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      "hello",
		Namespace: "demo",
		Labels: map[string]string{
			"team":                           "blue",
			"serving.knative.dev/service":    "hello",
			"serving.knative.dev/serviceUID": "svc-uid",
		},
		Annotations: map[string]string{
			"serving.knative.dev/creator":      "alice",
			"serving.knative.dev/lastModifier": "bob",
			"example.com/note":                 "kept",
		},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         "serving.knative.dev/v1",
			Kind:               "Service",
			Name:               "hello",
			UID:                "svc-uid",
			Controller:         ptr.To(true),
			BlockOwnerDeletion: ptr.To(true),
		}},
	}
}

func TestMakeConfiguration(t *testing.T) {
	svc := service()
	got := MakeConfiguration(svc)
	want := &v1.Configuration{
		ObjectMeta: wantMeta(),
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Name:        "hello-v1",
				Annotations: map[string]string{"autoscaling.knative.dev/max-scale": "3"},
			},
			Spec: v1.RevisionSpec{
				PodSpec:        corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello:1"}}},
				TimeoutSeconds: ptr.To[int64](30),
			},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakeConfiguration() (-want, +got):\n%s", diff)
	}

	// The Configuration must not share memory with the Service: the
	// Service may come from an informer's cache.
	got.Spec.Template.Spec.Containers[0].Image = "changed"
	got.Labels["team"] = "changed"
	if svc.Spec.Template.Spec.Containers[0].Image != "example.com/hello:1" || svc.Labels["team"] != "blue" {
		t.Error("MakeConfiguration() result aliases the Service")
	}
}

func TestMakeRoute(t *testing.T) {
	latest := func(percent int64) v1.TrafficTarget {
		return v1.TrafficTarget{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To(percent)}
	}
	tests := []struct {
		name    string
		traffic []v1.TrafficTarget
		want    []v1.TrafficTarget
	}{{
		name: "no traffic block: all to the latest revision",
		want: []v1.TrafficTarget{latest(100)},
	}, {
		name:    "latestRevision true names the Service's Configuration",
		traffic: []v1.TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}},
		want:    []v1.TrafficTarget{latest(100)},
	}, {
		name:    "undefaulted target without a revision follows the latest",
		traffic: []v1.TrafficTarget{{Percent: ptr.To[int64](100)}},
		want:    []v1.TrafficTarget{latest(100)},
	}, {
		name: "pinned revisions and tags are copied as they are",
		traffic: []v1.TrafficTarget{
			{RevisionName: "hello-v1", LatestRevision: ptr.To(false), Percent: ptr.To[int64](80), Tag: "stable"},
			{RevisionName: "hello-v0", Percent: ptr.To[int64](0), Tag: "old"},
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](20), Tag: "canary"},
		},
		want: []v1.TrafficTarget{
			{RevisionName: "hello-v1", LatestRevision: ptr.To(false), Percent: ptr.To[int64](80), Tag: "stable"},
			{RevisionName: "hello-v0", Percent: ptr.To[int64](0), Tag: "old"},
			{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To[int64](20), Tag: "canary"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakeRoute(service(tt.traffic...))
			want := &v1.Route{ObjectMeta: wantMeta(), Spec: v1.RouteSpec{Traffic: tt.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MakeRoute() (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestMakeRouteDoesNotAliasService(t *testing.T) {
	svc := service(v1.TrafficTarget{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)})
	got := MakeRoute(svc)
	*got.Spec.Traffic[0].Percent = 1
	if *svc.Spec.Traffic[0].Percent != 100 || svc.Spec.Traffic[0].ConfigurationName != "" {
		t.Errorf("MakeRoute() changed the Service's traffic: %+v", svc.Spec.Traffic[0])
	}
}
