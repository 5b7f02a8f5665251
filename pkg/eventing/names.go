package eventing

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// Names of the broker ingress, in the system namespace.
const (
	// IngressServiceName is the Service in front of the ingress that
	// serves every Broker, at the path BrokerPath.
	IngressServiceName = "broker-ingress"
	// IngressDeploymentName runs the ingress.
	IngressDeploymentName = "flywheel-broker-ingress"
	// DispatcherDeploymentName runs the dispatcher.
	DispatcherDeploymentName = "flywheel-broker-dispatcher"
	// IngressPort is the port the ingress listens on in its pod.
	IngressPort = 8080
	// HealthPath (liveness) and ReadyPath (readiness) are the ingress's
	// and the dispatcher's probe paths. Each has one segment, a Broker's
	// path two.
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// Environment variables by which the controller, the ingress and the
// dispatcher reach NATS. The password comes from NATSSecretName.
const (
	NATSURLEnv      = "NATS_URL"
	NATSUserEnv     = "NATS_USER"
	NATSPasswordEnv = "NATS_PASSWORD"
)

// NATS's Secret and user, in the system namespace. The controller makes
// the Secret with a random password when it is missing; NATS and the
// eventing components read it, and no other pod can publish.
const (
	NATSSecretName        = "flywheel-nats"
	NATSSecretPasswordKey = "password"
	NATSUser              = "flywheel"
)

// BrokerPath is the path of a Broker on the ingress: /<namespace>/<name>.
func BrokerPath(broker types.NamespacedName) string {
	return "/" + broker.Namespace + "/" + broker.Name
}

// ParseBrokerPath is BrokerPath's inverse: exactly two non-empty segments;
// ok is false for any other path.
func ParseBrokerPath(path string) (broker types.NamespacedName, ok bool) {
	rest, found := strings.CutPrefix(path, "/")
	if !found {
		return broker, false
	}
	ns, name, found := strings.Cut(rest, "/")
	if !found || ns == "" || name == "" || strings.Contains(name, "/") {
		return broker, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// BrokerURL is a Broker's address: the ingress Service's cluster-local
// name and the Broker's path.
func BrokerURL(systemNamespace, clusterDomain string, broker types.NamespacedName) *apis.URL {
	return &apis.URL{
		Scheme: "http",
		Host:   fmt.Sprintf("%s.%s.svc.%s", IngressServiceName, systemNamespace, clusterDomain),
		Path:   BrokerPath(broker),
	}
}
