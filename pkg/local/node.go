package local

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"flywheel.dev/pkg/node"
)

// LocalDomain is the domain of Routes in local mode: every name under
// localhost resolves to loopback (RFC 6761), where the gateway listens,
// so a URL works without editing /etc/hosts.
const LocalDomain = "localhost"

// startNode runs the process node until Stop, and binds every pod that no
// scheduler placed to it: local mode has one node and no kube-scheduler.
// Pods get addresses from podCIDR and, with ClusterFirst, clusterDNS.
func (c *Flywheel) startNode(ctx context.Context, podCIDR netip.Prefix, clusterDNS []netip.Addr) error {
	logFile, err := os.Create(filepath.Join(c.workDir, "node.log"))
	if err != nil {
		return err
	}
	c.closers = append(c.closers, logFile.Close)
	root, err := RepoRoot()
	if err != nil {
		return fmt.Errorf("%w: the node builds ko:// images from the repository", err)
	}
	// virtual-kubelet and client-go log through klog, to stderr by
	// default: in this process that would interleave with the command's
	// own output.
	quietKlog(logFile)
	dataDir := filepath.Join(c.workDir, "node")
	apiserver, err := url.Parse(c.ControlPlane.APIServerURL)
	if err != nil {
		return err
	}
	if err := c.record(func(st *State) { st.NodeDataDir = dataDir }); err != nil {
		return err
	}
	n, err := node.New(node.Config{
		RESTConfig:   c.ControlPlane.RESTConfig(),
		DataDir:      dataDir,
		PodCIDR:      podCIDR.String(),
		ServiceCIDR:  c.ControlPlane.ServiceClusterIPRange,
		ClusterDNS:   clusterDNS,
		ClientCAFile: c.ControlPlane.CACertPath,
		ModuleRoot:   root,
		// Pods reach the API server through the node's relay on its IP.
		APIServerTarget: apiserver.Host,
		// Nothing balances over these pods when Flywheel stops: no
		// one needs their drain windows.
		ShutdownGracePeriod: 2 * time.Second,
		Logger:              slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return err
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
		return fmt.Errorf("starting the process node: %w (log: %s)", err, logFile.Name())
	case <-ctx.Done():
		return ctx.Err()
	}
	go bindPods(runCtx, c, n.Name())
	if err := c.recordInProcess("node", net.JoinHostPort(n.IP().String(), strconv.Itoa(node.DefaultKubeletPort)), logFile.Name()); err != nil {
		return err
	}
	return nil
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

// quietKlog sends klog's output, errors included, to w only.
func quietKlog(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(w)
}
