package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/eventing/clients"
	"flywheel.dev/pkg/manifest"
	"flywheel.dev/pkg/node"
)

// Names in config/core that local mode relies on.
const (
	// componentLabel names a component on its Deployment, as status and
	// logs call it.
	componentLabel = "app.kubernetes.io/component"
	// gatewayDeployment and its container's port carry the built-in
	// gateway's external listener.
	gatewayDeployment   = "flywheel-gateway"
	gatewayExternalPort = "http-external"
)

// componentsTimeout bounds the wait for every component's Deployment;
// on a cold build cache the node builds their binaries first.
const componentsTimeout = 10 * time.Minute

// upAsPods installs objs (the Gateway API CRDs, config/core and
// config/eventing, the components' workloads included), config/local's
// kube-proxy and CoreDNS, and tools (config/tracing's, when asked for),
// and runs the node, which runs them all as the pods of their workloads,
// as on a real cluster. config/local's workloads and the tools run from
// the executables in binDir, NATS from its pinned module, and
// StatefulSets keep their volumes under the work directory. The built-in
// gateway's external listener becomes a host port on external. It
// returns once every component is ready and the webhook admits through
// the API server.
func (c *Flywheel) upAsPods(ctx context.Context, objs, tools []*unstructured.Unstructured, binDir string, external *net.TCPAddr, progress io.Writer) error {
	if err := exposeGateway(objs, external); err != nil {
		return err
	}
	podCIDR := netip.MustParsePrefix(node.DefaultPodCIDR)
	serviceCIDR, err := netip.ParsePrefix(c.ControlPlane.ServiceClusterIPRange)
	if err != nil {
		return fmt.Errorf("the service range: %w", err)
	}
	networking, err := clusterNetworking(podCIDR, serviceCIDR, hostHasNftables())
	if err != nil {
		return err
	}
	images, err := localImages(slices.Concat(networking, tools), binDir)
	if err != nil {
		return err
	}
	maps.Copy(images, upstreamImageMappings(objs))
	if err := localVolumes(objs, filepath.Join(c.workDir, "volumes")); err != nil {
		return err
	}
	objs = slices.Concat(objs, networking, tools)
	if err := manifest.Apply(ctx, c.ControlPlane.RESTConfig(), objs, manifest.Options{}); err != nil {
		return fmt.Errorf("installing the Gateway API CRDs, config/core and config/local: %w", err)
	}
	if err := c.useLocalDomain(ctx); err != nil {
		return err
	}
	if err := mapNodeImages(ctx, c.Kube, images); err != nil {
		return fmt.Errorf("mapping the images of kube-proxy, CoreDNS and NATS to their executables: %w", err)
	}
	// Recorded before kube-proxy can run, so that a crash from here on
	// still has its rules removed by Down.
	c.kubeProxy = filepath.Join(binDir, kubeProxyName)
	if err := c.record(func(st *State) { st.KubeProxy = c.kubeProxy }); err != nil {
		return err
	}
	nodeIP, err := node.IPOf(podCIDR.String())
	if err != nil {
		return err
	}
	// NATS and the eventing components read NATS's password from its
	// Secret; made now, they need not wait (in growing back-off) for the
	// controller's pod to make it.
	if _, err := clients.EnsureNATSPassword(ctx, c.Kube, SystemNamespace); err != nil {
		return err
	}
	if err := pointKubernetesServiceAtNode(ctx, c.Kube, nodeIP); err != nil {
		return fmt.Errorf("pointing the kubernetes Service at the node: %w", err)
	}
	if err := c.startNode(ctx, podCIDR, []netip.Addr{clusterDNSIP(serviceCIDR)}); err != nil {
		return err
	}
	components := workloadComponents(objs)
	if err := c.record(func(st *State) { st.Components = append(st.Components, components...) }); err != nil {
		return err
	}
	if progress != nil {
		names := make([]string, len(components))
		for i, comp := range components {
			names[i] = comp.Name
		}
		fmt.Fprintf(progress, "Starting %s as pods (the first time, the node builds Flywheel's: a few minutes)...\n", strings.Join(names, ", "))
	}
	if err := c.waitWorkloadsReady(ctx, components); err != nil {
		return err
	}
	if err := c.waitWebhookServing(ctx); err != nil {
		return err
	}
	if err := c.waitControllerLeading(ctx); err != nil {
		return err
	}
	c.GatewayAddr = external.String()
	return c.record(func(st *State) { st.GatewayAddress = c.GatewayAddr })
}

// workloadComponents are the components that objs run as pods: Flywheel's
// Deployments in SystemNamespace, and kube-proxy's DaemonSet and CoreDNS's
// Deployment in kube-system.
func workloadComponents(objs []*unstructured.Unstructured) []Component {
	var components []Component
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns != SystemNamespace && ns != kubeSystem {
			continue
		}
		comp := Component{Name: cmp.Or(o.GetLabels()[componentLabel], o.GetName())}
		if ns != SystemNamespace {
			comp.Namespace = ns
		}
		switch o.GetKind() {
		case "Deployment":
			comp.Deployment = o.GetName()
		case "DaemonSet":
			comp.DaemonSet = o.GetName()
		case "StatefulSet":
			comp.StatefulSet = o.GetName()
		default:
			continue
		}
		components = append(components, comp)
	}
	return components
}

