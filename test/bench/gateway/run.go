package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"flywheel.dev/test/bench/internal/benchkit"
)

// harness runs the benchmark: the shared harness, plus the gateway.
type harness struct {
	*benchkit.Harness
	// gatewayBin is ./fakegateway, built.
	gatewayBin string
	// spans takes the traced variant's exports.
	spans benchkit.SpanSink
}

// runConfig is everything `run` was asked to do.
type runConfig struct {
	benchkit.Settings
	Variants []string `json:"variants"`
	Profile  bool     `json:"profile"`
}

// profileConcurrency is the level at which the hops are profiled, the
// one the throughput goal is read at.
const profileConcurrency = 50

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg runConfig
	cfg.RegisterFlags(fs, "1,50")
	gatewayBin := fs.String("gateway", "", "the gateway binary (go build ./test/bench/gateway/fakegateway); required")
	var names []string
	for _, v := range variants {
		names = append(names, v.name)
	}
	variantNames := fs.String("variants", strings.Join(names, ","),
		"variants to measure, comma-separated")
	fs.BoolVar(&cfg.Profile, "profile", true, "take 5 s CPU profiles of each proxy (hello app, concurrency 50)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Variants = benchkit.SplitList(*variantNames)
	errs := []error{cfg.Parse()}
	if *gatewayBin == "" {
		errs = append(errs, errors.New("--gateway is required"))
	}
	var chosen []variant
	for _, name := range cfg.Variants {
		v, err := findVariant(name)
		errs = append(errs, err)
		chosen = append(chosen, v)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	kit, err := benchkit.NewHarness(&cfg.Settings, "bench-gateway-")
	if err != nil {
		return err
	}
	h := &harness{Harness: kit, gatewayBin: *gatewayBin}
	// Every process ends with the harness, whatever way it returns.
	defer h.Sup.StopAll()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

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
		if res.Profiles, err = h.profileHops(ctx, cfg.Out, chosen); err != nil {
			return fmt.Errorf("profiling: %w", err)
		}
	}
	res.Elapsed = time.Since(began).Round(time.Second).String()

	return benchkit.WriteResults(cfg.Out, res.markdown(), res, res.Elapsed)
}

// oneRun measures every app × variant × level. Each level gets fresh
// processes, so that one level's peak memory or warm caches do not
// colour the next.
func (h *harness) oneRun(ctx context.Context, cfg runConfig, chosen []variant) (runResult, error) {
	r := runResult{LoadAvg: benchkit.LoadAverage()}
	calm := benchkit.NewCalm(&cfg.Settings)
	for _, app := range cfg.Apps {
		for _, v := range chosen {
			for _, c := range cfg.Levels {
				label := fmt.Sprintf("%-5s %-17s c=%-3d", app, v.name, c)
				o := podOptions{app: app, concurrency: c}
				lr, attempts, err := calm.Measure(ctx, label, func(ctx context.Context) (benchkit.LoadResult, error) { return h.measureLevel(ctx, v, o) })
				if err != nil {
					return r, fmt.Errorf("%s app, %s, concurrency %d: %w", app, v.name, c, err)
				}
				r.Cells = append(r.Cells, benchkit.Cell{App: app, Variant: v.name, Concurrency: c, Attempts: attempts, Result: lr})
			}
		}
	}
	return r, nil
}

// measureLevel starts a fresh pod of v, loads it with o.concurrency
// clients and stops it.
func (h *harness) measureLevel(ctx context.Context, v variant, o podOptions) (benchkit.LoadResult, error) {
	pd, err := h.startPod(ctx, v, o)
	if err != nil {
		return benchkit.LoadResult{}, err
	}
	defer h.stopPod(pd)
	return h.Load(ctx, pd.target(v), o.concurrency, h.Warmup, h.Duration)
}

// profileHops takes a CPU profile of each hop role, in the first variant
// that has it, under the hello app's load at profileConcurrency, and
// returns the files written.
func (h *harness) profileHops(ctx context.Context, dir string, chosen []variant) ([]string, error) {
	var files []string
	done := map[string]bool{}
	for _, v := range chosen {
		for i, hp := range v.hops {
			if done[hp.role] {
				continue
			}
			done[hp.role] = true
			pd, err := h.startPod(ctx, v, podOptions{app: benchkit.AppHello, concurrency: profileConcurrency, profile: true})
			if err != nil {
				return nil, err
			}
			file := filepath.Join(dir, fmt.Sprintf("cpu-%s-hello-c%d.pprof", hp.role, profileConcurrency))
			err = h.ProfileUnderLoad(ctx, pd.target(v), profileConcurrency, pd.hops[i].profile, file)
			h.stopPod(pd)
			if err != nil {
				return nil, fmt.Errorf("%s in %s: %w", hp.role, v.name, err)
			}
			benchkit.Progress("  profiled the %s in %s: %s", hp.role, v.name, file)
			files = append(files, file)
		}
	}
	return files, nil
}
