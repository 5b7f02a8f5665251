package main

import (
	"fmt"
	"strings"

	"flywheel.dev/test/bench/internal/benchkit"
)

// results is everything one invocation of `run` measured.
type results struct {
	Config   runConfig        `json:"config"`
	Machine  benchkit.Machine `json:"machine"`
	Runs     []runResult      `json:"runs"`
	Profiles []string         `json:"profiles,omitempty"`
	Elapsed  string           `json:"elapsed"`
}

type runResult struct {
	// LoadAvg is /proc/loadavg as the run began: anything else busy on
	// the machine shows here.
	LoadAvg string          `json:"loadAvg"`
	Cells   []benchkit.Cell `json:"cells"`
}

func (res results) cells() benchkit.Cells {
	var cs benchkit.Cells
	for _, r := range res.Runs {
		cs = append(cs, r.Cells)
	}
	return cs
}

// measured are the chosen variants that ran, in report order.
func (res results) measured() []variant {
	var out []variant
	for _, name := range res.Config.Variants {
		v, err := findVariant(name)
		if err == nil {
			out = append(out, v)
		}
	}
	return out
}

// proxiesCPU, proxiesSyscalls and proxiesRSS are the hops' figures
// together, whichever hops a level had.
var (
	proxiesCPU      = benchkit.CPUPerRequest(hopRoles()...)
	proxiesSyscalls = benchkit.SyscallsPerRequest(hopRoles()...)
	proxiesRSS      = benchkit.PeakRSS(hopRoles()...)
	p50             = benchkit.Percentile("ok", benchkit.P50)
	p99             = benchkit.Percentile("ok", benchkit.P99)
)

func (res results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := res.Config
	cells := res.cells()
	p("## Results\n\n")
	p("Machine: %d CPUs, %s, Linux %s, %s. App and proxies pinned to CPU %d, load generator to CPU %d.\n",
		res.Machine.CPUs, res.Machine.Model, res.Machine.Kernel, res.Machine.Go, cfg.PodCPU, cfg.LoadCPU)
	p("Medians of %d run(s); each level: fresh processes, %s warm-up, %s measured, closed loop, keep-alive, every request with Host %s. Total time %s.\n",
		cfg.Runs, cfg.Warmup, cfg.Duration, benchHost, res.Elapsed)
	var loads []string
	for _, r := range res.Runs {
		loads = append(loads, r.LoadAvg)
	}
	p("Load average (1, 5, 15 min) as each run began: %s. ", strings.Join(loads, "; "))
	p("The machine may be shared: before each level the harness waited (up to %s per run) until other processes used at most %.0f%% of a core, "+
		"and a level during which they used more was measured again (up to %d times per run), the least disturbed attempt kept: %d re-measurements in all.\n\n",
		cfg.QuietWait, 100*cfg.Disturbed, cfg.Retries, cells.Remeasured())
	p("Variants: ")
	var abouts []string
	for _, v := range res.measured() {
		abouts = append(abouts, fmt.Sprintf("**%s**, %s", v.name, v.about))
	}
	p("%s.\n", strings.Join(abouts, "; "))
	p("\n")

	for _, app := range cfg.Apps {
		p("### %s app\n\n", app)
		p("| variant | c | req/s | p50 ms | p99 ms | proxies CPU µs/req | by hop | app CPU µs/req | proxies syscalls/req | proxies peak RSS MiB | errors | CPU elsewhere |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, v := range res.measured() {
			roles := make([]string, len(v.hops))
			for i, hp := range v.hops {
				roles[i] = hp.role
			}
			for _, c := range cfg.Levels {
				col := func(f benchkit.Figure, format string) string {
					x, ok := cells.Median(app, v.name, c, f)
					return benchkit.Format(x, ok, format)
				}
				rough := func(s string, roles ...string) string {
					if s != "–" && cells.CoarseCPU(app, v.name, c, roles...) {
						return "(" + s + ")"
					}
					return s
				}
				byHop := "–"
				if len(roles) > 0 {
					var parts []string
					for _, role := range roles {
						parts = append(parts, role+" "+rough(col(benchkit.CPUPerRequest(role), "%.1f"), role))
					}
					byHop = strings.Join(parts, " + ")
				}
				p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v.name, c,
					col(benchkit.Throughput, "%.0f"), col(p50, "%.2f"), col(p99, "%.2f"),
					rough(col(proxiesCPU, "%.1f"), roles...), byHop, rough(col(benchkit.CPUPerRequest("app"), "%.1f"), "app"),
					col(proxiesSyscalls, "%.1f"), col(proxiesRSS, "%.1f"), col(benchkit.ErrorCount, "%.0f"), col(benchkit.OtherCPU, "%.0f%%"))
			}
		}
		p("\nCPU figures in parentheses rest on fewer than %d clock ticks (%s each) in some run: read them as rough. "+
			"\"By hop\" is the proxies' CPU per request, proxy by proxy. "+
			"CPU elsewhere is what processes other than the app, the proxies and the load generator used during the window "+
			"(median over runs, %% of one core): other tenants of the machine.\n\n", benchkit.CoarseTicks, benchkit.ClockTick)

		p("| variant | c | req/s ÷ baseline | proxies CPU/req ÷ baseline | p99 added over direct, ms |\n")
		p("| --- | ---: | ---: | ---: | ---: |\n")
		for _, v := range res.measured() {
			if len(v.hops) == 0 {
				continue
			}
			for _, c := range cfg.Levels {
				col := func(a, b string, f benchkit.Figure, combine func(x, y float64) float64, format string) string {
					x, ok := cells.PairedMedian(app, a, b, c, f, combine)
					return benchkit.Format(x, ok, format)
				}
				p("| %s | %d | %s | %s | %s |\n", v.name, c,
					col(v.name, "baseline", benchkit.Throughput, benchkit.Ratio, "%.2f×"),
					col(v.name, "baseline", proxiesCPU, benchkit.Ratio, "%.2f×"),
					col(v.name, "direct", p99, benchkit.Diff, "%+.2f"))
			}
		}
		p("\n")
	}

	p("### Goals\n\n%s\n", benchkit.GoalsTable(res.goals()))
	return b.String()
}

