package metrics

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/queue/stats"
)

// Figure is what a Revision is measured by.
type Figure int

const (
	// Concurrency is the average number of requests in flight.
	Concurrency Figure = iota
	// RPS is requests per second.
	RPS
)

// Collector keeps, for each Revision, the per-second sums of its
// concurrency and its requests per second, from its pods' reports and
// the activator's. It is safe for concurrent use.
type Collector struct {
	retention time.Duration

	mu        sync.Mutex
	revisions map[types.NamespacedName]*series
}

type series struct {
	concurrency, rps *Buckets
	// waiting is what each activator (by pod name) last said it holds,
	// and when.
	waiting map[string]waitingAt
	// coldStarts are the activators' reports of cold starts, oldest
	// first.
	coldStarts []coldStart
}

type waitingAt struct {
	n  int
	at time.Time
}

// waitingFresh is how long an activator's count of waiting requests
// stands: it reports every second while it holds any.
const waitingFresh = 3 * time.Second

// Retention is the most history the autoscaler keeps per Revision: the
// longest stable window the window annotation allows.
const Retention = time.Hour

// NewCollector keeps per Revision as much history as its longest window
// read needs, up to retention.
func NewCollector(retention time.Duration) *Collector {
	return &Collector{retention: retention, revisions: map[types.NamespacedName]*series{}}
}

func (c *Collector) series(rev types.NamespacedName) *series {
	s, ok := c.revisions[rev]
	if !ok {
		s = &series{concurrency: NewBuckets(c.retention), rps: NewBuckets(c.retention), waiting: map[string]waitingAt{}}
		c.revisions[rev] = s
	}
	return s
}

// RecordPods adds the reports scraped from a sample of the Revision's
// ready pods, scaled up to all readyPods of them: the sample's mean
// stands for each pod it left out.
func (c *Collector) RecordPods(rev types.NamespacedName, reports []stats.Report, readyPods int) {
	if len(reports) == 0 {
		return
	}
	scale := float64(max(readyPods, len(reports))) / float64(len(reports))
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series(rev)
	for _, r := range reports {
		// The requests the activator forwarded are in its own reports,
		// counted from their arrival there: here they would count twice.
		concurrency := max(r.AverageProxiedConcurrency-r.AverageActivatorConcurrency, 0)
		requests := max(r.ProxiedRequestCount-r.ActivatorRequestCount, 0)
		c.record(s, r, concurrency*scale, float64(requests)*scale)
	}
}

// RecordActivator adds what an activator sent the Revision; it stands
// for itself alone.
func (c *Collector) RecordActivator(rev types.NamespacedName, r stats.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(c.series(rev), r, r.AverageProxiedConcurrency, float64(r.ProxiedRequestCount))
}

// record adds a report's average concurrency and its request count over
// its seconds.
func (c *Collector) record(s *series, r stats.Report, concurrency, requests float64) {
	if r.Seconds <= 0 {
		return
	}
	s.concurrency.Record(r.Time, r.Seconds, concurrency)
	s.rps.Record(r.Time, r.Seconds, requests/float64(r.Seconds))
}

// RecordWaiting notes that the activator pod holds n requests for the
// Revision at now.
func (c *Collector) RecordWaiting(rev types.NamespacedName, pod string, n int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.series(rev).waiting[pod] = waitingAt{n: n, at: now}
}

// Waiting returns how many requests the activators hold for the
// Revision, by their reports of the last few seconds.
func (c *Collector) Waiting(rev types.NamespacedName, now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.revisions[rev]
	if !ok {
		return 0
	}
	total := 0
	for pod, w := range s.waiting {
		if now.Sub(w.at) > waitingFresh {
			delete(s.waiting, pod)
			continue
		}
		total += w.n
	}
	return total
}

// Average returns the Revision's average of f over window, ending with
// the second before now; false when nothing was recorded in it.
func (c *Collector) Average(rev types.NamespacedName, f Figure, now time.Time, window time.Duration) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.revisions[rev]
	if !ok {
		return 0, false
	}
	if f == RPS {
		return s.rps.Average(now, window)
	}
	return s.concurrency.Average(now, window)
}

// Forget drops a Revision's history.
func (c *Collector) Forget(rev types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.revisions, rev)
}
