package main

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results is everything one invocation of `run` measured.
type results struct {
	Config  runConfig   `json:"config"`
	Machine machine     `json:"machine"`
	Runs    []runResult `json:"runs"`
	// StatsServed says whether the sidecar served its stats port; when it
	// did, every sidecar level was scraped once a second.
	StatsServed bool     `json:"statsServed"`
	Profiles    []string `json:"profiles,omitempty"`
	Elapsed     string   `json:"elapsed"`
}

type runResult struct {
	// LoadAvg is /proc/loadavg as the run began: anything else busy on
	// the machine shows here.
	LoadAvg  string        `json:"loadAvg"`
	Cells    []cell        `json:"cells"`
	Ready    []readySample `json:"ready"`
	Overload *loadResult   `json:"overload,omitempty"`
}

// cell is one app × variant × concurrency level of one run.
type cell struct {
	App         string `json:"app"`
	Variant     string `json:"variant"`
	Concurrency int    `json:"concurrency"`
	// Attempts is how many times the level was measured: more than once
	// when other processes disturbed it.
	Attempts int        `json:"attempts"`
	Result   loadResult `json:"result"`
}

type machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func readMachine() machine {
	m := machine{Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	// The harness may itself be pinned, so runtime.NumCPU (which honours
	// the affinity mask) would undercount: read the machine's count.
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			key, value, _ := strings.Cut(sc.Text(), ":")
			switch strings.TrimSpace(key) {
			case "processor":
				m.CPUs++
			case "model name":
				m.Model = strings.TrimSpace(value)
			}
		}
		f.Close()
	}
	return m
}

// A figure is one number read from a load level's result; ok is false
// when the level has no such number (no proxy, no requests).
type figure func(loadResult) (v float64, ok bool)

func throughput(r loadResult) (float64, bool) { return float64(r.ok()) / r.Seconds, true }

func percentile(class string, p func(latency) float64) figure {
	return func(r loadResult) (float64, bool) {
		l, ok := r.Latency[class]
		return p(l), ok && l.N > 0
	}
}

func p50(l latency) float64 { return l.P50 }
func p99(l latency) float64 { return l.P99 }

// cpuPerRequest is role's CPU time per completed request, in µs.
func cpuPerRequest(role string) figure {
	return func(r loadResult) (float64, bool) {
		s, ok := r.Procs[role]
		if !ok || r.completed() == 0 {
			return 0, false
		}
		return s.CPUSeconds * 1e6 / float64(r.completed()), true
	}
}

// syscallsPerRequest is role's read and write system calls per
// completed request.
func syscallsPerRequest(role string) figure {
	return func(r loadResult) (float64, bool) {
		s, ok := r.Procs[role]
		if !ok || r.completed() == 0 {
			return 0, false
		}
		return float64(s.Syscalls) / float64(r.completed()), true
	}
}

// peakRSS is the proxy's VmHWM at the end of the level, in MiB: with a
// fresh process per level, the most it held during that level.
func peakRSS(r loadResult) (float64, bool) {
	s, ok := r.Procs["proxy"]
	return float64(s.HWMKiB) / 1024, ok
}

// coarseTicks is the fewest clock ticks of CPU a level must have used for
// its CPU per request to be more than a rough figure.
const coarseTicks = 10

// coarseCPU reports whether role's CPU time at one app × variant × level
// was below coarseTicks in any run.
func (res results) coarseCPU(app, v string, c int, role string) bool {
	for _, r := range res.Runs {
		for _, cl := range r.Cells {
			if cl.App == app && cl.Variant == v && cl.Concurrency == c {
				if s, ok := cl.Result.Procs[role]; ok && s.CPUSeconds < (coarseTicks*clockTick).Seconds() {
					return true
				}
			}
		}
	}
	return false
}

// otherCPU is the CPU spent outside the measured processes, in % of a
// core.
func otherCPU(r loadResult) (float64, bool) { return 100 * r.OtherCPU, true }

func errorCount(r loadResult) (float64, bool) { return float64(r.errors()), true }

