package ping

import (
	"fmt"

	"flywheel.dev/pkg/apis/sources"
)

// Names of the adapter's objects, all in the system namespace.
const (
	// AdapterDeploymentName runs the one adapter that sends the events of
	// every PingSource in the cluster. The reconciler reports its
	// availability as each PingSource's Deployed condition.
	AdapterDeploymentName = "flywheel-pingsource-adapter"
	// AdapterServiceAccountName is the adapter's identity: it reads
	// PingSources in every namespace and holds LeaseName.
	AdapterServiceAccountName = "flywheel-pingsource-adapter"
	// LeaseName is the Lease the adapter's replicas elect their leader
	// with; only the leader sends.
	LeaseName = "flywheel-pingsource-adapter"
)

// Environment variables the adapter's Deployment sets from the downward
// API.
const (
	// PodNameEnv is the pod's name, the identity the adapter holds
	// LeaseName under, so that a container restarted in its pod is still
	// the holder.
	PodNameEnv = "POD_NAME"
	// PodNamespaceEnv is the pod's namespace, where LeaseName lives.
	PodNamespaceEnv = "POD_NAMESPACE"
)

// The adapter's probes, the same paths as the broker ingress's and
// dispatcher's.
const (
	// ProbePort serves HealthPath and ReadyPath.
	ProbePort = 8080
	// HealthPath answers while the process runs (liveness).
	HealthPath = "/healthz"
	// ReadyPath answers once the adapter has loaded every PingSource
	// (readiness): the Deployment, and with it each PingSource's Deployed
	// condition, is available only then.
	ReadyPath = "/readyz"
)

// EventSource is the source attribute of the events PingSource
// namespace/name sends, as Knative's PingSource sets it, and the one its
// status.ceAttributes lists.
func EventSource(namespace, name string) string {
	return fmt.Sprintf("/apis/v1/namespaces/%s/pingsources/%s", namespace, name)
}

// EventType is the type attribute of every event a PingSource sends.
const EventType = sources.PingSourceEventType
