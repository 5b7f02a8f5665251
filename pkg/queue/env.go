package queue

// EnvKey names an environment variable of the queue-proxy sidecar. The
// Revision reconciler writes these on the sidecar container and the sidecar
// reads them; neither side spells a name as a string.
type EnvKey string

// String returns the variable's name as written in a container spec.
func (k EnvKey) String() string { return string(k) }

// The sidecar's environment. Config.Env writes every one of them except
// EnvPod, which the reconciler fills from the downward API (metadata.name)
// because only the kubelet knows a pod's name.
const (
	// EnvMode chooses how requests reach the sidecar: "port" or
	// "transparent" (see Mode).
	EnvMode EnvKey = "FLYWHEEL_QUEUE_MODE"
	// EnvServingPort is the port the sidecar serves proxied requests on.
	EnvServingPort EnvKey = "FLYWHEEL_QUEUE_SERVING_PORT"
	// EnvInterceptPort is the port iptables redirects the app's port to
	// in transparent mode.
	EnvInterceptPort EnvKey = "FLYWHEEL_QUEUE_INTERCEPT_PORT"
	// EnvAdminPort serves the sidecar's readiness endpoint.
	EnvAdminPort EnvKey = "FLYWHEEL_QUEUE_ADMIN_PORT"
	// EnvMetricsPort serves Prometheus metrics and the autoscaler's stats.
	EnvMetricsPort EnvKey = "FLYWHEEL_QUEUE_METRICS_PORT"
	// EnvProfilingPort serves pprof when set to a port; 0 switches it off.
	EnvProfilingPort EnvKey = "FLYWHEEL_QUEUE_PROFILING_PORT"
	// EnvUserPort is the port the app listens on, on 127.0.0.1.
	EnvUserPort EnvKey = "FLYWHEEL_USER_PORT"
	// EnvAppProtocol is the protocol the app speaks: "http1" or "h2c"
	// (see AppProtocol), from the name of the container's port.
	EnvAppProtocol EnvKey = "FLYWHEEL_APP_PROTOCOL"
	// EnvContainerConcurrency is the most requests the app gets at once;
	// 0 means no limit.
	EnvContainerConcurrency EnvKey = "FLYWHEEL_CONTAINER_CONCURRENCY"
	// EnvQueueDepth is how many requests may wait for a free slot beyond
	// the ones the app is serving.
	EnvQueueDepth EnvKey = "FLYWHEEL_QUEUE_DEPTH"
	// EnvRevisionTimeout bounds the wait for the response to start (Go
	// duration, e.g. 300s): the Revision's timeoutSeconds.
	EnvRevisionTimeout EnvKey = "FLYWHEEL_REVISION_TIMEOUT"
	// EnvResponseStartTimeout bounds the wait for the app's response
	// headers; 0s switches it off.
	EnvResponseStartTimeout EnvKey = "FLYWHEEL_RESPONSE_START_TIMEOUT"
	// EnvIdleTimeout bounds the gap between two writes of a response; 0s
	// switches it off.
	EnvIdleTimeout EnvKey = "FLYWHEEL_IDLE_TIMEOUT"
	// EnvDrainWindow is how long the sidecar keeps serving after SIGTERM
	// while readiness already fails.
	EnvDrainWindow EnvKey = "FLYWHEEL_DRAIN_WINDOW"
	// EnvReadinessProbe is the app's readiness probe as the JSON of
	// ProbeSpec.
	EnvReadinessProbe EnvKey = "FLYWHEEL_READINESS_PROBE"
	// EnvNamespace, EnvService, EnvConfiguration, EnvRevision and EnvPod
	// label the sidecar's stats.
	EnvNamespace     EnvKey = "FLYWHEEL_NAMESPACE"
	EnvService       EnvKey = "FLYWHEEL_SERVICE"
	EnvConfiguration EnvKey = "FLYWHEEL_CONFIGURATION"
	EnvRevision      EnvKey = "FLYWHEEL_REVISION"
	EnvPod           EnvKey = "FLYWHEEL_POD"
	// EnvMetricsProtocol, EnvMetricsEndpoint, EnvMetricsExportInterval,
	// EnvTracingProtocol, EnvTracingEndpoint and EnvTracingSamplingRate
	// carry the values of config-observability's keys of the same names
	// (see Observability). The sidecar runs in the user's namespace and
	// cannot watch that ConfigMap in the system namespace, so the
	// Revision reconciler copies them; a change rolls the pods.
	EnvMetricsProtocol       EnvKey = "FLYWHEEL_METRICS_PROTOCOL"
	EnvMetricsEndpoint       EnvKey = "FLYWHEEL_METRICS_ENDPOINT"
	EnvMetricsExportInterval EnvKey = "FLYWHEEL_METRICS_EXPORT_INTERVAL"
	EnvTracingProtocol       EnvKey = "FLYWHEEL_TRACING_PROTOCOL"
	EnvTracingEndpoint       EnvKey = "FLYWHEEL_TRACING_ENDPOINT"
	EnvTracingSamplingRate   EnvKey = "FLYWHEEL_TRACING_SAMPLING_RATE"
)

