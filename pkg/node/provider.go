package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// provider is the virtual-kubelet PodLifecycleHandler: it keeps one
// podRuntime and sandbox per pod and reports status changes through
// NotifyPods.
type provider struct {
	s    *settings
	deps podDeps
	// newProjector makes a pod's projector of API data volumes; nil runs
	// pods without a filesystem of their own (unit tests).
	newProjector func() *projector
	// cgroupParent is the node's cgroup; empty: pods get none.
	cgroupParent string
	store        *stateStore
	ipam         *ipam
	logger       *slog.Logger
	// podGone reports whether the API no longer has the pod (by name and
	// UID): the pod controller's last DeletePod, after which the node
	// forgets it.
	podGone func(namespace, name string, uid types.UID) bool
	// removeFromAPI deletes a pod object whose deletion the node has
	// carried out, as the kubelet does once a deleted pod's containers
	// have stopped; nil leaves that to the pod controller, which does it
	// only when the pod's grace period is over.
	removeFromAPI func(namespace, name string, uid types.UID)

	mu     sync.Mutex
	pods   map[string]*podEntry // by namespace/name
	notify func(*corev1.Pod)
}

var (
	_ vknode.PodLifecycleHandler = (*provider)(nil)
	_ vknode.PodNotifier         = (*provider)(nil)
)

// podEntry is one pod the node runs or is removing.
type podEntry struct {
	uid         types.UID
	hostNetwork bool
	rt          *podRuntime
	sb          *sandbox
	logDir      string
	// files is the pod's filesystem part and cgroup its cgroup; nil
	// without.
	files  *podFilesystem
	cgroup *podCgroup

	// changes wakes the notifier (capacity one: changes coalesce, and the
	// notifier always sends the latest status); quit ends it.
	changes chan struct{}
	quit    chan struct{}

	teardownOnce sync.Once
	sandboxDown  chan struct{}
	forgetOnce   sync.Once

	// Guarded by provider.mu.
	// deleted is set when the API deleted the pod, rather than the node
	// stopping.
	deleted  bool
	stopping bool
	stopped  chan struct{} // closed once stopped and torn down
	forget   bool
}

func newProvider(s *settings, deps podDeps, store *stateStore, podGone func(string, string, types.UID) bool) *provider {
	return &provider{
		s:       s,
		deps:    deps,
		store:   store,
		ipam:    newIPAM(s.podCIDR, s.nodeIP),
		logger:  s.Logger,
		podGone: podGone,
		pods:    map[string]*podEntry{},
	}
}

// PodStartedMessage is what the node logs once a pod's sandbox is up and
// its containers are starting (test/bench/autoscaling reads it).
const PodStartedMessage = "pod started"

// ContainerStartedMessage is what the node logs once a container's
// process runs (the container init has exec'd it).
const ContainerStartedMessage = "container started"

func podKey(namespace, name string) string { return namespace + "/" + name }

