package activator

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/queue"
)

// TestImportsNoRuntime holds the contract to what it is: the controller
// and the autoscaler import it, and any runtime it imported (the
// activator's proxy, informers, a metrics SDK) would be linked into them.
func TestImportsNoRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := []string{"flywheel.dev/pkg/queue", "flywheel.dev/pkg/activator"}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("non-standard dependencies (-want, +got):\n%s", diff)
	}
}

// TestStatBatchJSONFieldNames pins the report's names on the wire, which
// the autoscaler reads: renaming a field in Go must not rename it there.
func TestStatBatchJSONFieldNames(t *testing.T) {
	batch := StatBatch{Stats: []Stat{{
		StatsReport: queue.StatsReport{Version: queue.StatsVersion, Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		Waiting:     2,
		ColdRequest: true,
	}}}
	body, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	var fields struct {
		Stats []map[string]any `json:"stats"`
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields.Stats) != 1 {
		t.Fatalf("%s: want one stat under \"stats\"", body)
	}
	var got []string
	for k := range fields.Stats[0] {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{
		"activatorRequestCount", "averageActivatorConcurrency", "averageConcurrency", "averageProxiedConcurrency",
		"coldRequest", "configuration", "namespace", "pod", "probeRequestCount", "proxiedRequestCount", "requestCount",
		"revision", "seconds", "service", "time", "version", "waiting",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON fields of a Stat (-want, +got):\n%s", diff)
	}
}
