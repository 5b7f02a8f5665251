package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
)

// loadTick is how long every simulated request lasts: at each tick the
// requests in flight end and the next ones begin.
const loadTick = 250 * time.Millisecond

// sidecarCounts is what the sidecars' process prints on stdout as it
// exits.
type sidecarCounts struct {
	// Connections counts the connections the sidecars accepted; Reports
	// the reports they served.
	Connections int64 `json:"connections"`
	Reports     int64 `json:"reports"`
}

// simPod is one simulated pod: its sidecar's tracker and the requests
// it has in flight.
type simPod struct {
	rev, index int
	tracker    *stats.Tracker
	report     http.Handler
	inFlight   int
}

// sidecars serves every simulated pod's report on the pod's own address.
type sidecars struct {
	byAddr      map[netip.Addr]*simPod
	connections atomic.Int64
	reports     atomic.Int64
}

func sidecarsMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sidecars", flag.ContinueOnError)
	var f fleet
	fs.IntVar(&f.Revisions, "revisions", 1000, "simulated Revisions")
	fs.IntVar(&f.Pods, "pods", 3, "pods per Revision")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	// A listener per pod and, at worst, a connection per pod besides.
	if err := raiseFileLimit(uint64(2*f.total() + 256)); err != nil {
		return err
	}
	// Serving fails or the harness ends the process: either way the
	// load and the server stop.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &sidecars{byAddr: make(map[netip.Addr]*simPod, f.total())}
	pods := make([]*simPod, 0, f.total())
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	clk := clock.RealClock{}
	for r := range f.Revisions {
		rev := f.rev(r)
		for j := range f.Pods {
			// Wall-clock seconds, as a real sidecar counts them.
			p := &simPod{rev: r, index: j, tracker: stats.NewWallClockTracker(clk)}
			p.report = stats.ReportHandler(p.tracker, stats.Labels{
				Namespace: rev.Namespace, Service: rev.Name, Configuration: rev.Name, Revision: rev.Name, Pod: f.podName(r, j),
			})
			addr := f.podAddr(r, j)
			l, err := net.Listen("tcp", netip.AddrPortFrom(addr, queue.MetricsPort).String())
			if err != nil {
				return fmt.Errorf("listening as pod %s: %w", f.podName(r, j), err)
			}
			listeners = append(listeners, l)
			s.byAddr[addr] = p
			pods = append(pods, p)
		}
	}

	// One server on every pod's listener, as the sidecar's metrics port
	// is served (ReadHeaderTimeout included); the handler finds the pod
	// by the address the connection came in on.
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.connections.Add(1)
			}
		},
	}
	var wg sync.WaitGroup
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		wg.Go(func() {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
	}
	listeners = nil // the server closes them now
	wg.Go(func() { drive(ctx, f, pods) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	cancel()
	err = errors.Join(err, srv.Close())
	wg.Wait()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(sidecarCounts{Connections: s.connections.Load(), Reports: s.reports.Load()})
}

// ServeHTTP answers the report of the pod whose address the request came
// to.
func (s *sidecars) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p *simPod
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			p = s.byAddr[ip.Unmap()]
		}
	}
	if p == nil || r.URL.Path != queue.StatsPath {
		http.NotFound(w, r)
		return
	}
	s.reports.Add(1)
	p.report.ServeHTTP(w, r)
}

// drive feeds every pod's tracker its requests until ctx ends: at each
// loadTick the requests in flight end and as many begin as the pod's
// concurrency says, rounded at random so that its average over the ticks
// is the curve's; and a probe a second, spread over the ticks.
func drive(ctx context.Context, f fleet, pods []*simPod) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	ticker := time.NewTicker(loadTick)
	defer ticker.Stop()
	const ticksPerSecond = int(time.Second / loadTick)
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			t := now.Sub(start)
			for i, p := range pods {
				for range p.inFlight {
					p.tracker.Out(stats.Proxied)
				}
				p.inFlight = roundAtRandom(f.concurrency(p.rev, p.index, t), rng.Float64())
				for range p.inFlight {
					p.tracker.In(stats.Proxied)
				}
				if (tick+i)%ticksPerSecond == 0 {
					p.tracker.In(stats.Probe)
					p.tracker.Out(stats.Probe)
				}
			}
		}
	}
}

// roundAtRandom rounds x ≥ 0 up with the probability of its fraction,
// given u uniform in [0, 1): on average, x.
func roundAtRandom(x, u float64) int {
	n := int(x)
	if u < x-float64(n) {
		n++
	}
	return n
}