// CreatePod sets up the pod's sandbox and starts its containers. Sandbox
// errors are returned, so the pod controller marks the pod
// ProviderFailed and retries; everything later shows in the pod's status.
func (p *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	if e := p.pods[key]; e != nil {
		p.mu.Unlock()
		if e.uid == pod.UID {
			return nil
		}
		return fmt.Errorf("pod %s: the pod with UID %s of the same name is still being removed", key, e.uid)
	}
	p.mu.Unlock()

	uid := string(pod.UID)
	e := &podEntry{
		uid:         pod.UID,
		hostNetwork: pod.Spec.HostNetwork,
		logDir:      podLogDir(p.s.DataDir, pod.Namespace, pod.Name, uid),
		changes:     make(chan struct{}, 1),
		quit:        make(chan struct{}),
		sandboxDown: make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	e.sb = &sandbox{uid: pod.UID, ip: p.s.nodeIP}
	if !e.hostNetwork {
		ip, err := p.ipam.allocate(uid)
		if err != nil {
			return err
		}
		e.sb.ip = ip
		e.sb.parts = append(e.sb.parts, &podNetwork{
			netns:    NetnsName(pod.UID),
			hostLink: HostLinkName(pod.UID),
			nodeIP:   p.s.nodeIP,
			routed:   []netip.Prefix{p.s.podCIDR, p.s.serviceCIDR},
			record: func(netns, hostLink string) error {
				return p.store.pod(uid, func(r *podRecord) { r.Netns, r.HostLink = netns, hostLink })
			},
		})
	}
	if p.cgroupParent != "" {
		e.cgroup = &podCgroup{
			dir: filepath.Join(p.cgroupParent, "pod-"+uid),
			record: func(dir string) error {
				return p.store.pod(uid, func(r *podRecord) { r.Cgroup = dir })
			},
		}
		e.sb.parts = append(e.sb.parts, e.cgroup)
	}
	if p.newProjector != nil {
		e.files = &podFilesystem{
			dir:         podDir(p.s.DataDir, uid),
			hideDir:     p.s.DataDir,
			nodeIP:      p.s.nodeIP,
			hostNetwork: e.hostNetwork,
			dns:         clusterDNS{servers: p.s.ClusterDNS, domain: p.s.ClusterDomain},
			projector:   p.newProjector(),
			clock:       p.s.Clock,
			syncPeriod:  p.s.VolumeSyncPeriod,
			logger:      p.logger,
			pod:         pod.DeepCopy(),
			record: func(dir, mount string) error {
				return p.store.pod(uid, func(r *podRecord) {
					r.Dir = dir
					if mount != "" {
						r.Mounts = append(r.Mounts, mount)
					}
				})
			},
		}
		e.sb.parts = append(e.sb.parts, e.files)
	}
	if ports := hostPorts(pod); len(ports) > 0 && !e.hostNetwork {
		e.sb.parts = append(e.sb.parts, &hostPortForwarder{ports: ports, logger: p.logger})
	}
	if err := p.store.pod(uid, func(r *podRecord) {
		r.Namespace, r.Name, r.IP, r.LogDir = pod.Namespace, pod.Name, e.sb.ip.String(), e.logDir
	}); err != nil {
		p.release(e)
		return err
	}
	if err := e.sb.setUp(ctx); err != nil {
		p.tearDown(e)
		p.forgetEntry(e)
		return fmt.Errorf("creating the sandbox of pod %s: %w", key, err)
	}

	deps := p.deps
	deps.trackProcess = func(ref processRef, add bool) { p.trackProcess(uid, ref, add) }
	addrs := podAddresses{podIP: e.sb.ip.String(), hostIP: p.s.nodeIP.String()}
	e.rt = newPodRuntime(deps, pod, e.sb.netnsPath, addrs, e.logDir, func() {
		select {
		case e.changes <- struct{}{}:
		default:
		}
	})
	e.rt.cgroup = e.cgroup
	if e.files != nil {
		e.rt.fs = e.files.podFS()
		e.rt.fs.cgroupNS = e.cgroup != nil
		if !e.hostNetwork {
			e.rt.hostname = podHostname(pod)
		}
	}
	p.mu.Lock()
	p.pods[key] = e
	p.mu.Unlock()
	go p.notifier(e)
	if e.files != nil && len(e.files.unsupported) > 0 {
		e.rt.event(corev1.EventTypeWarning, eventVolumesNotSupported, "The process node provides emptyDir, configMap, secret, downwardAPI, projected and hostPath volumes; not mounting %s", strings.Join(e.files.unsupported, ", "))
	}
	e.rt.start()
	go func() {
		// A pod whose containers are all done for good (restartPolicy
		// Never or OnFailure) gives its sandbox and address back; its
		// status stays until the pod is deleted.
		<-e.rt.finished
		p.tearDown(e)
	}()
	e.rt.changed()
	p.logger.Info(PodStartedMessage, "pod", key, "ip", e.sb.ip, "netns", e.sb.netnsPath)
	return nil
}

// UpdatePod takes the new spec: labels, annotations and, for a changed
// image, a restart of that container.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	e := p.entry(pod.Namespace, pod.Name)
	if e == nil || e.uid != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	if e.files != nil {
		e.files.updatePod(pod)
	}
	e.rt.updateSpec(pod)
	return nil
}

// DeletePod stops the pod in the background with its grace period. The
// pod controller calls it when the pod is marked for deletion and again
// once the pod is gone from the API; the second call also forgets it.
func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	e := p.entry(pod.Namespace, pod.Name)
	if e == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	forget := p.podGone(pod.Namespace, pod.Name, e.uid)
	p.mu.Lock()
	e.deleted = true
	p.mu.Unlock()
	p.terminate(e, gracePeriod(pod), forget)
	return nil
}

// GetPod returns the pod with its current status.
func (p *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	e := p.entry(namespace, name)
	if e == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	return e.rt.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod the node runs or is removing.
func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	entries := make([]*podEntry, 0, len(p.pods))
	for _, e := range p.pods {
		entries = append(entries, e)
	}
	p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(entries))
	for _, e := range entries {
		pods = append(pods, e.rt.snapshot())
	}
	return pods, nil
}

// NotifyPods registers the pod controller's status callback.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

// notifier sends the pod's latest status after each change, one at a
// time, so that an older status can never overtake a newer one.
func (p *provider) notifier(e *podEntry) {
	for {
		select {
		case <-e.quit:
			return
		case <-e.changes:
		}
		p.mu.Lock()
		f := p.notify
		p.mu.Unlock()
		if f != nil {
			f(e.rt.snapshot())
		}
	}
}

