package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

const (
	// kubeletVersion is what the Node reports as its kubelet version: the
	// Kubernetes version local mode runs, marked as this node.
	kubeletVersion = "v1.36.3-flywheel"
	// runtimeVersion is the Node's container runtime version.
	runtimeVersion = "process://flywheel"
	// podSyncWorkers is how many pods the pod controller syncs at once.
	podSyncWorkers = 10
	// eventComponent is the source of the node's events.
	eventComponent = "flywheel-node"
)

// Node is a registered Node whose pods run as processes. Create it with
// New, run it with Run.
type Node struct {
	s      *settings
	kube   kubernetes.Interface
	images *imageResolver
	env    *envResolver
	ready  chan struct{}
	ran    atomic.Bool

	mu       sync.Mutex
	provider *provider
}

// New checks cfg and prepares a node. It changes nothing on the host or in
// the cluster; Run does.
func New(cfg Config) (*Node, error) {
	s, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return &Node{
		s:      s,
		kube:   kube,
		images: newImageResolver(kube, s),
		env:    &envResolver{kube: kube, capacity: machineCapacity(), apiServer: s.APIServerAddress},
		ready:  make(chan struct{}),
	}, nil
}

// Name is the Node's name.
func (n *Node) Name() string { return n.s.NodeName }

// IP is the node's address: its InternalIP, the host's address in the pod
// range, which pods route through.
func (n *Node) IP() netip.Addr { return n.s.nodeIP }

// PodCIDR is the range pod IPs come from.
func (n *Node) PodCIDR() netip.Prefix { return n.s.podCIDR }

// DataDir is where the node keeps its state and the pods' logs.
func (n *Node) DataDir() string { return n.s.DataDir }

