package activator

// ServiceName is the activator's Service in the system namespace. Its
// EndpointSlices are what a Revision's public Service points at in proxy
// mode; its ports carry the names of the Revision Services' request ports
// ("http", "http2"), so that a gateway resolves them alike.
const ServiceName = "flywheel-activator"
