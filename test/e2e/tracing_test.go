//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// TestAColdStartIsOneTrace points every component's traces at an OTLP
// receiver this test runs, takes a Revision to zero, and sends it a
// request carrying a sampled W3C trace of the test's own: the spans of
// the gateway, the activator and its cold start must all arrive in that
// trace, each under the one before, with the Revision as attribute.
func TestAColdStartIsOneTrace(t *testing.T) {
	ctx := t.Context()
	receiver := startOTLPReceiver(t)
	setObservability(t, map[string]string{
		"metrics-protocol": "prometheus",
		"tracing-protocol": "http/protobuf",
		"tracing-endpoint": receiver.url + "/v1/traces",
		// At 0 tracing is off, whatever a caller asks; the test finds
		// its own trace among the rest by its ID.
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
	waitDeploymentReplicas(t, ns, names.Deployment(rev), 0, 3*time.Minute)
	waitNoPods(t, ns, rev)
	waitPublicEndpoints(t, ns, rev, "the activator", isActivator(t))

	traceID, callerSpan := randomHex(t, 16), randomHex(t, 8)
	mustGet(t, host, http.Header{"Traceparent": {"00-" + traceID + "-" + callerSpan + "-01"}})

	// Each component sends its spans in batches, every few seconds.
	want := []string{"gateway", "activator", "cold-start"}
	var spans map[string]*tracepb.Span
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		spans = receiver.spansOf(traceID)
		for _, name := range want {
			if spans[name] == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("trace %s holds spans %v, want %v", traceID, keys(spans), want)
	}
	parent := callerSpan
	for _, name := range want {
		s := spans[name]
		if got := hex.EncodeToString(s.ParentSpanId); got != parent {
			t.Errorf("span %s has parent %s, want %s (the span before it)", name, got, parent)
		}
		parent = hex.EncodeToString(s.SpanId)
	}
	if got := attribute(spans["activator"], "flywheel.revision"); got != rev {
		t.Errorf("the activator's span names Revision %q, want %q", got, rev)
	}
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
	spans map[string]map[string]*tracepb.Span // by trace ID, then span name
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
	r := &otlpReceiver{url: "http://" + l.Addr().String(), spans: map[string]map[string]*tracepb.Span{}}
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
				if r.spans[id] == nil {
					r.spans[id] = map[string]*tracepb.Span{}
				}
				r.spans[id][s.Name] = s
			}
		}
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

// spansOf returns the spans received of a trace, by name.
func (r *otlpReceiver) spansOf(traceID string) map[string]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for name, s := range r.spans[traceID] {
		out[name] = s
	}
	return out
}

func attribute(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
