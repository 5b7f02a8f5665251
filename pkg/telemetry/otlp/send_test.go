package otlp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// metricsService is an OTLP/gRPC receiver (grpc-go's server and the
// generated service) that answers with the errors it is given, in turn.
type metricsService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	mu       sync.Mutex
	answers  []error
	names    []string
	timeouts []bool
}

func (s *metricsService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, hasDeadline := ctx.Deadline()
	s.timeouts = append(s.timeouts, hasDeadline)
	if len(s.answers) > 0 {
		err := s.answers[0]
		s.answers = s.answers[1:]
		if err != nil {
			return nil, err
		}
	}
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				s.names = append(s.names, m.GetName())
			}
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); !ok || len(md.Get("content-type")) == 0 {
		return nil, status.Error(codes.Internal, "no content-type")
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func serveGRPC(t *testing.T, svc *metricsService) *url.URL {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

func request(t *testing.T, name string) []byte {
	b, err := proto.Marshal(&colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
		ScopeMetrics: []*metricpb.ScopeMetrics{{Metrics: []*metricpb.Metric{{Name: name}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGRPCSenderCallsAGRPCServer: the sender's unary call over net/http's
// HTTP/2 is one grpc-go's server takes, and its statuses come back as
// errors: those a receiver may not repeat as RetryLater, with the
// server's message.
func TestGRPCSenderCallsAGRPCServer(t *testing.T) {
	svc := &metricsService{answers: []error{
		nil,
		status.Error(codes.Unavailable, "busy, come back"),
		status.Error(codes.InvalidArgument, "bad: 100% wrong"),
	}}
	s := NewGRPCSender(serveGRPC(t, svc), MetricExportMethod)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := s.Send(ctx, request(t, "first")); err != nil {
		t.Fatalf("a call the server took: %v", err)
	}
	err := s.Send(ctx, request(t, "second"))
	var later RetryLater
	if !errors.As(err, &later) || !strings.Contains(err.Error(), "busy, come back") {
		t.Errorf("Unavailable: error %v, want a RetryLater with the server's message", err)
	}
	err = s.Send(ctx, request(t, "third"))
	if err == nil || errors.As(err, &later) || !strings.Contains(err.Error(), "bad: 100% wrong") {
		t.Errorf("InvalidArgument: error %v, want one not to retry, with the server's message", err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.names) != 1 || svc.names[0] != "first" {
		t.Errorf("the server took %v, want [first]", svc.names)
	}
	for i, had := range svc.timeouts {
		if !had {
			t.Errorf("call %d came without the context's deadline (grpc-timeout)", i)
		}
	}
}

// TestSendRetryingRetriesUntilTaken: an Unavailable answer is sent again
// after a wait, and a receiver that never answers is RetryLater.
func TestSendRetryingRetriesUntilTaken(t *testing.T) {
	svc := &metricsService{answers: []error{status.Error(codes.Unavailable, "starting")}}
	s := NewGRPCSender(serveGRPC(t, svc), MetricExportMethod)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := SendRetrying(ctx, s, request(t, "retried")); err != nil {
		t.Fatalf("SendRetrying: %v", err)
	}
	svc.mu.Lock()
	names := svc.names
	svc.mu.Unlock()
	if len(names) != 1 || names[0] != "retried" {
		t.Errorf("the server took %v, want [retried]", names)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	gone := NewGRPCSender(&url.URL{Scheme: "http", Host: addr}, MetricExportMethod)
	short, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var later RetryLater
	if err := SendRetrying(short, gone, request(t, "lost")); !errors.As(err, &later) {
		t.Errorf("a receiver that is not there: error %v, want a RetryLater once the context ends", err)
	}
}

// TestGRPCSenderReadsAProxysAnswer: an answer that is not gRPC's (a
// proxy's 503, a 404) is an error, the 503 one to retry.
func TestGRPCSenderReadsAProxysAnswer(t *testing.T) {
	for _, tc := range []struct {
		code  int
		retry bool
	}{{http.StatusServiceUnavailable, true}, {http.StatusNotFound, false}, {http.StatusOK, false}} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tc.code)
		}))
		srv.EnableHTTP2 = true
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		s := NewGRPCSender(&url.URL{Scheme: "http", Host: srv.Listener.Addr().String()}, MetricExportMethod)
		err := s.Send(context.Background(), request(t, "x"))
		var later RetryLater
		if err == nil || errors.As(err, &later) != tc.retry {
			t.Errorf("HTTP %d: error %v, want one (to retry: %v)", tc.code, err, tc.retry)
		}
		s.Close()
		srv.Close()
	}
}

func TestGRPCTimeout(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:            "1n",
		time.Nanosecond:         "1n",
		1500 * time.Microsecond: "1500000n",
		30 * time.Second:        "30000000u",
		3 * time.Hour:           "10800000m",
		2000 * time.Hour:        "7200000S",
		200000 * time.Hour:      "12000000M",
	} {
		if got := grpcTimeout(d); got != want {
			t.Errorf("grpcTimeout(%v) = %q, want %q", d, got, want)
		}
	}
}
