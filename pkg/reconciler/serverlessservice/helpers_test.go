package serverlessservice

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/system"

	"flywheel.dev/pkg/activator"
	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testRevision  = "hello-00001"
	testKey       = testNamespace + "/" + testRevision
	// privateService and publicService are the Services of testRevision.
	privateService = testRevision + "-private"
	publicService  = testRevision
	// kcm is kube-controller-manager's managed-by value.
	kcm = "endpointslice-controller.k8s.io"
)

var rev = fwtesting.Revision(testRevision, testNamespace, fwtesting.WithRevisionReady)

// podAutoscaler is testRevision's PodAutoscaler, with the autoscaler
// wanting the activator in the path or not.
func podAutoscaler(wantsActivator bool) *autoscalingv1alpha1.PodAutoscaler {
	pa := &autoscalingv1alpha1.PodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testRevision}}
	pa.Status.InitializeConditions()
	if wantsActivator {
		pa.Status.MarkActivatorInPath("BelowBurstCapacity", "short of the target burst capacity")
	} else {
		pa.Status.MarkActivatorOutOfPath("EnoughCapacity", "spare capacity")
	}
	return pa
}

// The ports kube-controller-manager gives the private Service's slices:
// the Service's port names with the pods' port numbers.
var revisionPorts = []discoveryv1.EndpointPort{
	{Name: ptr.To("http"), Port: ptr.To[int32](queue.ServingPort), Protocol: ptr.To(corev1.ProtocolTCP)},
	{Name: ptr.To("http-usermetric"), Port: ptr.To[int32](queue.MetricsPort), Protocol: ptr.To(corev1.ProtocolTCP)},
}

// The ports of the activator's Service's slices: the Revision Services'
// request port names, both at the activator's one port.
var activatorPorts = []discoveryv1.EndpointPort{
	{Name: ptr.To("http"), Port: ptr.To[int32](8012), Protocol: ptr.To(corev1.ProtocolTCP)},
	{Name: ptr.To("http2"), Port: ptr.To[int32](8012), Protocol: ptr.To(corev1.ProtocolTCP)},
}

// endpoint conditions as kube-controller-manager writes them.
func ready(ip string) discoveryv1.Endpoint {
	return endpoint(ip, true, true, false)
}

func unready(ip string) discoveryv1.Endpoint {
	return endpoint(ip, false, false, false)
}

func terminating(ip string, serving bool) discoveryv1.Endpoint {
	return endpoint(ip, false, serving, true)
}

func endpoint(ip string, ready, serving, terminating bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses: []string{ip},
		Conditions: discoveryv1.EndpointConditions{
			Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating),
		},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: testNamespace, Name: "pod-" + ip},
	}
}

// sliceOption changes a slice a test is built from.
type sliceOption func(*discoveryv1.EndpointSlice)

func withAddressType(t discoveryv1.AddressType) sliceOption {
	return func(s *discoveryv1.EndpointSlice) { s.AddressType = t }
}

func withLabel(k, v string) sliceOption {
	return func(s *discoveryv1.EndpointSlice) { s.Labels[k] = v }
}

func withOwner(owner *v1.Revision) sliceOption {
	return func(s *discoveryv1.EndpointSlice) {
		s.OwnerReferences[0].Name, s.OwnerReferences[0].UID = owner.Name, owner.UID
	}
}

func withPorts(ports ...discoveryv1.EndpointPort) sliceOption {
	return func(s *discoveryv1.EndpointSlice) { s.Ports = ports }
}

// privateSlice is a slice kube-controller-manager wrote for the private
// Service, named with a generated suffix, labelled with the Service's
// labels, and owned by the Service.
func privateSlice(suffix string, endpoints []discoveryv1.Endpoint, opts ...sliceOption) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      privateService + "-" + suffix,
			Namespace: testNamespace,
			UID:       types.UID(privateService + "-" + suffix + "-uid"),
			Labels: map[string]string{
				discoveryv1.LabelServiceName:      privateService,
				discoveryv1.LabelManagedBy:        kcm,
				serving.RevisionLabel.String():    testRevision,
				serving.RevisionUIDLabel.String(): string(rev.UID),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: privateService, UID: "private-service-uid",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
		Ports:       revisionPorts,
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// publicSlice is a slice of the public Service as this reconciler writes
// it: managed by it, controlled by the Revision.
func publicSlice(suffix string, endpoints []discoveryv1.Endpoint, opts ...sliceOption) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      publicService + "-" + suffix,
			Namespace: testNamespace,
			UID:       types.UID(publicService + "-" + suffix + "-uid"),
			Labels: map[string]string{
				discoveryv1.LabelServiceName:      publicService,
				discoveryv1.LabelManagedBy:        ManagedBy,
				serving.RevisionLabel.String():    testRevision,
				serving.RevisionUIDLabel.String(): string(rev.UID),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1.SchemeGroupVersion.String(), Kind: "Revision", Name: testRevision, UID: rev.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
		Ports:       revisionPorts,
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// created is want as the create call sends it, before the API server
// gives it a UID.
func created(want *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	want = want.DeepCopy()
	want.UID = ""
	return want
}

func endpoints(eps ...discoveryv1.Endpoint) []discoveryv1.Endpoint { return eps }

// activatorSlice is a slice kube-controller-manager wrote for the
// activator's Service in the system namespace.
func activatorSlice(suffix string, endpoints []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      activator.ServiceName + "-" + suffix,
			Namespace: system.Namespace(),
			UID:       types.UID(activator.ServiceName + "-" + suffix + "-uid"),
			Labels: map[string]string{
				discoveryv1.LabelServiceName: activator.ServiceName,
				discoveryv1.LabelManagedBy:   kcm,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
		Ports:       activatorPorts,
	}
}

// proxySlice is a slice of the public Service in proxy mode: the
// activator's endpoints and ports.
func proxySlice(suffix string, endpoints []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return publicSlice(suffix, endpoints, withPorts(activatorPorts...))
}
