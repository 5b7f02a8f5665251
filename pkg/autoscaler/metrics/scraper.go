package metrics

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/queue/stats"
)

// ScrapeFunc fetches a pod's report of the seconds after since.
type ScrapeFunc func(ctx context.Context, podIP string, since time.Time) (stats.Report, error)

// RevisionScraper scrapes a sample of one Revision's ready pods each tick
// into a Collector. It is used by one goroutine.
type RevisionScraper struct {
	rev       types.NamespacedName
	collector *Collector
	scrape    ScrapeFunc
	// last is the Time of each sampled pod's latest report, passed back
	// as since so that no second is missed or counted twice.
	last map[string]time.Time
}

// NewRevisionScraper returns a scraper of rev's pods into c.
func NewRevisionScraper(rev types.NamespacedName, c *Collector, scrape ScrapeFunc) *RevisionScraper {
	return &RevisionScraper{rev: rev, collector: c, scrape: scrape, last: map[string]time.Time{}}
}

// Tick scrapes a sample of the ready pods at podIPs, at once, and records
// their reports, scaled to all of the pods. The sample is the same from
// tick to tick while the pods are (the first SampleSize of them in an
// order fixed by their addresses' hashes), so that every second is
// measured on the same pods. A pod that cannot be scraped is left out of
// this tick; the error says so only when none could be.
func (s *RevisionScraper) Tick(ctx context.Context, podIPs []string) error {
	sample := sampleOf(podIPs)
	type result struct {
		pod    string
		report stats.Report
		err    error
	}
	results := make([]result, len(sample))
	var wg sync.WaitGroup
	for i, pod := range sample {
		since := s.last[pod]
		wg.Go(func() {
			r, err := s.scrape(ctx, pod, since)
			results[i] = result{pod: pod, report: r, err: err}
		})
	}
	wg.Wait()

	kept := make(map[string]time.Time, len(sample))
	var reports []stats.Report
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", r.pod, r.err))
			if t, ok := s.last[r.pod]; ok {
				kept[r.pod] = t
			}
			continue
		}
		reports = append(reports, r.report)
		kept[r.pod] = r.report.Time
	}
	s.last = kept // pods that left the sample are forgotten
	s.collector.RecordPods(s.rev, reports, len(podIPs))
	if len(sample) > 0 && len(reports) == 0 {
		return fmt.Errorf("revision %s: no pod of the sample could be scraped: %w", s.rev, errors.Join(errs...))
	}
	return nil
}

// sampleOf returns the pods to scrape: SampleSize of them, chosen by the
// hash of their address so that the choice is stable and spread.
func sampleOf(podIPs []string) []string {
	n := SampleSize(len(podIPs))
	if n == len(podIPs) {
		return podIPs
	}
	ordered := slices.Clone(podIPs)
	hash := func(s string) uint64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		return h.Sum64()
	}
	slices.SortFunc(ordered, func(a, b string) int {
		ha, hb := hash(a), hash(b)
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return ordered[:n]
}
