package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func TestMakeService(t *testing.T) {
	// owned is a Route a Service made: it carries the Service's labels
	// and annotations, kubectl's among them.
	owned := fwtesting.Route("hello", "demo",
		fwtesting.WithRouteLabels(map[string]string{
			"serving.knative.dev/service": "hello",
			"team":                        "blue",
		}),
		fwtesting.WithRouteAnnotations(map[string]string{
			"serving.knative.dev/creator":          "jane@example.com",
			corev1.LastAppliedConfigAnnotation:     `{"kind":"Service"}`,
			"serving.knative.dev/rollout-duration": "60s",
		}))
	alone := fwtesting.Route("hello", "demo")

	service := func(route *v1.Route, labels, annotations map[string]string, externalName string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{
				Name:            "hello",
				Namespace:       "demo",
				Labels:          labels,
				Annotations:     annotations,
				OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(route)},
			},
			Spec: corev1.ServiceSpec{
				Type:            corev1.ServiceTypeExternalName,
				ExternalName:    externalName,
				SessionAffinity: corev1.ServiceAffinityNone,
				Ports: []corev1.ServicePort{{
					Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(80),
				}},
			},
		}
	}

	tests := []struct {
		name   string
		route  *v1.Route
		config func(*config.Config)
		want   *corev1.Service
	}{{
		name:  "a Route of its own: the Route label, an alias of the built-in gateway's cluster-local Service",
		route: alone,
		want: service(alone, map[string]string{"serving.knative.dev/route": "hello"}, nil,
			"flywheel-gateway-local.flywheel-system.svc.cluster.local"),
	}, {
		name:  "a Service's Route: its labels and annotations go along, but kubectl's last-applied configuration",
		route: owned,
		want: service(owned, map[string]string{
			"serving.knative.dev/route":   "hello",
			"serving.knative.dev/service": "hello",
			"team":                        "blue",
		}, map[string]string{
			"serving.knative.dev/creator":          "jane@example.com",
			"serving.knative.dev/rollout-duration": "60s",
		}, "flywheel-gateway-local.flywheel-system.svc.cluster.local"),
	}, {
		name:  "another Gateway's Service from config-network",
		route: alone,
		config: func(c *config.Config) {
			c.Network.ClusterLocalGatewayService.Namespace = "istio-system"
			c.Network.ClusterLocalGatewayService.Name = "knative-local-gateway"
		},
		want: service(alone, map[string]string{"serving.knative.dev/route": "hello"}, nil,
			"knative-local-gateway.istio-system.svc.cluster.local"),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			if tt.config != nil {
				tt.config(cfg)
			}
			before := tt.route.DeepCopy()
			got := MakeService(tt.route, cfg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MakeService (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.route); diff != "" {
				t.Errorf("MakeService changed the Route (-before, +after):\n%s", diff)
			}
		})
	}
}
