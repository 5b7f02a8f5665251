package node

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestPodRestartsWithBackOff(t *testing.T) {
	f := newPodFixture(t, testPodSpec(corev1.RestartPolicyAlways, "/bin/app"))
	f.rt.start()
	f.waitStarted(1)
	pod := f.waitFor("Running and Ready", func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue })
	cs := containerStatus(pod, 0)
	if pod.Status.Phase != corev1.PodRunning || cs.RestartCount != 0 || cs.ImageID != "sha256:0123" || cs.ContainerID != "process://1001" {
		t.Fatalf("phase %s, status %+v; want Running, no restarts, the image's digest and the pid", pod.Status.Phase, cs)
	}

	// The first crash restarts at once.
	f.runner.proc(0).exit(1)
	f.waitStarted(2)
	pod = f.waitFor("the first restart", func(p *corev1.Pod) bool { return containerStatus(p, 0).State.Running != nil })
	cs = containerStatus(pod, 0)
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.LastTerminationState.Terminated.Reason != reasonError {
		t.Fatalf("after one crash: %+v; want restartCount 1 and lastState terminated with exit code 1, reason Error", cs)
	}

	// The next ones wait 10 s, then 20 s, in CrashLoopBackOff.
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		f.waitFor("running", func(p *corev1.Pod) bool {
			return containerStatus(p, 0).State.Running != nil && containerStatus(p, 0).RestartCount == int32(i+1)
		})
		f.runner.proc(i + 1).exit(2)
		pod = f.waitFor("CrashLoopBackOff", func(p *corev1.Pod) bool {
			w := containerStatus(p, 0).State.Waiting
			return w != nil && w.Reason == reasonCrashLoopBackOff
		})
		if pod.Status.Phase != corev1.PodRunning || condition(pod, corev1.PodReady) != corev1.ConditionFalse {
			t.Errorf("in back-off: phase %s, Ready %s; want Running, not Ready", pod.Status.Phase, condition(pod, corev1.PodReady))
		}
		if msg := containerStatus(pod, 0).State.Waiting.Message; !strings.Contains(msg, wait.String()) {
			t.Errorf("back-off message %q, want it to name %v", msg, wait)
		}
		f.stepWhenWaiting(wait - time.Second)
		time.Sleep(20 * time.Millisecond)
		if got := f.runner.started(); got != i+2 {
			t.Fatalf("restarted %v into a %v back-off", wait-time.Second, wait)
		}
		f.clock.Step(time.Second)
		f.waitStarted(i + 3)
	}
	pod = f.waitFor("running again", func(p *corev1.Pod) bool { return containerStatus(p, 0).State.Running != nil })
	if got := containerStatus(pod, 0).RestartCount; got != 3 {
		t.Errorf("restartCount %d, want 3", got)
	}
}

func TestPodRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy    corev1.RestartPolicy
		exitCode  int
		restarted bool
		phase     corev1.PodPhase
	}{
		{corev1.RestartPolicyNever, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, 3, false, corev1.PodFailed},
		{corev1.RestartPolicyOnFailure, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 3, true, corev1.PodRunning},
		{corev1.RestartPolicyAlways, 0, true, corev1.PodRunning},
	} {
		t.Run(string(tc.policy)+" exit "+itoa(tc.exitCode), func(t *testing.T) {
			f := newPodFixture(t, testPodSpec(tc.policy, "/bin/app"))
			f.rt.start()
			f.waitStarted(1)
			f.runner.proc(0).exit(tc.exitCode)
			if tc.restarted {
				f.waitStarted(2)
			} else {
				<-f.rt.finished
			}
			pod := f.waitFor("the phase", func(p *corev1.Pod) bool { return p.Status.Phase == tc.phase })
			if tc.phase == corev1.PodSucceeded || tc.phase == corev1.PodFailed {
				if condition(pod, corev1.PodReady) != corev1.ConditionFalse || condition(pod, corev1.PodInitialized) != corev1.ConditionTrue {
					t.Errorf("conditions %+v, want not Ready but Initialized", pod.Status.Conditions)
				}
			}
		})
	}
}

