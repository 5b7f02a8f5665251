package benchkit

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
	"time"
)

// Settings are the flags of `run` that every benchmark shares.
type Settings struct {
	Apps      []string      `json:"apps"`
	Levels    []int         `json:"concurrency"`
	Runs      int           `json:"runs"`
	Warmup    time.Duration `json:"warmup"`
	Duration  time.Duration `json:"duration"`
	Sleep     time.Duration `json:"sleep"`
	Disturbed float64       `json:"disturbed"`
	Retries   int           `json:"retries"`
	QuietWait time.Duration `json:"quietWait"`
	PodCPU    int           `json:"podCPU"`
	LoadCPU   int           `json:"loadCPU"`
	// Out and Timeout say where and how long to run, not what was
	// measured.
	Out     string        `json:"-"`
	Timeout time.Duration `json:"-"`

	apps, levels string
	disturbedPct float64
}

// RegisterFlags defines the shared flags on fs; levels is the default
// of --concurrency. Call Parse once fs is parsed.
func (s *Settings) RegisterFlags(fs *flag.FlagSet, levels string) {
	fs.StringVar(&s.Out, "out", "", "directory for results.json, results.md, profiles and process logs; a temporary one if empty")
	fs.StringVar(&s.apps, "apps", AppHello+","+AppSleep, "apps to serve, comma-separated")
	fs.StringVar(&s.levels, "concurrency", levels, "closed-loop client counts, comma-separated")
	fs.IntVar(&s.Runs, "runs", 1, "repeat everything this many times and report the median of each figure")
	fs.DurationVar(&s.Warmup, "warmup", time.Second, "load before each measured window")
	fs.DurationVar(&s.Duration, "duration", 5*time.Second, "each measured window")
	fs.DurationVar(&s.Sleep, "sleep", 50*time.Millisecond, "the sleep app's latency")
	fs.IntVar(&s.PodCPU, "pod-cpu", 0, "core of the app and its proxy")
	fs.IntVar(&s.LoadCPU, "load-cpu", 1, "core of the load generator")
	fs.Float64Var(&s.disturbedPct, "disturbed", 10, "measure a level again when other processes used more than this % of a core meanwhile")
	fs.IntVar(&s.Retries, "retries", 8, "most levels measured again per run, which bounds the time a busy machine adds")
	fs.DurationVar(&s.QuietWait, "quiet-wait", time.Minute, "most time per run spent waiting, before levels, for other processes to quieten")
	fs.DurationVar(&s.Timeout, "timeout", 25*time.Minute, "give up after this long")
}

// Parse checks the shared flags and fills in the lists; it returns every
// problem at once.
func (s *Settings) Parse() error {
	var errs []error
	s.Disturbed = s.disturbedPct / 100
	s.Apps = SplitList(s.apps)
	for _, a := range s.Apps {
		if a != AppHello && a != AppSleep {
			errs = append(errs, fmt.Errorf("unknown app %q", a))
		}
	}
	for _, f := range SplitList(s.levels) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("concurrency %q is not a positive number", f))
		}
		s.Levels = append(s.Levels, n)
	}
	if s.Runs < 1 || s.PodCPU == s.LoadCPU {
		errs = append(errs, errors.New("--runs must be at least 1 and --pod-cpu differ from --load-cpu"))
	}
	return errors.Join(errs...)
}

// Harness owns a benchmark's processes, its ports and the settings every
// measurement shares.
type Harness struct {
	Sup   *Supervisor
	Ports PortPicker
	// Self is the benchmark's binary, which plays the app, the baseline
	// and the load generator.
	Self string
	// PodCPU runs the app and the proxies in front of it, as a 1-CPU
	// pod; LoadCPU runs the load generator.
	PodCPU, LoadCPU int
	// Sleep is the sleep app's latency.
	Sleep            time.Duration
	Warmup, Duration time.Duration
	// LogDir holds every process's log.
	LogDir string
}

