package service

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"

	"flywheel.dev/pkg/commands/commandstest"
)

// metricsAPI answers the custom metrics API's GETs of Revision metrics
// from values (by "revision/metric", in thousandths), 404 for the rest,
// and records what was asked.
type metricsAPI struct {
	values map[string]int64
	asked  []string
}

func (m *metricsAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	const prefix = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns + "/revisions.serving.knative.dev/"
	rec := httptest.NewRecorder()
	key := strings.TrimPrefix(r.URL.Path, prefix)
	m.asked = append(m.asked, key)
	milli, ok := m.values[key]
	if !strings.HasPrefix(r.URL.Path, prefix) || !ok {
		rec.WriteHeader(http.StatusNotFound)
		return rec.Result(), nil
	}
	list := v1beta2.MetricValueList{Items: []v1beta2.MetricValue{{
		Metric: v1beta2.MetricIdentifier{Name: path.Base(key)},
		Value:  *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}}}
	_ = json.NewEncoder(rec).Encode(list)
	return rec.Result(), nil
}

func TestDescribeShowsLoadAndColdStartsFromTheAutoscaler(t *testing.T) {
	objs := []runtime.Object{
		svc("hello"),
		rev("hello-00001", "1", 10*time.Minute, digest, corev1.ConditionTrue, ""),
		// Neither routed nor running: not asked about.
		rev("hello-00000", "0", 20*time.Minute, "", corev1.ConditionTrue, ""),
	}
	p, _ := commandstest.NewParams(t, objs...)
	api := &metricsAPI{values: map[string]int64{
		"hello-00001/concurrency":         350,
		"hello-00001/requests-per-second": 12400,
		"hello-00001/cold-starts":         3000,
		"hello-00001/cold-start-p50":      274,
		"hello-00001/cold-start-p95":      1329,
	}}
	p.HTTPTransport = api
	out, err := commandstest.Run(t, NewServiceCommand(p), "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := `
Load now and cold starts in the last hour (from the autoscaler):
  REVISION     CONCURRENCY  REQUESTS/S  COLD STARTS  P50    P95
  hello-00001  0.35         12.4        3            274ms  1.329s
`
	if !strings.Contains(out, want) {
		t.Errorf("describe shows no section like\n%s\ngot:\n%s", want, out)
	}
	for _, a := range api.asked {
		if strings.HasPrefix(a, "hello-00000/") {
			t.Errorf("asked about a Revision with no traffic and no pods: %s", a)
		}
	}
}

func TestDescribeOfARevisionNeverWokenShowsNoPercentiles(t *testing.T) {
	p, _ := commandstest.NewParams(t, svc("hello"), rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, ""))
	// No load in the window either: no figure but the count.
	p.HTTPTransport = &metricsAPI{values: map[string]int64{"hello-00001/cold-starts": 0}}
	out, err := commandstest.Run(t, NewServiceCommand(p), "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if want := "  hello-00001  -            -           0            -    -\n"; !strings.Contains(out, want) {
		t.Errorf("describe lacks %q:\n%s", want, out)
	}
}

func TestDescribeWithoutTheMetricsAPIHasNoLoadSection(t *testing.T) {
	p, _ := commandstest.NewParams(t, svc("hello"), rev("hello-00001", "1", time.Minute, "", corev1.ConditionTrue, ""))
	p.HTTPTransport = &metricsAPI{}
	out, err := commandstest.Run(t, NewServiceCommand(p), "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "cold starts") {
		t.Errorf("describe shows the autoscaler's figures where the API is not served:\n%s", out)
	}
}
