package serverlessservice

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices this reconciler writes, in the form Kubernetes' own slice
// controllers use, so that it and they each keep to their own slices.
const ManagedBy = "serverlessservice.flywheel.dev"

// Mode says whose addresses a Revision's public Service points at.
type Mode int

const (
	// ModeServe sends requests straight to the Revision's ready pods.
	ModeServe Mode = iota
	// ModeProxy sends requests to the activator, which buffers them while
	// the Revision is cold or short of capacity.
	ModeProxy
)

func (m Mode) String() string {
	if m == ModeProxy {
		return "proxy"
	}
	return "serve"
}

// endpointsMode decides the Revision's mode; it is the only place that
// does. Requests go through the activator while the Revision has no ready
// pod, so that they wait there for one instead of failing at the gateway,
// and while its PodAutoscaler wants the activator in the path (its
// ActivatorInPath condition: burst capacity, scaling to zero,
// target-burst-capacity -1; pa is nil before the PodAutoscaler exists).
// With no ready activator the pods (those still serving while they
// terminate included) are the better bet, and the Revision stays in
// serve mode.
func endpointsMode(pa *autoscalingv1alpha1.PodAutoscaler, privateSlices, activatorSlices []*discoveryv1.EndpointSlice) Mode {
	if !anyReady(activatorSlices) {
		return ModeServe
	}
	if !anyReady(privateSlices) || (pa != nil && pa.Status.WantsActivator()) {
		return ModeProxy
	}
	return ModeServe
}

// anyReady reports whether any endpoint of slices is ready.
func anyReady(slices []*discoveryv1.EndpointSlice) bool {
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				return true
			}
		}
	}
	return false
}

// desiredSlices returns the EndpointSlices the Revision's public Service
// should have: one for each slice of the mode's source (the private
// Service's in serve mode, the activator's in proxy mode), holding the
// source's endpoints that take requests, with the source's ports. The
// private Service has the public one's port names and target ports, so
// its slices' ports are the ones the public Service expects.
//
// Mirroring slice for slice keeps kube-controller-manager's packing: one
// pod changing rewrites one slice, and IPv4 and IPv6 stay apart. A
// source slice whose endpoints are all unready still yields an empty
// slice, so a pod flapping updates a slice instead of deleting and
// creating it.
func desiredSlices(rev *v1.Revision, mode Mode, privateSlices, activatorSlices []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	source := privateSlices
	if mode == ModeProxy {
		source = activatorSlices
	}
	var out []*discoveryv1.EndpointSlice
	for _, src := range source {
		if src.AddressType != discoveryv1.AddressTypeIPv4 && src.AddressType != discoveryv1.AddressTypeIPv6 {
			continue // FQDN slices name no address a gateway can dial
		}
		out = append(out, mirror(rev, src))
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// mirror is the public Service's counterpart of one source slice.
func mirror(rev *v1.Revision, src *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	public := names.PublicService(rev.Name)
	var endpoints []discoveryv1.Endpoint
	for _, ep := range src.Endpoints {
		if takesRequests(ep) {
			endpoints = append(endpoints, *ep.DeepCopy())
		}
	}
	ports := make([]discoveryv1.EndpointPort, 0, len(src.Ports))
	for _, p := range src.Ports {
		p := *p.DeepCopy()
		// The API server's defaults, set here so that a slice read back
		// compares equal to the one wanted and is not written again.
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
		ports = append(ports, p)
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      sliceName(public, src),
			Namespace: rev.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName:      public,
				discoveryv1.LabelManagedBy:        ManagedBy,
				serving.RevisionLabel.String():    rev.Name,
				serving.RevisionUIDLabel.String(): string(rev.UID),
			},
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
		},
		AddressType: src.AddressType,
		Endpoints:   endpoints,
		Ports:       ports,
	}
}

// takesRequests reports whether an endpoint should receive requests: it
// is ready (an unset condition means ready), or it still serves while it
// terminates. The conditions go along, so a gateway can keep terminating
// endpoints as the fallback they are.
func takesRequests(ep discoveryv1.Endpoint) bool {
	c := ep.Conditions
	return c.Ready == nil || *c.Ready || (c.Serving != nil && *c.Serving)
}

// sliceName names the public Service's counterpart of src after the
// suffix kube-controller-manager generated for src (its name past
// "<service>-"), so that the same source slice always maps to the same
// public slice.
func sliceName(public string, src *discoveryv1.EndpointSlice) string {
	suffix := src.Name
	if svc := src.Labels[discoveryv1.LabelServiceName]; svc != "" {
		suffix = strings.TrimPrefix(suffix, svc+"-")
	}
	return kmeta.ChildName(public, "-"+suffix)
}
