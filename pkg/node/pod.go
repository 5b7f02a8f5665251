package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// podDeps are what a pod's runtime uses from the node. Unit tests fill
// them with fakes: no root, no cluster, a fake clock.
type podDeps struct {
	clock  clock.WithTicker
	runner runner
	prober *prober
	// resolveImage and resolveEnv are imageResolver.resolve and
	// envResolver.resolve.
	resolveImage func(ctx context.Context, pod *corev1.Pod, img string, policy corev1.PullPolicy) (image, error)
	resolveEnv   func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, addrs podAddresses) ([]string, error)
	recorder     record.EventRecorder
	logger       *slog.Logger
	// backOff and maxBackOff are the restart back-off's bounds.
	backOff, maxBackOff time.Duration
	// trackProcess records a started process group in the node state (add)
	// or forgets it once it has been reaped.
	trackProcess func(p processRef, add bool)
}

// podRuntime runs one pod: its init containers in order, then its
// containers, each restarted by the pod's policy, with probes; it keeps
// the pod's status.
type podRuntime struct {
	deps   podDeps
	name   string // namespace/name, fixed for the pod's life
	logDir string
	// netns is the pod's network namespace (empty: the host's) and addrs
	// its addresses; both are fixed once the sandbox exists.
	netns string
	addrs podAddresses
	// fs is what each container's filesystem is built from, and hostname
	// the hostname of its UTS namespace; nil and empty: the node's (unit
	// tests, whose processes are fakes).
	fs       *podFS
	hostname string
	// cgroup holds the containers' cgroups; nil: none (no cgroup v2).
	cgroup *podCgroup
	// changed is called (outside the lock) after every status change.
	changed func()

	mu          sync.Mutex
	pod         *corev1.Pod // the latest spec from the API
	startTime   metav1.Time
	inits       []*container
	containers  []*container
	initialized bool
	initFailed  bool
	// terminating is set when the pod is being stopped: no container
	// starts or restarts after that.
	terminating bool
	// finished is closed when run has returned: every process has exited.
	finished chan struct{}
	cancel   context.CancelFunc
}

func newPodRuntime(deps podDeps, pod *corev1.Pod, netns string, addrs podAddresses, logDir string, changed func()) *podRuntime {
	p := &podRuntime{
		deps:      deps,
		name:      pod.Namespace + "/" + pod.Name,
		logDir:    logDir,
		netns:     netns,
		addrs:     addrs,
		changed:   changed,
		pod:       pod.DeepCopy(),
		startTime: metaTime(deps.clock.Now()),
		finished:  make(chan struct{}),
	}
	waiting := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		waiting = reasonPodInitializing
	}
	for i := range pod.Spec.InitContainers {
		p.inits = append(p.inits, newContainer(p, &pod.Spec.InitContainers[i], true, reasonPodInitializing))
	}
	for i := range pod.Spec.Containers {
		p.containers = append(p.containers, newContainer(p, &pod.Spec.Containers[i], false, waiting))
	}
	return p
}

// start runs the pod in the background until stop.
func (p *podRuntime) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	go p.run(ctx)
}

func (p *podRuntime) run(ctx context.Context) {
	defer close(p.finished)
	p.mu.Lock()
	policy := p.pod.Spec.RestartPolicy
	p.mu.Unlock()
	// Init containers restart on failure unless the pod never restarts.
	initPolicy := corev1.RestartPolicyOnFailure
	if policy == corev1.RestartPolicyNever {
		initPolicy = corev1.RestartPolicyNever
	}
	for _, c := range p.inits {
		code, completed := c.loop(ctx, initPolicy)
		if !completed {
			return
		}
		if code != 0 {
			p.update(func() { p.initFailed = true })
			p.deps.logger.Info("init container failed; the pod fails", "pod", p.key(), "container", c.name, "exitCode", code)
			return
		}
	}
	p.update(func() {
		p.initialized = true
		for _, c := range p.containers {
			if w := c.status.State.Waiting; w != nil && w.Reason == reasonPodInitializing {
				w.Reason = reasonContainerCreating
			}
		}
	})
	var wg sync.WaitGroup
	for _, c := range p.containers {
		wg.Go(func() { c.loop(ctx, policy) })
	}
	wg.Wait()
}

