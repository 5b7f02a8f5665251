package queue

// Ports the queue-proxy sidecar listens on inside every revision pod. A
// user container may not declare them: validation refuses them so that the
// sidecar and the app never fight over a port.
const (
	// ServingPort receives the requests meant for the app (HTTP/1.1 and
	// h2c on the same port) when the sidecar sits on its own port.
	ServingPort = 8012
	// InterceptPort receives the connections that iptables redirects from
	// the app's own port in transparent mode.
	InterceptPort = 8013
	// AdminPort serves the sidecar's readiness and drain endpoints.
	AdminPort = 8022
	// MetricsPort serves Prometheus metrics and the autoscaler's compact
	// stats endpoint.
	MetricsPort = 9090
	// ProfilingPort serves Go's pprof when profiling is switched on.
	ProfilingPort = 9091
)

// ReservedPorts lists every port a user container may not use.
var ReservedPorts = []int32{ServingPort, InterceptPort, AdminPort, MetricsPort, ProfilingPort}

// IsReservedPort reports whether port belongs to the sidecar.
func IsReservedPort(port int32) bool {
	for _, p := range ReservedPorts {
		if p == port {
			return true
		}
	}
	return false
}

// ContainerName is the name of the sidecar container in every revision
// pod; a user container may not take it.
const ContainerName = "queue-proxy"