func TestPodInitContainersRunInOrder(t *testing.T) {
	pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app")
	pod.Spec.InitContainers = []corev1.Container{{Name: "first", Image: "/bin/first"}, {Name: "second", Image: "/bin/second"}}
	f := newPodFixture(t, pod)
	f.rt.start()

	f.waitStarted(1)
	got := f.waitFor("Pending while initialising", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodPending })
	if w := containerStatus(got, 0).State.Waiting; w == nil || w.Reason != reasonPodInitializing {
		t.Errorf("app container state %+v, want waiting with PodInitializing", containerStatus(got, 0).State)
	}
	// A failing init container is restarted (the pod's policy is not
	// Never) before the next one runs.
	f.runner.proc(0).exit(1)
	f.waitStarted(2)
	f.runner.proc(1).exit(0)
	f.waitStarted(3)
	f.runner.proc(2).exit(0)
	f.waitStarted(4)
	var paths []string
	for i := range 4 {
		paths = append(paths, f.runner.proc(i).spec.path)
	}
	if diff := cmp.Diff([]string{"/bin/first", "/bin/first", "/bin/second", "/bin/app"}, paths); diff != "" {
		t.Errorf("processes started (-want, +got):\n%s", diff)
	}
	got = f.waitFor("Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	for _, s := range got.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.Reason != reasonCompleted || !s.Ready {
			t.Errorf("init container %s: %+v, want completed and ready", s.Name, s)
		}
	}
	if got.Status.InitContainerStatuses[0].RestartCount != 1 {
		t.Errorf("the first init container restarted %d times, want 1", got.Status.InitContainerStatuses[0].RestartCount)
	}
}

func TestPodInitContainerFailureFailsPodThatNeverRestarts(t *testing.T) {
	pod := testPodSpec(corev1.RestartPolicyNever, "/bin/app")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "/bin/init"}}
	f := newPodFixture(t, pod)
	f.rt.start()
	f.waitStarted(1)
	f.runner.proc(0).exit(1)
	<-f.rt.finished
	got := f.waitFor("Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if f.runner.started() != 1 {
		t.Errorf("%d processes started, want only the init container", f.runner.started())
	}
	if condition(got, corev1.PodInitialized) != corev1.ConditionFalse {
		t.Errorf("Initialized %s, want False", condition(got, corev1.PodInitialized))
	}
}

func TestPodImagePullBackOff(t *testing.T) {
	f := newPodFixture(t, testPodSpec(corev1.RestartPolicyAlways, "unknown"))
	f.imageErrs = 2
	f.rt.start()
	got := f.waitFor("ErrImagePull", func(p *corev1.Pod) bool {
		w := containerStatus(p, 0).State.Waiting
		return w != nil && w.Reason == reasonErrImagePull
	})
	if msg := containerStatus(got, 0).State.Waiting.Message; !strings.Contains(msg, "no such image unknown") {
		t.Errorf("message %q, want the resolver's", msg)
	}
	f.stepWhenWaiting(10 * time.Second)
	f.waitFor("ImagePullBackOff", func(p *corev1.Pod) bool {
		w := containerStatus(p, 0).State.Waiting
		return w != nil && w.Reason == reasonImagePullBackOff
	})
	f.stepWhenWaiting(20 * time.Second)
	f.waitStarted(1)
	got = f.waitFor("Running", func(p *corev1.Pod) bool { return containerStatus(p, 0).State.Running != nil })
	if rc := containerStatus(got, 0).RestartCount; rc != 0 {
		t.Errorf("restartCount %d after image retries, want 0: nothing ran before", rc)
	}
}

func TestPodStopEscalatesToSIGKILL(t *testing.T) {
	pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app", "/bin/stubborn")
	f := newPodFixture(t, pod)
	f.rt.start()
	f.waitStarted(2)
	app, stubborn := f.runner.proc(0), f.runner.proc(1)
	if stubborn.spec.path != "/bin/stubborn" {
		app, stubborn = stubborn, app
	}
	stubborn.mu.Lock()
	stubborn.ignoreTerm = true
	stubborn.mu.Unlock()
	stopped := make(chan struct{})
	go func() { f.rt.stop(5 * time.Second); close(stopped) }()
	// Both get SIGTERM at once, and the app exits on it, before any time
	// passes: on a loaded machine the goroutines that send it may run
	// only after the test has moved the clock on, which would kill the
	// app by the grace period instead.
	select {
	case <-app.done():
	case <-time.After(10 * time.Second):
		t.Fatal("the app did not get SIGTERM when the pod stopped")
	}
	for deadline := time.Now().Add(10 * time.Second); len(stubborn.gotSignals()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stubborn container did not get SIGTERM when the pod stopped")
		}
	}
	f.stepWhenWaiting(4 * time.Second)
	select {
	case <-stopped:
		t.Fatal("stop returned before the grace period ended")
	case <-time.After(20 * time.Millisecond):
	}
	f.clock.Step(time.Second)
	<-stopped
	if diff := cmp.Diff([]syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, stubborn.gotSignals()); diff != "" {
		t.Errorf("signals (-want, +got):\n%s", diff)
	}
	got := f.rt.snapshot()
	codes := map[string]int32{}
	for _, s := range got.Status.ContainerStatuses {
		if s.State.Terminated == nil {
			t.Fatalf("container %s not terminated after stop: %+v", s.Name, s.State)
		}
		codes[s.Image] = s.State.Terminated.ExitCode
	}
	if diff := cmp.Diff(map[string]int32{"/bin/app": 143, "/bin/stubborn": 137}, codes); diff != "" {
		t.Errorf("exit codes (-want, +got):\n%s", diff)
	}
	if got.Status.Phase != corev1.PodFailed {
		t.Errorf("phase %s after stop, want Failed", got.Status.Phase)
	}
	if f.runner.started() != 2 {
		t.Errorf("%d processes started, want no restart after stop", f.runner.started())
	}
}