func (p *provider) entry(namespace, name string) *podEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[podKey(namespace, name)]
}

// terminate stops the pod (once) and, when forget is set, forgets it once
// stopped.
func (p *provider) terminate(e *podEntry, grace time.Duration, forget bool) {
	p.mu.Lock()
	e.forget = e.forget || forget
	first := !e.stopping
	e.stopping = true
	p.mu.Unlock()
	if !first {
		select {
		case <-e.stopped:
			p.maybeForget(e)
		default:
		}
		return
	}
	go func() {
		e.rt.stop(grace)
		<-e.sandboxDown
		e.rt.changed()
		close(e.stopped)
		p.logger.Info("pod stopped", "pod", e.rt.key())
		p.mu.Lock()
		deleted := e.deleted
		p.mu.Unlock()
		if deleted && p.removeFromAPI != nil {
			pod := e.rt.snapshot()
			p.removeFromAPI(pod.Namespace, pod.Name, e.uid)
		}
		p.maybeForget(e)
	}()
}

func (p *provider) maybeForget(e *podEntry) {
	p.mu.Lock()
	forget := e.forget
	p.mu.Unlock()
	if forget {
		p.forgetEntry(e)
	}
}

// forgetEntry removes the pod from the node: its entry, logs and record,
// once; a second call returns when the first is done.
func (p *provider) forgetEntry(e *podEntry) {
	e.forgetOnce.Do(func() { p.forget(e) })
}

func (p *provider) forget(e *podEntry) {
	p.mu.Lock()
	for k, v := range p.pods {
		if v == e {
			delete(p.pods, k)
		}
	}
	p.mu.Unlock()
	select {
	case <-e.quit:
	default:
		close(e.quit)
	}
	if err := os.RemoveAll(e.logDir); err != nil {
		p.logger.Error("removing pod logs", "dir", e.logDir, "error", err)
	}
	if err := p.store.update(func(st *nodeState) { delete(st.Pods, string(e.uid)) }); err != nil {
		p.logger.Error("recording the pod's removal", "uid", e.uid, "error", err)
	}
}

// tearDown removes the pod's sandbox and gives its address back, once.
func (p *provider) tearDown(e *podEntry) {
	e.teardownOnce.Do(func() {
		if err := e.sb.tearDown(); err != nil {
			p.logger.Error("removing a pod sandbox", "uid", e.uid, "error", err)
		} else if err := p.store.pod(string(e.uid), func(r *podRecord) { r.Netns, r.HostLink, r.Dir, r.Mounts, r.Cgroup = "", "", "", nil, "" }); err != nil {
			p.logger.Error("recording a removed sandbox", "uid", e.uid, "error", err)
		}
		p.release(e)
		close(e.sandboxDown)
	})
}

func (p *provider) release(e *podEntry) {
	if !e.hostNetwork {
		p.ipam.release(e.sb.ip)
	}
}

// trackProcess records a pod's process group in the node state, so that
// Sweep can end it after a crash.
func (p *provider) trackProcess(uid string, ref processRef, add bool) {
	err := p.store.pod(uid, func(r *podRecord) {
		if add {
			r.Processes = append(r.Processes, ref)
			return
		}
		for i, q := range r.Processes {
			if q.PID == ref.PID {
				r.Processes = append(r.Processes[:i], r.Processes[i+1:]...)
				break
			}
		}
	})
	if err != nil {
		p.logger.Error("recording a pod process", "uid", uid, "pid", ref.PID, "error", err)
	}
}

// stopAll stops every pod, each with its grace period capped at maxGrace,
// forgets them and returns once all are gone.
func (p *provider) stopAll(maxGrace time.Duration) {
	p.mu.Lock()
	entries := make([]*podEntry, 0, len(p.pods))
	for _, e := range p.pods {
		entries = append(entries, e)
	}
	p.mu.Unlock()
	for _, e := range entries {
		p.terminate(e, min(e.rt.grace(nil), maxGrace), true)
	}
	for _, e := range entries {
		<-e.stopped
		// The stopping goroutine forgets the pod after closing stopped:
		// make sure it is done, so that nothing writes the node state
		// after the final Sweep removed it.
		p.forgetEntry(e)
	}
}

// containerPID is Node.ContainerPID.
func (p *provider) containerPID(namespace, name, container string) (int, error) {
	e := p.entry(namespace, name)
	if e == nil {
		return 0, fmt.Errorf("pod %s/%s is not on this node", namespace, name)
	}
	return e.rt.containerPID(container)
}

// gracePeriod is the grace period of a pod being deleted: the one the
// deletion set, else the pod's.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}
