package server

import (
	"sync"
	"time"
)

// coldStarts collects a Revision's cold starts for the next report to
// the autoscaler, which keeps an hour of them for `fw service describe`.
// A cold start is one wake from no ready pod, however many requests
// waited through it: its duration is that of the first of them to be
// answered, from its arrival to its response starting.
type coldStarts struct {
	mu sync.Mutex
	// lastEnd is when the last cold start counted ended: a request that
	// arrived before it waited through that same start.
	lastEnd time.Time
	pending []time.Duration
}

// maxPendingColdStarts bounds what waits for a report that does not get
// through; a report goes every second.
const maxPendingColdStarts = 256

// ended notes that a request that arrived at arrival, with no pod ready,
// got its response started at now.
func (c *coldStarts) ended(arrival, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if arrival.Before(c.lastEnd) {
		return
	}
	c.lastEnd = now
	if len(c.pending) < maxPendingColdStarts {
		c.pending = append(c.pending, now.Sub(arrival))
	}
}

// take returns the cold starts not reported yet, and forgets them.
func (c *coldStarts) take() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}
