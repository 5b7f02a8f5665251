package main

import (
	"fmt"
	"strings"
	"time"

	"flywheel.dev/test/bench/internal/benchkit"
)

// results is everything one invocation of `run` measured.
type results struct {
	Config  runConfig        `json:"config"`
	Machine benchkit.Machine `json:"machine"`
	Ups     []upResult       `json:"ups"`
	PodRuns []podRun         `json:"podRuns"`
	Elapsed string           `json:"elapsed"`
}

// podFigure is one interval of a pod's way, read from its marks.
type podFigure struct {
	name, covers string
	value        func(podTimes) (time.Duration, bool)
}

// between is the interval from mark from (the create or delete call when
// empty) to mark to; a pod has it when both were seen.
func between(from, to string) func(podTimes) (time.Duration, bool) {
	return func(pt podTimes) (time.Duration, bool) {
		var start time.Duration
		if from != "" {
			var ok bool
			if start, ok = pt.Marks[from]; !ok {
				return 0, false
			}
		}
		end, ok := pt.Marks[to]
		return end - start, ok
	}
}

var (
	figCreateReady = podFigure{"create → Ready", "create call returned → Ready condition True seen", between("", markReady)}
	figNodeShare   = podFigure{"**node's share**: bound → Ready", "`spec.nodeName` seen → Ready seen", between(markBound, markReady)}
)

// podFigures are the rows of the pod table, the whole first, then its
// parts in order, then the deletion.
var podFigures = []podFigure{
	figCreateReady,
	figNodeShare,
	{"binding", "create returned → `spec.nodeName` seen (local mode's binder, no scheduler)", between("", markBound)},
	{"sandbox", "bound → the node logs `pod started` (netns, veth, routes, cgroup, pod files and volumes with the service-account token; containers told to start)", between(markBound, markSandbox)},
	{"container start", "`pod started` → container `running` seen (image resolved, container init, exec, status written)", between(markSandbox, markRunning)},
	{"… process start", "`pod started` → the app's `main` began (the container init re-executing the node's binary, mounts, exec, Go runtime start)", between(markSandbox, markMain)},
	{"… status", "the app's `main` began → `running` seen (status written by the node, watch)", between(markMain, markRunning)},
	{"readiness", "`running` seen → Ready seen (probes until one succeeds, status written)", between(markRunning, markReady)},
	{"… after listening", "the app listens → Ready seen (with a probe: the wait for the next attempt; without: negative, Ready does not wait)", between(markListen, markReady)},
	{"create call", "the create request itself", func(pt podTimes) (time.Duration, bool) { return pt.CreateCall, true }},
	{"delete → gone", "delete (grace 0) called → DELETED seen: the API alone", between("", markGone)},
	{"delete → stopped on the node", "delete called → the node logs `pod stopped` (processes killed, sandbox removed)", between("", markStopped)},
}

