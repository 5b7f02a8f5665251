package v1

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/queue"
)

// Condition types of a Revision.
const (
	// RevisionConditionReady is True when the Revision can serve requests:
	// its resources exist and its containers started healthy.
	RevisionConditionReady = apis.ConditionReady
	// RevisionConditionResourcesAvailable is True once the Deployment,
	// Services and PodAutoscaler exist and the Deployment progressed.
	RevisionConditionResourcesAvailable apis.ConditionType = "ResourcesAvailable"
	// RevisionConditionContainerHealthy is True once a pod's containers
	// started and passed their readiness checks.
	RevisionConditionContainerHealthy apis.ConditionType = "ContainerHealthy"
	// RevisionConditionActive is True while the Revision has pods serving
	// and False once it scaled to zero. It does not affect Ready: a
	// Revision at zero is still ready to serve.
	RevisionConditionActive apis.ConditionType = "Active"
	// RevisionConditionActivatorInPath is the PodAutoscaler's condition
	// of that name: True while requests go through the activator, with
	// the reason. It does not affect Ready.
	RevisionConditionActivatorInPath apis.ConditionType = "ActivatorInPath"
	// RevisionConditionResourcesRecommended is present only on a Revision
	// with right-sizing advice on: True once a recommendation is on the
	// status, Unknown while the recommender has none, False when no
	// Vertical Pod Autoscaler can be made. It does not affect Ready: a
	// Revision serves the same with or without advice.
	RevisionConditionResourcesRecommended apis.ConditionType = "ResourcesRecommended"
)

// Reasons a Revision can give on its conditions.
const (
	ReasonDeploying                = "Deploying"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonContainerMissing         = "ContainerMissing"
	ReasonExitCode                 = "ExitCode"
	ReasonUnschedulable            = "Unschedulable"
	// ReasonCreateFailed and ReasonUpdateFailed say the API server
	// refused to create or update one of the Revision's objects.
	ReasonCreateFailed = "CreateFailed"
	ReasonUpdateFailed = "UpdateFailed"
	// ReasonVPANotInstalled says the cluster lacks the Vertical Pod
	// Autoscaler that right-sizing advice needs.
	ReasonVPANotInstalled = "VerticalPodAutoscalerNotInstalled"
	// ReasonAwaitingRecommendation says the recommender has not advised
	// yet: it needs the pods' usage first.
	ReasonAwaitingRecommendation = "AwaitingRecommendation"
)

var revisionCondSet = apis.NewLivingConditionSet(
	RevisionConditionResourcesAvailable,
	RevisionConditionContainerHealthy,
)

