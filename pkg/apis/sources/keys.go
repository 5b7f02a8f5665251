package sources

// GroupName is the API group of PingSource, ApiServerSource, SinkBinding
// and ContainerSource.
const GroupName = "sources.knative.dev"

// PingSourceEventType is the type of the event a PingSource sends at each
// tick of its schedule.
const PingSourceEventType = "dev.knative.sources.ping"

// The types of the events an ApiServerSource sends. In Resource mode the
// event holds the whole object; in Reference mode only a reference to it.
const (
	ApiServerSourceAddEventType    = "dev.knative.apiserver.resource.add"
	ApiServerSourceUpdateEventType = "dev.knative.apiserver.resource.update"
	ApiServerSourceDeleteEventType = "dev.knative.apiserver.resource.delete"

	ApiServerSourceAddRefEventType    = "dev.knative.apiserver.ref.add"
	ApiServerSourceUpdateRefEventType = "dev.knative.apiserver.ref.update"
	ApiServerSourceDeleteRefEventType = "dev.knative.apiserver.ref.delete"
)