func statusRate(code int) figure {
	return func(r loadResult) (float64, bool) { return float64(r.Status[code]) / r.Seconds, true }
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// cellMedian is the median over runs of f at one app × variant × level.
func (res results) cellMedian(app, v string, c int, f figure) (float64, bool) {
	var xs []float64
	for _, r := range res.Runs {
		for _, cl := range r.Cells {
			if cl.App == app && cl.Variant == v && cl.Concurrency == c {
				if x, ok := f(cl.Result); ok {
					xs = append(xs, x)
				}
			}
		}
	}
	return median(xs), len(xs) > 0
}

// pairedMedian is the median over runs of combine(f of variant a, f of
// variant b) at one app and level. Pairing within a run cancels what
// drifts between runs (another tenant on the machine, thermal state).
func (res results) pairedMedian(app, a, b string, c int, f figure, combine func(x, y float64) float64) (float64, bool) {
	var xs []float64
	for _, r := range res.Runs {
		var x, y float64
		var okA, okB bool
		for _, cl := range r.Cells {
			if cl.App != app || cl.Concurrency != c {
				continue
			}
			switch cl.Variant {
			case a:
				x, okA = f(cl.Result)
			case b:
				y, okB = f(cl.Result)
			}
		}
		if okA && okB {
			xs = append(xs, combine(x, y))
		}
	}
	return median(xs), len(xs) > 0
}

func ratio(x, y float64) float64 { return x / y }
func diff(x, y float64) float64  { return x - y }

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
	remeasured := 0
	for _, r := range res.Runs {
		for _, cl := range r.Cells {
			remeasured += cl.Attempts - 1
		}
	}
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
				col := func(f figure, format string) string {
					x, ok := res.cellMedian(app, v, c, f)
					if !ok {
						return "–"
					}
					return fmt.Sprintf(format, x)
				}
				cpuCol := func(role string) string {
					s := col(cpuPerRequest(role), "%.1f")
					if s != "–" && res.coarseCPU(app, v, c, role) {
						s = "(" + s + ")"
					}
					return s
				}
				p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v, c,
					col(throughput, "%.0f"), col(percentile("ok", p50), "%.2f"), col(percentile("ok", p99), "%.2f"),
					cpuCol("proxy"), cpuCol("app"), col(syscallsPerRequest("proxy"), "%.1f"),
					col(peakRSS, "%.1f"), col(errorCount, "%.0f"), col(otherCPU, "%.0f%%"))
			}
		}
		p("\nCPU figures in parentheses rest on fewer than %d clock ticks (%s each) in some run: read them as rough. "+
			"CPU elsewhere is what processes other than the app, the proxy and the load generator used during the window "+
			"(median over runs, %% of one core): other tenants of the machine.\n\n", coarseTicks, clockTick)
		if slices.Contains(cfg.Variants, "baseline") || slices.Contains(cfg.Variants, "direct") {
			p("| variant | c | req/s ÷ baseline | proxy CPU/req ÷ baseline | p99 added over direct, ms | baseline's p99 added, ms |\n")
			p("| --- | ---: | ---: | ---: | ---: | ---: |\n")
			for _, v := range res.proxied() {
				for _, c := range cfg.Levels {
					col := func(a, b string, f figure, combine func(x, y float64) float64, format string) string {
						x, ok := res.pairedMedian(app, a, b, c, f, combine)
						if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
							return "–"
						}
						return fmt.Sprintf(format, x)
					}
					p("| %s | %d | %s | %s | %s | %s |\n", v, c,
						col(v, "baseline", throughput, ratio, "%.2f×"),
						col(v, "baseline", cpuPerRequest("proxy"), ratio, "%.2f×"),
						col(v, "direct", percentile("ok", p99), diff, "%+.2f"),
						col("baseline", "direct", percentile("ok", p99), diff, "%+.2f"))
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
			p("| %s | %.1f ms | %.1f ms | %.1f ms |\n", d, median(toListen), median(toReady), slices.Max(toReady))
		}
		p("\n")
	}

	if res.Runs[0].Overload != nil {
		p("### overload\n\n")
		p("Sidecar with containerConcurrency %d and the default queue depth (%d), %d closed-loop clients, the %s app. Goodput should stay near %d ÷ %s = %.0f req/s.\n\n",
			overloadContainerConcurrency, 10*overloadContainerConcurrency, overloadClients, appSleep,
			overloadContainerConcurrency, cfg.Sleep, res.expectedGoodput())
		p("| goodput (200s/s) | 503s/s | 503 p50 ms | 200 p50 ms | 200 p99 ms | other errors | proxy CPU µs/req | proxy peak RSS MiB |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		col := func(f figure, format string) string {
			x, ok := res.overloadMedian(f)
			if !ok {
				return "–"
			}
			return fmt.Sprintf(format, x)
		}
		other := func(r loadResult) (float64, bool) {
			return float64(r.errors() - r.Status[http.StatusServiceUnavailable]), true
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			col(throughput, "%.0f"), col(statusRate(http.StatusServiceUnavailable), "%.0f"),
			col(percentile("503", p50), "%.2f"), col(percentile("ok", p50), "%.1f"), col(percentile("ok", p99), "%.1f"),
			col(other, "%.0f"), col(cpuPerRequest("proxy"), "%.1f"), col(peakRSS, "%.1f"))
		p("\n")
	}

	p("### Goals\n\n")
	p("| goal | target | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, g := range res.goals() {
		p("| %s | %s | %s | %s |\n", g.name, g.target, g.measured, g.verdict)
	}
	p("\n")
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