// GetConditionSet implements duckv1.KRShaped.
func (*Revision) GetConditionSet() apis.ConditionSet { return revisionCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (r *Revision) IsReady() bool {
	return r.Generation == r.Status.ObservedGeneration &&
		r.Status.GetCondition(RevisionConditionReady).IsTrue()
}

// IsFailed reports whether the Revision's Ready condition is False.
func (r *Revision) IsFailed() bool {
	return r.Generation == r.Status.ObservedGeneration &&
		r.Status.GetCondition(RevisionConditionReady).IsFalse()
}

// RoutingState returns the value of the routing-state label.
func (r *Revision) RoutingState() serving.RoutingState {
	s, _ := serving.RoutingStateLabel.Get(r.Labels)
	return serving.RoutingState(s)
}

// ConfigurationGeneration returns the generation of the Configuration the
// Revision was made for, from its label; 0 when the label is missing or
// garbled.
func (r *Revision) ConfigurationGeneration() int64 {
	s, _ := serving.ConfigurationGenerationLabel.Get(r.Labels)
	gen, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return gen
}

// InitializeConditions sets every condition to Unknown.
func (rs *RevisionStatus) InitializeConditions() {
	revisionCondSet.Manage(rs).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (rs *RevisionStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return revisionCondSet.Manage(rs).GetCondition(t)
}

// MarkResourcesAvailableTrue says the Revision's resources exist and work.
func (rs *RevisionStatus) MarkResourcesAvailableTrue() {
	revisionCondSet.Manage(rs).MarkTrue(RevisionConditionResourcesAvailable)
}

// MarkResourcesAvailableFalse says a resource could not be made to work.
func (rs *RevisionStatus) MarkResourcesAvailableFalse(reason, message string) {
	revisionCondSet.Manage(rs).MarkFalse(RevisionConditionResourcesAvailable, reason, "%s", message)
}

// MarkResourcesAvailableUnknown says the resources are still coming up.
func (rs *RevisionStatus) MarkResourcesAvailableUnknown(reason, message string) {
	revisionCondSet.Manage(rs).MarkUnknown(RevisionConditionResourcesAvailable, reason, "%s", message)
}

// MarkResourceCreateFailed says the API server refused to create the
// Revision's kind object name, with the server's message. Ready turns
// False: until what refused it changes (the spec, a quota, an admission
// policy), the Revision cannot come up.
func (rs *RevisionStatus) MarkResourceCreateFailed(kind, name, message string) {
	rs.MarkResourcesAvailableFalse(ReasonCreateFailed, fmt.Sprintf("Failed to create %s %q: %s", kind, name, message))
}

// MarkResourceUpdateFailed says the API server refused to update the
// Revision's kind object name, with the server's message.
func (rs *RevisionStatus) MarkResourceUpdateFailed(kind, name, message string) {
	rs.MarkResourcesAvailableFalse(ReasonUpdateFailed, fmt.Sprintf("Failed to update %s %q: %s", kind, name, message))
}

// MarkContainerHealthyTrue says the containers started healthy.
func (rs *RevisionStatus) MarkContainerHealthyTrue() {
	revisionCondSet.Manage(rs).MarkTrue(RevisionConditionContainerHealthy)
}

// MarkContainerHealthyFalse says a container failed, with why.
func (rs *RevisionStatus) MarkContainerHealthyFalse(reason, message string) {
	revisionCondSet.Manage(rs).MarkFalse(RevisionConditionContainerHealthy, reason, "%s", message)
}

// MarkContainerHealthyUnknown says the containers have not yet shown
// whether they are healthy.
func (rs *RevisionStatus) MarkContainerHealthyUnknown(reason, message string) {
	revisionCondSet.Manage(rs).MarkUnknown(RevisionConditionContainerHealthy, reason, "%s", message)
}

// MarkActiveTrue says the Revision has pods serving.
func (rs *RevisionStatus) MarkActiveTrue() {
	revisionCondSet.Manage(rs).MarkTrue(RevisionConditionActive)
}

// MarkActiveFalse says the Revision scaled to zero.
func (rs *RevisionStatus) MarkActiveFalse(reason, message string) {
	revisionCondSet.Manage(rs).MarkFalse(RevisionConditionActive, reason, "%s", message)
}

// MarkActiveUnknown says the Revision is scaling up from zero.
func (rs *RevisionStatus) MarkActiveUnknown(reason, message string) {
	revisionCondSet.Manage(rs).MarkUnknown(RevisionConditionActive, reason, "%s", message)
}

// PropagateDeploymentStatus turns the Deployment's conditions into the
// Revision's ResourcesAvailable condition.
func (rs *RevisionStatus) PropagateDeploymentStatus(ds *appsv1.DeploymentStatus) {
	var progressing, replicaFailure *appsv1.DeploymentCondition
	for i := range ds.Conditions {
		switch ds.Conditions[i].Type {
		case appsv1.DeploymentProgressing:
			progressing = &ds.Conditions[i]
		case appsv1.DeploymentReplicaFailure:
			replicaFailure = &ds.Conditions[i]
		}
	}
	switch {
	case replicaFailure != nil && replicaFailure.Status == corev1.ConditionTrue:
		rs.MarkResourcesAvailableFalse(replicaFailure.Reason, replicaFailure.Message)
	case progressing != nil && progressing.Status == corev1.ConditionFalse:
		rs.MarkResourcesAvailableFalse(ReasonProgressDeadlineExceeded, progressing.Message)
	case progressing != nil && progressing.Status == corev1.ConditionTrue:
		rs.MarkResourcesAvailableTrue()
	default:
		rs.MarkResourcesAvailableUnknown(ReasonDeploying, "")
	}
}

// PropagateAutoscalerStatus copies the PodAutoscaler's scale and activity
// into the Revision.
func (rs *RevisionStatus) PropagateAutoscalerStatus(ps *autoscalingv1alpha1.PodAutoscalerStatus) {
	rs.ActualReplicas = nil
	if ps.ActualScale != nil && *ps.ActualScale >= 0 {
		rs.ActualReplicas = ps.ActualScale
	}
	rs.DesiredReplicas = nil
	if ps.DesiredScale != nil && *ps.DesiredScale >= 0 {
		rs.DesiredReplicas = ps.DesiredScale
	}

	if c := ps.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionActivatorInPath); c != nil {
		inPath := *c
		inPath.Type, inPath.Severity = RevisionConditionActivatorInPath, apis.ConditionSeverityInfo
		revisionCondSet.Manage(rs).SetCondition(inPath)
	}

	active := ps.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionActive)
	switch {
	case active == nil:
		rs.MarkActiveUnknown(ReasonDeploying, "")
	case active.Status == corev1.ConditionTrue:
		rs.MarkActiveTrue()
		// Pods served once, so whatever held the resources back is over.
		if rs.GetCondition(RevisionConditionResourcesAvailable).IsUnknown() {
			rs.MarkResourcesAvailableTrue()
		}
	case active.Status == corev1.ConditionFalse:
		rs.MarkActiveFalse(active.Reason, active.Message)
	default:
		rs.MarkActiveUnknown(active.Reason, active.Message)
	}
}

