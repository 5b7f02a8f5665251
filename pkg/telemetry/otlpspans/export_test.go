package otlpspans

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"flywheel.dev/pkg/telemetry/obsconfig"
)

// tracedProvider is a Provider sampling everything into an exporter of
// cfg, shut down with the test.
func tracedProvider(t *testing.T, cfg obsconfig.Tracing) (*Provider, *Exporter) {
	t.Helper()
	p := NewProvider(attribute.String("service.name", "test"))
	p.SetSampling(true, 1)
	var stdout bytes.Buffer
	e, err := NewExporter(cfg, p.Resource(), &stdout, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetExporter(e)
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return p, e
}

func spans(reqs []*coltracepb.ExportTraceServiceRequest) (names []string) {
	for _, r := range reqs {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
	}
	return names
}

// TestExporterRetriesWhatTheReceiverMayTakeLater: a receiver that
// answers 503 gets the batch again (after otlp's first retry wait); one that answers
// 400 does not, and the next batch goes on.
func TestExporterRetriesWhatTheReceiverMayTakeLater(t *testing.T) {
	r := newReceiver(t)
	r.AnswerNext(http.StatusServiceUnavailable)
	p, e := tracedProvider(t, obsconfig.Tracing{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: r.URL + "/v1/traces"})
	_, s := p.Tracer("t").Start(context.Background(), "retried")
	s.End()
	if err := e.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := spans(r.Taken()); len(got) != 1 || got[0] != "retried" {
		t.Errorf("the receiver took %v after a 503, want [retried]", got)
	}

	r.AnswerNext(http.StatusBadRequest)
	_, s = p.Tracer("t").Start(context.Background(), "refused")
	s.End()
	if err := e.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, s = p.Tracer("t").Start(context.Background(), "next")
	s.End()
	if err := e.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := spans(r.Taken()); len(got) != 2 || got[1] != "next" {
		t.Errorf("the receiver took %v, want [retried next]: a refused batch is not sent again", got)
	}
}

// TestExporterBatchesAndBoundsItsQueue: a full batch goes without
// waiting for the delay, and spans past the queue's bound are dropped,
// not held, while the receiver is stuck.
func TestExporterBatchesAndBoundsItsQueue(t *testing.T) {
	stuck := make(chan struct{})
	var mu sync.Mutex
	var sent []int
	e := &Exporter{
		record: appendSpanRecord, byScope: true,
		send: func(_ context.Context, b *batch) error {
			mu.Lock()
			sent = append(sent, b.spans)
			mu.Unlock()
			<-stuck
			return nil
		},
		close: func() {},
		wake:  make(chan struct{}, 1), flushes: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	e.log = slog.New(slog.DiscardHandler)
	go e.run()
	p := NewProvider()
	p.SetSampling(true, 1)
	p.SetExporter(e)
	for range batchSize {
		_, s := p.Tracer("t").Start(context.Background(), "s")
		s.End()
	}
	poll(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) == 1 }, "a full batch to go before the delay")
	for range maxQueue + 10 {
		_, s := p.Tracer("t").Start(context.Background(), "s")
		s.End()
	}
	e.mu.Lock()
	queued := e.queued
	e.mu.Unlock()
	if queued != maxQueue || e.dropped.Load() != 10 {
		t.Errorf("%d queued, %d dropped while the receiver is stuck; want %d and 10", queued, e.dropped.Load(), maxQueue)
	}
	close(stuck)
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sent {
		total += n
		if n > batchSize {
			t.Errorf("a batch of %d spans, want at most %d", n, batchSize)
		}
	}
	if total != batchSize+maxQueue {
		t.Errorf("%d spans sent by Shutdown's end, want %d", total, batchSize+maxQueue)
	}
}

// traceService is an OTLP/gRPC receiver: the generated service of
// opentelemetry-proto, which reads what this package sends raw.
type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (s *traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, spans([]*coltracepb.ExportTraceServiceRequest{req})...)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestExporterSpeaksOTLPOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc := &traceService{}
	coltracepb.RegisterTraceServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	p, e := tracedProvider(t, obsconfig.Tracing{Protocol: obsconfig.ProtocolGRPC, Endpoint: "http://" + ln.Addr().String()})
	_, s := p.Tracer("t").Start(context.Background(), "over-grpc", trace.WithAttributes(attribute.String("k", "v")))
	s.End()
	if err := e.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.names) != 1 || svc.names[0] != "over-grpc" {
		t.Errorf("the gRPC receiver took %v, want [over-grpc]", svc.names)
	}
}

func TestExporterWritesJSONLinesToStdout(t *testing.T) {
	var out bytes.Buffer
	p := NewProvider(attribute.String("service.name", "test"))
	p.SetSampling(true, 1)
	e, err := NewExporter(obsconfig.Tracing{Protocol: obsconfig.ProtocolStdout}, p.Resource(), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetExporter(e)
	_, s := p.Tracer("t").Start(context.Background(), "printed", trace.WithAttributes(attribute.Int("n", 1)))
	s.End()
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got jsonSpan
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	if got.Name != "printed" || got.Attributes["n"] != float64(1) || got.Resource["service.name"] != "test" {
		t.Errorf("stdout %s: want the span printed with its attribute and resource", out.String())
	}
}

func TestNewExporterNamesABadEndpoint(t *testing.T) {
	for _, cfg := range []obsconfig.Tracing{
		{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: "collector:4318"},
		{Protocol: obsconfig.ProtocolGRPC, Endpoint: "ftp://collector"},
		{Protocol: "zipkin"},
	} {
		if _, err := NewExporter(cfg, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("%+v: error %v, want one saying what is wanted", cfg, err)
		}
	}
	if e, err := NewExporter(obsconfig.Tracing{Protocol: obsconfig.ProtocolNone}, nil, nil, nil); e != nil || err != nil {
		t.Errorf("protocol none: %v, %v; want no exporter, no error", e, err)
	}
}

// poll waits until cond holds, for up to 10 s.
func poll(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
