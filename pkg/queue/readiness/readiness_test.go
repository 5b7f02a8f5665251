package readiness

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/queue"
)

func TestInterval(t *testing.T) {
	spec := queue.ProbeSpec{PeriodSeconds: 3}
	tests := []struct {
		name       string
		everReady  bool
		sinceStart time.Duration
		want       time.Duration
	}{
		{name: "at start, the floor", sinceStart: 0, want: MinStartupInterval},
		{name: "a twentieth of the time since start", sinceStart: 140 * time.Millisecond, want: 7 * time.Millisecond},
		{name: "capped for a slow app", sinceStart: time.Minute, want: MaxStartupInterval},
		{name: "the probe's period once ready", everReady: true, sinceStart: time.Millisecond, want: 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Interval(spec, tc.everReady, tc.sinceStart); got != tc.want {
				t.Errorf("Interval = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStateObserve(t *testing.T) {
	spec := queue.ProbeSpec{FailureThreshold: 2, SuccessThreshold: 3}
	tests := []struct {
		name    string
		results []bool
		want    bool
	}{
		{name: "never probed", want: false},
		{name: "failures at start stay unready", results: []bool{false, false, false}, want: false},
		{name: "the first success ever is ready at once", results: []bool{false, true}, want: true},
		{name: "one failure below the threshold stays ready", results: []bool{true, false}, want: true},
		{name: "failures up to the threshold make it unready", results: []bool{true, false, false}, want: false},
		{name: "a success resets the failure count", results: []bool{true, false, true, false}, want: true},
		{name: "after ready once, successes below the threshold stay unready", results: []bool{true, false, false, true, true}, want: false},
		{name: "successes up to the threshold make it ready again", results: []bool{true, false, false, true, true, true}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for _, ok := range tc.results {
				s.Observe(spec, ok)
			}
			if s.Ready != tc.want {
				t.Errorf("Ready = %v, want %v", s.Ready, tc.want)
			}
		})
	}
}

// TestProberBacksOffUntilTheAppPasses drives the prober on a fake clock:
// it probes at the start-up intervals, and once the check passes it waits
// the probe's period.
func TestProberBacksOffUntilTheAppPasses(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	var probes atomic.Int32
	var pass atomic.Bool
	probed := make(chan struct{}, 1)
	check := func(context.Context) error {
		probes.Add(1)
		// The result is decided before the test hears of the probe: the
		// test sets pass once it has, for the next probe, not this one.
		passed := pass.Load()
		probed <- struct{}{}
		if passed {
			return nil
		}
		return errors.New("not yet")
	}
	p := NewProber(queue.ProbeSpec{PeriodSeconds: 10}, check, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	awaitProbe(t, probed) // the first probe runs at once
	// Then one every MinStartupInterval while little time has passed.
	for range 3 {
		waitForWaiter(t, clk)
		clk.Step(MinStartupInterval)
		awaitProbe(t, probed)
	}
	if p.Ready() {
		t.Fatal("ready before any probe passed")
	}
	pass.Store(true)
	waitForWaiter(t, clk)
	clk.Step(MinStartupInterval)
	awaitProbe(t, probed)
	waitUntil(t, p.Ready)

	// Now the period applies: a step short of it probes nothing.
	waitForWaiter(t, clk)
	before := probes.Load()
	clk.Step(9 * time.Second)
	select {
	case <-probed:
		t.Fatal("probed before the period was up")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Step(time.Second)
	awaitProbe(t, probed)
	if got := probes.Load(); got != before+1 {
		t.Errorf("probes after the period = %d, want %d", got, before+1)
	}
}

func TestWaitReadyReturnsWhenTheAppPasses(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	var pass atomic.Bool
	p := NewProber(queue.ProbeSpec{}, func(context.Context) error {
		if pass.Load() {
			return nil
		}
		return errors.New("no")
	}, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if p.WaitReady(short) {
		t.Fatal("WaitReady = true before the app passed")
	}

	result := make(chan bool)
	go func() { result <- p.WaitReady(ctx) }()
	pass.Store(true)
	for {
		waitForWaiter(t, clk)
		clk.Step(MinStartupInterval)
		select {
		case ok := <-result:
			if !ok {
				t.Fatal("WaitReady = false, want true")
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestChecks(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("X-Probe") != "yes" {
			http.Error(w, "wrong probe", http.StatusBadRequest)
			return
		}
		if !strings.HasPrefix(r.Header.Get("User-Agent"), queue.KubeletProbeUserAgentPrefix) {
			http.Error(w, "not a kubelet probe", http.StatusBadRequest)
		}
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := freePort(t)

	tests := []struct {
		name    string
		spec    queue.ProbeSpec
		port    int
		wantErr bool
	}{{
		name: "TCP to a listening app",
		spec: queue.DefaultProbe(),
		port: port(t, ok.Listener.Addr()),
	}, {
		name:    "TCP to nothing",
		spec:    queue.DefaultProbe(),
		port:    closed,
		wantErr: true,
	}, {
		name: "TCP to the probe's own port",
		spec: queue.ProbeSpec{TCPSocket: &queue.TCPSocketProbe{Port: int32(port(t, ok.Listener.Addr()))}},
		port: closed,
	}, {
		name: "HTTP 200 with the probe's path and headers",
		spec: queue.ProbeSpec{HTTPGet: &queue.HTTPGetProbe{Path: "/healthz", HTTPHeaders: []queue.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}},
		port: port(t, ok.Listener.Addr()),
	}, {
		name:    "HTTP 503",
		spec:    queue.ProbeSpec{HTTPGet: &queue.HTTPGetProbe{}},
		port:    port(t, failing.Listener.Addr()),
		wantErr: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := NewCheck(tc.spec, tc.port)(ctx)
			if (err != nil) != tc.wantErr {
				t.Errorf("check error = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func port(t *testing.T, a net.Addr) int {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// freePort returns a loopback port with nothing listening on it.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := port(t, l.Addr())
	_ = l.Close()
	return p
}

// awaitProbe waits for a probe, failing the test if none comes in 10 s
// rather than hanging until the test binary's timeout.
func awaitProbe(t *testing.T, probed <-chan struct{}) {
	t.Helper()
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		t.Fatal("no probe within 10s")
	}
}

func waitForWaiter(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	waitUntil(t, clk.HasWaiters)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
