package sidecar

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue/stats"
)

// BenchmarkFastPath sends requests one after another on one keep-alive
// connection through a sidecar with a measure stage, as in a pod, to an
// app on loopback: the fast path's cost per request, the app's and the
// client's included (allocations are the whole process's).
func BenchmarkFastPath(b *testing.B) {
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}), ReadHeaderTimeout: time.Second}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Serve(al) }()
	b.Cleanup(func() { _ = app.Close() })

	cfg := testConfig(al.Addr().(*net.TCPAddr).Port)
	tracker := stats.NewTracker(clock.RealClock{})
	s := New(cfg, Options{Measure: func(h http.Handler) http.Handler { return stats.Handler(h, tracker) }})
	r := startSidecar(b, s)

	conn, err := net.Dial("tcp", strings.TrimPrefix(r.serving, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	const request = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	roundTrip := func() {
		if _, err := io.WriteString(conn, request); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, want 200", resp.StatusCode)
		}
	}
	roundTrip() // the connections to the app are made
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
}
