package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"flywheel.dev/test/bench/internal/benchkit"
)

// results is everything one invocation of `run` measured.
type results struct {
	Config  runConfig        `json:"config"`
	Machine benchkit.Machine `json:"machine"`
	Runs    []runResult      `json:"runs"`
	// StatsServed says whether the sidecar served its stats port; when it
	// did, every sidecar level was scraped once a second.
	StatsServed bool     `json:"statsServed"`
	Profiles    []string `json:"profiles,omitempty"`
	Elapsed     string   `json:"elapsed"`
}

type runResult struct {
	// LoadAvg is /proc/loadavg as the run began: anything else busy on
	// the machine shows here.
	LoadAvg  string               `json:"loadAvg"`
	Cells    []benchkit.Cell      `json:"cells"`
	Ready    []readySample        `json:"ready"`
	Overload *benchkit.LoadResult `json:"overload,omitempty"`
}

// cells are the throughput cells of every run.
func (res results) cells() benchkit.Cells {
	var cs benchkit.Cells
	for _, r := range res.Runs {
		cs = append(cs, r.Cells)
	}
	return cs
}

// proxied are the measured variants with a sidecar in them: neither the
// app alone nor the baseline.
func (res results) proxied() []string {
	var out []string
	for _, v := range res.Config.Variants {
		if v != "direct" && v != "baseline" {
			out = append(out, v)
		}
	}
	return out
}

