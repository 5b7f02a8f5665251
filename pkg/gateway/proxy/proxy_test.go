package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
)

func TestForwardsWithHostAndForwardedHeaders(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		var got http.Header
		var gotHost string
		app := newBackend(t, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, gotHost = r.Header.Clone(), r.Host
			w.Header().Set("X-Remove-Me", "secret")
			_, _ = io.WriteString(w, "hello")
		}))
		g := newGateway(t, path, proxy.Options{}, nil)
		rule := gt.Rule(nil, gt.Backend("app", 80, 1))
		rule.Filters = []gatewayv1.HTTPRouteFilter{{
			Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Added", Value: "yes"}}},
		}, {
			Type:                   gatewayv1.HTTPRouteFilterResponseHeaderModifier,
			ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Remove: []string{"X-Remove-Me"}},
		}}
		g.route(rule, app)

		req, _ := http.NewRequest("GET", g.url+"/path?q=1", nil)
		req.Host = host + ":8080"
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello" {
			t.Fatalf("got %d %q, want 200 hello", resp.StatusCode, body)
		}
		if gotHost != host+":8080" {
			t.Errorf("the backend saw Host %q, want the client's %q", gotHost, host+":8080")
		}
		for name, want := range map[string]string{
			"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
			"X-Forwarded-Host":  host + ":8080",
			"X-Forwarded-Proto": "http",
			"X-Added":           "yes",
		} {
			if v := got.Get(name); v != want {
				t.Errorf("the backend saw %s %q, want %q", name, v, want)
			}
		}
		if v := resp.Header.Get("X-Remove-Me"); v != "" {
			t.Errorf("the response header filter left X-Remove-Me %q", v)
		}
	})
}

func TestBackendFiltersApplyOnlyToTheirBackend(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		// Each backend answers with its name and the headers it was sent.
		echo := func(name string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = fmt.Fprintf(w, "%s revision=%q namespace=%q", name,
					r.Header.Values("Knative-Serving-Revision"), r.Header.Values("Knative-Serving-Namespace"))
			}
		}
		blue, green := newBackend(t, "blue", echo("blue")), newBackend(t, "green", echo("green"))
		filtered := func(name string) gatewayv1.HTTPBackendRef {
			ref := gt.Backend(name, 80, 1)
			ref.Filters = []gatewayv1.HTTPRouteFilter{{
				Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{
					{Name: "Knative-Serving-Revision", Value: name},
					{Name: "Knative-Serving-Namespace", Value: gt.Namespace},
				}},
			}, {
				Type:                   gatewayv1.HTTPRouteFilterResponseHeaderModifier,
				ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: name}}},
			}}
			return ref
		}
		rule := gt.Rule(nil, filtered("blue"), filtered("green"))
		// The rule's filter runs first, so the backend's value replaces the
		// one the rule sets, as it replaces the one the client sent.
		rule.Filters = []gatewayv1.HTTPRouteFilter{{
			Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "Knative-Serving-Revision", Value: "from-the-rule"}}},
		}}
		g := newGateway(t, path, proxy.Options{}, nil)
		g.route(rule, blue, green)

		want := map[string]string{
			"blue":  `blue revision=["blue"] namespace=["demo"]`,
			"green": `green revision=["green"] namespace=["demo"]`,
		}
		seen := map[string]int{}
		// Both backends are chosen within 40 requests but once in 2^39.
		for range 40 {
			req, err := http.NewRequestWithContext(t.Context(), "GET", g.url+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			req.Header.Set("Knative-Serving-Revision", "from-the-client")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			name, _, _ := strings.Cut(string(body), " ")
			if string(body) != want[name] {
				t.Errorf("the upstream saw %q, want %q", body, want[name])
			}
			if got := resp.Header.Values("X-Served-By"); len(got) != 1 || got[0] != name {
				t.Errorf("the response from %s has X-Served-By %q, want only %q", name, got, name)
			}
			seen[name]++
		}
		if seen["blue"] == 0 || seen["green"] == 0 {
			t.Errorf("requests per backend %v, want both chosen", seen)
		}
	})
}

