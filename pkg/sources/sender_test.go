package sources

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
)

func TestSenderRetriesAndAppliesOverrides(t *testing.T) {
	var attempts atomic.Int32
	var color, id atomic.Value
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		color.Store(r.Header.Get("Ce-Color"))
		id.Store(r.Header.Get("Ce-Id"))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	u, _ := url.Parse(sink.URL)
	s := NewSender(delivery.New(nil, nil), delivery.Params{Retry: 3, BackoffPolicy: eventingv1.BackoffPolicyLinear, BackoffDelay: time.Millisecond})
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("/test")
	ev.SetType("dev.flywheel.test")
	if err := s.Send(context.Background(), u, ev, &duckv1.CloudEventOverrides{Extensions: map[string]string{"color": "blue"}}); err != nil {
		t.Fatal(err)
	}
	if got := attempts.Load(); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if color.Load() != "blue" || id.Load() != "1" {
		t.Errorf("sink got ce-color %q, ce-id %q; want blue, 1", color.Load(), id.Load())
	}
	if _, ok := ev.Extensions()["color"]; ok {
		t.Error("Send changed the caller's event")
	}

	s = NewSender(delivery.New(nil, nil), delivery.Params{Retry: 0})
	attempts.Store(-10)
	if err := s.Send(context.Background(), u, ev, nil); err == nil {
		t.Error("Send to a sink that answers 503 returned nil")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(SinkEnv, "")
	if _, _, err := FromEnv(); err == nil {
		t.Error("FromEnv without K_SINK returned no error")
	}
	t.Setenv(SinkEnv, "http://sink.ns.svc.cluster.local/")
	encoded, err := EncodeOverrides(&duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(CEOverridesEnv, encoded)
	sink, overrides, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if sink.Host != "sink.ns.svc.cluster.local" || overrides.Extensions["team"] != "a" {
		t.Errorf("FromEnv = %v, %+v", sink, overrides)
	}
	t.Setenv(CEOverridesEnv, "{")
	if _, _, err := FromEnv(); err == nil {
		t.Error("FromEnv with malformed overrides returned no error")
	}
}
