package main

import (
	"fmt"
	"strings"
	"time"

	"flywheel.dev/test/bench/internal/benchkit"
)

// Goals of the autoscaling issue.
const (
	goalColdStartP50 = 300 * time.Millisecond
	goalDecision     = 2 * time.Second
)

// markdown is the section docs/benchmarks.md takes.
func (r results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("### Cold start and load step\n\n")
	p("Machine: %d CPUs (%s), kernel %s, %s; load average (1, 5, 15 min) at the start %s. Took %s.\n\n",
		r.Machine.CPUs, r.Machine.Model, r.Machine.Kernel, r.Machine.Go, r.LoadAvg, r.Elapsed)
	if len(r.ColdStarts) > 0 {
		l := benchkit.Summarise(append([]time.Duration(nil), r.ColdStarts...))
		p("**Cold start**, %d times, image %s: a GET through the gateway (a new connection) for the sample app's Revision at zero pods, its public Service pointing at the activator, → the response's first byte. "+
			"The path: gateway → activator, which holds the request and tells the autoscaler at once → the autoscaler scales the Deployment to one → kube-controller-manager makes the pod → the binder binds it → the node starts it (prebuilt image) → the activator, probing the starting pod's queue-proxy, forwards as soon as it answers (the node's readiness probe and the EndpointSlice follow).\n\n", l.N, r.Config.ColdImage)
		p("| p50 | p95 | max | goal |\n| ---: | ---: | ---: | --- |\n")
		p("| %.0f ms | %.0f ms | %.0f ms | p50 ≤ %v: **%s** |\n\n", l.P50, l.P95, l.Max, goalColdStartP50, met(time.Duration(l.P50*float64(time.Millisecond)) <= goalColdStartP50))
		if len(r.ColdStartHops) > 0 {
			p("Where the time goes, over the %d cold starts: when each hop was first seen, from the request's start. *watch* is a watch event's arrival at the harness (a few ms after the write, alike for all); a *log* is the component's own timestamp. *Step* is the mean time from the hop before it.\n\n", len(r.ColdStartHops))
			b.WriteString(hopTable(r.ColdStartHops))
			p("\n")
		}
	}
	if len(r.Steps) > 0 {
		var decisions, serving []time.Duration
		var pods []string
		for _, s := range r.Steps {
			decisions = append(decisions, s.Decision)
			serving = append(serving, s.Serving)
			pods = append(pods, fmt.Sprint(s.Pods))
		}
		d, s := benchkit.Summarise(decisions), benchkit.Summarise(serving)
		p("**Load step**, %d times: %d clients at once on an idle Revision of a 50 ms app held at one pod (min-scale 1, target 10, window 6 s), after a quiet stable window. "+
			"*Decision* is when the Deployment first asks for more pods (the autoscaler decided and wrote the scale; polled every 10 ms); *new pod ready* is when a second pod is first ready. Pods asked for at most: %s.\n\n",
			d.N, r.Config.StepClients, strings.Join(pods, ", "))
		p("| from the step to | p50 | max | goal |\n| --- | ---: | ---: | --- |\n")
		p("| the first scale decision | %.0f ms | %.0f ms | ≤ %v: **%s** |\n", d.P50, d.Max, goalDecision, met(time.Duration(d.Max*float64(time.Millisecond)) <= goalDecision))
		p("| a new pod ready | %.0f ms | %.0f ms | |\n\n", s.P50, s.Max)
	}
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// hopTable is the breakdown of cold starts: for each hop, in the order the
// request meets it, the mean and median time from the request to it, and
// the mean step from the hop seen before it in the same cold start.
func hopTable(starts []hopTimes) string {
	var b strings.Builder
	b.WriteString("| hop | seen by | from the request, mean | p50 | step, mean | seen |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	hops := append(coldHops[:len(coldHops):len(coldHops)], hop{Name: firstByteHop, Source: "harness"})
	for i, h := range hops {
		var at, steps []time.Duration
		for _, s := range starts {
			t, ok := s[h.Name]
			if !ok {
				continue
			}
			at = append(at, t)
			// The step is from the latest hop before it that this
			// cold start saw, or from the request.
			prev := time.Duration(0)
			for j := i - 1; j >= 0; j-- {
				if pt, ok := s[hops[j].Name]; ok {
					prev = pt
					break
				}
			}
			steps = append(steps, t-prev)
		}
		if len(at) == 0 {
			fmt.Fprintf(&b, "| %s | %s | | | | 0 of %d |\n", h.Name, h.Source, len(starts))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f ms | %.0f ms | %.0f ms | %d of %d |\n",
			h.Name, h.Source, ms(mean(at)), benchkit.Summarise(at).P50, ms(mean(steps)), len(at), len(starts))
	}
	return b.String()
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