func TestErrorsSayWhatIsWrong(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		g := newGateway(t, path, proxy.Options{}, nil)
		empty := backend{service: gt.Service("empty", 80, 8080)}

		t.Run("no route: 404", func(t *testing.T) {
			g.route(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/app")}, gt.Backend("empty", 80, 1)), empty)
			code, body, _ := g.do(t, nil, "GET", "/other", nil)
			if code != http.StatusNotFound {
				t.Errorf("status %d, want 404", code)
			}
			contains(t, "body", body, "no HTTPRoute of Gateway demo/gw", `host "app.example.com"`, `path "/other"`)
		})
		t.Run("only weight 0: 500", func(t *testing.T) {
			g.route(gt.Rule(nil, gt.Backend("empty", 80, 0)), empty)
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", code)
			}
			contains(t, "body", body, "rule 0 of HTTPRoute demo/r has no backendRef with a weight above zero")
		})
		t.Run("no backendRefs: 500", func(t *testing.T) {
			g.route(gt.Rule(nil))
			if code, _, _ := g.do(t, nil, "GET", "/", nil); code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", code)
			}
		})
		t.Run("missing Service: 500", func(t *testing.T) {
			g.route(gt.Rule(nil, gt.Backend("missing", 80, 1)))
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", code)
			}
			contains(t, "body", body, "Service demo/missing not found")
		})
		t.Run("no ready endpoint: 503", func(t *testing.T) {
			g.route(gt.Rule(nil, gt.Backend("empty", 80, 1)), empty)
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", code)
			}
			contains(t, "body", body, "Service demo/empty:80 has no ready endpoints")
		})
	})
}

func TestInvalidBackendGetsItsShareOf500s(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		app := newBackend(t, "app", text("ok"))
		g := newGateway(t, path, proxy.Options{}, nil)
		g.route(gt.Rule(nil, gt.Backend("app", 80, 1), gt.Backend("missing", 80, 1)), app)
		counts := map[int]int{}
		for range 200 {
			code, _, _ := g.do(t, nil, "GET", "/", nil)
			counts[code]++
		}
		// Half each, within 5 standard deviations (about 35).
		if counts[200] < 65 || counts[500] < 65 || counts[200]+counts[500] != 200 {
			t.Errorf("statuses %v over 200 requests, want about 100 each of 200 and 500", counts)
		}
	})
}

// countingDial is a dialer that fails for the addresses in dead and
// counts every attempt.
type countingDial struct {
	dead     map[string]bool
	mu       sync.Mutex
	attempts map[string]int
}

func (d *countingDial) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.attempts[address]++
	d.mu.Unlock()
	if d.dead[address] {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused (test)")}
	}
	return (&net.Dialer{}).DialContext(ctx, network, address)
}

func TestRetriesOnlyWhenTheConnectionFailed(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		t.Run("a refused connection is retried on another endpoint", func(t *testing.T) {
			var received atomic.Int64
			app := newBackend(t, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				received.Add(1)
				_, _ = w.Write(b)
			}))
			dead := deadAddress(t)
			deadSlice := gt.EndpointSlice("app", dead)
			deadSlice.Name = "app-dead"
			d := &countingDial{dead: map[string]bool{}, attempts: map[string]int{}}
			g := newGateway(t, path, proxy.Options{Dial: d.dial}, nil)
			g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), app, backend{service: app.service, slice: deadSlice})

			const n = 20
			for i := range n {
				body := fmt.Sprintf("request %d", i)
				code, got, _ := g.do(t, nil, "POST", "/", strings.NewReader(body))
				if code != 200 || got != body {
					t.Fatalf("request %d: %d %q, want 200 and the body echoed", i, code, got)
				}
			}
			if received.Load() != n {
				t.Errorf("the live endpoint received %d requests, want %d", received.Load(), n)
			}
			if d.attempts[dead] == 0 {
				t.Errorf("the dead endpoint was never tried in %d requests; the test shows nothing", n)
			}
		})

		t.Run("a request that reached a backend is not retried", func(t *testing.T) {
			var received atomic.Int64
			crash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				received.Add(1)
				// Die mid-request: the connection closes with no answer.
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			})
			a := newBackend(t, "app", crash)
			b := newBackend(t, "app", crash)
			b.slice.Name = "app-2"
			g := newGateway(t, path, proxy.Options{}, nil)
			g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), a, backend{service: a.service, slice: b.slice})

			for _, method := range []string{"POST", "GET"} {
				before := received.Load()
				code, body, _ := g.do(t, nil, method, "/", strings.NewReader("payload"))
				if code != http.StatusBadGateway {
					t.Errorf("%s: status %d, want 502", method, code)
				}
				contains(t, "body", body, "forwarding to Service demo/app:80 failed")
				if n := received.Load() - before; n != 1 {
					t.Errorf("%s: the backends received the request %d times, want once", method, n)
				}
			}
		})

		t.Run("every endpoint refusing is a 502 naming them", func(t *testing.T) {
			d := &countingDial{dead: map[string]bool{}, attempts: map[string]int{}}
			slice := gt.EndpointSlice("app", "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080", "10.0.0.4:8080")
			for _, e := range slice.Endpoints {
				d.dead[e.Addresses[0]+":8080"] = true
			}
			g := newGateway(t, path, proxy.Options{Dial: d.dial, MaxAttempts: 3}, nil)
			g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), backend{service: gt.Service("app", 80, 8080), slice: slice})
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusBadGateway {
				t.Errorf("status %d, want 502", code)
			}
			contains(t, "body", body, "no endpoint of Service demo/app:80 accepted a connection", "connection refused (test)")
			total := 0
			for _, n := range d.attempts {
				total += n
			}
			if total != 3 {
				t.Errorf("%d connection attempts, want MaxAttempts (3), each on another endpoint: %v", total, d.attempts)
			}
		})
	})
}

