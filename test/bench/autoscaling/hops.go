package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/sidecar"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// hop is one step of a cold start, named by what was seen and where.
type hop struct {
	Name string
	// Source says how it is seen: a watch event's arrival at the
	// harness, or a component's log line (ms or better).
	Source string
}

// The hops of a cold start, in the order the request meets them.
const (
	hopWoke = iota
	hopPoked
	hopScaleSent
	hopDeployment
	hopReplicaSet
	hopPodCreated
	hopPodBound
	hopSandbox
	hopQueueExec
	hopAppExec
	hopQueueServing
	hopPodReady
	hopEndpoint
)

// coldHops names each hop and how it is seen. Each is recorded as the time
// since the request left the harness at which it was first seen.
var coldHops = [...]hop{
	hopWoke:         {Name: "activator woke the autoscaler", Source: "activator log"},
	hopPoked:        {Name: "autoscaler poked", Source: "autoscaler log"},
	hopScaleSent:    {Name: "UpdateScale sent", Source: "autoscaler log"},
	hopDeployment:   {Name: "Deployment scaled to 1", Source: "watch"},
	hopReplicaSet:   {Name: "ReplicaSet scaled to 1", Source: "watch"},
	hopPodCreated:   {Name: "pod created", Source: "watch"},
	hopPodBound:     {Name: "pod bound to the node", Source: "watch"},
	hopSandbox:      {Name: "sandbox up, containers starting", Source: "node log"},
	hopQueueExec:    {Name: "queue-proxy exec'd", Source: "node log"},
	hopAppExec:      {Name: "app exec'd", Source: "node log"},
	hopQueueServing: {Name: "queue-proxy process serving", Source: "queue-proxy log"},
	hopPodReady:     {Name: "pod Ready", Source: "watch"},
	hopEndpoint:     {Name: "EndpointSlice has the ready endpoint", Source: "watch"},
}

// firstByteHop is the last hop: the response's first byte at the harness.
const firstByteHop = "first byte"

// hopTimes are one cold start's hops: for each of coldHops (by name), the
// time from the request to its sighting; a hop not seen is absent.
type hopTimes map[string]time.Duration

// watcher records the watch events of one Revision's cold starts: when
// its Deployment and ReplicaSet were scaled up, its pod created, bound
// and ready, and its private Service's slices given a ready endpoint.
// Watch events reach the harness a few ms after the API server wrote
// them, alike for every hop, so differences between hops stand.
type watcher struct {
	rev string

	mu sync.Mutex
	// start is when the current cold start's request left; zero while
	// none is being timed.
	start time.Time
	seen  map[int]time.Time
	// pod is the name of the pod that serves the current cold start.
	pod string
}

// watch starts the informers of the bench namespace until ctx ends, and
// returns once they have synced.
func watch(ctx context.Context, kube kubernetes.Interface, rev string) *watcher {
	w := &watcher{rev: rev}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(benchNamespace))
	on := func(handle func(obj any)) cache.ResourceEventHandler {
		return cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, obj any) { handle(obj) }}
	}
	_, _ = f.Apps().V1().Deployments().Informer().AddEventHandler(on(func(obj any) {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == names.Deployment(rev) && replicas(d) > 0 {
			w.mark(hopDeployment, "")
		}
	}))
	_, _ = f.Apps().V1().ReplicaSets().Informer().AddEventHandler(on(func(obj any) {
		if rs, ok := obj.(*appsv1.ReplicaSet); ok && rs.Labels[serving.RevisionLabel.String()] == rev && rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0 {
			w.mark(hopReplicaSet, "")
		}
	}))
	_, _ = f.Core().V1().Pods().Informer().AddEventHandler(on(func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Labels[serving.RevisionLabel.String()] != rev || p.DeletionTimestamp != nil {
			return
		}
		w.mark(hopPodCreated, p.Name)
		if p.Spec.NodeName != "" {
			w.mark(hopPodBound, "")
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				w.mark(hopPodReady, "")
			}
		}
	}))
	_, _ = f.Discovery().V1().EndpointSlices().Informer().AddEventHandler(on(func(obj any) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] != names.PrivateService(rev) {
			return
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				w.mark(hopEndpoint, "")
			}
		}
	}))
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return w
}

// begin starts timing a cold start whose request leaves at start.
func (w *watcher) begin(start time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start, w.seen, w.pod = start, map[int]time.Time{}, ""
}

// end stops timing and returns what was seen, and the pod.
func (w *watcher) end() (hopTimes, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := hopTimes{}
	for i, at := range w.seen {
		out[coldHops[i].Name] = at.Sub(w.start)
	}
	pod := w.pod
	w.start, w.seen = time.Time{}, nil
	return out, pod
}

// waitFor waits until hop i is seen, at most within.
func (w *watcher) waitFor(ctx context.Context, i int, within time.Duration) {
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, within, true, func(context.Context) (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, ok := w.seen[i]
		return ok, nil
	})
}

