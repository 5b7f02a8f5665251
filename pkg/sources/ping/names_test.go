package ping

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportsNoRuntime keeps the contract light for the controller, which
// imports it for the reconciler: the adapter's scheduler, cron and leader
// election belong to pkg/sources/ping/adapter alone.
func TestImportsNoRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := []string{"flywheel.dev/pkg/apis/sources", "flywheel.dev/pkg/sources/ping"}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("non-standard dependencies (-want, +got):\n%s", diff)
	}
}

// TestEventSource pins the source attribute to Knative's, on which users'
// Trigger filters match.
func TestEventSource(t *testing.T) {
	if got, want := EventSource("shop", "nightly"), "/apis/v1/namespaces/shop/pingsources/nightly"; got != want {
		t.Errorf("EventSource = %q, want %q", got, want)
	}
	if EventType != "dev.knative.sources.ping" {
		t.Errorf("EventType = %q, want dev.knative.sources.ping", EventType)
	}
}