// Ready is closed once the Node is registered and pods are being synced.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Run sets up the host's routing, registers the Node, keeps its lease and
// runs the pods scheduled to it until ctx ends. It then stops every pod
// (each within its grace period, capped by ShutdownGracePeriod) and
// removes every namespace, link, route, rule and address it made. It needs
// root (CAP_NET_ADMIN and CAP_SYS_ADMIN for network namespaces). A Node
// runs once: call New again to run another.
func (n *Node) Run(ctx context.Context) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("node: running pods in network namespaces needs root")
	}
	if n.ran.Swap(true) {
		return errors.New("node: Run was already called; New makes another node")
	}
	s := n.s
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := Sweep(s.DataDir); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	me, err := self()
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	store, err := newStateStore(s.DataDir, me)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	defer func() {
		// Everything was recorded as it was made; Sweep undoes exactly that.
		if serr := Sweep(s.DataDir); serr != nil {
			err = errors.Join(err, fmt.Errorf("node: cleaning up: %w", serr))
		}
	}()
	n.images.stopBuildsWith(ctx)
	if err := setUpHostNetwork(s, store); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if s.APIServerTarget != "" {
		// The node's IP is on the host now: pods can reach the relay.
		apiServer := newRelay(s.Logger)
		defer apiServer.close()
		if err := apiServer.listen(s.APIServerAddress.String(), s.APIServerTarget); err != nil {
			return fmt.Errorf("node: relaying the API server to pods: %w", err)
		}
	}
	cgroup, err := newNodeCgroup(s.NodeName, func(dir string) error {
		return store.update(func(st *nodeState) { st.Cgroup = dir })
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if cgroup == "" {
		s.Logger.Info("no writable cgroup hierarchy: pods run without cgroups (no limits, no OOMKilled)")
	}

	podFactory := informers.NewSharedInformerFactoryWithOptions(n.kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", s.NodeName).String()
		}))
	podInformer := podFactory.Core().V1().Pods()
	factory := informers.NewSharedInformerFactory(n.kube, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: n.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent, Host: s.NodeName})

	deps := podDeps{
		clock:        s.Clock,
		runner:       execRunner{},
		prober:       newProber(execRunner{}),
		resolveImage: n.images.resolve,
		resolveEnv:   n.env.resolve,
		recorder:     recorder,
		logger:       s.Logger,
		backOff:      s.RestartBackOff,
		maxBackOff:   s.MaxRestartBackOff,
	}
	podGone := func(namespace, name string, uid types.UID) bool {
		pod, err := podInformer.Lister().Pods(namespace).Get(name)
		return apierrors.IsNotFound(err) || (err == nil && pod.UID != uid)
	}
	prov := newProvider(s, deps, store, podGone)
	prov.cgroupParent = cgroup
	prov.removeFromAPI = func(namespace, name string, uid types.UID) {
		// Grace 0 with the UID as precondition: this pod's processes are
		// gone, and a new pod of the same name is not touched.
		opts := metav1.NewDeleteOptions(0)
		opts.Preconditions = metav1.NewUIDPreconditions(string(uid))
		err := n.kube.CoreV1().Pods(namespace).Delete(context.WithoutCancel(ctx), name, *opts)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.Logger.Warn("removing a stopped pod from the API", "pod", namespace+"/"+name, "error", err)
		}
	}
	capacity := machineCapacity()
	prov.newProjector = func() *projector { return newProjector(n.kube, s.Clock, capacity) }
	n.mu.Lock()
	n.provider = prov
	n.mu.Unlock()
	// Runs after the controllers have stopped, before the deferred sweep.
	defer prov.stopAll(s.ShutdownGracePeriod)

	pc, err := vknode.NewPodController(vknode.PodControllerConfig{
		PodClient:         n.kube.CoreV1(),
		PodInformer:       podInformer,
		EventRecorder:     recorder,
		Provider:          prov,
		ConfigMapInformer: factory.Core().V1().ConfigMaps(),
		SecretInformer:    factory.Core().V1().Secrets(),
		ServiceInformer:   factory.Core().V1().Services(),
		// The node resolves the environment itself when a container
		// starts: status.podIP is only known once the sandbox exists.
		SkipDownwardAPIResolution: true,
		// virtual-kubelet queues every new pod and every status the
		// provider reports through these limiters, not only retries.
		SyncPodsFromKubernetesRateLimiter:    podQueueRateLimiter(),
		SyncPodStatusFromProviderRateLimiter: podQueueRateLimiter(),
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	nodes := n.kube.CoreV1().Nodes()
	nc, err := vknode.NewNodeController(vknode.NaiveNodeProvider{}, n.nodeObject(), nodes,
		vknode.WithNodeEnableLeaseV1(n.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease), s.LeaseDurationSeconds),
		vknode.WithNodeStatusUpdateErrorHandler(func(ctx context.Context, err error) error {
			// Someone deleted the Node: register it again.
			if !apierrors.IsNotFound(err) {
				return err
			}
			_, err = nodes.Create(ctx, n.nodeObject(), metav1.CreateOptions{})
			return err
		}))
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}

	runCtx, cancel := context.WithCancel(vklog.WithLogger(ctx, vkslog.FromSlog(s.Logger)))
	defer cancel()
	podFactory.Start(runCtx.Done())
	factory.Start(runCtx.Done())
	defer podFactory.Shutdown()
	defer factory.Shutdown()

	go func() { _ = nc.Run(runCtx) }()
	defer func() { cancel(); <-nc.Done() }()
	select {
	case <-nc.Ready():
	case <-nc.Done():
		return fmt.Errorf("node: registering Node %s: %w", s.NodeName, nc.Err())
	case <-ctx.Done():
		return nil
	}

	// Before any pod is synced: what ran on this node before it
	// (re)started is gone, whatever the statuses say.
	if err := markPodsRestarted(ctx, n.kube, s.NodeName, s.Clock); err != nil {
		s.Logger.Warn("marking the pods of an earlier run not ready", "error", err)
	}

	if s.ClientCAFile != "" {
		srv, err := startKubeletServer(n, podInformer.Lister())
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		defer srv.close()
	}

	go func() { _ = pc.Run(runCtx, podSyncWorkers) }()
	defer func() { cancel(); <-pc.Done() }()
	select {
	case <-pc.Ready():
	case <-pc.Done():
		return fmt.Errorf("node: running the pod controller: %w", pc.Err())
	case <-ctx.Done():
		return nil
	}
	s.Logger.Info("node ready", "node", s.NodeName, "ip", s.nodeIP, "podCIDR", s.podCIDR)
	close(n.ready)

	select {
	case <-ctx.Done():
		return nil
	case <-pc.Done():
		return fmt.Errorf("node: the pod controller stopped: %w", pc.Err())
	case <-nc.Done():
		return fmt.Errorf("node: the node controller stopped: %w", nc.Err())
	}
}

