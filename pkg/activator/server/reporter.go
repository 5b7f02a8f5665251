package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	discoveryv1listers "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/queue/stats"
)

// reporter sends the autoscaler an activator.Stat for each Revision with load every
// second, and one at once for a Revision a request waits for with no pod.
type reporter struct {
	// url returns where reports go now.
	url      func() (string, error)
	client   *http.Client
	pod      string
	registry *registry
	clk      clock.WithTicker
	interval time.Duration
	log      *slog.Logger
	// cold carries Revisions that got a request with no ready pod. Sends
	// never block: while a report is on its way, later ones for the same
	// moment add nothing.
	cold chan types.NamespacedName
	// failing is true while reports do not get through, so that an
	// outage is logged once, not every second.
	failing bool
}

func newReporter(url func() (string, error), pod string, g *registry, clk clock.WithTicker, interval time.Duration, log *slog.Logger) *reporter {
	return &reporter{
		url:      url,
		client:   &http.Client{Timeout: 5 * time.Second},
		pod:      pod,
		registry: g,
		clk:      clk,
		interval: interval,
		log:      log,
		cold:     make(chan types.NamespacedName, 64),
	}
}

// coldRequest notes that a request for key waits with no pod ready.
func (p *reporter) coldRequest(key types.NamespacedName) {
	if p == nil {
		return
	}
	select {
	case p.cold <- key:
	default:
	}
}

// reportDelay is how long after a wall-clock second ends the reporter
// sends it: time for the second to close in every tracker.
const reportDelay = 10 * time.Millisecond

// run reports until ctx ends. The reports go out just after each
// wall-clock interval (second) ends, the seconds the revisions' trackers
// count: the autoscaler decides right after it scrapes the pods, at any
// moment of a second, on the second before, and a report sent at a
// random moment would often miss that decision. Panic mode reads that
// one second alone, so a load step through the activator would be judged
// on the pods' share of it. Each wait is measured afresh from the clock,
// so the reports never drift off the boundaries.
func (p *reporter) run(ctx context.Context) {
	untilNext := func() time.Duration { return stats.UntilAfterBoundary(p.clk.Now(), p.interval, reportDelay) }
	timer := p.clk.NewTimer(untilNext())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
			p.send(ctx, p.loadStats())
			timer.Reset(untilNext())
		case key := <-p.cold:
			keys := map[types.NamespacedName]bool{key: true}
			for drained := false; !drained; {
				select {
				case k := <-p.cold:
					keys[k] = true
				default:
					drained = true
				}
			}
			var batch []activator.Stat
			for k := range keys {
				if r := p.registry.get(k); r != nil {
					s := p.stat(r)
					s.ColdRequest = true
					batch = append(batch, s)
					p.log.Info(activator.ColdWakeMessage, "revision", k.String(), "waiting", s.Waiting)
				}
			}
			p.send(ctx, batch)
		}
	}
}

// loadStats returns the Stats of the Revisions that had load in the last
// second, have requests waiting, or cold starts to report.
func (p *reporter) loadStats() []activator.Stat {
	var batch []activator.Stat
	p.registry.each(func(r *revision) {
		s := p.stat(r)
		if s.ProxiedRequestCount > 0 || s.AverageProxiedConcurrency > 0 || s.Waiting > 0 || len(s.ColdStarts) > 0 {
			batch = append(batch, s)
		}
	})
	return batch
}

func (p *reporter) stat(r *revision) activator.Stat {
	return activator.Stat{
		StatsReport: stats.NewReport(r.tracker.LastSecond(), stats.Labels{
			Namespace: r.key.Namespace,
			Revision:  r.key.Name,
			Pod:       p.pod,
		}),
		Waiting:    r.throttler.waiting(),
		ColdStarts: r.coldStarts.take(),
	}
}

func (p *reporter) send(ctx context.Context, batch []activator.Stat) {
	if len(batch) == 0 {
		return
	}
	err := p.post(ctx, activator.StatBatch{Stats: batch})
	switch {
	case err != nil && !p.failing:
		p.failing = true
		p.log.Warn("reporting to the autoscaler failed; retrying every report until it works", "error", err)
	case err == nil && p.failing:
		p.failing = false
		p.log.Info("reporting to the autoscaler works again")
	}
}

func (p *reporter) post(ctx context.Context, batch activator.StatBatch) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	url, err := p.url()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the autoscaler answered %s", resp.Status)
	}
	return nil
}

// autoscalerURL returns activator.StatsPath on a ready endpoint of the
// autoscaler Service's activator.AutoscalerStatsPort, as its
// EndpointSlices list them now.
func autoscalerURL(slices discoveryv1listers.EndpointSliceLister, svc types.NamespacedName) (string, error) {
	list, err := slices.EndpointSlices(svc.Namespace).List(labels.Everything())
	if err != nil {
		return "", err
	}
	for _, s := range list {
		var port int32
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == activator.AutoscalerStatsPort && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if (ep.Conditions.Ready == nil || *ep.Conditions.Ready) && len(ep.Addresses) > 0 {
				return "http://" + net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port))) + activator.StatsPath, nil
			}
		}
	}
	return "", fmt.Errorf("the autoscaler's Service %s has no ready endpoint with a port %s", svc, activator.AutoscalerStatsPort)
}
