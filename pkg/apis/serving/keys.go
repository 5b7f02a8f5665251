package serving

import "strings"

// GroupName is the API group of the Knative Serving resources.
const GroupName = "serving.knative.dev"

// AutoscalingGroupName prefixes the autoscaling annotations of Knative
// Serving. It is an annotation namespace, not a served API group.
const AutoscalingGroupName = "autoscaling.knative.dev"

// NetworkingGroupName prefixes the networking labels of Knative Serving.
const NetworkingGroupName = "networking.knative.dev"

// AnnotationKey is the key of an annotation that Flywheel gives a meaning to.
type AnnotationKey string

// LabelKey is the key of a label that Flywheel gives a meaning to.
type LabelKey string

// Get returns the value of the annotation k on an object's annotations.
func (k AnnotationKey) Get(annotations map[string]string) (string, bool) {
	v, ok := annotations[string(k)]
	return v, ok
}

// String returns the key as written on objects.
func (k AnnotationKey) String() string { return string(k) }

// Get returns the value of the label k on an object's labels.
func (k LabelKey) Get(labels map[string]string) (string, bool) {
	v, ok := labels[string(k)]
	return v, ok
}

// String returns the key as written on objects.
func (k LabelKey) String() string { return string(k) }

// Annotations of serving.knative.dev.
const (
	// CreatorAnnotation records the user who created a Service,
	// Configuration or Route. The webhook sets it; users cannot change it.
	CreatorAnnotation AnnotationKey = GroupName + "/creator"
	// LastModifierAnnotation records the user who last changed the spec.
	LastModifierAnnotation AnnotationKey = GroupName + "/lastModifier"
	// RoutesAnnotation lists, comma separated, the Routes that send traffic
	// to a Configuration or Revision.
	RoutesAnnotation AnnotationKey = GroupName + "/routes"
	// RoutingStateModifiedAnnotation is when the routing-state label last
	// changed, in RFC 3339.
	RoutingStateModifiedAnnotation AnnotationKey = GroupName + "/routingStateModified"
	// RolloutDurationAnnotation moves traffic to a new latest revision
	// gradually over this duration instead of at once.
	RolloutDurationAnnotation AnnotationKey = GroupName + "/rollout-duration"
)

// Labels of serving.knative.dev. The reconcilers set them on the objects
// they create so that users and selectors can find them.
const (
	ServiceLabel                 LabelKey = GroupName + "/service"
	ServiceUIDLabel              LabelKey = GroupName + "/serviceUID"
	ConfigurationLabel           LabelKey = GroupName + "/configuration"
	ConfigurationUIDLabel        LabelKey = GroupName + "/configurationUID"
	ConfigurationGenerationLabel LabelKey = GroupName + "/configurationGeneration"
	RevisionLabel                LabelKey = GroupName + "/revision"
	RevisionUIDLabel             LabelKey = GroupName + "/revisionUID"
	RouteLabel                   LabelKey = GroupName + "/route"
	// RoutingStateLabel says whether a Revision takes traffic; its values
	// are the RoutingState constants.
	RoutingStateLabel LabelKey = GroupName + "/routingState"
)

// RoutingState is a value of RoutingStateLabel.
type RoutingState string

// The values of RoutingStateLabel.
const (
	RoutingStateUnset   RoutingState = ""
	RoutingStatePending RoutingState = "pending"
	RoutingStateActive  RoutingState = "active"
	RoutingStateReserve RoutingState = "reserve"
)

// VisibilityLabel on a Service or Route chooses where its URL is served.
const VisibilityLabel LabelKey = NetworkingGroupName + "/visibility"

// VisibilityClusterLocal is the value of VisibilityLabel that keeps a route
// off the external gateway.
const VisibilityClusterLocal = "cluster-local"

// Annotations of autoscaling.knative.dev, on a Revision or its template.
const (
	ClassAnnotation                         AnnotationKey = AutoscalingGroupName + "/class"
	MetricAnnotation                        AnnotationKey = AutoscalingGroupName + "/metric"
	TargetAnnotation                        AnnotationKey = AutoscalingGroupName + "/target"
	TargetUtilizationPercentageAnnotation   AnnotationKey = AutoscalingGroupName + "/target-utilization-percentage"
	MinScaleAnnotation                      AnnotationKey = AutoscalingGroupName + "/min-scale"
	MaxScaleAnnotation                      AnnotationKey = AutoscalingGroupName + "/max-scale"
	InitialScaleAnnotation                  AnnotationKey = AutoscalingGroupName + "/initial-scale"
	ActivationScaleAnnotation               AnnotationKey = AutoscalingGroupName + "/activation-scale"
	ScaleDownDelayAnnotation                AnnotationKey = AutoscalingGroupName + "/scale-down-delay"
	WindowAnnotation                        AnnotationKey = AutoscalingGroupName + "/window"
	PanicWindowPercentageAnnotation         AnnotationKey = AutoscalingGroupName + "/panic-window-percentage"
	PanicThresholdPercentageAnnotation      AnnotationKey = AutoscalingGroupName + "/panic-threshold-percentage"
	TargetBurstCapacityAnnotation           AnnotationKey = AutoscalingGroupName + "/target-burst-capacity"
	ScaleToZeroPodRetentionPeriodAnnotation AnnotationKey = AutoscalingGroupName + "/scale-to-zero-pod-retention-period"
)

// AutoscalingAnnotations lists every autoscaling.knative.dev annotation
// Flywheel understands, so validation can refuse a misspelt one.
var AutoscalingAnnotations = []AnnotationKey{
	ClassAnnotation, MetricAnnotation, TargetAnnotation,
	TargetUtilizationPercentageAnnotation, MinScaleAnnotation,
	MaxScaleAnnotation, InitialScaleAnnotation, ActivationScaleAnnotation,
	ScaleDownDelayAnnotation, WindowAnnotation,
	PanicWindowPercentageAnnotation, PanicThresholdPercentageAnnotation,
	TargetBurstCapacityAnnotation, ScaleToZeroPodRetentionPeriodAnnotation,
}

// IsAutoscalingAnnotation reports whether key is in the
// autoscaling.knative.dev annotation namespace.
func IsAutoscalingAnnotation(key string) bool {
	return strings.HasPrefix(key, AutoscalingGroupName+"/")
}

// Values of ClassAnnotation.
const (
	// KPAClass is the built-in autoscaler with stable and panic windows; it
	// is the default class.
	KPAClass = "kpa." + AutoscalingGroupName
	// HPAClass scales with a Kubernetes HorizontalPodAutoscaler fed by
	// Flywheel's custom metrics.
	HPAClass = "hpa." + AutoscalingGroupName
)

// Values of MetricAnnotation.
const (
	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
	MetricCPU         = "cpu"
	MetricMemory      = "memory"
)

// Request headers the routing layer sets on each request it sends to a
// Revision, so that the activator, which serves every Revision at one
// address, knows whose request it holds.
const (
	// RevisionHeader names the Revision a request was routed to.
	RevisionHeader = "Knative-Serving-Revision"
	// NamespaceHeader names that Revision's namespace.
	NamespaceHeader = "Knative-Serving-Namespace"
)

// TagHeader is the request header that picks a tagged target on a Route's
// main hosts, as in Knative.
const TagHeader = "Knative-Serving-Tag"
