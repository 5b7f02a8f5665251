package serving

// Environment variables of the Knative runtime contract. The platform sets
// them on the serving container; users may not set them themselves.
const (
	// EnvPort is the port the app must listen on.
	EnvPort = "PORT"
	// EnvService is the name of the Service the Revision belongs to, if any.
	EnvService = "K_SERVICE"
	// EnvConfiguration is the name of the Revision's Configuration.
	EnvConfiguration = "K_CONFIGURATION"
	// EnvRevision is the name of the Revision.
	EnvRevision = "K_REVISION"
)

// ReservedEnvVars lists the environment variables users may not set.
var ReservedEnvVars = []string{EnvPort, EnvService, EnvConfiguration, EnvRevision}

// DefaultUserPort is the port the app listens on when its container
// declares none.
const DefaultUserPort = 8080

// Names a serving container's port may carry; the name chooses the
// protocol the platform speaks to the app.
const (
	PortNameHTTP1 = "http1"
	PortNameH2C   = "h2c"
)
