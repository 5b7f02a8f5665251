package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	activatorserver "flywheel.dev/pkg/activator/server"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingfake "flywheel.dev/pkg/client/clientset/versioned/fake"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
	revisionnames "flywheel.dev/pkg/reconciler/revision/resources/names"
)

// newActivator returns an activator serving the route's Revision on
// listen, its health endpoints on admin: fake clientsets hold the
// Revision (no containerConcurrency limit, the default timeout) and its
// private Service's EndpointSlice with one ready pod at backend. It stops
// at once when told to.
func newActivator(backend, listen, admin string, log *slog.Logger) (*activatorserver.Activator, error) {
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", backend, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("backend %q: the port is not a number", backend)
	}
	private := revisionnames.PrivateService(benchRevision)
	kube := kubefake.NewClientset(&discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      private + "-bench",
			Namespace: gt.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName:   private,
				serving.RevisionLabel.String(): benchRevision,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(revisionnames.ServicePortNameHTTP), Port: ptr.To(int32(p))}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{host},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
	})
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: benchRevision, Namespace: gt.Namespace},
		Spec: v1.RevisionSpec{
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}
	rev.Spec.Containers = []corev1.Container{{Image: "bench"}}
	return activatorserver.New(activatorserver.Config{
		Kube:            kube,
		Serving:         servingfake.NewSimpleClientset(rev),
		Address:         listen,
		AdminAddress:    admin,
		DrainWindow:     -1,
		ShutdownTimeout: 2 * time.Second,
		Logger:          log,
	})
}