// goalConcurrency is the level the goals are read at.
const goalConcurrency = 50

// goals are the issues' targets: the latency each path may add to the
// sleep app, the gateway's throughput against the baseline's (issue 18),
// and what tracing every request may add to the gateway's CPU (issue 17).
func (res results) goals() []benchkit.Goal {
	cells := res.cells()
	const c = goalConcurrency
	targets := []struct {
		variant, against, app string
		figure                benchkit.Figure
		combine               func(x, y float64) float64
		target, format        string
		judge                 func(x float64) string
	}{
		{"gateway", "direct", benchkit.AppSleep, p99, benchkit.Diff, "≤ 1 ms", "%+.2f ms",
			func(x float64) string { return benchkit.AtMost(x, 1, " ms") }},
		{"gateway+activator", "direct", benchkit.AppSleep, p99, benchkit.Diff, "≤ 2 ms", "%+.2f ms",
			func(x float64) string { return benchkit.AtMost(x, 2, " ms") }},
		{"gateway", "baseline", benchkit.AppHello, benchkit.Throughput, benchkit.Ratio, "≥ 1.50×", "%.2f×",
			func(x float64) string { return benchkit.AtLeast(x, 1.5, "×") }},
		{"gateway-traced", "gateway", benchkit.AppHello, proxiesCPU, benchkit.Ratio, "≤ 1.10×", "%.2f×",
			func(x float64) string { return benchkit.AtMost(x, 1.1, "×") }},
	}
	var gs []benchkit.Goal
	for _, t := range targets {
		g := benchkit.Goal{Target: t.target, Measured: "–", Verdict: benchkit.NotMeasured}
		switch {
		case t.against == "direct":
			g.Name = fmt.Sprintf("%s: %s app p99 added at c=%d", t.variant, t.app, c)
		case t.variant == "gateway-traced":
			g.Name = fmt.Sprintf("tracing every request: %s app proxy CPU per request at c=%d vs %s", t.app, c, t.against)
		default:
			g.Name = fmt.Sprintf("%s: %s app throughput at c=%d vs %s", t.variant, t.app, c, t.against)
		}
		if x, ok := cells.PairedMedian(t.app, t.variant, t.against, c, t.figure, t.combine); ok {
			g.Measured, g.Verdict = fmt.Sprintf(t.format, x), t.judge(x)
		}
		gs = append(gs, g)
	}
	return gs
}
