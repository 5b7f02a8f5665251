package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/test/bench/internal/benchkit"
)

// harness runs the benchmark: the shared harness, plus the sidecar.
type harness struct {
	*benchkit.Harness
	// queueBin is the sidecar.
	queueBin string

	statsOnce sync.Once
	stats     bool

	// spans takes the traced variant's exports.
	spans benchkit.SpanSink
}

// runConfig is everything `run` was asked to do.
type runConfig struct {
	benchkit.Settings
	Variants    []string        `json:"variants"`
	ReadyReps   int             `json:"readyReps"`
	ReadyDelays []time.Duration `json:"readyAppDelays"`
	Overload    bool            `json:"overload"`
	Profile     bool            `json:"profile"`
}

// Concurrency of the throughput runs' sidecar: on, but far above any
// load level, so that it never binds. The overload run's is low.
const (
	throughputContainerConcurrency = 1000
	overloadContainerConcurrency   = 10
	overloadClients                = 200
	// profileConcurrency is the level at which the proxies are profiled,
	// the one the throughput goal is read at.
	profileConcurrency = 50
)

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg runConfig
	cfg.RegisterFlags(fs, "1,10,50,200")
	queueBin := fs.String("queue", "", "the sidecar binary (go build ./cmd/queue); required")
	variantNames := fs.String("variants", "direct,baseline,port,transparent",
		"variants to measure, comma-separated (transparent needs root, ip, iptables and setpriv; port-traced is port with tracing on)")
	fs.IntVar(&cfg.ReadyReps, "ready-reps", 10, "exec → ready repetitions per app start delay and run")
	readyDelays := fs.String("ready-app-delays", "0s,500ms", "how long the app works before it listens, in the exec → ready runs")
	fs.BoolVar(&cfg.Overload, "overload", true, "run the overload scenario")
	fs.BoolVar(&cfg.Profile, "profile", true, "take 5 s CPU profiles of the sidecar and the baseline (hello app, concurrency 50)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Variants = benchkit.SplitList(*variantNames)
	errs := []error{cfg.Parse()}
	if *queueBin == "" {
		errs = append(errs, errors.New("--queue is required"))
	}
	var chosen []variant
	for _, name := range cfg.Variants {
		v, err := findVariant(name)
		errs = append(errs, err)
		chosen = append(chosen, v)
		if name == string(queue.ModeTransparent) {
			errs = append(errs, checkTransparent())
		}
	}
	for _, s := range benchkit.SplitList(*readyDelays) {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("app start delay %q: %w", s, err))
		}
		cfg.ReadyDelays = append(cfg.ReadyDelays, d)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	kit, err := benchkit.NewHarness(&cfg.Settings, "bench-queue-")
	if err != nil {
		return err
	}
	h := &harness{Harness: kit, queueBin: *queueBin}
	// Every process ends with the harness, whatever way it returns.
	defer h.Sup.StopAll()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if slices.Contains(cfg.Variants, string(queue.ModeTransparent)) {
		sweepSandboxes(ctx)
	}

	began := time.Now()
	res := results{Config: cfg, Machine: benchkit.ReadMachine()}
	for i := range cfg.Runs {
		benchkit.Progress("run %d of %d", i+1, cfg.Runs)
		r, err := h.oneRun(ctx, cfg, chosen)
		if err != nil {
			return fmt.Errorf("run %d: %w (process logs in %s)", i+1, err, h.LogDir)
		}
		res.Runs = append(res.Runs, r)
	}
	if cfg.Profile {
		if res.Profiles, err = h.profileProxies(ctx, cfg.Out, cfg.Variants); err != nil {
			return fmt.Errorf("profiling: %w", err)
		}
	}
	res.StatsServed = h.stats
	res.Elapsed = time.Since(began).Round(time.Second).String()

	return benchkit.WriteResults(cfg.Out, res.markdown(), res, res.Elapsed)
}

// oneRun measures every app × variant × level, then start-up, then
// overload. Each level gets fresh processes, so that one level's peak
// memory or warm caches do not colour the next.
func (h *harness) oneRun(ctx context.Context, cfg runConfig, chosen []variant) (runResult, error) {
	r := runResult{LoadAvg: benchkit.LoadAverage()}
	calm := benchkit.NewCalm(&cfg.Settings)
	for _, app := range cfg.Apps {
		for _, v := range chosen {
			for _, c := range cfg.Levels {
				label := fmt.Sprintf("%-5s %-11s c=%-3d", app, v.name, c)
				o := podOptions{app: app, concurrency: c, containerConcurrency: throughputContainerConcurrency}
				lr, attempts, err := calm.Measure(ctx, label, func(ctx context.Context) (benchkit.LoadResult, error) { return h.measureLevel(ctx, v, o) })
				if err != nil {
					return r, fmt.Errorf("%s app, %s, concurrency %d: %w", app, v.name, c, err)
				}
				r.Cells = append(r.Cells, benchkit.Cell{App: app, Variant: v.name, Concurrency: c, Attempts: attempts, Result: lr})
			}
		}
	}
	for _, d := range cfg.ReadyDelays {
		for range cfg.ReadyReps {
			s, err := h.execToReady(ctx, d)
			if err != nil {
				return r, fmt.Errorf("exec → ready (app start delay %s): %w", d, err)
			}
			r.Ready = append(r.Ready, s)
		}
		benchkit.Progress("  exec → ready measured %d times with app start delay %s", cfg.ReadyReps, d)
	}
	if cfg.Overload {
		o := podOptions{app: benchkit.AppSleep, concurrency: overloadClients, containerConcurrency: overloadContainerConcurrency}
		port := variant{name: "port", start: startPortSidecar}
		lr, _, err := calm.Measure(ctx, "overload", func(ctx context.Context) (benchkit.LoadResult, error) { return h.measureLevel(ctx, port, o) })
		if err != nil {
			return r, fmt.Errorf("overload: %w", err)
		}
		benchkit.Progress("  overload: %.0f 200s/s, %.0f 503s/s", float64(lr.OK())/lr.Seconds, float64(lr.Status[http.StatusServiceUnavailable])/lr.Seconds)
		r.Overload = &lr
	}
	return r, nil
}

// measureLevel starts a fresh pod of v, loads it with o.concurrency
// clients and stops it.
func (h *harness) measureLevel(ctx context.Context, v variant, o podOptions) (benchkit.LoadResult, error) {
	pd, err := v.start(ctx, h, o)
	if err != nil {
		return benchkit.LoadResult{}, err
	}
	defer h.stopPod(pd)
	return h.Load(ctx, pd.target(), o.concurrency, h.Warmup, h.Duration)
}

// profileProxies takes a CPU profile of each proxy variant under the hello
// app's load at profileConcurrency, and returns the files written.
func (h *harness) profileProxies(ctx context.Context, dir string, names []string) ([]string, error) {
	var files []string
	for _, name := range names {
		v, err := findVariant(name)
		if err != nil {
			return nil, err
		}
		if name == "direct" {
			continue
		}
		pd, err := v.start(ctx, h, podOptions{app: benchkit.AppHello, concurrency: profileConcurrency,
			containerConcurrency: throughputContainerConcurrency, profile: true})
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, fmt.Sprintf("cpu-%s-hello-c%d.pprof", name, profileConcurrency))
		err = h.ProfileUnderLoad(ctx, pd.target(), profileConcurrency, pd.profile, file)
		h.stopPod(pd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		benchkit.Progress("  profiled %s: %s", name, file)
		files = append(files, file)
	}
	return files, nil
}
