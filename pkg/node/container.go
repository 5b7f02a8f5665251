package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/node/containerinit"
)

// containerIDPrefix starts container IDs: the runtime's name, then the
// pid, so that `kubectl get pod -o yaml` tells which process to look at.
const containerIDPrefix = "process://"

// container is one container of a pod and its current run. Its fields are
// guarded by the pod's lock.
type container struct {
	p    *podRuntime
	name string
	init bool
	spec *corev1.Container

	status corev1.ContainerStatus
	// runs counts the instances started; the current one's restart count
	// and log file number is runs-1.
	runs int32
	proc process
	// exited is closed when the current (or last) run's process exits; nil
	// before the first run.
	exited chan struct{}
	// restart asks the loop to start the container again whatever the
	// restart policy (its image changed).
	restart bool
	// target is what hooks and probes of the current run use: its
	// environment and user, for exec handlers.
	target probeTarget
}

func newContainer(p *podRuntime, spec *corev1.Container, init bool, waiting string) *container {
	return &container{
		p:    p,
		name: spec.Name,
		init: init,
		spec: spec.DeepCopy(),
		status: corev1.ContainerStatus{
			Name:    spec.Name,
			Image:   spec.Image,
			State:   corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}},
			Started: ptr.To(false),
		},
	}
}

// startError is a container that could not be started; reason is its
// waiting reason.
type startError struct {
	reason string
	err    error
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// loop runs the container, restarting it by policy with back-off, until it
// is done for good (completed) or the pod stops (not completed). code is
// the last exit code.
func (c *container) loop(ctx context.Context, policy corev1.RestartPolicy) (code int, completed bool) {
	crash := newBackOff(c.p.deps.backOff, c.p.deps.maxBackOff)
	pull := newBackOff(c.p.deps.backOff, c.p.deps.maxBackOff)
	pullFailures := 0
	for {
		if c.stopping(ctx) {
			return code, false
		}
		var ran time.Duration
		var err error
		code, ran, err = c.runOnce(ctx)
		if c.stopping(ctx) {
			return code, false
		}
		var se *startError
		if errors.As(err, &se) {
			delay := pull.failed()
			reason := se.reason
			msg := se.err.Error()
			switch reason {
			case reasonErrImagePull:
				pullFailures++
				c.p.event(corev1.EventTypeWarning, eventFailed, "Failed to resolve image %q: %s", c.specImage(), msg)
				if pullFailures > 1 {
					reason = reasonImagePullBackOff
					msg = fmt.Sprintf("Back-off pulling image %q: %s", c.specImage(), msg)
				}
			case reasonContainerCreating:
				c.p.event(corev1.EventTypeWarning, eventFailedMount, "%s", msg)
			default:
				c.p.event(corev1.EventTypeWarning, eventFailed, "Error: %s", msg)
			}
			c.setWaiting(reason, msg)
			if !c.sleep(ctx, delay) {
				return code, false
			}
			continue
		}
		pull = newBackOff(c.p.deps.backOff, c.p.deps.maxBackOff)
		pullFailures = 0
		if !shouldRestart(policy, code) && !c.takeRestart() {
			return code, true
		}
		if delay := crash.delay(ran); delay > 0 {
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.name, c.p.key())
			c.setWaiting(reasonCrashLoopBackOff, msg)
			c.p.event(corev1.EventTypeWarning, eventBackOff, "Back-off restarting failed container %s", c.name)
			if !c.sleep(ctx, delay) {
				return code, false
			}
		}
	}
}