func TestRequestTimeout(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		slow := newBackend(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		g := newGateway(t, path, proxy.Options{}, nil)

		t.Run("timeouts.request", func(t *testing.T) {
			rule := gt.Rule(nil, gt.Backend("slow", 80, 1))
			rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("100ms"))}
			g.route(rule, slow)
			start := time.Now()
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusGatewayTimeout {
				t.Errorf("status %d, want 504", code)
			}
			contains(t, "body", body, "no answer started within the request timeout of 100ms", "spec.rules[0].timeouts.request of HTTPRoute demo/r")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v, want about 100ms", d)
			}
		})
		t.Run("a started response streams past timeouts.request", func(t *testing.T) {
			// The Route reconciler sets timeouts.request from the Revision's
			// timeoutSeconds, which bounds the response's start only.
			const timeout = 200 * time.Millisecond
			const want = "first;second;third;last"
			stream := newBackend(t, "stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i, p := range strings.SplitAfter(want, ";") {
					if i > 0 {
						time.Sleep(timeout)
					}
					_, _ = io.WriteString(w, p)
					http.NewResponseController(w).Flush()
				}
			}))
			rule := gt.Rule(nil, gt.Backend("stream", 80, 1))
			rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration(timeout.String()))}
			g.route(rule, stream)
			start := time.Now()
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusOK || body != want {
				t.Errorf("got %d %q, want 200 and all of %q", code, body, want)
			}
			if d := time.Since(start); d < 3*timeout {
				t.Errorf("the stream took %v, want at least %v: the test backend did not stream", d, 3*timeout)
			}
		})
		t.Run("timeouts.backendRequest", func(t *testing.T) {
			rule := gt.Rule(nil, gt.Backend("slow", 80, 1))
			rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{BackendRequest: ptr.To(gatewayv1.Duration("100ms"))}
			g.route(rule, slow)
			code, body, _ := g.do(t, nil, "GET", "/", nil)
			if code != http.StatusGatewayTimeout {
				t.Errorf("status %d, want 504", code)
			}
			contains(t, "body", body, "backend request timeout of 100ms", "timeouts.backendRequest")
		})
	})
}

func TestStreamsBothWays(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		firstChunk := make(chan struct{})
		finish := make(chan struct{})
		app := newBackend(t, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The request body arrives as it is sent, not once complete.
			buf := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			close(firstChunk)
			rest, _ := io.ReadAll(r.Body)
			// The response goes out as it is written.
			_, _ = fmt.Fprintf(w, "got %s+%d bytes\n", buf, len(rest))
			http.NewResponseController(w).Flush()
			<-finish
			_, _ = io.WriteString(w, "done\n")
		}))
		g := newGateway(t, path, proxy.Options{}, nil)
		g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), app)

		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, "first")
			select {
			case <-firstChunk:
			case <-time.After(10 * time.Second):
				_ = pw.CloseWithError(errors.New("the backend did not see the first chunk while the body was still open: the gateway buffers request bodies"))
				return
			}
			_, _ = pw.Write(make([]byte, 1<<20))
			_ = pw.Close()
		}()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", g.url+"/", pr)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil {
			t.Fatalf("reading the first line: %v", err)
		}
		if want := fmt.Sprintf("got first+%d bytes\n", 1<<20); line != want {
			t.Errorf("first line %q, want %q", line, want)
		}
		// The backend is still holding the response open: the first line
		// arrived because it was flushed through, not at the end.
		close(finish)
	})
}