// podSummary is f over the variant's pods: p50, p95 and max of each run,
// each the median over runs; N counts the pods of every run that had f.
func (res results) podSummary(variant string, f podFigure) (benchkit.Latency, bool) {
	var p50s, p95s, maxes []float64
	n := 0
	for _, r := range res.PodRuns {
		if r.Variant != variant {
			continue
		}
		var ds []time.Duration
		for _, pt := range r.Pods {
			if d, ok := f.value(pt); ok {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue
		}
		l := benchkit.Summarise(ds)
		n += l.N
		p50s, p95s, maxes = append(p50s, l.P50), append(p95s, l.P95), append(maxes, l.Max)
	}
	if n == 0 {
		return benchkit.Latency{}, false
	}
	return benchkit.Latency{N: n, P50: benchkit.Median(p50s), P95: benchkit.Median(p95s), Max: benchkit.Median(maxes)}, true
}

// cachedUps are the ups that found the component binaries up to date:
// every one but the first, unless there was only one.
func (res results) cachedUps() []upResult {
	if len(res.Ups) > 1 {
		return res.Ups[1:]
	}
	return res.Ups
}

// upTotal is the median of the cached ups' totals, in seconds.
func (res results) upTotal() (float64, bool) {
	var xs []float64
	for _, u := range res.cachedUps() {
		if t := u.Total(); t > 0 {
			xs = append(xs, t.Seconds())
		}
	}
	return benchkit.Median(xs), len(xs) > 0
}

func (res results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := res.Config
	p("## Results\n\n")
	p("Machine: %d CPUs, %s, Linux %s, %s. Total time %s.\n", res.Machine.CPUs, res.Machine.Model, res.Machine.Kernel, res.Machine.Go, res.Elapsed)
	var loads []string
	for _, u := range res.Ups {
		loads = append(loads, u.LoadAvg)
	}
	p("Load average (1, 5, 15 min) as each up began: %s", strings.Join(loads, "; "))
	loads = nil
	for _, r := range res.PodRuns {
		loads = append(loads, r.LoadAvg)
	}
	p("; as each pod run began: %s. Nothing waits for the machine to be quiet: read the figures against these.\n\n", strings.Join(loads, "; "))

	p("### fw local up\n\n")
	p("`local.Up` with the control plane (kube-controller-manager included), the node, and Flywheel's components as pods of config/core's Deployments, as `fw local up` and the e2e tests call it, in one work directory, %d time(s); then the harness waits for the Node's Ready condition and an HTTP answer from the gateway and the activator. "+
		"The node builds each component's ko:// image with `go build`, one at a time, into the image cache outside the work directory, where it is up to date after the first up on a machine: the build then links nothing. "+
		"Each step is the time since the latest step above it that was done before it, read from the control plane's log, the node's log file appearing (to %s), the components' pods seen Ready through the API server and the harness's checks (both every %s).\n\n",
		len(res.Ups), filePoll, readyPoll)
	p("| step | covers |")
	for i := range res.Ups {
		p(" up %d |", i+1)
	}
	p("\n| --- | --- |%s\n", strings.Repeat(" ---: |", len(res.Ups)))
	for i, s := range upSteps {
		p("| %s | %s |", s.name, s.covers)
		for _, u := range res.Ups {
			p(" %s |", stepTime(u, upSteps[:i], s.name))
		}
		p("\n")
	}
	p("| **all ready** | local.Up called → all of the above |")
	for _, u := range res.Ups {
		p(" **%s** |", seconds(u.Total(), u.Total() > 0))
	}
	p("\n| stop | `Stop()` afterwards, before the next up |")
	for _, u := range res.Ups {
		p(" %s |", seconds(u.Stop, u.Stop > 0))
	}
	p("\n\n")
	p("### pod create → Ready\n\n")
	p("%d bare pods per variant and run (no Deployment, no sidecar), created one after the other in namespace %s after one uncounted pod, each deleted with grace 0 and stopped by the node before the next; %d run(s), each figure the median over runs. "+
		"Image: test/bench/node/podapp (a small HTTP server that prints when its main began and when it listens) built to an absolute path (the node hashes it once and keeps the digest while its size and modification time stay). "+
		"Variants: **%s**, an HTTP readiness probe on the app's port with periodSeconds 1; **%s**, none (Ready once the container runs). "+
		"Times are watch events as they reach the harness, the node's log lines (milliseconds) and the app's; the API's own timestamps hold whole seconds (the node truncates `startedAt` too) and are not used.\n\n",
		cfg.Pods, benchNamespace, cfg.Runs, variantProbe, variantNoProbe)
	p("| interval | covers | variant | pods | p50 ms | p95 ms | max ms |\n| --- | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, f := range podFigures {
		for _, v := range cfg.Variants {
			l, ok := res.podSummary(v, f)
			p("| %s | %s | %s | %d | %s | %s | %s |\n", f.name, f.covers, v, l.N,
				benchkit.Format(l.P50, ok, "%.1f"), benchkit.Format(l.P95, ok, "%.1f"), benchkit.Format(l.Max, ok, "%.1f"))
		}
	}
	p("\n")
	var firsts []string
	for _, r := range res.PodRuns {
		if d, ok := figCreateReady.value(r.Warmup); ok {
			firsts = append(firsts, fmt.Sprintf("%s run %d: %.1f ms", r.Variant, r.Run, ms(d)))
		}
	}
	if len(firsts) > 0 {
		p("The uncounted first pod of each run, create → Ready: %s.\n\n", strings.Join(firsts, ", "))
	}

	p("### Goals\n\n%s", benchkit.GoalsTable(res.goals()))
	return b.String()
}

// stepTime is the time to step from the latest of the earlier steps that
// u has and that were done before it, in seconds.
func stepTime(u upResult, earlier []upStep, step string) string {
	at, ok := u.Marks[step]
	if !ok {
		return "–"
	}
	// The components' pods come Ready in the order the node built
	// them, not the table's: only earlier steps done before this one
	// count.
	var from time.Duration
	for _, s := range earlier {
		if t, ok := u.Marks[s.name]; ok && t > from && t <= at {
			from = t
		}
	}
	return seconds(at-from, true)
}

func seconds(d time.Duration, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// goals are the targets: `fw local up` to every component ready
// with cached binaries, and the node's share of a pod's create → Ready.
func (res results) goals() []benchkit.Goal {
	up := benchkit.Goal{Name: "fw local up to all components ready, cached binaries (median of ups 2…)", Target: "≤ 20 s", Measured: "–", Verdict: benchkit.NotMeasured}
	if len(res.Ups) == 1 {
		up.Name = "fw local up to all components ready (one up, binaries linked)"
	}
	if x, ok := res.upTotal(); ok {
		up.Measured, up.Verdict = fmt.Sprintf("%.2f s", x), benchkit.AtMost(x, 20, " s")
	}
	gs := []benchkit.Goal{up}
	for _, v := range res.Config.Variants {
		g := benchkit.Goal{Name: fmt.Sprintf("pod create → Ready p50, node's share (bound → Ready), %s", v), Target: "≤ 150 ms", Measured: "–", Verdict: benchkit.NotMeasured}
		if l, ok := res.podSummary(v, figNodeShare); ok {
			g.Measured, g.Verdict = fmt.Sprintf("%.1f ms", l.P50), benchkit.AtMost(l.P50, 150, " ms")
		}
		gs = append(gs, g)
	}
	return gs
}
