//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// TestTracesFollowRequestsAndEvents points every component's traces at
// an OTLP receiver this test runs, then sends requests and events that
// carry a sampled W3C trace of the test's own, and finds their spans in
// that trace, each under the right parent:
//   - a request to a Revision at zero: the gateway's span, the
//     activator's under it, with the Revision as attribute, the cold
//     start's under the activator's, and the sidecar's beside it;
//   - an event through a Broker: the ingress's span, the dispatcher's
//     delivery attempt under it, and the subscriber's sidecar below that.
func TestTracesFollowRequestsAndEvents(t *testing.T) {
	ctx := t.Context()
	receiver := startOTLPReceiver(t)
	setObservability(t, map[string]string{
		"metrics-protocol": "prometheus",
		"tracing-protocol": "http/protobuf",
		"tracing-endpoint": receiver.url + "/v1/traces",
		// At 0 tracing is off, whatever a caller asks; the test finds
		// its own traces among the rest by their IDs.
		"tracing-sampling-rate": "1",
	})

	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "tracing")
	created, err := client.ServingV1().Services(ns).Create(ctx, sleeperService(ns, "traced", map[string]string{
		serving.WindowAnnotation.String(): "6s",
	}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "traced", created.Generation)
	host, rev := ready.Status.URL.Host, ready.Status.LatestReadyRevisionName
	createRecorder(t, client, ns, "subscriber", nil)
	createBroker(t, client, ns, "default", nil)
	if _, err := client.EventingV1().Triggers(ns).Create(ctx, trigger(ns, "all", "default", nil, duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "subscriber"},
	}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTriggerReady(t, client, ns, "all")

	t.Run("a cold start", func(t *testing.T) {
		waitDeploymentReplicas(t, ns, names.Deployment(rev), 0, 3*time.Minute)
		waitNoPods(t, ns, rev)
		waitPublicEndpoints(t, ns, rev, "the activator", isActivator(t))
		traceID, caller := randomHex(t, 16), randomHex(t, 8)
		mustGet(t, host, http.Header{"Traceparent": {"00-" + traceID + "-" + caller + "-01"}})
		tr := receiver.waitFor(t, traceID, "gateway", "activator", "cold-start", "queue-proxy")
		tr.wantParent(t, "gateway", caller)
		tr.wantParent(t, "activator", tr.id("gateway"))
		tr.wantParent(t, "cold-start", tr.id("activator"))
		tr.wantParent(t, "queue-proxy", tr.id("activator"))
		if got := attribute(tr.byName["activator"], "flywheel.revision"); got != rev {
			t.Errorf("the activator's span names Revision %q, want %q", got, rev)
		}
	})

	t.Run("an event", func(t *testing.T) {
		traceID, caller := randomHex(t, 16), randomHex(t, 8)
		ev := newEvent("traced-event", "com.example.traced", "{}")
		if code, body := postToIngress(t, ns, "default", eventBody(t, ev), map[string]string{
			"Content-Type": "application/cloudevents+json",
			"Traceparent":  "00-" + traceID + "-" + caller + "-01",
		}); code != http.StatusAccepted {
			t.Fatalf("posting the event: %d %s", code, body)
		}
		tr := receiver.waitFor(t, traceID, "broker-ingress", "delivery.attempt", "queue-proxy")
		tr.wantParent(t, "broker-ingress", caller)
		tr.wantParent(t, "delivery.attempt", tr.id("broker-ingress"))
		if !tr.descends("queue-proxy", tr.id("delivery.attempt")) {
			t.Errorf("the subscriber's sidecar span is not under the delivery attempt: %s", tr)
		}
	})
}

// setObservability replaces config-observability's data for the test,
// and puts the shipped data back after it.
func setObservability(t *testing.T, data map[string]string) {
	t.Helper()
	cms := cluster.Kube.CoreV1().ConfigMaps(local.SystemNamespace)
	cm, err := cms.Get(t.Context(), "config-observability", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shipped := cm.Data
	cm.Data = data
	if _, err := cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cm, err := cms.Get(context.Background(), "config-observability", metav1.GetOptions{})
		if err == nil {
			cm.Data = shipped
			_, err = cms.Update(context.Background(), cm, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("putting config-observability back: %v", err)
		}
	})
	// The components apply it as their informers hear of it.
	time.Sleep(2 * time.Second)
}

// otlpReceiver takes OTLP/HTTP trace exports, on the node's address so
// that the components' pods reach it.
type otlpReceiver struct {
	url string

	mu    sync.Mutex
	spans map[string][]*tracepb.Span // by trace ID
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	nodeIP, err := node.IPOf(node.DefaultPodCIDR)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(nodeIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{url: "http://" + l.Addr().String(), spans: map[string][]*tracepb.Span{}}
	srv := &http.Server{Handler: http.HandlerFunc(r.export), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	var export collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &export)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				r.spans[id] = append(r.spans[id], s)
			}
		}
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

// receivedTrace is the spans received of one trace.
type receivedTrace struct {
	spans  []*tracepb.Span
	byName map[string]*tracepb.Span
}

// waitFor waits until the trace holds a span of each name; components
// send their spans in batches, every few seconds.
func (r *otlpReceiver) waitFor(t *testing.T, traceID string, names ...string) *receivedTrace {
	t.Helper()
	var tr *receivedTrace
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		r.mu.Lock()
		tr = &receivedTrace{spans: slices.Clone(r.spans[traceID]), byName: map[string]*tracepb.Span{}}
		r.mu.Unlock()
		for _, s := range tr.spans {
			if tr.byName[s.Name] == nil {
				tr.byName[s.Name] = s
			}
		}
		for _, name := range names {
			if tr.byName[name] == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("trace %s holds %s; want spans %v", traceID, tr, names)
	}
	return tr
}

// id is the ID of the trace's first span of the name.
func (tr *receivedTrace) id(name string) string {
	if s := tr.byName[name]; s != nil {
		return hex.EncodeToString(s.SpanId)
	}
	return ""
}

func (tr *receivedTrace) wantParent(t *testing.T, name, parent string) {
	t.Helper()
	if got := hex.EncodeToString(tr.byName[name].ParentSpanId); got != parent {
		t.Errorf("span %s has parent %s, want %s: %s", name, got, parent, tr)
	}
}

// descends reports whether the span of the name is below the span
// ancestor.
func (tr *receivedTrace) descends(name, ancestor string) bool {
	byID := map[string]*tracepb.Span{}
	for _, s := range tr.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	s := tr.byName[name]
	for range len(tr.spans) {
		if s == nil {
			return false
		}
		parent := hex.EncodeToString(s.ParentSpanId)
		if parent == ancestor {
			return true
		}
		s = byID[parent]
	}
	return false
}

// String lists the spans as name(id ← parent).
func (tr *receivedTrace) String() string {
	if tr == nil {
		return "nothing"
	}
	var b strings.Builder
	for _, s := range tr.spans {
		fmt.Fprintf(&b, "%s(%x ← %x) ", s.Name, s.SpanId, s.ParentSpanId)
	}
	return b.String()
}

func attribute(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
