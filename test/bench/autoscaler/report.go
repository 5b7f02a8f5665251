package main

import (
	"fmt"
	"math"
	"strings"

	"flywheel.dev/pkg/autoscaler"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/test/bench/internal/benchkit"
)

// The goals for the autoscaler at 1,000 Revisions.
const (
	goalCores = 0.5
	goalMiB   = 500
)

// results is everything one invocation of `run` measured.
type results struct {
	Config  runConfig        `json:"config"`
	Machine benchkit.Machine `json:"machine"`
	LoadAvg struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"loadAvg"`
	// Seconds is the measured window's wall time.
	Seconds float64 `json:"seconds"`
	// Autoscaler is this process, the autoscaler's data path; Go its
	// runtime's view; Sidecars the simulated sidecars' process.
	Autoscaler procUsage `json:"autoscaler"`
	Go         goUsage   `json:"go"`
	Sidecars   procUsage `json:"sidecars"`
	// OtherCores is the CPU the rest of the machine used over the
	// window.
	OtherCores float64 `json:"otherCores"`
	// Over the window: scrapes of one pod each, those that failed,
	// decisions, and those that differed from the Revision's previous
	// one.
	Scrapes          int64  `json:"scrapes"`
	ScrapeErrors     int64  `json:"scrapeErrors"`
	FirstScrapeError string `json:"firstScrapeError,omitempty"`
	Decisions        int64  `json:"decisions"`
	ChangedDecisions int64  `json:"changedDecisions"`
	// ScrapeP50 and ScrapeP99 are the bucket bounds (powers of two
	// from 0.25 ms) that half and 99% of the window's scrapes took no
	// longer than, as latencyText writes them.
	ScrapeP50 string `json:"scrapeP50"`
	ScrapeP99 string `json:"scrapeP99"`
	// SidecarCounts covers the sidecars' whole life, warm-up included.
	SidecarCounts sidecarCounts `json:"sidecarCounts"`
	Elapsed       string        `json:"elapsed"`
}

// fill sets the window's rates and CPU from its two ends.
func (res *results) fill(before, after window) {
	wall := after.at.Sub(before.at)
	d := after.counts.since(before.counts)
	res.Seconds = wall.Seconds()
	res.Scrapes, res.ScrapeErrors = d.scrapes, d.scrapeErrors
	res.Decisions, res.ChangedDecisions = d.decisions, d.changed
	res.ScrapeP50 = latencyText(quantile(d.latency, latencyBounds, 0.5))
	res.ScrapeP99 = latencyText(quantile(d.latency, latencyBounds, 0.99))
	others := (after.busy - before.busy) - (after.self - before.self) - (after.sidecars - before.sidecars)
	res.OtherCores = max(cores(others, wall), 0)
}

// expectedScrapes and expectedDecisions are the rates the loops' tickers
// promise: a sample of each Revision's pods a scrape interval, a decision
// a decide interval.
func (cfg runConfig) expectedScrapes() float64 {
	return float64(cfg.Revisions*metrics.SampleSize(cfg.Pods)) / autoscaler.ScrapeInterval.Seconds()
}

func (cfg runConfig) expectedDecisions() float64 {
	return float64(cfg.Revisions) / autoscaler.DecideInterval.Seconds()
}

// latencyText writes a quantile's bucket bound: past the last bound, the
// scrape outlived the client's timeout.
func latencyText(boundMs float64) string {
	switch {
	case math.IsNaN(boundMs):
		return "–"
	case math.IsInf(boundMs, 1):
		return fmt.Sprintf("> %g ms (timed out)", ms(metrics.ScrapeTimeout))
	}
	return fmt.Sprintf("≤ %g ms", boundMs)
}

func (res results) rate(n int64) float64 { return float64(n) / res.Seconds }

func (res results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := res.Config
	p("### Results: %d Revisions × %d pods\n\n", cfg.Revisions, cfg.Pods)
	p("Machine: %d CPUs, %s, Linux %s, %s. Total time %s.\n", res.Machine.CPUs, res.Machine.Model, res.Machine.Kernel, res.Machine.Go, res.Elapsed)
	p("%d Revisions of %d simulated pods (%d sidecars, %d sampled per Revision), their loops started over %s; %s warm-up, %.1f s measured. ",
		cfg.Revisions, cfg.Pods, cfg.total(), metrics.SampleSize(cfg.Pods), cfg.StartSpread, cfg.Warmup, res.Seconds)
	p("Load average (1, 5, 15 min) as the window began: %s; as it ended: %s. The rest of the machine used %.2f cores meanwhile.", res.LoadAvg.Start, res.LoadAvg.End, res.OtherCores)
	if cfg.Profile {
		p(" A CPU profile was taken over the window, which costs the autoscaler's side a little.")
	}
	p("\n\n")

	p("| over the window | autoscaler (data path) | simulated sidecars |\n| --- | ---: | ---: |\n")
	p("| CPU | **%.3f cores** | %.3f cores |\n", res.Autoscaler.Cores, res.Sidecars.Cores)
	p("| peak RSS (VmHWM, whole life) | **%.1f MiB** | %.1f MiB |\n", res.Autoscaler.PeakRSSMiB, res.Sidecars.PeakRSSMiB)
	p("| RSS at the end | %.1f MiB | %.1f MiB |\n", res.Autoscaler.RSSMiB, res.Sidecars.RSSMiB)
	p("| Go heap objects, peak / end | %.1f / %.1f MiB | – |\n", res.Go.HeapPeakMiB, res.Go.HeapEndMiB)
	p("| live heap after the last GC | %.1f MiB | – |\n", res.Go.LiveHeapMiB)
	p("| memory mapped by the Go runtime | %.1f MiB | – |\n", res.Go.RuntimeMiB)
	p("| GC cycles | %d (%.1f/s) | – |\n", res.Go.GCCycles, float64(res.Go.GCCycles)/res.Seconds)
	p("| goroutines, peak | %d | – |\n\n", res.Go.GoroutinesPeak)

	p("| work | per second | the loops' tickers promise |\n| --- | ---: | ---: |\n")
	p("| scrapes (one pod each) | %.1f | %.1f |\n", res.rate(res.Scrapes), cfg.expectedScrapes())
	p("| scrape errors | %.2f (%d in all) | 0 |\n", res.rate(res.ScrapeErrors), res.ScrapeErrors)
	p("| decisions | %.1f | %.1f |\n", res.rate(res.Decisions), cfg.expectedDecisions())
	p("| … that changed the Revision's decision | %.1f | – |\n\n", res.rate(res.ChangedDecisions))
	p("Scrape latency, to the bucket (powers of two from 0.25 ms): p50 %s, p99 %s. ", res.ScrapeP50, res.ScrapeP99)
	if n := res.SidecarCounts.Reports; n > 0 {
		perReport := float64(res.SidecarCounts.Connections) / float64(n)
		p("The sidecars accepted %d connections for %d reports over their life (%.2f per report): ", res.SidecarCounts.Connections, n, perReport)
		if perReport > 0.5 {
			p("most scrapes dial a new connection, as the scraper's idle pool keeps few of the %d pods'.", cfg.total())
		} else {
			p("most scrapes reuse an idle connection.")
		}
	}
	p("\n")
	if res.FirstScrapeError != "" {
		p("\nThe first scrape error: `%s`.\n", res.FirstScrapeError)
	}
	p("\n### Goals\n\n%s", benchkit.GoalsTable(res.goals()))
	return b.String()
}

// goals reads the autoscaler's side against the targets. They are
// set for 1,000 Revisions; at another size the table says so.
func (res results) goals() []benchkit.Goal {
	at := fmt.Sprintf("%d Revisions × %d pods", res.Config.Revisions, res.Config.Pods)
	if res.Config.Revisions != 1000 {
		at += " (the goals are for 1,000 Revisions)"
	}
	return []benchkit.Goal{
		{
			Name: "autoscaler CPU, " + at, Target: fmt.Sprintf("≤ %g core", goalCores),
			Measured: fmt.Sprintf("%.3f cores", res.Autoscaler.Cores), Verdict: benchkit.AtMost(res.Autoscaler.Cores, goalCores, " cores"),
		},
		{
			Name: "autoscaler memory (peak RSS), " + at, Target: fmt.Sprintf("≤ %d MiB", goalMiB),
			Measured: fmt.Sprintf("%.1f MiB", res.Autoscaler.PeakRSSMiB), Verdict: benchkit.AtMost(res.Autoscaler.PeakRSSMiB, goalMiB, " MiB"),
		},
	}
}
