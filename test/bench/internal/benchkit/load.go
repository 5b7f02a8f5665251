package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadResult is what one load level measured, over its window only.
type LoadResult struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	// Status counts the responses that completed in the window, by code.
	Status map[int]int `json:"status"`
	// TransportErrors counts requests that got no response at all.
	TransportErrors int `json:"transportErrors"`
	// Latency summarises response times by class: "ok" (2xx), "503",
	// "other".
	Latency map[string]Latency `json:"latency"`
	// Procs holds, for each watched process by role, the CPU it used in
	// the window and its memory at the end.
	Procs map[string]ProcSample `json:"procs"`
	// OtherCPU is the CPU that processes other than the watched ones and
	// the generator used in the window, in cores: other tenants of the
	// machine. Well above zero, the level's figures are disturbed.
	OtherCPU float64 `json:"otherCPU"`
	// Scrapes and ScrapeErrors count the stats scrapes made meanwhile.
	Scrapes      int `json:"scrapes"`
	ScrapeErrors int `json:"scrapeErrors"`
}

// Latency is a summary of sorted response times, in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ProcSample is one watched process over a window: the CPU time and the
// read and write system calls it used, and its memory at the end.
type ProcSample struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	Syscalls   int64   `json:"syscalls"`
	Memory
}

// Completed counts every response in the window, whatever its status.
func (r LoadResult) Completed() int {
	n := 0
	for _, c := range r.Status {
		n += c
	}
	return n
}

// OK counts the 2xx responses in the window.
func (r LoadResult) OK() int {
	n := 0
	for code, c := range r.Status {
		if code >= 200 && code < 300 {
			n += c
		}
	}
	return n
}

// Errors counts the requests of the window that did not get a 2xx.
func (r LoadResult) Errors() int { return r.Completed() - r.OK() + r.TransportErrors }

// Summarise sorts d and returns its percentiles (nearest rank).
func Summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Latency{N: len(d), P50: ms(rank(0.50)), P90: ms(rank(0.90)), P95: ms(rank(0.95)), P99: ms(rank(0.99)), Max: ms(d[len(d)-1])}
}

// LoadConfig is one closed-loop load level.
type LoadConfig struct {
	URL string
	// Host, when set, is the Host header of every request, for a proxy
	// that routes by host.
	Host        string
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	// Watch maps a role ("proxy", "app") to the pid whose CPU and memory
	// the result reports.
	Watch map[string]int
	// Scrape, when set, is fetched once a second, as the autoscaler
	// scrapes a pod's stats.
	Scrape string
}

