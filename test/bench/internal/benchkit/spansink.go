package benchkit

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// SpanSink is an OTLP/HTTP receiver that takes a traced proxy's span
// exports and drops them. It runs in the harness, on the load
// generator's core, so that only the proxy's side of tracing counts
// against the pod's CPU.
type SpanSink struct {
	once     sync.Once
	endpoint string
	err      error
}

// Endpoint starts the sink on first use and returns its traces
// endpoint, for tracing-endpoint.
func (s *SpanSink) Endpoint() (string, error) {
	s.once.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.err = err
			return
		}
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		})}
		go func() { _ = srv.Serve(l) }()
		s.endpoint = "http://" + l.Addr().String() + "/v1/traces"
	})
	return s.endpoint, s.err
}