// AnnotationKey names an annotation the sidecar's behaviour depends on.
type AnnotationKey string

// String returns the key as written on objects.
func (k AnnotationKey) String() string { return string(k) }

// ModeAnnotation on a Revision (or its template) chooses the sidecar's
// Mode. Its values are the Mode constants; absent means ModePort.
const ModeAnnotation AnnotationKey = "flywheel.dev/queue-proxy-mode"

// Mode is how requests reach the sidecar.
type Mode string

const (
	// ModePort is Knative's way: the gateway and activator send requests
	// to the sidecar's serving port, and the sidecar forwards them to the
	// app's port on loopback.
	ModePort Mode = "port"
	// ModeTransparent keeps the app's port as the pod's public port: an
	// init container (`queue iptables`) redirects inbound TCP for it to the
	// sidecar's intercept port, which forwards to the app on loopback. The
	// sidecar also serves its serving port, so callers that know about it
	// can skip the redirect.
	ModeTransparent Mode = "transparent"
)

// AppProtocol is the protocol the sidecar speaks to the app. Its values
// are the port names of Knative's runtime contract, so the reconciler
// copies the container port's name.
type AppProtocol string

const (
	// AppProtocolHTTP1 sends every request to the app as HTTP/1.1, also
	// those that arrived over h2c.
	AppProtocolHTTP1 AppProtocol = "http1"
	// AppProtocolH2C sends requests to the app over cleartext HTTP/2
	// (prior knowledge), as gRPC servers need; WebSocket upgrades still
	// use HTTP/1.1, which has no multiplexed equivalent here.
	AppProtocolH2C AppProtocol = "h2c"
)

// SidecarUID is the user id the sidecar runs as in transparent mode.
// `queue iptables --exclude-uid` exempts its own connections from the
// OUTPUT redirect, so the sidecar's requests to the app are not sent back
// to itself.
const SidecarUID = 1337

// The `queue iptables` subcommand of the sidecar's binary, which the
// transparent-mode init container runs with NET_ADMIN, and its flags. The
// Revision reconciler writes them in the init container's args and package
// pkg/queue/intercept parses them.
const (
	// IPTablesCommand is the subcommand: `queue iptables --app-port 8080`.
	IPTablesCommand = "iptables"
	// IPTablesFlagAppPort is the app's port, whose inbound TCP is
	// redirected to the intercept port. Required unless removing.
	IPTablesFlagAppPort = "app-port"
	// IPTablesFlagInterceptPort is the sidecar's intercept port; it
	// defaults to InterceptPort.
	IPTablesFlagInterceptPort = "intercept-port"
	// IPTablesFlagExcludeUID is the uid whose connections are never
	// redirected; it defaults to SidecarUID, and a negative value turns
	// the exclusion off.
	IPTablesFlagExcludeUID = "exclude-uid"
	// IPTablesFlagRemove removes the rules instead of installing them.
	IPTablesFlagRemove = "remove"
)

// Headers the sidecar gives a meaning to.
const (
	// NetworkProbeHeader with the value NetworkProbeValue marks a request
	// the sidecar answers itself (200 when it and the app are ready, 503
	// otherwise) instead of forwarding: the activator and gateway use it
	// to check that a pod is reachable and serving.
	NetworkProbeHeader = "K-Network-Probe"
	// NetworkProbeValue is the value of NetworkProbeHeader the sidecar
	// answers; it also comes back as the body.
	NetworkProbeValue = "queue"
	// ViaActivatorHeader with the value ViaActivatorValue marks a request
	// the activator forwarded. The sidecar counts it apart in its stats,
	// since the activator reports it too; Routes remove the header from
	// what clients send, so that a client cannot hide its load.
	ViaActivatorHeader = "K-Via-Activator"
	// ViaActivatorValue is the value of ViaActivatorHeader the activator
	// sets.
	ViaActivatorValue = "true"
	// KubeletProbeUserAgentPrefix starts the User-Agent of the kubelet's
	// HTTP probes. In transparent mode they arrive through the sidecar; it
	// forwards them ahead of any queue and does not count them as load.
	KubeletProbeUserAgentPrefix = "kube-probe/"
)

// Paths on the sidecar's admin and metrics ports.
const (
	// ReadyPath on the admin port answers 200 when the app passed its
	// readiness probe and the sidecar is not draining, 503 otherwise. The
	// pod's readiness probe points here.
	ReadyPath = "/ready"
	// HealthPath on the admin port answers 200 while the process runs
	// (liveness).
	HealthPath = "/healthz"
	// DrainPath, on the admin port, answers once the sidecar has drained:
	// the app container's preStop hook waits on it, so the app is told to
	// stop only after the last request it will get.
	DrainPath = "/wait-for-drain"
	// MetricsPath on the metrics port serves Prometheus text.
	MetricsPath = "/metrics"
	// StatsPath on the metrics port serves the autoscaler's compact stats
	// (see package pkg/queue/stats).
	StatsPath = "/stats"
)