// gatewayHostAddress is the host address of the external Gateway. Port 0
// picks a free port. It must be free now: the node binds it only when the
// gateway's pod starts, too late for a clear error. The cluster-local
// Gateway gets no host port: pods reach it through its Service, as on any
// cluster, and the host must not.
func gatewayHostAddress(addr string) (*net.TCPAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("gateway address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("gateway address %q: the host must be an IP address, such as 127.0.0.1", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("gateway address %q: the port must be a number from 0 to 65535", addr)
	}
	if p == 0 {
		if p, err = controlplane.FreeConsecutivePorts(1); err != nil {
			return nil, err
		}
	}
	a := net.JoinHostPort(host, strconv.Itoa(p))
	l, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("the gateway needs %s, which is taken (choose another with --gateway-address): %w", a, err)
	}
	_ = l.Close()
	return &net.TCPAddr{IP: ip, Port: p}, nil
}

// exposeGateway gives the gateway Deployment's external listener a host
// port, as a cluster would give its Service a load balancer: that is how
// requests from the host reach Routes.
func exposeGateway(objs []*unstructured.Unstructured, external *net.TCPAddr) error {
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
	found := false
	for ci := range d.Spec.Template.Spec.Containers {
		ports := d.Spec.Template.Spec.Containers[ci].Ports
		for pi := range ports {
			if ports[pi].Name == gatewayExternalPort {
				ports[pi].HostIP, ports[pi].HostPort = external.IP.String(), int32(external.Port)
				found = true
			}
		}
	}
	if !found {
		return fmt.Errorf("the gateway Deployment %s lacks the container port %s", gatewayDeployment, gatewayExternalPort)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d)
	if err != nil {
		return err
	}
	objs[i].Object = u
	return nil
}

// waitWorkloadsReady waits until every component's Deployment has all
// its replicas updated and ready, and every DaemonSet its pods.
func (c *Flywheel) waitWorkloadsReady(ctx context.Context, components []Component) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, componentsTimeout, true, func(ctx context.Context) (bool, error) {
		var waiting []string
		for _, comp := range components {
			w, err := WorkloadStateOf(ctx, c.Kube, comp)
			if err != nil {
				last = err
				return false, nil
			}
			if !w.Done() {
				waiting = append(waiting, fmt.Sprintf("%s (%d of %d ready)", comp.Name, w.Ready, w.Want))
				continue
			}
			// A workload's status can be that of an earlier run of a
			// kept cluster until its controller sees the node mark the
			// pods restarted; the pods' own say what runs now.
			ready, total, err := podsReady(ctx, c.Kube, comp.WorkloadNamespace(), w.Selector)
			if err != nil {
				last = err
				return false, nil
			}
			if ready < total || total == 0 {
				waiting = append(waiting, fmt.Sprintf("%s (%d of %d pods ready)", comp.Name, ready, total))
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

// podsReady counts the pods selector selects in namespace that are not
// being deleted, and those of them that are Ready.
func podsReady(ctx context.Context, kube kubernetes.Interface, namespace string, selector *metav1.LabelSelector) (ready, total int, err error) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return 0, 0, err
	}
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, total, nil
}

// WorkloadState is how far a component's Deployment, DaemonSet or
// StatefulSet is.
type WorkloadState struct {
	// Ready counts its ready pods, of the Want it asks for.
	Ready, Want int32
	// Updated says its controller has seen its spec and every pod it has
	// is of that spec.
	Updated bool
	// Selector selects its pods.
	Selector *metav1.LabelSelector
}

// Done says every pod the workload wants is of its spec and ready.
func (w WorkloadState) Done() bool { return w.Updated && w.Want > 0 && w.Ready == w.Want }

// WorkloadStateOf reads the state of the component's workload.
func WorkloadStateOf(ctx context.Context, kube kubernetes.Interface, comp Component) (WorkloadState, error) {
	ns := comp.WorkloadNamespace()
	switch {
	case comp.Deployment != "":
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, comp.Deployment, metav1.GetOptions{})
		if err != nil {
			return WorkloadState{}, err
		}
		want := replicas(d)
		return WorkloadState{
			Ready: d.Status.ReadyReplicas, Want: want, Selector: d.Spec.Selector,
			Updated: d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want && d.Status.Replicas == want,
		}, nil
	case comp.DaemonSet != "":
		ds, err := kube.AppsV1().DaemonSets(ns).Get(ctx, comp.DaemonSet, metav1.GetOptions{})
		if err != nil {
			return WorkloadState{}, err
		}
		want := ds.Status.DesiredNumberScheduled
		return WorkloadState{
			Ready: ds.Status.NumberReady, Want: want, Selector: ds.Spec.Selector,
			Updated: ds.Status.ObservedGeneration >= ds.Generation && ds.Status.UpdatedNumberScheduled == want,
		}, nil
	case comp.StatefulSet != "":
		ss, err := kube.AppsV1().StatefulSets(ns).Get(ctx, comp.StatefulSet, metav1.GetOptions{})
		if err != nil {
			return WorkloadState{}, err
		}
		want := int32(1)
		if ss.Spec.Replicas != nil {
			want = *ss.Spec.Replicas
		}
		return WorkloadState{
			Ready: ss.Status.ReadyReplicas, Want: want, Selector: ss.Spec.Selector,
			Updated: ss.Status.ObservedGeneration >= ss.Generation && ss.Status.UpdatedReplicas == want && ss.Status.Replicas == want,
		}, nil
	}
	return WorkloadState{}, fmt.Errorf("component %s runs as no workload", comp.Name)
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}