// runOnce resolves, starts and waits for one instance of the container.
func (c *container) runOnce(ctx context.Context) (code int, ran time.Duration, err error) {
	deps := c.p.deps
	begun := deps.clock.Now()
	c.p.mu.Lock()
	spec := c.spec.DeepCopy()
	pod := c.p.pod.DeepCopy()
	index := c.runs
	c.p.mu.Unlock()

	img, err := deps.resolveImage(ctx, pod, spec.Image, spec.ImagePullPolicy)
	if err != nil {
		return 0, 0, &startError{reason: reasonErrImagePull, err: err}
	}
	// The image stays in the cache while this run lasts.
	defer img.done()
	env, err := deps.resolveEnv(ctx, pod, spec, c.p.addrs)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	if img.oci != nil {
		return c.runImage(ctx, index, begun, spec, pod, img, env)
	}
	id, err := containerIdentity(pod, spec, img.user, nil)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	path, argv, err := entrypoint(img, expandAll(spec.Command, env), expandAll(spec.Args, env), containerinit.LookupEnv(env, "PATH"))
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: err}
	}
	// HOME comes from the user's passwd entry unless the env sets it, as
	// a container runtime sets it: after $(VAR) expansion, which sees
	// only the container's own variables.
	var home homeDir
	if containerinit.LookupEnv(env, "HOME") == "" {
		env = append(env, "HOME="+id.home)
		if id.hasHome {
			home.path = id.home
		}
	}
	// The image's executable is run through a descriptor opened before
	// the container's mounts, and shows at /ko-app/<name> inside, where
	// ko puts it, so that argv[0] and exec probes naming it work.
	var exe string
	exeName := koAppName(spec.Image, img.path)
	if path == img.path && (len(spec.Command) == 0 || strings.HasPrefix(spec.Command[0], koAppDir)) {
		exe = img.path
		if len(spec.Command) == 0 && c.p.fs != nil {
			argv[0] = koAppDir + exeName
		}
	}
	if err := c.volumesReady(ctx); err != nil {
		return 0, 0, err
	}
	var root *containerinit.RootPlan
	if c.p.fs != nil {
		if home.path != "" {
			if home.source, err = makeHome(c.p.fs.homesDir, c.name, id); err != nil {
				return 0, 0, &startError{reason: reasonCreateContainer, err: err}
			}
		}
		if root, err = rootPlanFor(c.p.fs, spec, img.path, exeName, home); err != nil {
			return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
		}
	}
	dir := spec.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return c.start(ctx, index, begun, spec, pod, img, processSpec{
		path: path, args: argv, env: env, dir: dir,
		uid: &id.uid, gid: &id.gid, groups: id.groups,
		exe: exe, root: root,
	})
}

// runImage runs the container from a registry image: in the image's root
// filesystem under a fresh writable layer, with the image's config under
// Kubernetes' rules (command, args, env, workingDir and securityContext
// over Entrypoint, Cmd, Env, WorkingDir and User).
func (c *container) runImage(ctx context.Context, index int32, begun time.Time, spec *corev1.Container, pod *corev1.Pod, img image, env []string) (int, time.Duration, error) {
	cfg := img.oci.config
	users, err := readImageUsers(img.oci.rootfs)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	id, err := imageIdentity(pod, spec, cfg.User, users)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	// $(VAR) references see the container's own variables, as on a
	// kubelet; the image's Env is merged in after.
	argv, err := containerArgv(cfg, expandAll(spec.Command, env), expandAll(spec.Args, env))
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: err}
	}
	env = mergeEnv(cfg.Env, withoutDefaultPath(env, spec))
	if containerinit.LookupEnv(env, "HOME") == "" {
		// The image's own home directory, if it has one: nothing is
		// made for it, the writable layer takes what is written there.
		env = append(env, "HOME="+id.home)
	}
	if c.p.fs == nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: fmt.Errorf("image %q: registry images run only in a pod filesystem of the node's", spec.Image)}
	}
	if err := c.volumesReady(ctx); err != nil {
		return 0, 0, err
	}
	// Each run starts from the image as it is, as a new container gets a
	// new writable layer.
	layer := filepath.Join(c.p.fs.layersDir, c.name)
	overlay := containerinit.Overlay{Lower: img.oci.rootfs, Upper: filepath.Join(layer, "upper"), Work: filepath.Join(layer, "work")}
	if err := os.RemoveAll(layer); err != nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: err}
	}
	for _, d := range []string{overlay.Upper, overlay.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, 0, &startError{reason: reasonCreateContainer, err: err}
		}
	}
	root, err := imageRootPlanFor(c.p.fs, spec, overlay)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	return c.start(ctx, index, begun, spec, pod, img, processSpec{
		path: argv[0], args: argv, env: env, dir: containerWorkingDir(spec.WorkingDir, cfg),
		uid: &id.uid, gid: &id.gid, groups: id.groups,
		root: root,
	})
}