// mark records hop i as seen now, unless it was seen already; pod, when
// set, names the cold start's pod.
func (w *watcher) mark(i int, pod string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() {
		return
	}
	if _, ok := w.seen[i]; !ok {
		w.seen[i] = now
	}
	if pod != "" && w.pod == "" {
		w.pod = pod
	}
}

// logLine is a component's log line: slog's JSON (time, msg) or
// knative.dev/pkg's zap JSON (timestamp, message).
type logLine struct {
	Time      time.Time `json:"time"`
	Timestamp time.Time `json:"timestamp"`
	Msg       string    `json:"msg"`
	Message   string    `json:"message"`
}

// firstLogged returns when the first JSON line of log at or after since
// said msg and held every one of the substrings; false when none did.
func firstLogged(log []byte, since time.Time, msg string, substrings ...string) (time.Time, bool) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
lines:
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(msg)) {
			continue
		}
		for _, s := range substrings {
			if !bytes.Contains(line, []byte(s)) {
				continue lines
			}
		}
		var l logLine
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		at, said := l.Time, l.Msg
		if at.IsZero() {
			at, said = l.Timestamp, l.Message
		}
		if said == msg && !at.Before(since) {
			return at, true
		}
	}
	return time.Time{}, false
}

// firstNodeLogged is firstLogged for the node's log, which is slog's text
// form: `time=… level=… msg="…" pod=ns/name container=…`; container, when
// set, is matched too.
func firstNodeLogged(log []byte, since time.Time, msg, pod, container string) (time.Time, bool) {
	quoted, _ := json.Marshal(msg)
	for line := range strings.SplitSeq(string(log), "\n") {
		if !strings.Contains(line, "msg="+string(quoted)) || !strings.Contains(line, " pod="+pod+" ") {
			continue
		}
		if container != "" && !strings.Contains(line, " container="+container+" ") {
			continue
		}
		stamp, _, ok := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil && !at.Before(since.Truncate(time.Millisecond)) {
			return at, true
		}
	}
	return time.Time{}, false
}

// componentLog returns the logs of the system pods of a component
// (app.kubernetes.io/component: activator, autoscaler), all their
// containers' worth.
func componentLog(ctx context.Context, kube kubernetes.Interface, component string) []byte {
	pods, err := kube.CoreV1().Pods(local.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=" + component})
	if err != nil {
		return nil
	}
	var out []byte
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			if b, err := kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx); err == nil {
				out = append(out, b...)
			}
		}
	}
	return out
}

// logHops adds to each cold start the hops the components' logs date:
// the activator's wake, the autoscaler's poke and scale (their logs are
// read once, after the cold starts), the node's sandbox and the
// queue-proxy's start (read right after each cold start, while its pod
// is there).
func logHops(starts []coldStart, activatorLog, autoscalerLog, nodeLog []byte, rev string) {
	key := benchNamespace + "/" + rev
	for _, s := range starts {
		if at, ok := firstLogged(activatorLog, s.start, activator.ColdWakeMessage, key); ok {
			s.hops[coldHops[hopWoke].Name] = at.Sub(s.start)
		}
		if at, ok := firstLogged(autoscalerLog, s.start, autoscaler.PokedMessage, key); ok {
			s.hops[coldHops[hopPoked].Name] = at.Sub(s.start)
		}
		if at, ok := firstLogged(autoscalerLog, s.start, podscale.ScalingMessage, benchNamespace+"/"+names.Deployment(rev), `"to":1`); ok {
			s.hops[coldHops[hopScaleSent].Name] = at.Sub(s.start)
		}
		if s.pod == "" {
			continue
		}
		for hop, container := range map[int]string{hopSandbox: "", hopQueueExec: queue.ContainerName, hopAppExec: config.DefaultDefaults().UserContainerName} {
			msg := node.ContainerStartedMessage
			if hop == hopSandbox {
				msg = node.PodStartedMessage
			}
			if at, ok := firstNodeLogged(nodeLog, s.start, msg, benchNamespace+"/"+s.pod, container); ok {
				s.hops[coldHops[hop].Name] = at.Sub(s.start)
			}
		}
		if at, ok := firstLogged(s.queueLog, s.start, sidecar.ServingMessage); ok {
			s.hops[coldHops[hopQueueServing].Name] = at.Sub(s.start)
		}
	}
}

// coldStart is one cold start while it is being timed.
type coldStart struct {
	start    time.Time
	hops     hopTimes
	pod      string
	queueLog []byte
}

// podQueueLog returns the queue-proxy's log of a pod of the bench
// namespace; nil when it cannot be read (the pod went).
func podQueueLog(ctx context.Context, kube kubernetes.Interface, pod string) []byte {
	if pod == "" {
		return nil
	}
	b, err := kube.CoreV1().Pods(benchNamespace).GetLogs(pod, &corev1.PodLogOptions{Container: queue.ContainerName}).DoRaw(ctx)
	if err != nil {
		return nil
	}
	return b
}

// readNodeLog returns the in-process node's log.
func readNodeLog(workDir string) []byte {
	b, _ := os.ReadFile(filepath.Join(workDir, "node.log"))
	return b
}
