package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/repo"
	"flywheel.dev/test/bench/internal/benchkit"
)

// runConfig is everything `run` was asked to do.
type runConfig struct {
	UpRuns   int      `json:"upRuns"`
	Pods     int      `json:"pods"`
	Runs     int      `json:"runs"`
	Variants []string `json:"variants"`
	WorkDir  string   `json:"workDir"`
	// ControlPlaneBin, Out and Timeout say where and how long to run,
	// not what was measured.
	ControlPlaneBin string        `json:"-"`
	Out             string        `json:"-"`
	Timeout         time.Duration `json:"-"`
}

// bench is one invocation of `run`: the cluster it runs, if any, and
// where its logs go.
type bench struct {
	cfg    runConfig
	binDir string
	logDir string
	// app is the pods' image: ./podapp, built.
	app     string
	cluster *local.Flywheel
}

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg runConfig
	fs.StringVar(&cfg.Out, "out", "", "directory for results.json, results.md and the components' logs; a temporary one if empty")
	fs.StringVar(&cfg.ControlPlaneBin, "controlplane-bin", "",
		"directory holding etcd, kube-apiserver and kube-controller-manager (default $FLYWHEEL_CONTROLPLANE_BIN, else what hack/build-controlplane.sh prints)")
	fs.StringVar(&cfg.WorkDir, "work-dir", filepath.Join(os.TempDir(), "flywheel-bench-node"),
		"the cluster's work directory (component binaries, logs, the node's state); swept and emptied first, so that a killed run is cleaned up by the next")
	fs.IntVar(&cfg.UpRuns, "up-runs", 3, "bring the cluster up this many times; the first links the component binaries into the emptied work directory, later ones find them up to date")
	fs.IntVar(&cfg.Pods, "pods", 20, "pods per variant and run, created one after the other")
	fs.IntVar(&cfg.Runs, "runs", 1, "repeat the pod measurements this many times on the last cluster and report the median of each figure")
	variantNames := fs.String("variants", variantProbe+","+variantNoProbe,
		"pod variants: "+variantProbe+" (an HTTP readiness probe, periodSeconds 1), "+variantNoProbe+" (Ready once started)")
	fs.DurationVar(&cfg.Timeout, "timeout", 20*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Variants = benchkit.SplitList(*variantNames)
	var errs []error
	for _, v := range cfg.Variants {
		if v != variantProbe && v != variantNoProbe {
			errs = append(errs, fmt.Errorf("unknown variant %q: want %s or %s", v, variantProbe, variantNoProbe))
		}
	}
	if cfg.UpRuns < 1 || cfg.Pods < 1 || cfg.Runs < 1 {
		errs = append(errs, errors.New("--up-runs, --pods and --runs must be at least 1"))
	}
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("the process node needs root (network namespaces, veths, routes): run as root, e.g. through hack/bench-node.sh"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b := &bench{cfg: cfg, binDir: cfg.ControlPlaneBin}
	var err error
	if b.binDir == "" {
		if b.binDir, err = controlplanetest.FindBinDir(); err != nil {
			return err
		}
	}
	if b.cfg.Out == "" {
		if b.cfg.Out, err = os.MkdirTemp("", "bench-node-"); err != nil {
			return err
		}
	}
	b.logDir = filepath.Join(b.cfg.Out, "logs")
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return err
	}
	// A run that was killed left its node's namespaces, addresses and
	// processes recorded in the work directory.
	if err := node.Sweep(b.nodeDataDir()); err != nil {
		return fmt.Errorf("sweeping what an earlier run left in %s: %w", cfg.WorkDir, err)
	}
	if err := os.RemoveAll(cfg.WorkDir); err != nil {
		return err
	}
	if err := checkNoOtherNode(); err != nil {
		return err
	}
	// Whatever way the run ends (an error, Ctrl-C, the timeout), the
	// cluster stops, the node's traces go, and so does the work
	// directory once its logs are kept.
	defer func() {
		b.stopCluster("final")
		if err := node.Sweep(b.nodeDataDir()); err != nil {
			benchkit.Progress("%s is left for the next run to sweep: %v", cfg.WorkDir, err)
			return
		}
		if err := os.RemoveAll(cfg.WorkDir); err != nil {
			benchkit.Progress("removing the work directory: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	began := time.Now()
	res := results{Config: b.cfg, Machine: benchkit.ReadMachine()}
	if b.app, err = buildApp(ctx, b.cfg.Out); err != nil {
		return err
	}
	for i := range cfg.UpRuns {
		benchkit.Progress("up %d of %d", i+1, cfg.UpRuns)
		if i > 0 {
			res.Ups[i-1].Stop = b.stopCluster(fmt.Sprintf("up-%d", i))
		}
		u, err := b.up(ctx, i+1)
		if err != nil {
			// Another cluster may have come up since the check.
			return fmt.Errorf("up %d: %w (logs in %s)", i+1, errors.Join(err, checkNoOtherNode()), b.logDir)
		}
		benchkit.Progress("  all ready after %s", u.Total())
		res.Ups = append(res.Ups, u)
	}
	for r := range cfg.Runs {
		for _, v := range cfg.Variants {
			benchkit.Progress("pods, run %d of %d, %s", r+1, cfg.Runs, v)
			pr, err := b.measurePods(ctx, v, r)
			if err != nil {
				return fmt.Errorf("pods, run %d, %s: %w (logs in %s)", r+1, v, err, b.logDir)
			}
			res.PodRuns = append(res.PodRuns, pr)
		}
	}
	res.Elapsed = time.Since(began).Round(time.Second).String()
	return benchkit.WriteResults(b.cfg.Out, res.markdown(), res, res.Elapsed)
}

func (b *bench) nodeDataDir() string { return filepath.Join(b.cfg.WorkDir, "node") }

// stopCluster stops the cluster, if one runs, sweeps the node's data
// directory and moves the components' logs (also those of an up that
// failed) to the output directory, under label. It returns how long Stop
// took.
func (b *bench) stopCluster(label string) time.Duration {
	var took time.Duration
	if b.cluster != nil {
		began := time.Now()
		b.cluster.Stop()
		took = time.Since(began)
		b.cluster = nil
	}
	if err := node.Sweep(b.nodeDataDir()); err != nil {
		benchkit.Progress("sweeping the node's data directory: %v", err)
	}
	if err := b.saveLogs(label); err != nil {
		benchkit.Progress("keeping the logs: %v", err)
	}
	return took
}

// saveLogs moves the components' logs out of the work directory, so that
// the next up starts without them and they are kept.
func (b *bench) saveLogs(label string) error {
	logs, err := filepath.Glob(filepath.Join(b.cfg.WorkDir, "*.log"))
	if err != nil || len(logs) == 0 {
		return err
	}
	dir := filepath.Join(b.logDir, label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, l := range logs {
		errs = append(errs, os.Rename(l, filepath.Join(dir, filepath.Base(l))))
	}
	return errors.Join(errs...)
}

// checkNoOtherNode refuses to run beside another local cluster (`fw
// local up`, the e2e tests): its node holds the same pod range, so the
// node here would refuse to start, or the figures would include the other
// cluster's work. It looks for what a node puts on the host: a route
// into the pod range (its unreachable route, its pods' routes) or an
// address in it (the node's, on lo).
func checkNoOtherNode() error {
	podCIDR := netip.MustParsePrefix(node.DefaultPodCIDR)
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	var found []string
	for _, r := range routes {
		if r.Dst == nil || r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok && ones > 0 && netip.PrefixFrom(ip.Unmap(), ones).Overlaps(podCIDR) {
			found = append(found, "a route to "+r.Dst.String())
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && podCIDR.Contains(ip.Unmap()) {
			found = append(found, "the address "+a.IPNet.String())
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("another local cluster seems to be up on this host (%s, in the process node's pod range %s): "+
			"stop it first (fw local down, Ctrl-C on fw local up, or wait for the e2e tests to end)", strings.Join(found, ", "), podCIDR)
	}
	return nil
}

// buildApp builds ./podapp, the pods' image, into dir and returns its
// absolute path.
func buildApp(ctx context.Context, dir string) (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	out, err := filepath.Abs(filepath.Join(dir, "podapp"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./test/bench/node/podapp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./test/bench/node/podapp: %w\n%s", err, b)
	}
	return out, nil
}
