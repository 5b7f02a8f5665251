package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/manifest"
)

// Names in config/core that local mode relies on.
const (
	// componentLabel names a component on its Deployment, as status and
	// logs call it.
	componentLabel = "app.kubernetes.io/component"
	// gatewayDeployment and its container's ports carry the built-in
	// gateway's two listeners.
	gatewayDeployment   = "flywheel-gateway"
	gatewayExternalPort = "http-external"
	gatewayLocalPort    = "http-local"
)

// componentsTimeout bounds the wait for every component's Deployment;
// on a cold build cache the node builds their binaries first.
const componentsTimeout = 10 * time.Minute

// upAsPods installs objs (the Gateway API CRDs and config/core, the
// components' Deployments included) and runs the node, which runs the
// components as the pods of those Deployments, as on a real cluster. The
// built-in gateway's listeners become host ports on gatewayAddr and the
// port after it. It returns once every component is ready and the webhook
// admits through the API server.
func (c *Flywheel) upAsPods(ctx context.Context, objs []*unstructured.Unstructured, external, clusterLocal *net.TCPAddr, progress io.Writer) error {
	if err := exposeGateway(objs, external, clusterLocal); err != nil {
		return err
	}
	if err := manifest.Apply(ctx, c.ControlPlane.RESTConfig(), objs, manifest.Options{}); err != nil {
		return fmt.Errorf("installing the Gateway API CRDs and config/core: %w", err)
	}
	if err := c.useLocalDomain(ctx); err != nil {
		return err
	}
	if err := c.startNode(ctx); err != nil {
		return err
	}
	var components []Component
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetNamespace() == SystemNamespace {
			name := cmp.Or(o.GetLabels()[componentLabel], o.GetName())
			components = append(components, Component{Name: name, Deployment: o.GetName()})
		}
	}
	if err := c.record(func(st *State) { st.Components = append(st.Components, components...) }); err != nil {
		return err
	}
	if progress != nil {
		names := make([]string, len(components))
		for i, comp := range components {
			names[i] = comp.Name
		}
		fmt.Fprintf(progress, "Starting Flywheel's %s as pods (the first time, the node builds them: a few minutes)...\n", strings.Join(names, ", "))
	}
	if err := c.waitDeploymentsReady(ctx, components); err != nil {
		return err
	}
	if err := c.waitWebhookServing(ctx); err != nil {
		return err
	}
	if err := c.waitControllerLeading(ctx); err != nil {
		return err
	}
	c.GatewayAddr, c.ClusterLocalGatewayAddr = external.String(), clusterLocal.String()
	return c.record(func(st *State) {
		st.GatewayAddress, st.ClusterLocalGatewayAddress = c.GatewayAddr, c.ClusterLocalGatewayAddr
	})
}

// gatewayHostPorts are the host addresses of the external and the
// cluster-local Gateway: addr and the port after it. Port 0 picks two
// free ports. Both must be free now: the node binds them only when the
// gateway's pod starts, too late for a clear error.
func gatewayHostPorts(addr string) (external, clusterLocal *net.TCPAddr, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, nil, fmt.Errorf("gateway address %q: the host must be an IP address, such as 127.0.0.1", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65534 {
		return nil, nil, fmt.Errorf("gateway address %q: the port must be a number from 0 to 65534", addr)
	}
	if p == 0 {
		if p, err = controlplane.FreeConsecutivePorts(2); err != nil {
			return nil, nil, err
		}
	}
	ports := []int{p, p + 1}
	for _, port := range ports {
		a := net.JoinHostPort(host, strconv.Itoa(port))
		l, err := net.Listen("tcp", a)
		if err != nil {
			return nil, nil, fmt.Errorf("the gateway needs %s, which is taken (choose another with --gateway-address): %w", a, err)
		}
		_ = l.Close()
	}
	return &net.TCPAddr{IP: ip, Port: ports[0]}, &net.TCPAddr{IP: ip, Port: ports[1]}, nil
}

// exposeGateway gives the gateway Deployment's listener ports host ports,
// as a cluster would give its Service a load balancer: that is how
// requests from the host reach Routes.
func exposeGateway(objs []*unstructured.Unstructured, external, clusterLocal *net.TCPAddr) error {
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Deployment" && o.GetNamespace() == SystemNamespace && o.GetName() == gatewayDeployment
	})
	if i < 0 {
		return fmt.Errorf("config/core has no Deployment %s/%s", SystemNamespace, gatewayDeployment)
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[i].Object, &d); err != nil {
		return fmt.Errorf("reading Deployment %s: %w", gatewayDeployment, err)
	}
	hostPorts := map[string]*net.TCPAddr{gatewayExternalPort: external, gatewayLocalPort: clusterLocal}
	found := 0
	for ci := range d.Spec.Template.Spec.Containers {
		ports := d.Spec.Template.Spec.Containers[ci].Ports
		for pi := range ports {
			if a, ok := hostPorts[ports[pi].Name]; ok {
				ports[pi].HostIP, ports[pi].HostPort = a.IP.String(), int32(a.Port)
				found++
			}
		}
	}
	if found != len(hostPorts) {
		return fmt.Errorf("the gateway Deployment %s lacks the container ports %s and %s", gatewayDeployment, gatewayExternalPort, gatewayLocalPort)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d)
	if err != nil {
		return err
	}
	objs[i].Object = u
	return nil
}

// waitDeploymentsReady waits until every component's Deployment has all
// its replicas updated and ready.
func (c *Flywheel) waitDeploymentsReady(ctx context.Context, components []Component) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, componentsTimeout, true, func(ctx context.Context) (bool, error) {
		var waiting []string
		for _, comp := range components {
			d, err := c.Kube.AppsV1().Deployments(SystemNamespace).Get(ctx, comp.Deployment, metav1.GetOptions{})
			if err != nil {
				last = err
				return false, nil
			}
			if !deploymentReady(d) {
				waiting = append(waiting, fmt.Sprintf("%s (%d of %d ready)", comp.Name, d.Status.ReadyReplicas, replicas(d)))
			}
		}
		if len(waiting) > 0 {
			last = errors.New("waiting for " + strings.Join(waiting, ", "))
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("starting Flywheel's components as pods (last: %w): %w; see fw local status and fw local logs", last, err)
	}
	return nil
}

// deploymentReady says the Deployment's controller has seen its spec and
// every replica of it is updated and ready.
func deploymentReady(d *appsv1.Deployment) bool {
	want := replicas(d)
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.ReadyReplicas == want && d.Status.Replicas == want
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}
