package metrics

import (
	"encoding/json"
	"io"
	"net/http"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/activator"
)

// maxStatBatchBytes bounds a report's body: a thousand Revisions with
// load at once fit in well under it.
const maxStatBatchBytes = 4 << 20

// ActivatorHandler takes the activators' reports (a POST of an
// activator.StatBatch to activator.StatsPath) into c. A Stat that says a
// request waits for a Revision with no ready pod is also passed to
// coldRequest at once, so that the decider can scale from zero without
// waiting for its next tick. Each Stat's count of waiting requests, and
// its cold starts, are noted at its arrival on clk.
func ActivatorHandler(c *Collector, clk clock.PassiveClock, coldRequest func(types.NamespacedName)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "autoscaler: POST an activator stat batch here", http.StatusMethodNotAllowed)
			return
		}
		var batch activator.StatBatch
		if err := json.NewDecoder(io.LimitReader(r.Body, maxStatBatchBytes)).Decode(&batch); err != nil {
			http.Error(w, "autoscaler: reading the stat batch: "+err.Error(), http.StatusBadRequest)
			return
		}
		now := clk.Now()
		for _, s := range batch.Stats {
			rev := types.NamespacedName{Namespace: s.Namespace, Name: s.Revision}
			if rev.Namespace == "" || rev.Name == "" {
				continue
			}
			c.RecordActivator(rev, s.StatsReport)
			c.RecordWaiting(rev, s.Pod, s.Waiting, now)
			c.RecordColdStarts(rev, now, s.ColdStarts)
			if s.ColdRequest && coldRequest != nil {
				coldRequest(rev)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
