package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// revisionFigures are what the autoscaler says of a Revision now: its
// load over its window, and its cold starts over the last hour. A figure
// it has not got is nil.
type revisionFigures struct {
	concurrency, rps *float64
	coldStarts       *float64
	p50, p95         *float64
}

// liveFigures asks the autoscaler, through the custom metrics API
// (custom.metrics.k8s.io, which it serves), for the figures of each
// Revision that takes traffic or has pods. It returns nil, and describe
// shows no such section, when the API is not served (a cluster without
// Flywheel's autoscaler) or cannot be reached.
func liveFigures(ctx context.Context, p *params.Params, revs []servingv1.Revision, routed map[string]bool) map[string]revisionFigures {
	client, server, err := p.APIServer()
	if err != nil {
		return nil
	}
	// Bounded: describe answers even when the metrics API hangs.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	get := func(r *servingv1.Revision, metric string) *float64 {
		u := server.JoinPath("/apis/custom.metrics.k8s.io/v1beta2/namespaces", r.Namespace, "revisions."+serving.GroupName, r.Name, metric)
		return customMetric(ctx, client, u)
	}
	out := map[string]revisionFigures{}
	for i := range revs {
		r := &revs[i]
		if !routed[r.Name] && (r.Status.ActualReplicas == nil || *r.Status.ActualReplicas == 0) {
			continue
		}
		// The count of cold starts is served for every Revision, zero
		// for one never woken: without it, the API is not there.
		f := revisionFigures{coldStarts: get(r, autoscaling.ColdStartsMetric)}
		if f.coldStarts == nil {
			return nil
		}
		f.concurrency = get(r, autoscaling.ConcurrencyMetric)
		f.rps = get(r, autoscaling.RequestsPerSecondMetric)
		if *f.coldStarts > 0 {
			f.p50 = get(r, autoscaling.ColdStartP50Metric)
			f.p95 = get(r, autoscaling.ColdStartP95Metric)
		}
		out[r.Name] = f
	}
	return out
}

// customMetric GETs one metric value; nil when there is none (not
// served, not found, no answer).
func customMetric(ctx context.Context, client *http.Client, u *url.URL) *float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	var list v1beta2.MetricValueList
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 1 {
		return nil
	}
	v := list.Items[0].Value.AsApproximateFloat64()
	return &v
}

// liveSection prints the figures of the Revisions that have some, newest
// first as revs are.
func liveSection(out io.Writer, revs []servingv1.Revision, figures map[string]revisionFigures) error {
	if len(figures) == 0 {
		return nil
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Load now and cold starts in the last hour (from the autoscaler):")
	t := printers.NewTable(out, "  ", "REVISION", "CONCURRENCY", "REQUESTS/S", "COLD STARTS", "P50", "P95")
	for i := range revs {
		f, ok := figures[revs[i].Name]
		if !ok {
			continue
		}
		t.Row(revs[i].Name, number(f.concurrency), number(f.rps), number(f.coldStarts), seconds(f.p50), seconds(f.p95))
	}
	return t.Flush()
}

// number prints a figure as the autoscaler gave it (to thousandths),
// without trailing zeros; "-" when there is none.
func number(v *float64) string {
	if v == nil {
		return "-"
	}
	s := strings.TrimRight(fmt.Sprintf("%.3f", *v), "0")
	return strings.TrimSuffix(s, ".")
}

// seconds prints a duration in seconds as a Go duration to the
// millisecond; "-" when there is none.
func seconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return time.Duration(*v * float64(time.Second)).Round(time.Millisecond).String()
}
