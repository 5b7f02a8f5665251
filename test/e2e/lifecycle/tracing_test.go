//go:build e2e

package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	fwlocal "flywheel.dev/pkg/local"
)

// TestUpWithTracing runs fw local up --tracing with the hello sample:
// Jaeger runs as a pod, the components send it their spans, and its API
// on the host shows the sample's request as one trace holding the
// gateway's span and the activator's, parent before child.
func TestUpWithTracing(t *testing.T) {
	u := startUp(t, "--tracing", "--sample", "examples/hello/service.yaml", "--eventing-sample", "")
	if !strings.Contains(u.output(), "http://"+fwlocal.JaegerUIAddress) {
		t.Errorf("fw local up --tracing does not say where Jaeger is:\n%s", u.output())
	}
	// The sample is called once it is Ready, after fw local up's state
	// says ready.
	err := wait.PollUntilContextTimeout(t.Context(), time.Second, 5*time.Minute, true, func(context.Context) (bool, error) {
		return strings.Contains(u.output(), "Hello Flywheel! (revision hello-00001)"), nil
	})
	if err != nil {
		t.Fatalf("the sample was never answered: %v\n%s", err, u.output())
	}

	// Spans leave each component in batches: a few seconds.
	api := "http://" + fwlocal.JaegerUIAddress + "/api/traces?service=gateway&limit=100&lookback=1h"
	var last string
	var found jaegerTrace
	err = wait.PollUntilContextTimeout(t.Context(), time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		traces, err := getTraces(ctx, api)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("%d traces of the gateway", len(traces))
		for _, tr := range traces {
			if tr.has("gateway", "gateway") && tr.has("activator", "activator") {
				found = tr
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("Jaeger shows no trace through the gateway and the activator (%v); last: %s", err, last)
	}
	gateway, activator := found.span("gateway", "gateway"), found.span("activator", "activator")
	if !found.descends(activator, gateway) {
		t.Errorf("the activator's span is not under the gateway's in trace %s: %+v", found.TraceID, found.Spans)
	}
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	SpanID        string            `json:"spanID"`
	OperationName string            `json:"operationName"`
	ProcessID     string            `json:"processID"`
	References    []jaegerReference `json:"references"`
}

type jaegerReference struct {
	SpanID string `json:"spanID"`
}

type jaegerProcess struct {
	ServiceName string `json:"serviceName"`
}

// span returns the trace's span of the named operation in the named
// service; nil when there is none.
func (tr *jaegerTrace) span(service, operation string) *jaegerSpan {
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.OperationName == operation && tr.Processes[s.ProcessID].ServiceName == service {
			return s
		}
	}
	return nil
}

func (tr *jaegerTrace) has(service, operation string) bool { return tr.span(service, operation) != nil }

// descends reports whether s is a descendant of ancestor in the trace.
func (tr *jaegerTrace) descends(s, ancestor *jaegerSpan) bool {
	for seen := 0; s != nil && seen < len(tr.Spans); seen++ {
		if len(s.References) == 0 {
			return false
		}
		parent := s.References[0].SpanID
		if parent == ancestor.SpanID {
			return true
		}
		s = tr.byID(parent)
	}
	return false
}

func (tr *jaegerTrace) byID(id string) *jaegerSpan {
	for i := range tr.Spans {
		if tr.Spans[i].SpanID == id {
			return &tr.Spans[i]
		}
	}
	return nil
}

func getTraces(ctx context.Context, url string) ([]jaegerTrace, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return body.Data, nil
}
