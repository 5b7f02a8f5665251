package resources

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/pkg/kmeta"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/resources/names"
)

// servicePort is the port of a Route's Service: the HTTP port the
// cluster-local Gateway's Service listens on.
const servicePort = 80

// MakeService returns the core Service that gives route's cluster-local
// host a DNS name: a Service of the Route's own name, so that
// <route>.<namespace>.svc.cluster.local (and the shorter names a pod's
// search path completes) resolves, as an ExternalName alias of
// config-network's cluster-local-gateway-service. Requests reach the
// cluster-local Gateway with the host the client used, which the Route's
// cluster-local HTTPRoute matches.
//
// It carries the Route's labels (and so a Service's, through its Route)
// with serving.knative.dev/route, and the Route's annotations but
// kubectl's last-applied configuration, which describes the Route, not
// this object. Every field the API server would default is written out,
// so that the Service read back compares equal.
func MakeService(route *v1.Route, cfg *config.Config) *corev1.Service {
	labels := make(map[string]string, len(route.Labels)+1)
	maps.Copy(labels, route.Labels)
	labels[serving.RouteLabel.String()] = route.Name

	var annotations map[string]string
	if len(route.Annotations) > 0 {
		annotations = maps.Clone(route.Annotations)
		delete(annotations, corev1.LastAppliedConfigAnnotation)
		if len(annotations) == 0 {
			annotations = nil
		}
	}

	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Service(route),
			Namespace:       route.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(route)},
		},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeExternalName,
			ExternalName:    cfg.Network.ClusterLocalGatewayHost(),
			SessionAffinity: corev1.ServiceAffinityNone,
			// An ExternalName Service is a DNS alias: nothing proxies its
			// ports. The port says what the name serves, for tools that
			// read it.
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Protocol:   corev1.ProtocolTCP,
				Port:       servicePort,
				TargetPort: intstr.FromInt32(servicePort),
			}},
		},
	}
}