// stop ends the pod: no more (re)starts, preStop hooks, SIGTERM, and
// SIGKILL for whatever still runs after grace. It returns once every
// process has exited. Containers that never ran are marked terminated, so
// that the status is terminal, as the API expects of a deleted pod.
func (p *podRuntime) stop(grace time.Duration) {
	p.mu.Lock()
	already := p.terminating
	p.terminating = true
	cancel := p.cancel
	var running []*container
	for _, c := range append(append([]*container{}, p.inits...), p.containers...) {
		if c.proc != nil {
			running = append(running, c)
		}
	}
	p.mu.Unlock()
	if !already {
		// Cancelling first ends probes and restart loops, so nothing
		// starts again while the processes stop.
		if cancel != nil {
			cancel()
		}
		deadline := p.deps.clock.Now().Add(grace)
		var wg sync.WaitGroup
		for _, c := range running {
			wg.Go(func() { c.stop(deadline, "Stopping container "+c.name) })
		}
		wg.Wait()
	}
	if cancel != nil {
		<-p.finished
	}
	p.update(func() {
		now := metaTime(p.deps.clock.Now())
		for _, c := range append(append([]*container{}, p.inits...), p.containers...) {
			if c.status.State.Terminated != nil {
				continue
			}
			// A container waiting for its restart reports its last run;
			// one that never ran, that it could not be found, as the
			// kubelet does.
			t := &corev1.ContainerStateTerminated{ExitCode: 137, Reason: reasonStatusUnknown, Message: "The container could not be located when the pod was terminated", StartedAt: now, FinishedAt: now}
			if last := c.status.LastTerminationState.Terminated; last != nil {
				t = last.DeepCopy()
			}
			c.status.State = corev1.ContainerState{Terminated: t}
			c.status.Ready = false
			c.status.Started = ptr.To(false)
		}
	})
}

// updateSpec takes a new spec from the API. Of what may change on a
// running pod, an image change restarts that container with the new image.
func (p *podRuntime) updateSpec(pod *corev1.Pod) {
	p.mu.Lock()
	old := p.pod
	p.pod = pod.DeepCopy()
	var restart []*container
	for i, c := range p.containers {
		if i < len(pod.Spec.Containers) && pod.Spec.Containers[i].Image != old.Spec.Containers[i].Image {
			c.spec = pod.Spec.Containers[i].DeepCopy()
			restart = append(restart, c)
		}
	}
	p.mu.Unlock()
	for _, c := range restart {
		c.restartForUpdate()
	}
	p.changed()
}

// update changes the state under the lock and reports the change.
func (p *podRuntime) update(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
	p.changed()
}

// snapshot returns the pod with its current status.
func (p *podRuntime) snapshot() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.pod.DeepCopy()
	pod.Status = p.statusLocked()
	return pod
}

func (p *podRuntime) statusLocked() corev1.PodStatus {
	old := p.pod.Status
	st := corev1.PodStatus{
		QOSClass:           old.QOSClass,
		HostIP:             p.addrs.hostIP,
		HostIPs:            []corev1.HostIP{{IP: p.addrs.hostIP}},
		PodIP:              p.addrs.podIP,
		PodIPs:             []corev1.PodIP{{IP: p.addrs.podIP}},
		StartTime:          &p.startTime,
		ObservedGeneration: p.pod.Generation,
	}
	for _, c := range p.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, *c.status.DeepCopy())
	}
	for _, c := range p.containers {
		st.ContainerStatuses = append(st.ContainerStatuses, *c.status.DeepCopy())
	}
	st.Phase = podPhase(p.pod.Spec.RestartPolicy, p.initialized, p.initFailed, st.ContainerStatuses)
	if p.terminating {
		// Every container has been stopped for good: judge as if the pod
		// never restarted.
		st.Phase = podPhase(corev1.RestartPolicyNever, true, p.initFailed, st.ContainerStatuses)
	}
	st.Conditions = podConditions(p.deps.clock.Now(), old.Conditions, !p.terminating, p.initialized, st.ContainerStatuses, st.Phase)
	return st
}

// containerPID returns the pid of the named container's current process.
func (p *podRuntime) containerPID(name string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append(append([]*container{}, p.inits...), p.containers...) {
		if c.name == name {
			if c.proc == nil {
				return 0, fmt.Errorf("container %s of pod %s is not running", name, p.key())
			}
			return c.proc.pid(), nil
		}
	}
	return 0, fmt.Errorf("pod %s has no container %s", p.key(), name)
}

// findContainer returns the named container (init or not).
func (p *podRuntime) findContainer(name string) *container {
	for _, c := range append(append([]*container{}, p.inits...), p.containers...) {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (p *podRuntime) key() string { return p.name }

// event records an event on the pod.
func (p *podRuntime) event(eventType, reason, format string, args ...any) {
	if p.deps.recorder == nil {
		return
	}
	p.mu.Lock()
	ref := p.pod.DeepCopy()
	p.mu.Unlock()
	p.deps.recorder.Eventf(ref, eventType, reason, format, args...)
}

func metaTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }
