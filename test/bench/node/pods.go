package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"flywheel.dev/test/bench/internal/benchkit"
)

// The pod variants.
const (
	// variantProbe has an HTTP readiness probe with periodSeconds 1, as
	// a user's pod would.
	variantProbe = "probe"
	// variantNoProbe has none: Ready once its container has started. It
	// shows the node's share without the prober's timing.
	variantNoProbe = "no-probe"
)

const (
	benchNamespace = "bench-node"
	appPort        = 8080
	// podTimeout bounds each pod's way to Ready and away again.
	podTimeout = time.Minute
)

// The marks of a pod. Those up to Ready are since its create call
// returned; the deletion's are since the delete call.
const (
	markBound   = "bound"
	markSandbox = "sandbox"
	markRunning = "running"
	markReady   = "ready"
	markMain    = "main"
	markListen  = "listening"
	markGone    = "gone"
	markStopped = "stopped"
)

// podTimes is one pod's way to Ready and away, as the harness saw it.
type podTimes struct {
	Name string `json:"name"`
	// CreateCall is how long the create request took.
	CreateCall time.Duration `json:"createCall"`
	// Marks are when each step was seen: the watch event's arrival for
	// bound (spec.nodeName set), running (the container's state) and
	// ready (the Ready condition True) and for gone (DELETED); the
	// node's own log line, to the millisecond, for sandbox ("pod
	// started": its sandbox is up and its containers are starting) and
	// stopped ("pod stopped": processes ended, sandbox removed); the
	// app's own log, to the nanosecond, for main (its main began) and
	// listening.
	Marks map[string]time.Duration `json:"marks"`
}

// podRun is one run of one variant.
type podRun struct {
	Variant string `json:"variant"`
	Run     int    `json:"run"`
	LoadAvg string `json:"loadAvg"`
	// Warmup is the run's first pod, not counted: the first pod of a
	// variant on a fresh cluster also warms caches and informers.
	Warmup podTimes   `json:"warmup"`
	Pods   []podTimes `json:"pods"`
}

// measurePods creates the configured number of pods of variant, one
// after the other, after an uncounted first one, each deleted and gone
// from the node before the next is created.
func (b *bench) measurePods(ctx context.Context, variant string, run int) (podRun, error) {
	pr := podRun{Variant: variant, Run: run + 1, LoadAvg: benchkit.LoadAverage()}
	if err := prepareNamespace(ctx, b.cluster.Kube); err != nil {
		return pr, err
	}
	for i := 0; i <= b.cfg.Pods; i++ {
		name := fmt.Sprintf("%s-%d-%d", variant, run+1, i)
		pt, err := b.measurePod(ctx, makePod(name, b.app, variant))
		if err != nil {
			return pr, fmt.Errorf("pod %s: %w", name, err)
		}
		if i == 0 {
			pr.Warmup = pt
			continue
		}
		benchkit.Progress("  %s ready %6.1f ms (node's share %6.1f ms), stopped %6.1f ms after its deletion",
			name, ms(pt.Marks[markReady]), ms(pt.Marks[markReady]-pt.Marks[markBound]), ms(pt.Marks[markStopped]))
		pr.Pods = append(pr.Pods, pt)
	}
	return pr, nil
}

// prepareNamespace makes the benchmark's namespace and waits for what
// admission and the node need of it: the default ServiceAccount, and the
// kube-root-ca.crt ConfigMap of the service-account token volume.
func prepareNamespace(ctx context.Context, kube kubernetes.Interface) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if _, err := kube.CoreV1().ServiceAccounts(benchNamespace).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := kube.CoreV1().ConfigMaps(benchNamespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
}

// makePod is a bare pod running the app: no Deployment, so that no
// ReplicaSet controller stands between the harness and the node.
func makePod(name, app, variant string) *corev1.Pod {
	c := corev1.Container{
		Name:  "app",
		Image: app,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
	}
	if variant == variantProbe {
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(appPort)}},
			PeriodSeconds: 1,
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNamespace, Labels: map[string]string{"app": "bench-node"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
	}
}

// measurePod creates pod, follows it to Ready through a watch, deletes
// it with grace 0 and waits until the node has stopped it.
func (b *bench) measurePod(ctx context.Context, pod *corev1.Pod) (podTimes, error) {
	pt := podTimes{Name: pod.Name, Marks: map[string]time.Duration{}}
	ctx, cancel := context.WithTimeout(ctx, podTimeout)
	defer cancel()
	pods := b.cluster.Kube.CoreV1().Pods(benchNamespace)
	byName := fields.OneTermEqualSelector("metadata.name", pod.Name).String()
	// Watch from a list's version, so that no event of the pod can come
	// before the watch.
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: byName})
	if err != nil {
		return pt, err
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: byName, ResourceVersion: list.ResourceVersion})
	if err != nil {
		return pt, err
	}
	defer w.Stop()

	called := time.Now()
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return pt, err
	}
	created := time.Now()
	pt.CreateCall = created.Sub(called)
	var last *corev1.Pod
	for _, ok := pt.Marks[markReady]; !ok; _, ok = pt.Marks[markReady] {
		ev, err := next(ctx, w)
		if err != nil {
			return pt, fmt.Errorf("waiting for Ready: %w (last status: %s)", err, describe(last))
		}
		at := time.Since(created)
		p, isPod := ev.Object.(*corev1.Pod)
		if !isPod || ev.Type == watch.Deleted {
			return pt, fmt.Errorf("unexpected %s event while waiting for Ready", ev.Type)
		}
		last = p
		observe(pt.Marks, p, at)
	}

	nodeLog := filepath.Join(b.cfg.WorkDir, "node.log")
	key := benchNamespace + "/" + pod.Name
	if t, ok := nodeLogTime(readFile(nodeLog), "pod started", key); ok {
		pt.Marks[markSandbox] = t.Sub(created)
	}
	// The node removes the container's log with the pod, so it is read
	// first. Without a readiness probe the pod can be Ready before the
	// app has printed anything: the node reports a container running once
	// its process is started.
	appLog := filepath.Join(b.nodeDataDir(), "pods", fmt.Sprintf("%s_%s_*", benchNamespace, pod.Name), "app", "0.log")
	_ = wait.PollUntilContextTimeout(ctx, filePoll, 5*time.Second, true, func(context.Context) (bool, error) {
		logs, _ := filepath.Glob(appLog)
		for _, l := range logs {
			for mark, t := range appLogTimes(readFile(l)) {
				pt.Marks[mark] = t.Sub(created)
			}
		}
		_, ok := pt.Marks[markListen]
		return ok, nil
	})

	deleteCalled := time.Now()
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		return pt, err
	}
	for {
		ev, err := next(ctx, w)
		if err != nil {
			return pt, fmt.Errorf("waiting for the pod to go: %w", err)
		}
		if ev.Type == watch.Deleted {
			pt.Marks[markGone] = time.Since(deleteCalled)
			break
		}
	}
	// The next pod must not share the node with this one's teardown.
	err = wait.PollUntilContextCancel(ctx, filePoll, true, func(context.Context) (bool, error) {
		t, ok := nodeLogTime(readFile(nodeLog), "pod stopped", key)
		if ok {
			pt.Marks[markStopped] = t.Sub(deleteCalled)
		}
		return ok, nil
	})
	if err != nil {
		return pt, fmt.Errorf("waiting for the node to log that it stopped the pod: %w", err)
	}
	return pt, nil
}

// next is the watch's next event.
func next(ctx context.Context, w watch.Interface) (watch.Event, error) {
	select {
	case <-ctx.Done():
		return watch.Event{}, ctx.Err()
	case ev, ok := <-w.ResultChan():
		switch {
		case !ok:
			return ev, errors.New("the watch ended")
		case ev.Type == watch.Error:
			return ev, fmt.Errorf("watch error: %w", apierrors.FromObject(ev.Object))
		}
		return ev, nil
	}
}

// observe records the first time each step shows in p.
func observe(marks map[string]time.Duration, p *corev1.Pod, at time.Duration) {
	mark := func(name string, seen bool) {
		if _, ok := marks[name]; seen && !ok {
			marks[name] = at
		}
	}
	mark(markBound, p.Spec.NodeName != "")
	running := len(p.Status.ContainerStatuses) > 0
	for _, cs := range p.Status.ContainerStatuses {
		running = running && cs.State.Running != nil
	}
	mark(markRunning, running)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			mark(markReady, c.Status == corev1.ConditionTrue)
		}
	}
}

// describe summarises a pod's status for an error message.
func describe(p *corev1.Pod) string {
	if p == nil {
		return "none seen"
	}
	var parts []string
	parts = append(parts, "node "+p.Spec.NodeName, "phase "+string(p.Status.Phase))
	for _, cs := range p.Status.ContainerStatuses {
		switch s := cs.State; {
		case s.Waiting != nil:
			parts = append(parts, fmt.Sprintf("%s waiting: %s %s", cs.Name, s.Waiting.Reason, s.Waiting.Message))
		case s.Running != nil:
			parts = append(parts, fmt.Sprintf("%s running, ready %t", cs.Name, cs.Ready))
		case s.Terminated != nil:
			parts = append(parts, fmt.Sprintf("%s terminated: %s %s", cs.Name, s.Terminated.Reason, s.Terminated.Message))
		}
	}
	return strings.Join(parts, "; ")
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// nodeLogTime finds the node's log line with message msg about pod
// (namespace/name) and returns its time. The node logs through
// log/slog's text handler: `time=<RFC 3339, milliseconds> level=INFO
// msg="pod started" pod=<namespace/name> …`.
func nodeLogTime(log []byte, msg, pod string) (time.Time, bool) {
	for _, line := range strings.Split(string(log), "\n") {
		if !strings.Contains(line, ` msg="`+msg+`" `) || !strings.Contains(line+" ", " pod="+pod+" ") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// appLogTimes reads the marks podapp prints: "main <unix ns>" and
// "listening <unix ns>".
func appLogTimes(log []byte) map[string]time.Time {
	marks := map[string]time.Time{}
	for _, line := range strings.Split(string(log), "\n") {
		mark, ns, _ := strings.Cut(line, " ")
		if mark != markMain && mark != markListen {
			continue
		}
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			marks[mark] = time.Unix(0, n)
		}
	}
	return marks
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