// GetContainerConcurrency returns the per-pod request limit, 0 for none.
func (rs *RevisionSpec) GetContainerConcurrency() int64 {
	if rs.ContainerConcurrency == nil {
		return 0
	}
	return *rs.ContainerConcurrency
}

// Timeout returns the request timeout; the zero duration when unset.
func (rs *RevisionSpec) Timeout() time.Duration {
	return seconds(rs.TimeoutSeconds)
}

// ResponseStartTimeout returns the time allowed until the first response
// byte; the zero duration when unset.
func (rs *RevisionSpec) ResponseStartTimeout() time.Duration {
	return seconds(rs.ResponseStartTimeoutSeconds)
}

// IdleTimeout returns the time a response may stay silent; the zero
// duration when unset.
func (rs *RevisionSpec) IdleTimeout() time.Duration {
	return seconds(rs.IdleTimeoutSeconds)
}

func seconds(s *int64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s) * time.Second
}

// ServingContainer returns the container that receives requests: the one
// that declares a port, or the only one.
func (rs *RevisionSpec) ServingContainer() *corev1.Container {
	for i := range rs.Containers {
		if len(rs.Containers[i].Ports) > 0 {
			return &rs.Containers[i]
		}
	}
	if len(rs.Containers) == 1 {
		return &rs.Containers[0]
	}
	return nil
}

// AppProtocol returns the protocol the serving container speaks, from the
// name of its port, as Knative's runtime contract has it. The reconciler
// that builds the Revision's pods and Services and the activator that
// forwards to them both read it here.
func (rs *RevisionSpec) AppProtocol() queue.AppProtocol {
	if c := rs.ServingContainer(); c != nil && len(c.Ports) > 0 && c.Ports[0].Name == serving.PortNameH2C {
		return queue.AppProtocolH2C
	}
	return queue.AppProtocolHTTP1
}

// MarkResourcesRecommended records the recommender's advice.
func (rs *RevisionStatus) MarkResourcesRecommended(rec *ResourceRecommendation) {
	rs.ResourceRecommendation = rec
	revisionCondSet.Manage(rs).MarkTrue(RevisionConditionResourcesRecommended)
}

// MarkResourcesRecommendationPending says advice is on and awaited.
func (rs *RevisionStatus) MarkResourcesRecommendationPending(reason, message string) {
	rs.ResourceRecommendation = nil
	revisionCondSet.Manage(rs).MarkUnknown(RevisionConditionResourcesRecommended, reason, "%s", message)
}

// MarkResourcesRecommendationUnavailable says advice is on but cannot be
// had, with the reason; the Revision stays Ready.
func (rs *RevisionStatus) MarkResourcesRecommendationUnavailable(reason, message string) {
	rs.ResourceRecommendation = nil
	revisionCondSet.Manage(rs).MarkFalse(RevisionConditionResourcesRecommended, reason, "%s", message)
}

// ClearResourcesRecommendation removes the advice and its condition, for
// a Revision with right-sizing off.
func (rs *RevisionStatus) ClearResourcesRecommendation() {
	rs.ResourceRecommendation = nil
	_ = revisionCondSet.Manage(rs).ClearCondition(RevisionConditionResourcesRecommended)
}