func (res results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := res.Config
	p("## Results\n\n")
	p("Machine: %d CPUs, %s, Linux %s, %s. App and proxy pinned to CPU %d, load generator to CPU %d.\n",
		res.Machine.CPUs, res.Machine.Model, res.Machine.Kernel, res.Machine.Go, cfg.PodCPU, cfg.LoadCPU)
	p("Medians of %d run(s); each level: fresh processes, %s warm-up, %s measured, closed loop, keep-alive. Total time %s.\n",
		cfg.Runs, cfg.Warmup, cfg.Duration, res.Elapsed)
	var loads []string
	for _, r := range res.Runs {
		loads = append(loads, r.LoadAvg)
	}
	p("Load average (1, 5, 15 min) as each run began: %s. ", strings.Join(loads, "; "))
	cells := res.cells()
	remeasured := cells.Remeasured()
	p("The machine may be shared: before each level the harness waited (up to %s per run) until other processes used at most %.0f%% of a core, "+
		"and a level during which they used more was measured again (up to %d times per run), the least disturbed attempt kept: %d re-measurements in all.\n",
		cfg.QuietWait, 100*cfg.Disturbed, cfg.Retries, remeasured)
	if res.StatsServed {
		p("The sidecar served its stats port; it was scraped once a second during every sidecar level.\n")
	} else {
		p("**The sidecar did not serve its stats port** (stats not wired into cmd/queue yet): the sidecar figures are without stats.\n")
	}
	p("\n")

	for _, app := range cfg.Apps {
		p("### %s app\n\n", app)
		p("| variant | c | req/s | p50 ms | p99 ms | proxy CPU µs/req | app CPU µs/req | proxy syscalls/req | proxy peak RSS MiB | errors | CPU elsewhere |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, v := range cfg.Variants {
			for _, c := range cfg.Levels {
				col := func(f benchkit.Figure, format string) string {
					x, ok := cells.Median(app, v, c, f)
					return benchkit.Format(x, ok, format)
				}
				cpuCol := func(role string) string {
					s := col(benchkit.CPUPerRequest(role), "%.1f")
					if s != "–" && cells.CoarseCPU(app, v, c, role) {
						s = "(" + s + ")"
					}
					return s
				}
				p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v, c,
					col(benchkit.Throughput, "%.0f"), col(benchkit.Percentile("ok", benchkit.P50), "%.2f"), col(benchkit.Percentile("ok", benchkit.P99), "%.2f"),
					cpuCol("proxy"), cpuCol("app"), col(benchkit.SyscallsPerRequest("proxy"), "%.1f"),
					col(benchkit.PeakRSS("proxy"), "%.1f"), col(benchkit.ErrorCount, "%.0f"), col(benchkit.OtherCPU, "%.0f%%"))
			}
		}
		p("\nCPU figures in parentheses rest on fewer than %d clock ticks (%s each) in some run: read them as rough. "+
			"CPU elsewhere is what processes other than the app, the proxy and the load generator used during the window "+
			"(median over runs, %% of one core): other tenants of the machine.\n\n", benchkit.CoarseTicks, benchkit.ClockTick)
		if slices.Contains(cfg.Variants, "baseline") || slices.Contains(cfg.Variants, "direct") {
			p("| variant | c | req/s ÷ baseline | proxy CPU/req ÷ baseline | p99 added over direct, ms | baseline's p99 added, ms |\n")
			p("| --- | ---: | ---: | ---: | ---: | ---: |\n")
			for _, v := range res.proxied() {
				for _, c := range cfg.Levels {
					col := func(a, b string, f benchkit.Figure, combine func(x, y float64) float64, format string) string {
						x, ok := cells.PairedMedian(app, a, b, c, f, combine)
						return benchkit.Format(x, ok, format)
					}
					p99 := benchkit.Percentile("ok", benchkit.P99)
					p("| %s | %d | %s | %s | %s | %s |\n", v, c,
						col(v, "baseline", benchkit.Throughput, benchkit.Ratio, "%.2f×"),
						col(v, "baseline", benchkit.CPUPerRequest("proxy"), benchkit.Ratio, "%.2f×"),
						col(v, "direct", p99, benchkit.Diff, "%+.2f"),
						col("baseline", "direct", p99, benchkit.Diff, "%+.2f"))
				}
			}
			p("\n")
		}
	}

	if len(cfg.ReadyDelays) > 0 && cfg.ReadyReps > 0 {
		p("### exec → ready\n\n")
		p("The sidecar starts first; once it serves its admin port the app is executed. Measured from the app's listen() to the 200 of a held `/ready` request; %d times per app start delay and run.\n\n", cfg.ReadyReps)
		p("| app works before listening | exec → listen, median | listen → ready, median | listen → ready, max |\n")
		p("| ---: | ---: | ---: | ---: |\n")
		for _, d := range cfg.ReadyDelays {
			toListen, toReady := res.readySamples(d)
			if len(toReady) == 0 {
				continue
			}
			p("| %s | %.1f ms | %.1f ms | %.1f ms |\n", d, benchkit.Median(toListen), benchkit.Median(toReady), slices.Max(toReady))
		}
		p("\n")
	}

	if res.Runs[0].Overload != nil {
		p("### overload\n\n")
		p("Sidecar with containerConcurrency %d and the default queue depth (%d), %d closed-loop clients, the %s app. Goodput should stay near %d ÷ %s = %.0f req/s.\n\n",
			overloadContainerConcurrency, 10*overloadContainerConcurrency, overloadClients, benchkit.AppSleep,
			overloadContainerConcurrency, cfg.Sleep, res.expectedGoodput())
		p("| goodput (200s/s) | 503s/s | 503 p50 ms | 200 p50 ms | 200 p99 ms | other errors | proxy CPU µs/req | proxy peak RSS MiB |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		col := func(f benchkit.Figure, format string) string {
			x, ok := res.overloadMedian(f)
			return benchkit.Format(x, ok, format)
		}
		other := func(r benchkit.LoadResult) (float64, bool) {
			return float64(r.Errors() - r.Status[http.StatusServiceUnavailable]), true
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			col(benchkit.Throughput, "%.0f"), col(benchkit.StatusRate(http.StatusServiceUnavailable), "%.0f"),
			col(benchkit.Percentile("503", benchkit.P50), "%.2f"), col(benchkit.Percentile("ok", benchkit.P50), "%.1f"), col(benchkit.Percentile("ok", benchkit.P99), "%.1f"),
			col(other, "%.0f"), col(benchkit.CPUPerRequest("proxy"), "%.1f"), col(benchkit.PeakRSS("proxy"), "%.1f"))
		p("\n")
	}

	p("### Goals\n\n")
	p("%s\n", benchkit.GoalsTable(res.goals()))
	return b.String()
}

func (res results) readySamples(d time.Duration) (toListen, toReady []float64) {
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	for _, r := range res.Runs {
		for _, s := range r.Ready {
			if s.AppStartDelay == d {
				toListen = append(toListen, ms(s.ExecToListen))
				toReady = append(toReady, ms(s.ListenToReady))
			}
		}
	}
	return toListen, toReady
}

func (res results) overloadMedian(f benchkit.Figure) (float64, bool) {
	var xs []float64
	for _, r := range res.Runs {
		if r.Overload != nil {
			if x, ok := f(*r.Overload); ok {
				xs = append(xs, x)
			}
		}
	}
	return benchkit.Median(xs), len(xs) > 0
}