// volumesReady waits for the pod's API data volumes: a volume whose
// ConfigMap or Secret is missing keeps the container from starting until
// it appears, as on a kubelet.
func (c *container) volumesReady(ctx context.Context) error {
	if c.p.fs != nil && c.p.fs.volumesReady != nil {
		if err := c.p.fs.volumesReady(ctx); err != nil {
			return &startError{reason: reasonContainerCreating, err: err}
		}
	}
	return nil
}

// start starts one run of the container as run describes (its command,
// environment, user and filesystem), in the pod's namespaces and its
// cgroup, and waits for it.
func (c *container) start(ctx context.Context, index int32, begun time.Time, spec *corev1.Container, pod *corev1.Pod, img image, run processSpec) (code int, ran time.Duration, err error) {
	deps := c.p.deps
	if run.privileges, err = containerPrivileges(pod.Spec.SecurityContext, spec.SecurityContext); err != nil {
		return 0, 0, &startError{reason: reasonCreateContainerConfig, err: err}
	}
	var cgroup string
	if c.p.cgroup != nil {
		if cgroup, err = c.p.cgroup.container(c.name, spec.Resources); err != nil {
			return 0, 0, &startError{reason: reasonCreateContainer, err: err}
		}
	}
	oomBefore := oomKills(cgroup)
	logPath := c.logPath(index)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: err}
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, 0, &startError{reason: reasonCreateContainer, err: err}
	}
	defer logFile.Close()
	if c.stopping(ctx) {
		return 0, 0, ctx.Err()
	}
	started := deps.clock.Now()
	run.stdout, run.stderr = logFile, logFile
	run.netns, run.hostname, run.cgroup = c.p.netns, c.p.hostname, cgroup
	proc, err := deps.runner.start(run)
	if err != nil {
		// The kubelet's StartError: a failed run, restarted by policy.
		fmt.Fprintf(logFile, "starting %s: %v\n", run.path, err)
		c.setStartFailed(index, img, started, err)
		c.p.event(corev1.EventTypeWarning, eventFailed, "Error: %v", err)
		return 128, 0, nil
	}
	ref := processRef{PID: proc.pid()}
	ref.Start, _ = processStart(ref.PID)
	if deps.trackProcess != nil {
		deps.trackProcess(ref, true)
	}
	target := probeTarget{
		podIP: c.p.addrs.podIP, netns: c.p.netns, ports: spec.Ports, pid: proc.pid(), cgroup: cgroup,
		env: run.env, dir: run.dir, uid: run.uid, gid: run.gid, groups: run.groups, privileges: run.privileges,
	}
	c.setRunning(index, proc, spec.Image, img, started, target)
	// Where a start's time went: preparing (image, environment, volumes,
	// mount plan) and the container init up to its exec.
	deps.logger.Info(ContainerStartedMessage, "pod", c.p.key(), "container", c.name, "pid", ref.PID,
		"preparing", started.Sub(begun), "exec", deps.clock.Since(started))
	c.p.event(corev1.EventTypeNormal, eventStarted, "Started container %s", c.name)

	watchCtx, stopWatching := context.WithCancel(ctx)
	go c.watch(watchCtx, spec, target, started)

	<-proc.done()
	stopWatching()
	if deps.trackProcess != nil {
		deps.trackProcess(ref, false)
	}
	code = proc.exitCode()
	oomKilled := false
	if cgroup != "" {
		oomKilled = code == 128+int(syscall.SIGKILL) && oomKills(cgroup) > oomBefore
		// A container ends with its main process: whatever it started
		// goes too, even what left its process group.
		endContainerCgroup(cgroup)
	}
	finished := deps.clock.Now()
	c.setTerminated(code, oomKilled, started, finished)
	return code, finished.Sub(started), nil
}

