package local

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/activator"
	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/gateway"
	"flywheel.dev/pkg/node"
)

// LocalDomain is the domain of Routes in local mode: every name under
// localhost resolves to loopback (RFC 6761), where the gateway listens,
// so a URL works without editing /etc/hosts.
const LocalDomain = "localhost"

// startNode runs the process node until Stop, and binds every pod that no
// scheduler placed to it: local mode has one node and no kube-scheduler.
// It returns the node's address.
func (c *Flywheel) startNode(ctx context.Context) (string, error) {
	logFile, err := os.Create(filepath.Join(c.workDir, "node.log"))
	if err != nil {
		return "", err
	}
	c.closers = append(c.closers, logFile.Close)
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: the node builds ko:// images from the repository", err)
	}
	// virtual-kubelet and client-go log through klog, to stderr by
	// default: in this process that would interleave with the command's
	// own output.
	quietKlog(logFile)
	dataDir := filepath.Join(c.workDir, "node")
	if err := c.record(func(st *State) { st.NodeDataDir = dataDir }); err != nil {
		return "", err
	}
	n, err := node.New(node.Config{
		RESTConfig:   c.ControlPlane.RESTConfig(),
		DataDir:      dataDir,
		ServiceCIDR:  c.ControlPlane.ServiceClusterIPRange,
		ClientCAFile: c.ControlPlane.CACertPath,
		ModuleRoot:   root,
		Logger:       slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return "", err
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	// Stop ends the node after everything that may still send it work,
	// and waits for its sweep, so that no namespace or process outlives
	// the command.
	c.stopNode = func() {
		stop()
		if err := <-done; err != nil {
			fmt.Fprintf(logFile, "node stopped: %v\n", err)
		}
	}
	select {
	case <-n.Ready():
	case err := <-done:
		c.stopNode = func() {}
		return "", fmt.Errorf("starting the process node: %w (log: %s)", err, logFile.Name())
	case <-ctx.Done():
		return "", ctx.Err()
	}
	go bindPods(runCtx, c, n.Name())
	if err := c.recordInProcess("node", net.JoinHostPort(n.IP().String(), strconv.Itoa(node.DefaultKubeletPort)), logFile.Name()); err != nil {
		return "", err
	}
	return n.IP().String(), nil
}

// bindPods binds every pod without a node to nodeName, as the scheduler
// would with one feasible node. Pods are bound once each; a failed bind
// is retried with back-off.
func bindPods(ctx context.Context, c *Flywheel, nodeName string) {
	factory := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", "").String()
		}))
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
			queue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
	}
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		err := c.Kube.CoreV1().Pods(key.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
		}, metav1.CreateOptions{})
		switch {
		case err == nil, ctx.Err() != nil:
			queue.Forget(key)
		default:
			// Gone, or bound meanwhile, end up here too; the informer
			// stops offering such pods, so a retry costs one request.
			if queue.NumRequeues(key) < 10 {
				queue.AddRateLimited(key)
			} else {
				queue.Forget(key)
			}
		}
		queue.Done(key)
	}
}

// startGateway serves the external and cluster-local Gateways in this
// process, on addr and the port after it.
func (c *Flywheel) startGateway(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("gateway address %q: %w", addr, err)
	}
	localPort, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("gateway address %q: the port is not a number", addr)
	}
	if localPort != 0 { // 0 picks a free port for each
		localPort++
	}
	network := apisconfig.DefaultNetwork()
	external, clusterLocal := network.ExternalGateway, network.ClusterLocalGateway
	logFile, err := os.Create(filepath.Join(c.workDir, "gateway.log"))
	if err != nil {
		return err
	}
	c.closers = append(c.closers, logFile.Close)
	g, err := gateway.New(gateway.Config{
		RESTConfig: c.ControlPlane.RESTConfig(),
		Listen: map[types.NamespacedName]string{
			external:     addr,
			clusterLocal: net.JoinHostPort(host, strconv.Itoa(localPort)),
		},
		AdminAddress: "127.0.0.1:0",
		// Nothing balances over this process: no one needs a drain window.
		DrainWindow: -1,
		Logger:      slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return fmt.Errorf("starting the gateway on %s (is the port taken? choose another with --gateway-address): %w", addr, err)
	}
	c.GatewayAddr = g.Addr(external).String()
	c.ClusterLocalGatewayAddr = g.Addr(clusterLocal).String()
	if err := c.runInProcess(ctx, "gateway", logFile, g.Run); err != nil {
		return err
	}
	if err := c.record(func(st *State) {
		st.GatewayAddress, st.ClusterLocalGatewayAddress = c.GatewayAddr, c.ClusterLocalGatewayAddr
	}); err != nil {
		return err
	}
	return c.recordInProcess("gateway", c.GatewayAddr, logFile.Name())
}

// startActivator serves the activator in this process on the node's
// address, which the gateway and the pods both reach, and points the
// activator's Service there, as the EndpointSlice controller would for
// its pod.
func (c *Flywheel) startActivator(ctx context.Context, nodeIP string) error {
	logFile, err := os.Create(filepath.Join(c.workDir, "activator.log"))
	if err != nil {
		return err
	}
	c.closers = append(c.closers, logFile.Close)
	addr := net.JoinHostPort(nodeIP, strconv.Itoa(activatorPort))
	a, err := activator.New(activator.Config{
		RESTConfig:   c.ControlPlane.RESTConfig(),
		Address:      addr,
		AdminAddress: "127.0.0.1:0",
		PodName:      "activator-local",
		DrainWindow:  -1,
		Logger:       slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return fmt.Errorf("starting the activator on %s: %w", addr, err)
	}
	if err := c.runInProcess(ctx, "activator", logFile, a.Run); err != nil {
		return err
	}
	if err := c.recordInProcess("activator", addr, logFile.Name()); err != nil {
		return err
	}
	return c.pointServiceAt(ctx, activator.ServiceName, nodeIP,
		discoveryv1.EndpointPort{Name: ptr.To("http"), Port: ptr.To[int32](activatorPort), Protocol: ptr.To(corev1.ProtocolTCP)},
		discoveryv1.EndpointPort{Name: ptr.To("http2"), Port: ptr.To[int32](activatorPort), Protocol: ptr.To(corev1.ProtocolTCP)},
	)
}

// activatorPort is the activator's port, as in config/core.
const activatorPort = 8012

// runInProcess runs a component in this process until Stop, which tells
// it to stop and waits up to 10 s for it. It fails when the component
// stops at once.
func (c *Flywheel) runInProcess(ctx context.Context, name string, log io.Writer, run func(context.Context) error) error {
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(runCtx) }()
	c.stopComponents = append(c.stopComponents, func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(log, "%s stopped: %v\n", name, err)
			}
		case <-time.After(10 * time.Second):
			fmt.Fprintf(log, "%s still serving 10s after it was told to stop; leaving it\n", name)
		}
	})
	select {
	case err := <-done:
		return fmt.Errorf("the %s stopped: %w", name, err)
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

// quietKlog sends klog's output, errors included, to w only.
func quietKlog(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(w)
}