func (res results) expectedGoodput() float64 {
	return overloadContainerConcurrency / res.Config.Sleep.Seconds()
}

func (res results) goals() []benchkit.Goal {
	var gs []benchkit.Goal
	cells := res.cells()
	add := func(name, target, measured, verdict string) {
		gs = append(gs, benchkit.Goal{Name: name, Target: target, Measured: measured, Verdict: verdict})
	}
	notMeasured := func(name, target string) { add(name, target, "–", benchkit.NotMeasured) }
	const c = 50
	for _, v := range res.proxied() {
		name := fmt.Sprintf("%s: hello app throughput at c=%d vs baseline", v, c)
		if x, ok := cells.PairedMedian(benchkit.AppHello, v, "baseline", c, benchkit.Throughput, benchkit.Ratio); ok {
			add(name, "≥ 1.50×", fmt.Sprintf("%.2f×", x), benchkit.AtLeast(x, 1.5, "×"))
		} else {
			notMeasured(name, "≥ 1.50×")
		}
		name = fmt.Sprintf("%s: hello app proxy CPU per request at c=%d vs baseline", v, c)
		if x, ok := cells.PairedMedian(benchkit.AppHello, v, "baseline", c, benchkit.CPUPerRequest("proxy"), benchkit.Ratio); ok {
			add(name, "≤ 0.67×", fmt.Sprintf("%.2f×", x), benchkit.AtMost(x, 2.0/3, "×"))
		} else {
			notMeasured(name, "≤ 0.67×")
		}
		name = fmt.Sprintf("%s: %s app p99 added at c=%d", v, benchkit.AppSleep, c)
		if x, ok := cells.PairedMedian(benchkit.AppSleep, v, "direct", c, benchkit.Percentile("ok", benchkit.P99), benchkit.Diff); ok {
			add(name, "≤ 1 ms", fmt.Sprintf("%+.2f ms", x), benchkit.AtMost(x, 1, " ms"))
		} else {
			notMeasured(name, "≤ 1 ms")
		}
		for _, lim := range []struct {
			c   int
			mib float64
		}{{50, 15}, {200, 25}} {
			name := fmt.Sprintf("%s: peak RSS at c=%d (worse app)", v, lim.c)
			target := fmt.Sprintf("≤ %.0f MiB", lim.mib)
			worst, found := 0.0, false
			for _, app := range res.Config.Apps {
				if x, ok := cells.Median(app, v, lim.c, benchkit.PeakRSS("proxy")); ok {
					worst, found = max(worst, x), true
				}
			}
			if found {
				add(name, target, fmt.Sprintf("%.1f MiB", worst), benchkit.AtMost(worst, lim.mib, " MiB"))
			} else {
				notMeasured(name, target)
			}
		}
	}
	for _, d := range res.Config.ReadyDelays {
		_, toReady := res.readySamples(d)
		name := fmt.Sprintf("exec → ready once the app listens (app works %s first)", d)
		if len(toReady) == 0 {
			notMeasured(name, "≤ 10 ms")
			continue
		}
		m, worst := benchkit.Median(toReady), slices.Max(toReady)
		verdict := benchkit.AtMost(m, 10, " ms")
		if verdict == "met" && worst > 10 {
			verdict = fmt.Sprintf("met by the median; the slowest of %d took %.1f ms", len(toReady), worst)
		}
		add(name, "≤ 10 ms", fmt.Sprintf("median %.1f ms, max %.1f ms", m, worst), verdict)
	}
	if res.Runs[0].Overload != nil {
		want := res.expectedGoodput()
		good, _ := res.overloadMedian(benchkit.Throughput)
		add("overload: goodput with containerConcurrency 10, 200 clients",
			fmt.Sprintf("near %.0f req/s (≥ 90%%)", want), fmt.Sprintf("%.0f req/s", good), benchkit.AtLeast(good, 0.9*want, " req/s"))
		fast := res.Config.Sleep.Seconds() * 1000 / 10
		rej, ok := res.overloadMedian(benchkit.Percentile("503", benchkit.P50))
		if ok {
			add("overload: the excess gets fast 503s (p50)",
				fmt.Sprintf("≤ %.0f ms (a tenth of the app's latency)", fast), fmt.Sprintf("%.2f ms", rej), benchkit.AtMost(rej, fast, " ms"))
		} else {
			add("overload: the excess gets fast 503s (p50)", "503s under overload", "no 503 at all", "**missed**: no request was turned away")
		}
	}
	return gs
}