func TestPodProbes(t *testing.T) {
	pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app")
	c := &pod.Spec.Containers[0]
	c.StartupProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/probe/startup"}}},
		PeriodSeconds: 1, FailureThreshold: 10,
	}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/probe/ready"}}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	c.LivenessProbe = &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/probe/live"}}},
		InitialDelaySeconds: 5, PeriodSeconds: 1, FailureThreshold: 2,
	}
	f := newPodFixture(t, pod)
	f.runner.setProbe("/probe/startup", 1)
	f.runner.setProbe("/probe/ready", 1)
	f.rt.start()
	f.waitStarted(1)

	// Until the startup probe succeeds, the others do not run.
	f.waitFor("a startup probe", func(*corev1.Pod) bool { return f.runner.probeCount("/probe/startup") == 1 })
	f.runner.setProbe("/probe/startup", 0)
	f.stepWhenWaiting(time.Second)
	got := f.waitFor("started", func(p *corev1.Pod) bool { s := containerStatus(p, 0).Started; return s != nil && *s })
	if containerStatus(got, 0).Ready {
		t.Error("ready before the readiness probe succeeded")
	}
	f.waitFor("a readiness probe", func(*corev1.Pod) bool { return f.runner.probeCount("/probe/ready") == 1 })
	f.runner.setProbe("/probe/ready", 0)
	f.stepWhenWaiting(time.Second)
	f.waitFor("Ready", func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue })

	// Liveness starts 5 s after the container; two failures restart it.
	f.runner.setProbe("/probe/live", 1)
	for range 3 {
		f.stepWhenWaiting(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	f.waitFor("a liveness probe", func(*corev1.Pod) bool { return f.runner.probeCount("/probe/live") >= 1 })
	for f.runner.started() < 2 {
		f.stepWhenWaiting(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.runner.probeCount("/probe/live"); got != 2 {
		t.Errorf("%d liveness probes ran before the restart, want failureThreshold (2)", got)
	}
	if sigs := f.runner.proc(0).gotSignals(); len(sigs) == 0 || sigs[0] != syscall.SIGTERM {
		t.Errorf("the unhealthy process got %v, want SIGTERM first", sigs)
	}
	got = f.waitFor("restarted", func(p *corev1.Pod) bool { return containerStatus(p, 0).RestartCount == 1 })
	if last := containerStatus(got, 0).LastTerminationState.Terminated; last == nil || last.ExitCode != 143 {
		t.Errorf("lastState %+v, want terminated by SIGTERM (143)", last)
	}
}

func TestPodStartErrorIsACrash(t *testing.T) {
	f := newPodFixture(t, testPodSpec(corev1.RestartPolicyNever, "/bin/app"))
	f.runner.startErr = syscall.ENOEXEC
	f.rt.start()
	<-f.rt.finished
	got := f.waitFor("Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := containerStatus(got, 0).State.Terminated
	if term == nil || term.Reason != "StartError" || term.ExitCode != 128 {
		t.Errorf("state %+v, want terminated with StartError, exit code 128", containerStatus(got, 0).State)
	}
}

func TestPodUpdateImageRestartsContainer(t *testing.T) {
	pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/v1")
	f := newPodFixture(t, pod)
	f.rt.start()
	f.waitStarted(1)
	updated := pod.DeepCopy()
	updated.Spec.Containers[0].Image = "/bin/v2"
	f.rt.updateSpec(updated)
	f.waitStarted(2)
	if got := f.runner.proc(1).spec.path; got != "/bin/v2" {
		t.Errorf("restarted with %s, want the new image", got)
	}
	got := f.waitFor("the new image's status", func(p *corev1.Pod) bool { return containerStatus(p, 0).Image == "/bin/v2" })
	if containerStatus(got, 0).RestartCount != 1 {
		t.Errorf("restartCount %d, want 1", containerStatus(got, 0).RestartCount)
	}
}

func TestContainerLogs(t *testing.T) {
	f := newPodFixture(t, testPodSpec(corev1.RestartPolicyAlways, "/bin/app"))
	f.rt.start()
	f.waitStarted(1)
	read := func(opts LogOptions) string {
		t.Helper()
		rc, err := containerLogs(t.Context(), f.rt, "c0", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b strings.Builder
		buf := make([]byte, 64)
		for {
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return b.String()
			}
		}
	}
	if got := read(LogOptions{}); got != "started /bin/app\n" {
		t.Errorf("log %q, want the fake process's line", got)
	}
	if _, err := containerLogs(t.Context(), f.rt, "c0", LogOptions{Previous: true}); err == nil {
		t.Error("a previous log before any restart, want an error")
	}
	if _, err := containerLogs(t.Context(), f.rt, "nope", LogOptions{}); err == nil {
		t.Error("the log of a container the pod does not have, want an error")
	}
	f.runner.proc(0).exit(1)
	f.waitStarted(2)
	if got := read(LogOptions{Previous: true}); got != "started /bin/app\n" {
		t.Errorf("previous log %q", got)
	}
	// Following stops when the process exits.
	followed := make(chan string)
	go func() { followed <- read(LogOptions{Follow: true}) }()
	time.Sleep(20 * time.Millisecond)
	_, _ = f.runner.proc(1).spec.stdout.Write([]byte("more\n"))
	f.runner.proc(1).exit(0)
	select {
	case got := <-followed:
		if got != "started /bin/app\nmore\n" {
			t.Errorf("followed log %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end with the process")
	}
}

func TestPodContainerUser(t *testing.T) {
	t.Run("an executable image runs as nonroot, with its HOME", func(t *testing.T) {
		f := newPodFixture(t, testPodSpec(corev1.RestartPolicyAlways, "/bin/app"))
		f.rt.start()
		f.waitStarted(1)
		spec := f.runner.proc(0).spec
		if spec.uid == nil || *spec.uid != 65532 || spec.gid == nil || *spec.gid != 65532 || spec.dir != "/" {
			t.Errorf("started as %v:%v in %q, want 65532:65532 in /", ptrString(spec.uid), ptrString(spec.gid), spec.dir)
		}
		if diff := cmp.Diff([]string{"PATH=/bin", "HOME=/home/nonroot"}, spec.env); diff != "" {
			t.Errorf("env (-want, +got):\n%s", diff)
		}
	})

	t.Run("runAsUser wins, and the container's own HOME stays", func(t *testing.T) {
		pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app")
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)}
		f := newPodFixture(t, pod)
		f.rt.deps.resolveEnv = func(context.Context, *corev1.Pod, *corev1.Container, podAddresses) ([]string, error) {
			return []string{"PATH=/bin", "HOME=/data"}, nil
		}
		f.rt.start()
		f.waitStarted(1)
		spec := f.runner.proc(0).spec
		if spec.uid == nil || *spec.uid != 0 || spec.gid == nil || *spec.gid != 0 {
			t.Errorf("started as %v:%v, want 0:0", ptrString(spec.uid), ptrString(spec.gid))
		}
		if diff := cmp.Diff([]string{"PATH=/bin", "HOME=/data"}, spec.env); diff != "" {
			t.Errorf("env (-want, +got):\n%s", diff)
		}
	})

	t.Run("runAsNonRoot keeps an image that runs as root from starting", func(t *testing.T) {
		pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app")
		pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}
		f := newPodFixture(t, pod)
		f.rt.deps.resolveImage = func(context.Context, *corev1.Pod, string, corev1.PullPolicy) (image, error) {
			return image{path: "/bin/app", digest: "0123", user: &imageUser{}}, nil
		}
		f.rt.start()
		got := f.waitFor("CreateContainerConfigError", func(p *corev1.Pod) bool {
			w := containerStatus(p, 0).State.Waiting
			return w != nil && w.Reason == reasonCreateContainerConfig
		})
		if msg := containerStatus(got, 0).State.Waiting.Message; !strings.Contains(msg, "runAsNonRoot and image will run as root") {
			t.Errorf("waiting message %q, want the kubelet's", msg)
		}
		if n := f.runner.started(); n != 0 {
			t.Errorf("%d processes started, want none", n)
		}
	})
}

func ptrString(p *int64) string {
	if p == nil {
		return "<nil>"
	}
	return itoa(int(*p))
}