// LoadMain is the load generator: it runs one closed-loop level as its
// flags say and prints the LoadResult as JSON on standard output.
func LoadMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cfg LoadConfig
	fs.StringVar(&cfg.URL, "url", "", "URL to load")
	fs.StringVar(&cfg.Host, "host", "", "Host header of every request; empty uses the URL's")
	fs.IntVar(&cfg.Concurrency, "concurrency", 1, "closed-loop clients, each with its own keep-alive connection")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "load before the measured window")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "the measured window")
	fs.StringVar(&cfg.Scrape, "scrape", "", "URL to fetch once a second meanwhile (stats)")
	cfg.Watch = map[string]int{}
	fs.Func("watch", "role=pid of a process to measure; repeatable", func(s string) error {
		role, pid, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || role == "" {
			return fmt.Errorf("want role=pid, got %q", s)
		}
		cfg.Watch[role] = n
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.URL == "" || cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return errors.New("--url, --concurrency ≥ 1 and --duration > 0 are required")
	}
	// The clients allocate a few KiB per request; collecting less often
	// keeps the generator's own pauses out of the latencies it records.
	debug.SetGCPercent(400)
	res, err := RunLoad(ctx, cfg)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// worker is one closed-loop client's record, kept apart from the others'
// so that recording takes no lock.
type worker struct {
	ok, rejected, other []time.Duration
	status              map[int]int
	transportErrors     int
}

// RunLoad drives cfg.Concurrency clients, each sending its next request as
// soon as the last one's body is read, and records the requests that
// complete within the window after the warm-up. Requests still in flight
// when the window closes are abandoned uncounted.
func RunLoad(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	transport := &http.Transport{
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	start := time.Now()
	windowStart := start.Add(cfg.Warmup)
	windowEnd := windowStart.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, windowEnd)
	defer cancel()

	// The watched processes are sampled as the window opens and closes,
	// off the clients' goroutines.
	samples := make(chan map[string]ProcSample, 1)
	sampleErr := make(chan error, 1)
	// The generator watches itself too, so that what the machine did
	// besides the measured processes can be told apart.
	watch := maps.Clone(cfg.Watch)
	watch[LoadRole] = os.Getpid()
	var otherCPU float64
	go func() {
		// A first look checks the pids before the load starts.
		_, err := sampleUsage(watch)
		var before, after map[string]usage
		var busyBefore, busyAfter time.Duration
		if err == nil {
			time.Sleep(time.Until(windowStart))
			before, err = sampleUsage(watch)
			busyBefore, _ = MachineBusy()
		}
		if err == nil {
			time.Sleep(time.Until(windowEnd))
			after, err = sampleUsage(watch)
			busyAfter, _ = MachineBusy()
		}
		out := map[string]ProcSample{}
		others := busyAfter - busyBefore
		for role, pid := range watch {
			if err != nil {
				break
			}
			var m Memory
			m, err = ReadMemory(pid)
			out[role] = ProcSample{
				CPUSeconds: (after[role].cpu - before[role].cpu).Seconds(),
				Syscalls:   after[role].syscalls - before[role].syscalls,
				Memory:     m,
			}
			others -= after[role].cpu - before[role].cpu
		}
		if busyBefore > 0 && busyAfter > 0 {
			otherCPU = max(others.Seconds(), 0) / cfg.Duration.Seconds()
		}
		samples <- out
		sampleErr <- err
	}()

	var scrapes, scrapeErrors int
	var wg sync.WaitGroup
	if cfg.Scrape != "" {
		wg.Go(func() { scrapes, scrapeErrors = scrapeEverySecond(ctx, cfg.Scrape) })
	}
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		w := &worker{status: map[int]int{}}
		workers[i] = w
		wg.Go(func() { w.run(ctx, client, cfg.URL, cfg.Host, windowStart, windowEnd) })
	}
	wg.Wait()
	if err := <-sampleErr; err != nil {
		return LoadResult{}, fmt.Errorf("measuring the watched processes: %w", err)
	}

	res := LoadResult{
		Concurrency:  cfg.Concurrency,
		Seconds:      cfg.Duration.Seconds(),
		Status:       map[int]int{},
		Latency:      map[string]Latency{},
		Procs:        <-samples,
		Scrapes:      scrapes,
		ScrapeErrors: scrapeErrors,
		OtherCPU:     otherCPU,
	}
	var ok, rejected, other []time.Duration
	for _, w := range workers {
		ok = append(ok, w.ok...)
		rejected = append(rejected, w.rejected...)
		other = append(other, w.other...)
		for code, n := range w.status {
			res.Status[code] += n
		}
		res.TransportErrors += w.transportErrors
	}
	for class, d := range map[string][]time.Duration{"ok": ok, "503": rejected, "other": other} {
		if len(d) > 0 {
			res.Latency[class] = Summarise(d)
		}
	}
	return res, nil
}

func (w *worker) run(ctx context.Context, client *http.Client, url, host string, windowStart, windowEnd time.Time) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		w.transportErrors++
		return
	}
	if host != "" {
		req.Host = host
	}
	for ctx.Err() == nil {
		t0 := time.Now()
		resp, err := client.Do(req)
		code := 0
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		t1 := time.Now()
		if err != nil && ctx.Err() == nil {
			// A refused or reset connection fails at once; do not spin.
			time.Sleep(time.Millisecond)
		}
		if t1.Before(windowStart) || t1.After(windowEnd) || ctx.Err() != nil {
			continue
		}
		d := t1.Sub(t0)
		switch {
		case err != nil:
			w.transportErrors++
		case code >= 200 && code < 300:
			w.status[code]++
			w.ok = append(w.ok, d)
		case code == http.StatusServiceUnavailable:
			w.status[code]++
			w.rejected = append(w.rejected, d)
		default:
			w.status[code]++
			w.other = append(w.other, d)
		}
	}
}

// LoadRole names the load generator among the watched processes.
const LoadRole = "load"

// usage is what a process has consumed so far.
type usage struct {
	cpu      time.Duration
	syscalls int64
}

func sampleUsage(watch map[string]int) (map[string]usage, error) {
	out := make(map[string]usage, len(watch))
	for role, pid := range watch {
		cpu, err := CPUTime(pid)
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", role, pid, err)
		}
		n, err := Syscalls(pid)
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", role, pid, err)
		}
		out[role] = usage{cpu: cpu, syscalls: n}
	}
	return out, nil
}

func scrapeEverySecond(ctx context.Context, url string) (scrapes, failures int) {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return scrapes, failures
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return scrapes, failures + 1
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				failures++
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			failures++
			continue
		}
		scrapes++
	}
}
