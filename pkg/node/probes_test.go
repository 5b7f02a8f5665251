package node

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestProbeTracker(t *testing.T) {
	type step struct {
		ok            bool
		changed, want bool
	}
	for _, tc := range []struct {
		name             string
		success, failure int32
		steps            []step
	}{{
		name:    "one success reports success, three failures report failure",
		success: 1, failure: 3,
		steps: []step{{true, true, true}, {false, false, true}, {false, false, true}, {false, true, false}, {false, false, false}, {true, true, true}},
	}, {
		name:    "success needs its threshold in a row",
		success: 2, failure: 1,
		steps: []step{{true, false, false}, {false, true, false}, {true, false, false}, {true, true, true}},
	}, {
		name:  "zero thresholds take the API's defaults",
		steps: []step{{false, false, false}, {false, false, false}, {false, true, false}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newProbeTracker(&corev1.Probe{SuccessThreshold: tc.success, FailureThreshold: tc.failure})
			for i, s := range tc.steps {
				changed, got := tr.observe(s.ok)
				if changed != s.changed || (changed && got != s.want) {
					t.Errorf("step %d (ok=%t): changed=%t result=%t, want changed=%t result=%t", i, s.ok, changed, got, s.changed, s.want)
				}
			}
		})
	}
}

func TestRunProbeTiming(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	started := clk.Now()
	probe := &corev1.Probe{InitialDelaySeconds: 3, PeriodSeconds: 2, FailureThreshold: 2}

	var mu sync.Mutex
	var attempts []time.Duration
	var reports []bool
	do := func(context.Context) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, clk.Since(started))
		return len(attempts) <= 2, "failed"
	}
	done := make(chan struct{})
	go func() {
		runProbe(t.Context(), clk, probe, started, false, do, func(ok bool, _ string) bool {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, ok)
			return ok // stop at the first failure, as a liveness probe does
		})
		close(done)
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts)
	}
	for want := 1; ; want++ {
		for !clk.HasWaiters() {
			select {
			case <-done:
				goto finished
			default:
				time.Sleep(time.Millisecond)
			}
		}
		if want == 1 {
			clk.Step(3 * time.Second) // the initial delay
		} else {
			clk.Step(2 * time.Second)
		}
		for count() < want {
			select {
			case <-done:
				goto finished
			default:
				time.Sleep(time.Millisecond)
			}
		}
	}
finished:
	want := []time.Duration{3 * time.Second, 5 * time.Second, 7 * time.Second, 9 * time.Second}
	if diff := cmp.Diff(want, attempts); diff != "" {
		t.Errorf("attempts after the container started (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, false}, reports); diff != "" {
		t.Errorf("reports (-want, +got):\n%s", diff)
	}
}

func TestRunProbeFastFirstSuccess(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	started := clk.Now()
	probe := &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1}
	var mu sync.Mutex
	var attempts []time.Duration
	do := func(context.Context) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, clk.Since(started))
		return len(attempts) > 3, "connection refused" // the app listens late
	}
	reported := make(chan bool, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go runProbe(ctx, clk, probe, started, true, do, func(ok bool, _ string) bool {
		reported <- ok
		return false
	})
	for {
		select {
		case ok := <-reported:
			if !ok {
				t.Fatal("the first report is a failure; failures before the first success must not count")
			}
			// Tried at 0, then after 5, 10 and 20 ms: ready 35 ms after the
			// start, not a period later.
			want := []time.Duration{0, 5 * time.Millisecond, 15 * time.Millisecond, 35 * time.Millisecond}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, attempts); diff != "" {
				t.Errorf("attempts (-want, +got):\n%s", diff)
			}
			return
		default:
		}
		if clk.HasWaiters() {
			mu.Lock()
			n := len(attempts)
			mu.Unlock()
			clk.Step(firstSuccessMinInterval << (n - 1))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFastFirstSuccessIsForCheapProbesOnly(t *testing.T) {
	http := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}}
	tcp := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}
	twice := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}, SuccessThreshold: 2}
	for name, c := range map[string]struct {
		probe *corev1.Probe
		want  bool
	}{"http": {http, true}, "tcp": {tcp, true}, "exec": {exec, false}, "two successes needed": {twice, false}} {
		if got := fastFirstSuccess(c.probe); got != c.want {
			t.Errorf("%s: fastFirstSuccess = %t, want %t", name, got, c.want)
		}
	}
}

func TestProberHTTPAndTCP(t *testing.T) {
	var gotUA, gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotHost = r.UserAgent(), r.Host
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	target := probeTarget{podIP: host, ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	pr := newProber(newFakeRunner())

	for _, tc := range []struct {
		name string
		h    handler
		ok   bool
		msg  string
	}{
		{"200 by port name", handler{httpGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http")}}, true, ""},
		{"a redirect counts as success, not followed", handler{httpGet: &corev1.HTTPGetAction{Path: "redirect", Port: intstr.FromInt(port)}}, true, ""},
		{"503 fails", handler{httpGet: &corev1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt(port)}}, false, "statuscode: 503"},
		{"an unknown port name fails", handler{httpGet: &corev1.HTTPGetAction{Port: intstr.FromString("nope")}}, false, `no port named "nope"`},
		{"tcp connects", handler{tcp: &corev1.TCPSocketAction{Port: intstr.FromInt(port)}}, true, ""},
		{"grpc is not supported", handler{grpc: &corev1.GRPCAction{Port: 1}}, false, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			ok, msg := pr.run(ctx, tc.h, target)
			if ok != tc.ok || !strings.Contains(msg, tc.msg) {
				t.Errorf("run() = %t, %q; want %t, containing %q", ok, msg, tc.ok, tc.msg)
			}
		})
	}
	if gotUA != probeUserAgent {
		t.Errorf("User-Agent %q, want %q", gotUA, probeUserAgent)
	}
	ok, _ := pr.run(t.Context(), handler{httpGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt(port), HTTPHeaders: []corev1.HTTPHeader{{Name: "Host", Value: "app.example"}}}}, target)
	if !ok || gotHost != "app.example" {
		t.Errorf("with a Host header: ok=%t, the server saw Host %q", ok, gotHost)
	}
}

func TestProberExec(t *testing.T) {
	r := newFakeRunner()
	pr := newProber(r)
	r.setProbe("/probe/check", 3)
	target := probeTarget{env: []string{"PATH=/bin"}, netns: "/var/run/netns/x"}
	ok, msg := pr.run(t.Context(), handler{exec: &corev1.ExecAction{Command: []string{"/probe/check", "arg"}}}, target)
	if ok || !strings.Contains(msg, "exited with 3") {
		t.Errorf("run() = %t, %q; want a failure naming the exit code", ok, msg)
	}
	r.setProbe("/probe/check", 0)
	if ok, msg := pr.run(t.Context(), handler{exec: &corev1.ExecAction{Command: []string{"/probe/check"}}}, target); !ok {
		t.Errorf("run() = false, %q; want success", msg)
	}
}
