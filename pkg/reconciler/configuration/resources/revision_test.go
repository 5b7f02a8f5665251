package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

var now = time.Date(2026, 11, 22, 10, 30, 0, 0, time.FixedZone("CET", 3600))

func configuration(opts ...func(*v1.Configuration)) *v1.Configuration {
	cfg := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Name:       "hello",
			Namespace:  "demo",
			UID:        "cfg-uid",
			Generation: 2,
			Labels:     map[string]string{"team": "blue"},
			Annotations: map[string]string{
				"serving.knative.dev/creator":      "alice",
				"serving.knative.dev/lastModifier": "bob",
			},
		},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Labels:      map[string]string{"app": "hello"},
				Annotations: map[string]string{"autoscaling.knative.dev/max-scale": "3"},
			},
			Spec: v1.RevisionSpec{
				PodSpec:        corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello:2"}}},
				TimeoutSeconds: ptr.To[int64](30),
			},
		}},
	}
	for _, opt := range opts {
		opt(cfg)
	}
	return cfg
}

func ownerRef() []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion:         "serving.knative.dev/v1",
		Kind:               "Configuration",
		Name:               "hello",
		UID:                "cfg-uid",
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}}
}

func TestMakeRevision(t *testing.T) {
	spec := v1.RevisionSpec{
		PodSpec:        corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello:2"}}},
		TimeoutSeconds: ptr.To[int64](30),
	}
	tests := []struct {
		name string
		cfg  *v1.Configuration
		want *v1.Revision
	}{{
		name: "standalone configuration",
		cfg:  configuration(),
		want: &v1.Revision{
			ObjectMeta: metav1.ObjectMeta{
				Name:      "hello-00002",
				Namespace: "demo",
				Labels: map[string]string{
					"app":                                         "hello",
					"serving.knative.dev/configuration":           "hello",
					"serving.knative.dev/configurationUID":        "cfg-uid",
					"serving.knative.dev/configurationGeneration": "2",
					"serving.knative.dev/routingState":            "pending",
				},
				Annotations: map[string]string{
					"autoscaling.knative.dev/max-scale":        "3",
					"serving.knative.dev/creator":              "bob",
					"serving.knative.dev/routingStateModified": "2026-11-22T09:30:00Z",
				},
				OwnerReferences: ownerRef(),
			},
			Spec: spec,
		},
	}, {
		name: "owned by a service, name chosen in the template, first change",
		cfg: configuration(func(c *v1.Configuration) {
			c.Labels["serving.knative.dev/service"] = "hello"
			c.Labels["serving.knative.dev/serviceUID"] = "svc-uid"
			delete(c.Annotations, "serving.knative.dev/lastModifier")
			c.Spec.Template.Name = "hello-blue"
			// The platform's labels and the creator cannot be chosen in the
			// template.
			c.Spec.Template.Labels["serving.knative.dev/configurationGeneration"] = "9"
			c.Spec.Template.Annotations["serving.knative.dev/creator"] = "mallory"
		}),
		want: &v1.Revision{
			ObjectMeta: metav1.ObjectMeta{
				Name:      "hello-blue",
				Namespace: "demo",
				Labels: map[string]string{
					"app":                                         "hello",
					"serving.knative.dev/configuration":           "hello",
					"serving.knative.dev/configurationUID":        "cfg-uid",
					"serving.knative.dev/configurationGeneration": "2",
					"serving.knative.dev/service":                 "hello",
					"serving.knative.dev/serviceUID":              "svc-uid",
					"serving.knative.dev/routingState":            "pending",
				},
				Annotations: map[string]string{
					"autoscaling.knative.dev/max-scale":        "3",
					"serving.knative.dev/creator":              "alice",
					"serving.knative.dev/routingStateModified": "2026-11-22T09:30:00Z",
				},
				OwnerReferences: ownerRef(),
			},
			Spec: spec,
		},
	}, {
		name: "template claims a service that does not own the configuration",
		cfg: configuration(func(c *v1.Configuration) {
			c.Annotations = nil
			c.Spec.Template.Labels["serving.knative.dev/service"] = "other"
		}),
		want: &v1.Revision{
			ObjectMeta: metav1.ObjectMeta{
				Name:      "hello-00002",
				Namespace: "demo",
				Labels: map[string]string{
					"app":                                         "hello",
					"serving.knative.dev/configuration":           "hello",
					"serving.knative.dev/configurationUID":        "cfg-uid",
					"serving.knative.dev/configurationGeneration": "2",
					"serving.knative.dev/routingState":            "pending",
				},
				Annotations: map[string]string{
					"autoscaling.knative.dev/max-scale":        "3",
					"serving.knative.dev/routingStateModified": "2026-11-22T09:30:00Z",
				},
				OwnerReferences: ownerRef(),
			},
			Spec: spec,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakeRevision(tt.cfg, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MakeRevision() (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestMakeRevisionDoesNotAliasConfiguration(t *testing.T) {
	cfg := configuration()
	rev := MakeRevision(cfg, now)
	rev.Spec.Containers[0].Image = "changed"
	rev.Labels["app"] = "changed"
	if cfg.Spec.Template.Spec.Containers[0].Image != "example.com/hello:2" || cfg.Spec.Template.Labels["app"] != "hello" {
		t.Error("MakeRevision() result aliases the Configuration's template")
	}
}