// watch runs the container's postStart hook and probes: the startup probe
// first, then readiness and liveness once it has succeeded.
func (c *container) watch(ctx context.Context, spec *corev1.Container, target probeTarget, started time.Time) {
	deps := c.p.deps
	if spec.Lifecycle != nil && spec.Lifecycle.PostStart != nil {
		hctx, cancel := context.WithTimeout(ctx, c.p.grace(nil))
		ok, msg := deps.prober.run(hctx, lifecycleHandler(spec.Lifecycle.PostStart), target)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !ok {
			c.p.event(corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", msg)
			c.kill(c.p.grace(nil), fmt.Sprintf("Container %s failed its postStart hook, will be restarted", c.name))
			return
		}
	}
	if sp := spec.StartupProbe; sp != nil {
		succeeded := false
		runProbe(ctx, deps.clock, sp, started, false, c.probeFunc(sp, target), func(ok bool, msg string) bool {
			if ok {
				succeeded = true
			} else {
				c.p.event(corev1.EventTypeWarning, eventUnhealthy, "Startup probe failed: %s", msg)
				c.kill(c.p.grace(sp), fmt.Sprintf("Container %s failed startup probe, will be restarted", c.name))
			}
			return false
		})
		if !succeeded {
			return
		}
	}
	c.setStarted(spec.ReadinessProbe == nil)
	if rp := spec.ReadinessProbe; rp != nil {
		go runProbe(ctx, deps.clock, rp, started, fastFirstSuccess(rp), c.probeFunc(rp, target), func(ok bool, msg string) bool {
			if !ok {
				c.p.event(corev1.EventTypeWarning, eventUnhealthy, "Readiness probe failed: %s", msg)
			}
			c.setReady(ok)
			return true
		})
	}
	if lp := spec.LivenessProbe; lp != nil {
		go runProbe(ctx, deps.clock, lp, started, false, c.probeFunc(lp, target), func(ok bool, msg string) bool {
			if ok {
				return true
			}
			c.p.event(corev1.EventTypeWarning, eventUnhealthy, "Liveness probe failed: %s", msg)
			c.kill(c.p.grace(lp), fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.name))
			return false
		})
	}
}

func (c *container) probeFunc(p *corev1.Probe, target probeTarget) probeFunc {
	return func(ctx context.Context) (bool, string) {
		return c.p.deps.prober.run(ctx, probeHandler(p.ProbeHandler), target)
	}
}

// kill stops the current run in the background (a failed probe or hook);
// the loop then restarts it by policy.
func (c *container) kill(grace time.Duration, msg string) {
	deadline := c.p.deps.clock.Now().Add(grace)
	go c.stop(deadline, msg)
}

// stop ends the current run: the preStop hook, SIGTERM to the process
// group, SIGKILL at deadline. It returns once the process has exited.
func (c *container) stop(deadline time.Time, msg string) {
	c.p.mu.Lock()
	proc, spec, target := c.proc, c.spec.DeepCopy(), c.target
	c.p.mu.Unlock()
	if proc == nil {
		return
	}
	c.p.event(corev1.EventTypeNormal, eventKilling, "%s", msg)
	clk := c.p.deps.clock
	if spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil {
		ctx, cancel := context.WithTimeout(context.Background(), deadline.Sub(clk.Now()))
		if ok, msg := c.p.deps.prober.run(ctx, lifecycleHandler(spec.Lifecycle.PreStop), target); !ok {
			c.p.event(corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", msg)
		}
		cancel()
	}
	_ = proc.signal(syscall.SIGTERM)
	select {
	case <-proc.done():
		return
	case <-clk.After(deadline.Sub(clk.Now())):
	}
	_ = proc.signal(syscall.SIGKILL)
	<-proc.done()
}

// restartForUpdate stops the current run so that the loop starts the new
// spec.
func (c *container) restartForUpdate() {
	c.p.mu.Lock()
	c.restart = true
	c.p.mu.Unlock()
	c.kill(c.p.grace(nil), fmt.Sprintf("Container %s definition changed, will be restarted", c.name))
}

func (c *container) takeRestart() bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	r := c.restart
	c.restart = false
	return r
}