func (res results) overloadMedian(f figure) (float64, bool) {
	var xs []float64
	for _, r := range res.Runs {
		if r.Overload != nil {
			if x, ok := f(*r.Overload); ok {
				xs = append(xs, x)
			}
		}
	}
	return median(xs), len(xs) > 0
}

func (res results) expectedGoodput() float64 {
	return overloadContainerConcurrency / res.Config.Sleep.Seconds()
}

// goal is one target of the issue, read against the medians.
type goal struct {
	name, target, measured, verdict string
}

// atMost and atLeast judge x against a limit and say by how much it
// missed.
func atMost(x, limit float64, unit string) string {
	if x <= limit {
		return "met"
	}
	return fmt.Sprintf("**missed** by %.2f%s (%.0f%% over)", x-limit, unit, 100*(x-limit)/limit)
}

func atLeast(x, limit float64, unit string) string {
	if x >= limit {
		return "met"
	}
	return fmt.Sprintf("**missed** by %.2f%s (%.0f%% short)", limit-x, unit, 100*(limit-x)/limit)
}

func (res results) goals() []goal {
	var gs []goal
	notMeasured := func(name, target string) {
		gs = append(gs, goal{name, target, "–", "not measured"})
	}
	const c = 50
	for _, v := range res.proxied() {
		name := fmt.Sprintf("%s: hello app throughput at c=%d vs baseline", v, c)
		if x, ok := res.pairedMedian(appHello, v, "baseline", c, throughput, ratio); ok {
			gs = append(gs, goal{name, "≥ 1.50×", fmt.Sprintf("%.2f×", x), atLeast(x, 1.5, "×")})
		} else {
			notMeasured(name, "≥ 1.50×")
		}
		name = fmt.Sprintf("%s: hello app proxy CPU per request at c=%d vs baseline", v, c)
		if x, ok := res.pairedMedian(appHello, v, "baseline", c, cpuPerRequest("proxy"), ratio); ok {
			gs = append(gs, goal{name, "≤ 0.67×", fmt.Sprintf("%.2f×", x), atMost(x, 2.0/3, "×")})
		} else {
			notMeasured(name, "≤ 0.67×")
		}
		name = fmt.Sprintf("%s: %s app p99 added at c=%d", v, appSleep, c)
		if x, ok := res.pairedMedian(appSleep, v, "direct", c, percentile("ok", p99), diff); ok {
			gs = append(gs, goal{name, "≤ 1 ms", fmt.Sprintf("%+.2f ms", x), atMost(x, 1, " ms")})
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
				if x, ok := res.cellMedian(app, v, lim.c, peakRSS); ok {
					worst, found = max(worst, x), true
				}
			}
			if found {
				gs = append(gs, goal{name, target, fmt.Sprintf("%.1f MiB", worst), atMost(worst, lim.mib, " MiB")})
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
		m, worst := median(toReady), slices.Max(toReady)
		verdict := atMost(m, 10, " ms")
		if verdict == "met" && worst > 10 {
			verdict = fmt.Sprintf("met by the median; the slowest of %d took %.1f ms", len(toReady), worst)
		}
		gs = append(gs, goal{name, "≤ 10 ms", fmt.Sprintf("median %.1f ms, max %.1f ms", m, worst), verdict})
	}
	if res.Runs[0].Overload != nil {
		want := res.expectedGoodput()
		good, _ := res.overloadMedian(throughput)
		gs = append(gs, goal{"overload: goodput with containerConcurrency 10, 200 clients",
			fmt.Sprintf("near %.0f req/s (≥ 90%%)", want), fmt.Sprintf("%.0f req/s", good), atLeast(good, 0.9*want, " req/s")})
		fast := res.Config.Sleep.Seconds() * 1000 / 10
		rej, ok := res.overloadMedian(percentile("503", p50))
		if ok {
			gs = append(gs, goal{"overload: the excess gets fast 503s (p50)",
				fmt.Sprintf("≤ %.0f ms (a tenth of the app's latency)", fast), fmt.Sprintf("%.2f ms", rej), atMost(rej, fast, " ms")})
		} else {
			gs = append(gs, goal{"overload: the excess gets fast 503s (p50)", "503s under overload", "no 503 at all", "**missed**: no request was turned away"})
		}
	}
	return gs
}
