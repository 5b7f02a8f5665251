package benchkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Machine is what a report says of the machine it was measured on.
type Machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures: anything
// else busy on the machine shows here.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// ReadMachine describes this machine.
func ReadMachine() Machine {
	m := Machine{Go: runtime.Version()}
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

// Cell is one app × variant × concurrency level of one run.
type Cell struct {
	App         string `json:"app"`
	Variant     string `json:"variant"`
	Concurrency int    `json:"concurrency"`
	// Attempts is how many times the level was measured: more than once
	// when other processes disturbed it.
	Attempts int        `json:"attempts"`
	Result   LoadResult `json:"result"`
}

// Cells are the cells of every run, run by run.
type Cells [][]Cell

// A Figure is one number read from a load level's result; ok is false
// when the level has no such number (no proxy, no requests).
type Figure func(LoadResult) (v float64, ok bool)

// Throughput is the 2xx responses per second.
func Throughput(r LoadResult) (float64, bool) { return float64(r.OK()) / r.Seconds, true }

// Percentile is p of the latencies of class ("ok", "503", "other").
func Percentile(class string, p func(Latency) float64) Figure {
	return func(r LoadResult) (float64, bool) {
		l, ok := r.Latency[class]
		return p(l), ok && l.N > 0
	}
}

// P50 is the median, for Percentile.
func P50(l Latency) float64 { return l.P50 }

// P99 is the 99th percentile, for Percentile.
func P99(l Latency) float64 { return l.P99 }

// CPUPerRequest is the CPU time of roles together per completed
// request, in µs; the level has it if it watched any of them.
func CPUPerRequest(roles ...string) Figure {
	return func(r LoadResult) (float64, bool) {
		cpu, ok := sumProcs(r, roles, func(s ProcSample) float64 { return s.CPUSeconds })
		if !ok || r.Completed() == 0 {
			return 0, false
		}
		return cpu * 1e6 / float64(r.Completed()), true
	}
}

// SyscallsPerRequest is the read and write system calls of roles
// together per completed request.
func SyscallsPerRequest(roles ...string) Figure {
	return func(r LoadResult) (float64, bool) {
		n, ok := sumProcs(r, roles, func(s ProcSample) float64 { return float64(s.Syscalls) })
		if !ok || r.Completed() == 0 {
			return 0, false
		}
		return n / float64(r.Completed()), true
	}
}

// PeakRSS is the VmHWM of roles together at the end of the level, in
// MiB: with fresh processes per level, the most they held during it.
func PeakRSS(roles ...string) Figure {
	return func(r LoadResult) (float64, bool) {
		kib, ok := sumProcs(r, roles, func(s ProcSample) float64 { return float64(s.HWMKiB) })
		return kib / 1024, ok
	}
}

func sumProcs(r LoadResult, roles []string, f func(ProcSample) float64) (float64, bool) {
	var sum float64
	found := false
	for _, role := range roles {
		if s, ok := r.Procs[role]; ok {
			sum += f(s)
			found = true
		}
	}
	return sum, found
}

// OtherCPU is the CPU spent outside the measured processes, in % of a
// core.
func OtherCPU(r LoadResult) (float64, bool) { return 100 * r.OtherCPU, true }

// ErrorCount is the requests that did not get a 2xx.
func ErrorCount(r LoadResult) (float64, bool) { return float64(r.Errors()), true }

// StatusRate is the responses with code per second.
func StatusRate(code int) Figure {
	return func(r LoadResult) (float64, bool) { return float64(r.Status[code]) / r.Seconds, true }
}

// Median is the median of xs, NaN when it is empty.
func Median(xs []float64) float64 {
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

// CoarseTicks is the fewest clock ticks of CPU a level must have used
// for its CPU per request to be more than a rough figure.
const CoarseTicks = 10

// CoarseCPU reports whether roles' CPU time together at one app ×
// variant × level was below CoarseTicks in any run.
func (cs Cells) CoarseCPU(app, v string, c int, roles ...string) bool {
	for _, run := range cs {
		for _, cl := range run {
			if cl.App == app && cl.Variant == v && cl.Concurrency == c {
				cpu, ok := sumProcs(cl.Result, roles, func(s ProcSample) float64 { return s.CPUSeconds })
				if ok && cpu < (CoarseTicks*ClockTick).Seconds() {
					return true
				}
			}
		}
	}
	return false
}

// Median is the median over runs of f at one app × variant × level.
func (cs Cells) Median(app, v string, c int, f Figure) (float64, bool) {
	var xs []float64
	for _, run := range cs {
		for _, cl := range run {
			if cl.App == app && cl.Variant == v && cl.Concurrency == c {
				if x, ok := f(cl.Result); ok {
					xs = append(xs, x)
				}
			}
		}
	}
	return Median(xs), len(xs) > 0
}

// PairedMedian is the median over runs of combine(f of variant a, f of
// variant b) at one app and level. Pairing within a run cancels what
// drifts between runs (another tenant on the machine, thermal state).
func (cs Cells) PairedMedian(app, a, b string, c int, f Figure, combine func(x, y float64) float64) (float64, bool) {
	var xs []float64
	for _, run := range cs {
		var x, y float64
		var okA, okB bool
		for _, cl := range run {
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
	return Median(xs), len(xs) > 0
}

// Remeasured counts the levels measured again, over all runs.
func (cs Cells) Remeasured() int {
	n := 0
	for _, run := range cs {
		for _, cl := range run {
			n += cl.Attempts - 1
		}
	}
	return n
}

// Ratio is x ÷ y, for PairedMedian.
func Ratio(x, y float64) float64 { return x / y }

// Diff is x − y, for PairedMedian.
func Diff(x, y float64) float64 { return x - y }

// Format formats x, or gives "–" when there is no such figure.
func Format(x float64, ok bool, format string) string {
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}

// Goal is one target of an issue, read against the medians.
type Goal struct {
	Name, Target, Measured, Verdict string
}

// NotMeasured is the verdict of a goal without figures.
const NotMeasured = "not measured"

// AtMost is met when x ≤ limit; otherwise it says by how much x
// missed.
func AtMost(x, limit float64, unit string) string {
	if x <= limit {
		return "met"
	}
	return fmt.Sprintf("**missed** by %.2f%s (%.0f%% over)", x-limit, unit, 100*(x-limit)/limit)
}

// AtLeast is met when x ≥ limit; otherwise it says by how much x
// missed.
func AtLeast(x, limit float64, unit string) string {
	if x >= limit {
		return "met"
	}
	return fmt.Sprintf("**missed** by %.2f%s (%.0f%% short)", limit-x, unit, 100*(limit-x)/limit)
}

// GoalsTable is the markdown table of gs.
func GoalsTable(gs []Goal) string {
	var b strings.Builder
	b.WriteString("| goal | target | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, g := range gs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.Name, g.Target, g.Measured, g.Verdict)
	}
	return b.String()
}

// WriteResults prints report and saves it as results.md, with res as
// results.json, in out, then says where everything is.
func WriteResults(out, report string, res any, elapsed string) error {
	fmt.Print(report)
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), b, 0o644); err != nil {
		return err
	}
	Progress("done in %s; results, profiles and logs in %s", elapsed, out)
	return nil
}