// ContainerPID returns the pid of a running container's process (the
// leader of its process group).
func (n *Node) ContainerPID(namespace, pod, container string) (int, error) {
	p := n.prov()
	if p == nil {
		return 0, errors.New("node: not running")
	}
	return p.containerPID(namespace, pod, container)
}

// Logs returns a container's log, as `kubectl logs` shows it. The kubelet
// API serves the same through the API server when ClientCAFile is set.
func (n *Node) Logs(ctx context.Context, namespace, pod, container string, opts LogOptions) (io.ReadCloser, error) {
	p := n.prov()
	if p == nil {
		return nil, errors.New("node: not running")
	}
	e := p.entry(namespace, pod)
	if e == nil {
		return nil, &errNotFound{msg: fmt.Sprintf("pod %s/%s is not on node %s", namespace, pod, n.s.NodeName)}
	}
	return containerLogs(ctx, e.rt, container, opts)
}

func (n *Node) prov() *provider {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.provider
}

// nodeObject is the Node as registered: Ready, with the machine's
// capacity, the node's IP as InternalIP (the only address, so the API
// server uses it for the kubelet API) and the pod range.
func (n *Node) nodeObject() *corev1.Node {
	s := n.s
	capacity := machineCapacity()
	now := metaTime(s.Clock.Now())
	cond := func(t corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	port := int32(0)
	if s.ClientCAFile != "" {
		port = int32(s.KubeletPort)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.NodeName,
			Labels: map[string]string{
				corev1.LabelHostname:   s.NodeName,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: runtime.GOARCH,
				"type":                 "virtual-kubelet",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: s.podCIDR.String(), PodCIDRs: []string{s.podCIDR.String()}},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Phase:       corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "the process node is running pods"),
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "the process node does not track memory pressure"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "the process node does not track disk pressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "the process node does not track PID pressure"),
				cond(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "pods get routed veths"),
			},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: s.nodeIP.String()}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
				KernelVersion:           kernelVersion(),
				KubeletVersion:          kubeletVersion,
				ContainerRuntimeVersion: runtimeVersion,
			},
		},
	}
}

// machineCapacity is the machine's CPUs and memory, and the kubelet's
// default pod limit.
func machineCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI),
	}
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// podQueueRateLimiter paces the pod controller's queues. Its default
// (client-go's controller limiter) holds every item 5 ms, doubling while
// the item is queued again before it is done, and a new pod and its
// Ready status are what a cold start waits for: the pod is queued once
// per event (bind, each status written), and Ready, following Running by
// a few ms, often meets a conflict, virtual-kubelet writing with the
// lister's resourceVersion. Starting at 1 ms keeps the back-off of
// failures. The default's overall bucket (10 per second after a burst of
// 100) is left out: here it would throttle the statuses of a large
// scale-out, which are news, not retries; the client's own QPS limit
// bounds the writes.
func podQueueRateLimiter() workqueue.TypedRateLimiter[any] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[any](time.Millisecond, 1000*time.Second)
}