// stopping reports whether the container must not start again.
func (c *container) stopping(ctx context.Context) bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.p.terminating || ctx.Err() != nil
}

// sleep waits d on the pod's clock; false when the pod stopped meanwhile.
func (c *container) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.p.deps.clock.After(d):
		return true
	}
}

func (c *container) specImage() string {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.spec.Image
}

func (c *container) setWaiting(reason, msg string) {
	c.p.update(func() {
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
		c.status.Ready = false
		c.status.Started = ptr.To(false)
	})
}

func (c *container) setRunning(index int32, proc process, specImage string, img image, started time.Time, target probeTarget) {
	c.p.update(func() {
		c.runs = index + 1
		c.proc = proc
		c.target = target
		if c.restart {
			if specImage == c.spec.Image {
				// The update came before this run read the spec: it
				// already runs the new image.
				c.restart = false
			} else {
				// The update came while this run was starting the old
				// image: restartForUpdate found nothing to stop.
				go c.stop(c.p.deps.clock.Now().Add(c.p.graceLocked(nil)), fmt.Sprintf("Container %s definition changed, will be restarted", c.name))
			}
		}
		c.exited = make(chan struct{})
		exited := c.exited
		go func() { <-proc.done(); close(exited) }()
		c.status.RestartCount = index
		c.status.Image = c.spec.Image
		c.status.ImageID = img.id()
		c.status.ContainerID = containerIDPrefix + strconv.Itoa(proc.pid())
		c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metaTime(started)}}
		c.status.Ready = false
		c.status.Started = ptr.To(false)
		if c.p.terminating {
			// stop took its snapshot before this process existed.
			_ = proc.signal(syscall.SIGKILL)
		}
	})
}

func (c *container) setStartFailed(index int32, img image, at time.Time, err error) {
	c.p.update(func() {
		c.runs = index + 1
		c.status.RestartCount = index
		c.status.ImageID = img.id()
		c.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 128, Reason: "StartError", Message: err.Error(),
			StartedAt: metaTime(at), FinishedAt: metaTime(at),
		}}
		c.status.LastTerminationState = c.status.State
		c.status.Ready = false
		c.status.Started = ptr.To(false)
	})
}

func (c *container) setTerminated(code int, oomKilled bool, started, finished time.Time) {
	c.p.update(func() {
		reason := reasonError
		switch {
		case code == 0:
			reason = reasonCompleted
		case oomKilled:
			reason = reasonOOMKilled
		}
		t := &corev1.ContainerStateTerminated{
			ExitCode: int32(code), Reason: reason,
			StartedAt: metaTime(started), FinishedAt: metaTime(finished),
			ContainerID: c.status.ContainerID,
		}
		c.proc = nil
		c.status.State = corev1.ContainerState{Terminated: t}
		c.status.LastTerminationState = corev1.ContainerState{Terminated: t.DeepCopy()}
		// A completed init container counts as ready, as on a kubelet.
		c.status.Ready = c.init && code == 0
		c.status.Started = ptr.To(false)
	})
}

func (c *container) setStarted(ready bool) {
	c.p.update(func() {
		if c.status.State.Running == nil {
			return
		}
		c.status.Started = ptr.To(true)
		c.status.Ready = ready
	})
}

func (c *container) setReady(ready bool) {
	c.p.update(func() {
		if c.status.State.Running == nil {
			return
		}
		c.status.Ready = ready
	})
}

// logPath is where run index of the container writes its output.
func (c *container) logPath(index int32) string {
	return filepath.Join(c.p.logDir, c.name, fmt.Sprintf("%d.log", index))
}

// grace is how long a kill waits before SIGKILL: the probe's own
// terminationGracePeriodSeconds, else the pod's (30 s by default).
func (p *podRuntime) grace(probe *corev1.Probe) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.graceLocked(probe)
}

func (p *podRuntime) graceLocked(probe *corev1.Probe) time.Duration {
	if probe != nil && probe.TerminationGracePeriodSeconds != nil {
		return time.Duration(*probe.TerminationGracePeriodSeconds) * time.Second
	}
	if g := p.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}
