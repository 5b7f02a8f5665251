package stats

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/queue"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   Kind
	}{
		{name: "a plain request", header: http.Header{}, want: Proxied},
		{name: "a network probe", header: http.Header{queue.NetworkProbeHeader: {queue.NetworkProbeValue}}, want: Probe},
		{name: "the probe header with another value is the app's business", header: http.Header{queue.NetworkProbeHeader: {"activator"}}, want: Proxied},
		{name: "a kubelet probe", header: http.Header{"User-Agent": {queue.KubeletProbeUserAgentPrefix + "1.36"}}, want: Probe},
		{name: "a user agent that mentions the kubelet later", header: http.Header{"User-Agent": {"curl/8 kube-probe/1.36"}}, want: Proxied},
		{name: "forwarded by the activator", header: http.Header{queue.ViaActivatorHeader: {queue.ViaActivatorValue}}, want: ProxiedViaActivator},
		{name: "the activator's header with another value", header: http.Header{queue.ViaActivatorHeader: {"yes"}}, want: Proxied},
		{name: "the activator's probe is a probe", header: http.Header{
			queue.ViaActivatorHeader: {queue.ViaActivatorValue}, queue.NetworkProbeHeader: {queue.NetworkProbeValue},
		}, want: Probe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header
			if got := KindOf(r); got != tc.want {
				t.Errorf("KindOf = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHandlerCountsRequestsWhileTheyRun(t *testing.T) {
	tr, _ := newTracker(t)
	var during []Snapshot
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		during = append(during, tr.Snapshot())
		w.WriteHeader(http.StatusNoContent)
	}), tr)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	probe := httptest.NewRequest(http.MethodGet, "/", nil)
	probe.Header.Set(queue.NetworkProbeHeader, queue.NetworkProbeValue)
	h.ServeHTTP(httptest.NewRecorder(), probe)

	want := []Snapshot{
		{InFlightProxied: 1, ProxiedRequests: 1, LastSecond: Window{End: start}},
		{InFlightProbe: 1, ProxiedRequests: 1, ProbeRequests: 1, LastSecond: Window{End: start}},
	}
	if diff := cmp.Diff(want, during); diff != "" {
		t.Errorf("while serving (-want, +got):\n%s", diff)
	}
	after := Snapshot{ProxiedRequests: 1, ProbeRequests: 1, LastSecond: Window{End: start}}
	if diff := cmp.Diff(after, tr.Snapshot()); diff != "" {
		t.Errorf("after serving (-want, +got):\n%s", diff)
	}
}

func TestHandlerLeavesWhenTheHandlerPanics(t *testing.T) {
	tr, _ := newTracker(t)
	h := Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), tr)
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if got := tr.Snapshot().InFlightProxied; got != 0 {
		t.Errorf("in flight after an aborted request = %d, want 0", got)
	}
}

type plain struct{}

func (plain) ServeHTTP(http.ResponseWriter, *http.Request) {}

func TestHandlerWithoutTrackerIsNext(t *testing.T) {
	next := plain{}
	if got := Handler(next, nil); got != http.Handler(next) {
		t.Errorf("Handler(next, nil) = %#v, want next itself", got)
	}
}
