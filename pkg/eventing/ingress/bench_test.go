package ingress

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/types"
)

// noopPublisher stores nothing, so that the benchmark measures the
// ingress alone.
type noopPublisher struct{}

func (noopPublisher) Publish(context.Context, types.NamespacedName, *event.Event) error { return nil }

// discardWriter is a ResponseWriter that keeps only the status, reused
// across requests so that the benchmark counts the handler's allocations
// rather than a recorder's.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHandler posts one binary-mode event with 1 KiB of data a
// request, with a typical set of attributes and a trace extension, to a
// Publisher that stores nothing: the ingress's own cost per event in time
// and allocations, reading, decoding and validating included.
func BenchmarkHandler(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 1024)
	h := NewHandler(onlyBrokers(defaultBroker), noopPublisher{}, Options{})
	r := httptest.NewRequest(http.MethodPost, brokerPath, nil)
	r.Header = binaryHeader(nil, map[string]string{
		"Ce-Time":        "2026-05-01T12:34:56.789Z",
		"Ce-Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"User-Agent":     "producer/1.0",
	})
	r.ContentLength = int64(len(data))
	body := bytes.NewReader(data)
	r.Body = io.NopCloser(body)
	w := &discardWriter{header: http.Header{}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(data)
		clear(w.header)
		h.ServeHTTP(w, r)
		if w.code != http.StatusAccepted {
			b.Fatalf("status = %d, want 202", w.code)
		}
	}
}
