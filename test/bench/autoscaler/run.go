package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/autoscaler"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/test/bench/internal/benchkit"
)

// runConfig is everything `run` was asked to do.
type runConfig struct {
	fleet
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
	// StartSpread spreads the Revisions' first Watch calls over this
	// long, so that their loops tick out of step, as those of Revisions
	// created over time do; 0 starts them together, as a restarted
	// autoscaler that reconciles every PodAutoscaler at once would.
	StartSpread time.Duration `json:"startSpread"`
	Profile     bool          `json:"profile"`
	Out         string        `json:"-"`
}

// sidecarsReady bounds the sidecars' start: a listener per pod.
const sidecarsReady = 2 * time.Minute

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg runConfig
	fs.IntVar(&cfg.Revisions, "revisions", 1000, "Revisions to scale")
	fs.IntVar(&cfg.Pods, "pods", 3, "simulated pods per Revision")
	fs.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "run this long before measuring")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "measure for this long")
	fs.DurationVar(&cfg.StartSpread, "start-spread", autoscaler.ScrapeInterval, "spread the Revisions' start over this long; 0 starts them at once")
	fs.BoolVar(&cfg.Profile, "profile", false, "write a CPU profile of the autoscaler's side over the window (cpu.pprof, which costs a little CPU itself) and a heap profile at its end (heap.pprof) to --out")
	fs.StringVar(&cfg.Out, "out", "", "directory for results.json, results.md, the profile and the processes' logs; a temporary one if empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	errs := []error{cfg.validate()}
	if cfg.Warmup < 0 || cfg.Duration <= 0 || cfg.StartSpread < 0 {
		errs = append(errs, errors.New("--duration must be positive, --warmup and --start-spread not negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var err error
	if cfg.Out == "" {
		if cfg.Out, err = os.MkdirTemp("", "bench-autoscaler-"); err != nil {
			return err
		}
	}
	logDir := filepath.Join(cfg.Out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	// A connection per sampled pod at worst, and some to spare.
	if err := raiseFileLimit(uint64(cfg.total() + 256)); err != nil {
		return err
	}
	// Every load is bounded: the whole run ends after this long whatever
	// happens.
	ctx, cancel := context.WithTimeout(ctx, sidecarsReady+cfg.StartSpread+cfg.Warmup+cfg.Duration+time.Minute)
	defer cancel()

	began := time.Now()
	sup := benchkit.NewSupervisor(logDir)
	defer sup.StopAll()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	benchkit.Progress("starting %d simulated sidecars (%d Revisions × %d pods) on %s", cfg.total(), cfg.Revisions, cfg.Pods, podNet)
	var sidecarOut bytes.Buffer
	side, err := sup.Start("sidecars", benchkit.StartOptions{CPU: -1, Stdout: &sidecarOut}, self, "sidecars",
		"--revisions", strconv.Itoa(cfg.Revisions), "--pods", strconv.Itoa(cfg.Pods))
	if err != nil {
		return err
	}
	// The sidecars listen in order: the last one answering means all do.
	if err := benchkit.WaitOK(ctx, side, cfg.statsURL(cfg.Revisions-1, cfg.Pods-1), sidecarsReady); err != nil {
		return err
	}

	res, err := measure(ctx, cfg, side.PID(), logDir)
	if err != nil {
		return err
	}
	sup.Stop(side)
	if err := json.Unmarshal(sidecarOut.Bytes(), &res.SidecarCounts); err != nil {
		benchkit.Progress("the sidecars printed no counts (%v); their log is in %s", err, logDir)
	}
	res.Machine = benchkit.ReadMachine()
	res.Elapsed = time.Since(began).Round(time.Second).String()
	return benchkit.WriteResults(cfg.Out, res.markdown(), res, res.Elapsed)
}

// measure runs the autoscaler's data path on the fleet for the warm-up
// and the window, and measures this process and the sidecars' (pid)
// over the window.
func measure(ctx context.Context, cfg runConfig, sidecarsPID int, logDir string) (results, error) {
	res := results{Config: cfg}
	logFile, err := os.Create(filepath.Join(logDir, "autoscaler.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, nil))

	// The data path as pkg/autoscaler/server wires it, with the pods'
	// addresses from the fleet rather than an informer.
	var c counters
	collector := metrics.NewCollector(metrics.Retention)
	client := metrics.NewScrapeClient()
	defer client.CloseIdleConnections()
	scrape := func(ctx context.Context, podIP string, since time.Time) (stats.Report, error) {
		start := time.Now()
		r, err := metrics.Scrape(ctx, client, podIP, since)
		c.scraped(time.Since(start), err)
		return r, err
	}
	pods := make(map[string][]string, cfg.Revisions)
	for r := range cfg.Revisions {
		pods[cfg.rev(r).Name] = cfg.podIPs(r)
	}
	revs := autoscaler.NewRevisions(decisionClock{c: &c}, collector, scrape,
		func(rev types.NamespacedName) []string { return pods[rev.Name] }, c.decided, log)
	defer revs.Stop()
	spec, err := scaling.SpecFor(nil, 0, true, config.DefaultAutoscaler())
	if err != nil {
		return res, err
	}

	benchkit.Progress("watching %d Revisions over %s, warming up for %s", cfg.Revisions, cfg.StartSpread, cfg.Warmup)
	step := cfg.StartSpread / time.Duration(cfg.Revisions)
	for r := range cfg.Revisions {
		revs.Watch(cfg.rev(r), metrics.Concurrency, &spec)
		if err := sleep(ctx, step); err != nil {
			return res, err
		}
	}
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return res, err
	}

	benchkit.Progress("measuring for %s", cfg.Duration)
	res.LoadAvg.Start = benchkit.LoadAverage()
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	sampled := sampleRuntime(sampleCtx)
	if cfg.Profile {
		f, err := os.Create(filepath.Join(cfg.Out, "cpu.pprof"))
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	before, err := readWindow(&c, sidecarsPID)
	if err != nil {
		return res, err
	}
	sleepErr := sleep(ctx, cfg.Duration)
	after, err := readWindow(&c, sidecarsPID)
	if cfg.Profile {
		pprof.StopCPUProfile()
		err = errors.Join(err, writeHeapProfile(filepath.Join(cfg.Out, "heap.pprof")))
	}
	stopSampling()
	res.Go = <-sampled
	if err := errors.Join(sleepErr, err); err != nil {
		return res, err
	}
	res.LoadAvg.End = benchkit.LoadAverage()
	res.fill(before, after)
	if res.Autoscaler, err = usage(os.Getpid(), after.self-before.self, after.at.Sub(before.at)); err != nil {
		return res, err
	}
	if res.Sidecars, err = usage(sidecarsPID, after.sidecars-before.sidecars, after.at.Sub(before.at)); err != nil {
		return res, err
	}
	if p := c.firstErr.Load(); p != nil {
		res.FirstScrapeError = *p
	}
	return res, nil
}

// window is a reading at one end of the measured window.
type window struct {
	at                   time.Time
	self, sidecars, busy time.Duration
	counts               tally
}

func readWindow(c *counters, sidecarsPID int) (window, error) {
	w := window{at: time.Now(), counts: c.read()}
	var errs [3]error
	w.self, errs[0] = benchkit.CPUTime(os.Getpid())
	w.sidecars, errs[1] = benchkit.CPUTime(sidecarsPID)
	w.busy, errs[2] = benchkit.MachineBusy()
	return w, errors.Join(errs[:]...)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// writeHeapProfile writes the heap's profile as of the last GC to file.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
}