// NewHarness makes the output directory (a temporary one when s.Out is
// empty, which it then names) and a harness that logs under it. The
// caller ends every process with h.Sup.StopAll.
func NewHarness(s *Settings, tempPrefix string) (*Harness, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if s.Out == "" {
		if s.Out, err = os.MkdirTemp("", tempPrefix); err != nil {
			return nil, err
		}
	}
	logDir := filepath.Join(s.Out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	return &Harness{
		Sup: NewSupervisor(logDir), Self: self, LogDir: logDir,
		PodCPU: s.PodCPU, LoadCPU: s.LoadCPU, Sleep: s.Sleep, Warmup: s.Warmup, Duration: s.Duration,
	}, nil
}

// PickPorts returns n ports.
func (h *Harness) PickPorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := h.Ports.Pick()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

// StartApp starts an app pinned to the pod's core and waits until it
// serves.
func (h *Harness) StartApp(ctx context.Context, app string) (*Proc, int, error) {
	port, err := h.Ports.Pick()
	if err != nil {
		return nil, 0, err
	}
	p, err := h.Sup.Start("app-"+app, StartOptions{CPU: h.PodCPU}, h.AppArgv(app, port)...)
	if err != nil {
		return nil, 0, err
	}
	if err := WaitOK(ctx, p, fmt.Sprintf("http://127.0.0.1:%d%s", port, HealthPath), 10*time.Second); err != nil {
		h.Sup.Stop(p)
		return nil, 0, err
	}
	return p, port, nil
}

// AppArgv is the command line of an app listening on port.
func (h *Harness) AppArgv(app string, port int, extra ...string) []string {
	argv := []string{h.Self, "app", "--mode", app, "--delay", h.Sleep.String(), "--listen", "127.0.0.1:" + strconv.Itoa(port)}
	return append(argv, extra...)
}

// Baseline is a started baseline reverse proxy.
type Baseline struct {
	Proc *Proc
	// Addr (host:port) and URL are where it serves proxied requests;
	// Profile, when asked for, is its CPU profile's URL.
	Addr, URL, Profile string
}

// StartBaseline starts the baseline in front of target (host:port),
// pinned to the pod's core, with idle connections for concurrency
// clients, and waits until it serves.
func (h *Harness) StartBaseline(ctx context.Context, target string, concurrency int, profile bool) (*Baseline, error) {
	ports, err := h.PickPorts(3)
	if err != nil {
		return nil, err
	}
	serving, admin, prof := ports[0], ports[1], ports[2]
	argv := []string{h.Self, "baseline",
		"--listen", "127.0.0.1:" + strconv.Itoa(serving),
		"--target", target,
		"--admin", "127.0.0.1:" + strconv.Itoa(admin),
		"--max-idle", strconv.Itoa(max(concurrency, 1)),
	}
	b := &Baseline{Addr: "127.0.0.1:" + strconv.Itoa(serving)}
	b.URL = "http://" + b.Addr + "/"
	if profile {
		argv = append(argv, "--pprof", "127.0.0.1:"+strconv.Itoa(prof))
		b.Profile = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", prof)
	}
	if b.Proc, err = h.Sup.Start("baseline", StartOptions{CPU: h.PodCPU}, argv...); err != nil {
		return nil, err
	}
	if err := WaitOK(ctx, b.Proc, fmt.Sprintf("http://127.0.0.1:%d/", admin), 10*time.Second); err != nil {
		h.Sup.Stop(b.Proc)
		return nil, err
	}
	return b, nil
}

// Target is what a load level is sent to and watches.
type Target struct {
	URL string
	// Host, when set, is the Host header of every request.
	Host string
	// Watch maps a role ("app", "proxy", …) to the process whose CPU and
	// memory the result reports.
	Watch map[string]*Proc
	// Scrape, when set, is fetched once a second meanwhile.
	Scrape string
	// Netns runs the load generator in that network namespace.
	Netns string
}

// Load runs the load generator, pinned to the load core, against t.
func (h *Harness) Load(ctx context.Context, t Target, concurrency int, warmup, duration time.Duration) (LoadResult, error) {
	argv := []string{h.Self, "load", "--url", t.URL, "--concurrency", strconv.Itoa(concurrency),
		"--warmup", warmup.String(), "--duration", duration.String()}
	if t.Host != "" {
		argv = append(argv, "--host", t.Host)
	}
	roles := slices.Sorted(func(yield func(string) bool) {
		for role := range t.Watch {
			if !yield(role) {
				return
			}
		}
	})
	for _, role := range roles {
		argv = append(argv, "--watch", role+"="+strconv.Itoa(t.Watch[role].PID()))
	}
	if t.Scrape != "" {
		argv = append(argv, "--scrape", t.Scrape)
	}
	var stdout bytes.Buffer
	if err := h.Sup.Run(ctx, "load", StartOptions{CPU: h.LoadCPU, Stdout: &stdout, Netns: t.Netns}, argv...); err != nil {
		return LoadResult{}, err
	}
	var lr LoadResult
	if err := json.Unmarshal(stdout.Bytes(), &lr); err != nil {
		return LoadResult{}, fmt.Errorf("reading the load generator's result %q: %w", stdout.String(), err)
	}
	// A proxy that died under load would otherwise show as errors only.
	for _, role := range roles {
		p := t.Watch[role]
		select {
		case <-p.Done():
			return LoadResult{}, p.Failure(fmt.Errorf("exited during the load: %w", p.Exit()))
		default:
		}
	}
	return lr, nil
}

// ProfileSeconds is the length of each CPU profile.
const ProfileSeconds = 5

// ProfileUnderLoad loads t with concurrency clients and meanwhile writes
// a CPU profile of ProfileSeconds from profileURL (a /debug/pprof/profile
// endpoint) to file.
func (h *Harness) ProfileUnderLoad(ctx context.Context, t Target, concurrency int, profileURL, file string) error {
	loadDone := make(chan error, 1)
	go func() {
		// Warm up, then profile for ProfileSeconds within the window.
		_, err := h.Load(ctx, t, concurrency, h.Warmup, (ProfileSeconds+1)*time.Second)
		loadDone <- err
	}()
	select {
	case <-time.After(h.Warmup):
	case err := <-loadDone:
		return fmt.Errorf("load ended before profiling: %w", err)
	}
	err := fetchProfile(ctx, profileURL, file)
	return errors.Join(err, <-loadDone)
}

func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?seconds="+strconv.Itoa(ProfileSeconds), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: (ProfileSeconds + 10) * time.Second}).Do(req)
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

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Progress logs a line of the harness's progress on standard error.
func Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
