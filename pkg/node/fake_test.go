package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeRunner starts fake processes. A process whose path starts with
// "/probe/" is an exec probe: it exits at once with the code set for that
// path (zero by default). Any other process runs until the test ends it.
type fakeRunner struct {
	mu        sync.Mutex
	procs     []*fakeProcess
	probeCode map[string]int
	probeRuns map[string]int
	starts    int
	// ignoreTerm makes new processes ignore SIGTERM.
	ignoreTerm bool
	startErr   error
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{probeCode: map[string]int{}, probeRuns: map[string]int{}}
}

func (r *fakeRunner) start(spec processSpec) (process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.startErr != nil {
		return nil, r.startErr
	}
	r.starts++
	p := &fakeProcess{spec: spec, id: 1000 + r.starts, exited: make(chan struct{}), ignoreTerm: r.ignoreTerm}
	if len(spec.path) > 7 && spec.path[:7] == "/probe/" {
		r.probeRuns[spec.path]++
		p.exit(r.probeCode[spec.path])
		return p, nil
	}
	if spec.stdout != nil {
		fmt.Fprintf(spec.stdout, "started %s\n", spec.path)
	}
	r.procs = append(r.procs, p)
	return p, nil
}

func (r *fakeRunner) setProbe(path string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probeCode[path] = code
}

func (r *fakeRunner) probeCount(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probeRuns[path]
}

func (r *fakeRunner) started() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

func (r *fakeRunner) proc(i int) *fakeProcess {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[i]
}

// fakeProcess is a process the test ends, or that signals end.
type fakeProcess struct {
	spec       processSpec
	id         int
	exited     chan struct{}
	ignoreTerm bool

	mu      sync.Mutex
	code    int
	signals []syscall.Signal
	once    sync.Once
}

func (p *fakeProcess) exit(code int) {
	p.once.Do(func() {
		p.mu.Lock()
		p.code = code
		p.mu.Unlock()
		close(p.exited)
	})
}

func (p *fakeProcess) pid() int              { return p.id }
func (p *fakeProcess) done() <-chan struct{} { return p.exited }

func (p *fakeProcess) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

func (p *fakeProcess) signal(sig syscall.Signal) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	ignore := sig == syscall.SIGTERM && p.ignoreTerm
	p.mu.Unlock()
	if !ignore {
		p.exit(128 + int(sig))
	}
	return nil
}

func (p *fakeProcess) gotSignals() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]syscall.Signal(nil), p.signals...)
}

// podFixture is a podRuntime with fakes: a fake clock, a fake runner and
// resolvers that need no cluster.
type podFixture struct {
	t      *testing.T
	clock  *clocktesting.FakeClock
	runner *fakeRunner
	rt     *podRuntime

	mu         sync.Mutex
	imageErrs  int // resolveImage fails this many more times
	imageCalls int
}

func newPodFixture(t *testing.T, pod *corev1.Pod) *podFixture {
	t.Helper()
	f := &podFixture{
		t:      t,
		clock:  clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)),
		runner: newFakeRunner(),
	}
	deps := podDeps{
		clock:  f.clock,
		runner: f.runner,
		prober: newProber(f.runner),
		resolveImage: func(_ context.Context, _ *corev1.Pod, img string, _ corev1.PullPolicy) (image, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.imageCalls++
			if f.imageErrs > 0 {
				f.imageErrs--
				return image{}, &errImage{msg: "no such image " + img}
			}
			return image{path: img, digest: "0123"}, nil
		},
		resolveEnv: func(context.Context, *corev1.Pod, *corev1.Container, podAddresses) ([]string, error) {
			return []string{"PATH=/bin"}, nil
		},
		logger:     slog.New(slog.DiscardHandler),
		backOff:    10 * time.Second,
		maxBackOff: 40 * time.Second,
	}
	f.rt = newPodRuntime(deps, pod, "", podAddresses{podIP: "10.244.0.2", hostIP: "10.244.0.1"}, t.TempDir(), func() {})
	t.Cleanup(func() {
		// Whatever the test left running ends, so no goroutine outlives it.
		done := make(chan struct{})
		go func() { f.rt.stop(0); close(done) }()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				f.clock.Step(time.Hour)
			}
		}
	})
	return f
}

// waitFor polls cond (real time) until it holds, failing after a few
// seconds with what.
func (f *podFixture) waitFor(what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pod := f.rt.snapshot()
		if cond(pod) {
			return pod
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waiting for %s; status: %+v", what, pod.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitStarted waits until n processes have been started.
func (f *podFixture) waitStarted(n int) {
	f.t.Helper()
	f.waitFor(fmt.Sprintf("%d processes", n), func(*corev1.Pod) bool { return f.runner.started() >= n })
}

// stepWhenWaiting advances the fake clock by d once something waits on it.
func (f *podFixture) stepWhenWaiting(d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f.clock.HasWaiters() {
		if time.Now().After(deadline) {
			f.t.Fatal("nothing waits on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	f.clock.Step(d)
}

// testPodSpec is a pod with one container per image.
func testPodSpec(policy corev1.RestartPolicy, images ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "0f9e8d7c-6b5a-4321-8765-43210fedcba9"},
		Spec:       corev1.PodSpec{RestartPolicy: policy, NodeName: "n"},
	}
	for i, img := range images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return pod
}

func containerStatus(pod *corev1.Pod, i int) corev1.ContainerStatus {
	return pod.Status.ContainerStatuses[i]
}

func condition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func itoa(i int) string { return fmt.Sprint(i) }

func asEnvError(err error, target **envError) bool { return errors.As(err, target) }
