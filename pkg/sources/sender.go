package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
)

// The binding contract: the variables a SinkBinding sets in its subjects'
// containers, and the adapters of PingSource and ApiServerSource read.
const (
	// SinkEnv is the sink's URL.
	SinkEnv = "K_SINK"
	// CEOverridesEnv is the source's spec.ceOverrides as JSON
	// ({"extensions":{"name":"value"}}), absent when it has none.
	CEOverridesEnv = "K_CE_OVERRIDES"
)

// DefaultSendParams is how a source sends each event: a few retries with
// exponential backoff, for a sink that is waking from zero or restarting,
// and then the event is given up (sources have no dead-letter sink in the
// v1 API).
var DefaultSendParams = delivery.Params{
	Retry:         5,
	BackoffPolicy: eventingv1.BackoffPolicyExponential,
	BackoffDelay:  200 * time.Millisecond,
	Timeout:       30 * time.Second,
}

// Sender posts events to sinks in binary mode.
type Sender struct {
	deliverer *delivery.Deliverer
	params    delivery.Params
}

// NewSender returns a Sender that sends with params.
func NewSender(deliverer *delivery.Deliverer, params delivery.Params) *Sender {
	return &Sender{deliverer: deliverer, params: params}
}

// Send applies overrides (which may be nil) to a copy of ev and posts it
// to sink, retrying as the Sender's params say. It returns nil once the
// sink answered 2xx.
func (s *Sender) Send(ctx context.Context, sink *url.URL, ev event.Event, overrides *duckv1.CloudEventOverrides) error {
	ev = ev.Clone()
	if err := ApplyOverrides(&ev, overrides); err != nil {
		return err
	}
	out := s.deliverer.Deliver(ctx, &ev, sink, nil, s.params, delivery.Hooks{})
	if out.Result == delivery.Delivered {
		return nil
	}
	if out.Err == nil {
		return fmt.Errorf("event %s not delivered to %s after %d attempts: %s", ev.ID(), sink.Redacted(), out.Attempts, out.Result)
	}
	return fmt.Errorf("event %s not delivered to %s after %d attempts (last status %d): %w", ev.ID(), sink.Redacted(), out.Attempts, out.StatusCode, out.Err)
}

// ApplyOverrides sets each extension overrides names on ev, replacing one
// ev already has.
func ApplyOverrides(ev *event.Event, overrides *duckv1.CloudEventOverrides) error {
	if overrides == nil {
		return nil
	}
	for name, value := range overrides.Extensions {
		if err := ev.Context.SetExtension(name, value); err != nil {
			return fmt.Errorf("ceOverrides extension %q: %w", name, err)
		}
	}
	return nil
}

// EncodeOverrides is overrides as CEOverridesEnv holds them; "" for none.
func EncodeOverrides(overrides *duckv1.CloudEventOverrides) (string, error) {
	if overrides == nil || len(overrides.Extensions) == 0 {
		return "", nil
	}
	b, err := json.Marshal(overrides)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// FromEnv reads the binding contract from the process's environment: the
// sink (required) and the overrides (nil when unset).
func FromEnv() (*url.URL, *duckv1.CloudEventOverrides, error) {
	raw := os.Getenv(SinkEnv)
	if raw == "" {
		return nil, nil, fmt.Errorf("%s is not set: bind the workload to a sink with a SinkBinding, or set it", SinkEnv)
	}
	sink, err := url.Parse(raw)
	if err != nil || !sink.IsAbs() {
		return nil, nil, fmt.Errorf("%s=%q is not an absolute URL", SinkEnv, raw)
	}
	var overrides *duckv1.CloudEventOverrides
	if raw := os.Getenv(CEOverridesEnv); raw != "" {
		overrides = &duckv1.CloudEventOverrides{}
		if err := json.Unmarshal([]byte(raw), overrides); err != nil {
			return nil, nil, fmt.Errorf("%s is not CloudEvents overrides as JSON: %w", CEOverridesEnv, err)
		}
	}
	return sink, overrides, nil
}
