package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
)

// ScrapeTimeout bounds one scrape: a second is a tick.
const ScrapeTimeout = time.Second

// NewScrapeClient returns the client scrapes go through. It keeps one
// idle connection per pod with no bound on the total: Go's default
// transport keeps 100 in all, so at a thousand Revisions most scrapes
// would dial anew, which cost a third of the autoscaler's CPU
// (docs/benchmarks.md, the autoscaler at 1,000 Revisions).
func NewScrapeClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 1
	return &http.Client{Timeout: ScrapeTimeout, Transport: t}
}

// Scrape fetches from the sidecar of the pod at podIP its report of the
// complete seconds after since (the Time of the previous report; zero
// for the latest second only), so that successive scrapes neither miss
// nor repeat a second.
func Scrape(ctx context.Context, client *http.Client, podIP string, since time.Time) (stats.Report, error) {
	u := url.URL{
		Scheme: "http",
		Host:   net.JoinHostPort(podIP, strconv.Itoa(queue.MetricsPort)),
		Path:   queue.StatsPath,
	}
	if !since.IsZero() {
		u.RawQuery = url.Values{stats.SinceParam: {since.UTC().Format(time.RFC3339Nano)}}.Encode()
	}
	var r stats.Report
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return r, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return r, fmt.Errorf("%s answered %s: %s", u.String(), resp.Status, msg)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&r); err != nil {
		return r, fmt.Errorf("reading the report of %s: %w", u.String(), err)
	}
	if r.Version != stats.Version {
		return r, fmt.Errorf("%s speaks stats version %d; this autoscaler reads version %d", u.String(), r.Version, stats.Version)
	}
	return r, nil
}
