package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/apis/serving"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
)

// TestGatewayServesTheBenchRoute runs the gateway the benchmark runs, on
// the objects it builds, and checks that a request for the route's host
// reaches the backend with the Revision named in its headers, as the
// activator hop will need, while another host is not routed.
func TestGatewayServesTheBenchRoute(t *testing.T) {
	const benchHost = "hello.demo.example.com"
	type seen struct{ Host, Revision, Namespace string }
	got := make(chan seen, 100)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{Host: r.Host, Revision: r.Header.Get(serving.RevisionHeader), Namespace: r.Header.Get(serving.NamespaceHeader)}
		_, _ = io.WriteString(w, "hello\n")
	}))
	defer app.Close()

	ctx, cancel := context.WithCancel(context.Background())
	g, err := newGateway(ctx, routeConfig{host: benchHost, backend: app.Listener.Addr().String()}, "127.0.0.1:0", "127.0.0.1:0", nil,
		slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	url := "http://" + g.Addr(gatewayKey).String() + "/"
	get := func(host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(benchHost)
		if code == http.StatusOK && body == "hello\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still answers %d %q for %s after 10s, want the app's 200 hello", code, body, benchHost)
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := seen{Host: benchHost, Revision: benchRevision, Namespace: gt.Namespace}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request at the backend (-want, +got):\n%s", diff)
	}
	if code, body := get("other.example.com"); code != http.StatusNotFound {
		t.Errorf("another host: %d %q, want 404", code, body)
	}
}
