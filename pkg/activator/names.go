package activator

// ServiceName is the activator's Service in the system namespace. Its
// EndpointSlices are what a Revision's public Service points at in proxy
// mode; its ports carry the names of the Revision Services' request ports
// ("http", "http2"), so that a gateway resolves them alike.
const ServiceName = "flywheel-activator"

// Ports the activator listens on, as config/core's Deployment gives them.
const (
	// Port serves the requests for Revisions (HTTP/1.1 and h2c).
	Port = 8012
	// AdminPort serves /livez, /readyz and /healthz.
	AdminPort = 9092
)

// PodNameEnv names the environment variable that carries the pod's name
// (the downward API's metadata.name), which the activator's reports give
// as theirs.
const PodNameEnv = "POD_NAME"
