package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"flywheel.dev/pkg/queue"
)

// harness runs the benchmark: it owns the processes, the ports and the
// settings every measurement shares.
type harness struct {
	sup   *supervisor
	ports portPicker
	// self is this binary, which plays the app, the baseline and the
	// load generator; queueBin is the sidecar.
	self, queueBin string
	// podCPU runs the app and its proxy, as a 1-CPU pod; loadCPU runs
	// the load generator.
	podCPU, loadCPU int
	// sleep is the sleep app's latency.
	sleep            time.Duration
	warmup, duration time.Duration
	// disturbed is how much CPU, in cores, other processes may use during
	// a window before the level is measured again.
	disturbed float64
	// quietBudget is what is left of the run's time for waiting until
	// other processes quieten down.
	quietBudget time.Duration

	statsOnce sync.Once
	stats     bool
}

// runConfig is everything `run` was asked to do.
type runConfig struct {
	Apps        []string        `json:"apps"`
	Variants    []string        `json:"variants"`
	Levels      []int           `json:"concurrency"`
	Runs        int             `json:"runs"`
	Warmup      time.Duration   `json:"warmup"`
	Duration    time.Duration   `json:"duration"`
	Sleep       time.Duration   `json:"sleep"`
	ReadyReps   int             `json:"readyReps"`
	ReadyDelays []time.Duration `json:"readyAppDelays"`
	Overload    bool            `json:"overload"`
	Profile     bool            `json:"profile"`
	Disturbed   float64         `json:"disturbed"`
	Retries     int             `json:"retries"`
	QuietWait   time.Duration   `json:"quietWait"`
	PodCPU      int             `json:"podCPU"`
	LoadCPU     int             `json:"loadCPU"`
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
	queueBin := fs.String("queue", "", "the sidecar binary (go build ./cmd/queue); required")
	out := fs.String("out", "", "directory for results.json, results.md, profiles and process logs; a temporary one if empty")
	apps := fs.String("apps", appHello+","+appSleep, "apps to serve, comma-separated")
	variantNames := fs.String("variants", "direct,baseline,port,transparent",
		"variants to measure, comma-separated (transparent needs root, ip, iptables and setpriv)")
	levels := fs.String("concurrency", "1,10,50,200", "closed-loop client counts, comma-separated")
	runs := fs.Int("runs", 1, "repeat everything this many times and report the median of each figure")
	warmup := fs.Duration("warmup", time.Second, "load before each measured window")
	duration := fs.Duration("duration", 5*time.Second, "each measured window")
	sleep := fs.Duration("sleep", 50*time.Millisecond, "the sleep app's latency")
	readyReps := fs.Int("ready-reps", 10, "exec → ready repetitions per app start delay and run")
	readyDelays := fs.String("ready-app-delays", "0s,500ms", "how long the app works before it listens, in the exec → ready runs")
	overload := fs.Bool("overload", true, "run the overload scenario")
	profile := fs.Bool("profile", true, "take 5 s CPU profiles of the sidecar and the baseline (hello app, concurrency 50)")
	podCPU := fs.Int("pod-cpu", 0, "core of the app and its proxy")
	loadCPU := fs.Int("load-cpu", 1, "core of the load generator")
	disturbed := fs.Float64("disturbed", 10, "measure a level again when other processes used more than this % of a core meanwhile")
	retries := fs.Int("retries", 8, "most levels measured again per run, which bounds the time a busy machine adds")
	quietWait := fs.Duration("quiet-wait", time.Minute, "most time per run spent waiting, before levels, for other processes to quieten")
	timeout := fs.Duration("timeout", 25*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := runConfig{
		Runs: *runs, Warmup: *warmup, Duration: *duration, Sleep: *sleep, ReadyReps: *readyReps,
		Overload: *overload, Profile: *profile, PodCPU: *podCPU, LoadCPU: *loadCPU,
		Disturbed: *disturbed / 100, Retries: *retries, QuietWait: *quietWait,
		Apps: splitList(*apps), Variants: splitList(*variantNames),
	}
	var errs []error
	if *queueBin == "" {
		errs = append(errs, errors.New("--queue is required"))
	}
	for _, a := range cfg.Apps {
		if a != appHello && a != appSleep {
			errs = append(errs, fmt.Errorf("unknown app %q", a))
		}
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
	for _, s := range splitList(*levels) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("concurrency %q is not a positive number", s))
		}
		cfg.Levels = append(cfg.Levels, n)
	}
	for _, s := range splitList(*readyDelays) {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("app start delay %q: %w", s, err))
		}
		cfg.ReadyDelays = append(cfg.ReadyDelays, d)
	}
	if cfg.Runs < 1 || cfg.PodCPU == cfg.LoadCPU {
		errs = append(errs, errors.New("--runs must be at least 1 and --pod-cpu differ from --load-cpu"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *out == "" {
		if *out, err = os.MkdirTemp("", "bench-queue-"); err != nil {
			return err
		}
	}
	logDir := filepath.Join(*out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	h := &harness{
		sup: newSupervisor(logDir), self: self, queueBin: *queueBin,
		podCPU: cfg.PodCPU, loadCPU: cfg.LoadCPU, sleep: cfg.Sleep, warmup: cfg.Warmup, duration: cfg.Duration,
		disturbed: cfg.Disturbed,
	}
	// Every process ends with the harness, whatever way it returns.
	defer h.sup.stopAll()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if slices.Contains(cfg.Variants, string(queue.ModeTransparent)) {
		sweepSandboxes(ctx)
	}

	began := time.Now()
	res := results{Config: cfg, Machine: readMachine()}
	for i := range cfg.Runs {
		progress("run %d of %d", i+1, cfg.Runs)
		r, err := h.oneRun(ctx, cfg, chosen)
		if err != nil {
			return fmt.Errorf("run %d: %w (process logs in %s)", i+1, err, logDir)
		}
		res.Runs = append(res.Runs, r)
	}
	if cfg.Profile {
		if res.Profiles, err = h.profileProxies(ctx, *out, cfg.Variants); err != nil {
			return fmt.Errorf("profiling: %w", err)
		}
	}
	res.StatsServed = h.stats
	res.Elapsed = time.Since(began).Round(time.Second).String()

	report := res.markdown()
	fmt.Print(report)
	if err := os.WriteFile(filepath.Join(*out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.json"), b, 0o644); err != nil {
		return err
	}
	progress("done in %s; results, profiles and logs in %s", res.Elapsed, *out)
	return nil
}

// oneRun measures every app × variant × level, then start-up, then
// overload. Each level gets fresh processes, so that one level's peak
// memory or warm caches do not colour the next.
func (h *harness) oneRun(ctx context.Context, cfg runConfig, chosen []variant) (runResult, error) {
	r := runResult{LoadAvg: loadAverage()}
	retries := cfg.Retries
	h.quietBudget = cfg.QuietWait
	for _, app := range cfg.Apps {
		for _, v := range chosen {
			for _, c := range cfg.Levels {
				label := fmt.Sprintf("%-5s %-11s c=%-3d", app, v.name, c)
				lr, attempts, err := h.measureUndisturbed(ctx, label, v, podOptions{app: app, concurrency: c, containerConcurrency: throughputContainerConcurrency}, &retries)
				if err != nil {
					return r, fmt.Errorf("%s app, %s, concurrency %d: %w", app, v.name, c, err)
				}
				r.Cells = append(r.Cells, cell{App: app, Variant: v.name, Concurrency: c, Attempts: attempts, Result: lr})
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
		progress("  exec → ready measured %d times with app start delay %s", cfg.ReadyReps, d)
	}
	if cfg.Overload {
		lr, _, err := h.measureUndisturbed(ctx, "overload", variant{name: "port", start: startPortSidecar}, podOptions{
			app: appSleep, concurrency: overloadClients, containerConcurrency: overloadContainerConcurrency,
		}, &retries)
		if err != nil {
			return r, fmt.Errorf("overload: %w", err)
		}
		progress("  overload: %.0f 200s/s, %.0f 503s/s", float64(lr.ok())/lr.Seconds, float64(lr.Status[http.StatusServiceUnavailable])/lr.Seconds)
		r.Overload = &lr
	}
	return r, nil
}

// measureUndisturbed measures a level, and measures it again while other
// processes on the machine took more than h.disturbed of a core during
// the window, as long as the run's budget of retries lasts. It returns the
// least disturbed attempt and how many were made.
func (h *harness) measureUndisturbed(ctx context.Context, label string, v variant, o podOptions, retries *int) (loadResult, int, error) {
	var best loadResult
	for attempt := 1; ; attempt++ {
		if err := h.waitQuiet(ctx, label); err != nil {
			return loadResult{}, attempt, err
		}
		lr, err := h.measureLevel(ctx, v, o)
		if err != nil {
			return loadResult{}, attempt, err
		}
		progress("  %s %8.0f req/s  p99 %7.2f ms  errors %d  CPU elsewhere %3.0f%%",
			label, float64(lr.ok())/lr.Seconds, lr.Latency["ok"].P99, lr.errors(), 100*lr.OtherCPU)
		if attempt == 1 || lr.OtherCPU < best.OtherCPU {
			best = lr
		}
		if lr.OtherCPU <= h.disturbed || *retries <= 0 {
			return best, attempt, nil
		}
		*retries--
		progress("  %s disturbed by other processes; measuring again (%d retries left in this run)", label, *retries)
	}
}

// quietSample is how long waitQuiet watches the machine at a time.
const quietSample = 250 * time.Millisecond

// waitQuiet waits, within what is left of the run's budget, until
// processes other than the harness use at most h.disturbed of a core.
// Nothing of the benchmark's runs between levels, so whatever is busy
// then would disturb the next level.
func (h *harness) waitQuiet(ctx context.Context, label string) error {
	announced := false
	for {
		before, err := machineBusy()
		if err != nil {
			return err
		}
		self, err := cpuTime(os.Getpid())
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(quietSample):
		}
		after, err := machineBusy()
		if err != nil {
			return err
		}
		selfAfter, err := cpuTime(os.Getpid())
		if err != nil {
			return err
		}
		others := ((after - before) - (selfAfter - self)).Seconds() / quietSample.Seconds()
		if others <= h.disturbed || h.quietBudget <= 0 {
			return nil
		}
		if !announced {
			progress("  %s waiting for other processes to quieten (%.0f%% of a core busy; up to %s more in this run)",
				label, 100*others, h.quietBudget.Round(time.Second))
			announced = true
		}
		h.quietBudget -= quietSample
	}
}

// measureLevel starts a fresh pod of v, loads it with o.concurrency
// clients and stops it.
func (h *harness) measureLevel(ctx context.Context, v variant, o podOptions) (loadResult, error) {
	pd, err := v.start(ctx, h, o)
	if err != nil {
		return loadResult{}, err
	}
	defer h.stopPod(pd)
	return h.load(ctx, pd, o.concurrency, h.warmup, h.duration)
}

// load runs the load generator, pinned to the load core, against pd.
func (h *harness) load(ctx context.Context, pd *pod, concurrency int, warmup, duration time.Duration) (loadResult, error) {
	argv := []string{h.self, "load", "--url", pd.url, "--concurrency", strconv.Itoa(concurrency),
		"--warmup", warmup.String(), "--duration", duration.String(),
		"--watch", "app=" + strconv.Itoa(pd.app.pid())}
	if pd.proxy != nil {
		argv = append(argv, "--watch", "proxy="+strconv.Itoa(pd.proxy.pid()))
	}
	if pd.stats != "" {
		argv = append(argv, "--scrape", pd.stats)
	}
	var stdout bytes.Buffer
	o := startOptions{cpu: h.loadCPU, stdout: &stdout}
	if pd.sandbox != nil {
		o.netns = pd.sandbox.name
	}
	if err := h.sup.run(ctx, "load", o, argv...); err != nil {
		return loadResult{}, err
	}
	var lr loadResult
	if err := json.Unmarshal(stdout.Bytes(), &lr); err != nil {
		return loadResult{}, fmt.Errorf("reading the load generator's result %q: %w", stdout.String(), err)
	}
	// A proxy that died under load would otherwise show as errors only.
	for _, p := range []*proc{pd.app, pd.proxy} {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
			return loadResult{}, p.failure(fmt.Errorf("exited during the load: %w", p.exit()))
		default:
		}
	}
	return lr, nil
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
		pd, err := v.start(ctx, h, podOptions{app: appHello, concurrency: profileConcurrency,
			containerConcurrency: throughputContainerConcurrency, profile: true})
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, fmt.Sprintf("cpu-%s-hello-c%d.pprof", name, profileConcurrency))
		err = h.profileUnderLoad(ctx, pd, file)
		h.stopPod(pd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		progress("  profiled %s: %s", name, file)
		files = append(files, file)
	}
	return files, nil
}

// profileSeconds is the length of each CPU profile.
const profileSeconds = 5

func (h *harness) profileUnderLoad(ctx context.Context, pd *pod, file string) error {
	loadDone := make(chan error, 1)
	go func() {
		// Warm up, then profile for profileSeconds within the window.
		_, err := h.load(ctx, pd, profileConcurrency, h.warmup, (profileSeconds+1)*time.Second)
		loadDone <- err
	}()
	select {
	case <-time.After(h.warmup):
	case err := <-loadDone:
		return fmt.Errorf("load ended before profiling: %w", err)
	}
	err := fetchProfile(ctx, pd.profile, file)
	return errors.Join(err, <-loadDone)
}

func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?seconds="+strconv.Itoa(profileSeconds), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: (profileSeconds + 10) * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
