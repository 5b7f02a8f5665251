package activator

import (
	"time"

	"flywheel.dev/pkg/queue"
)

// StatsPath is where the autoscaler takes the activator's reports: a
// POST of a StatBatch as JSON.
const StatsPath = "/v1/activator-stats"

// AutoscalerStatsPort names the autoscaler Service's port that takes
// the reports.
const AutoscalerStatsPort = "http-stats"

// Stat is what the activator tells the autoscaler about one Revision: the
// load it sent that Revision, in the sidecar's report form with Pod the
// activator's own name, so the autoscaler adds it up as one more pod's,
// and the requests it holds.
type Stat struct {
	queue.StatsReport
	// Waiting is how many requests are buffered now for lack of a pod
	// with room.
	Waiting int `json:"waiting"`
	// ColdRequest is true when a request arrived while the Revision had
	// no ready pod. The activator sends it at once rather than at the
	// next second, so the autoscaler can scale from zero without waiting
	// for its windows.
	ColdRequest bool `json:"coldRequest,omitempty"`
	// ColdStarts are the cold starts of the Revision that ended since
	// the last report: for each time the Revision was woken from no
	// ready pod, how long the request that woke it waited from its
	// arrival to its response starting (nanoseconds).
	ColdStarts []time.Duration `json:"coldStarts,omitempty"`
}

// StatBatch is the body of a report.
type StatBatch struct {
	Stats []Stat `json:"stats"`
}

// ColdWakeMessage is what the activator logs, once per report, for each
// Revision it wakes: the log's mark of a cold start's beginning, which
// test/bench/autoscaling reads to time the hops of one.
const ColdWakeMessage = "waking the autoscaler: a request waits with no ready pod"
