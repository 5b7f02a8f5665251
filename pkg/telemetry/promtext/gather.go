package promtext

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

const (
	targetInfoName = "target_info"
	targetInfoHelp = "Target metadata"

	// bridgeScope is the scope of metrics that came from client_golang
	// through OpenTelemetry's Prometheus bridge; the exporter skips them,
	// and so does this package.
	bridgeScope = "go.opentelemetry.io/contrib/bridges/prometheus"
)

// kind is a family's Prometheus type.
type kind int

const (
	counter kind = iota
	gauge
	histogram
)

func (k kind) String() string {
	switch k {
	case counter:
		return "counter"
	case gauge:
		return "gauge"
	default:
		return "histogram"
	}
}

// family is one metric family: a name, its HELP and TYPE, and a series
// for each label set.
type family struct {
	name   string
	help   string
	kind   kind
	series []series
	// from is the instrument that made the family, for errors.
	from string
}

type series struct {
	labels []label // sorted by name
	// value is a counter's or gauge's.
	value float64
	// The rest is a histogram's. buckets holds the finite upper bounds
	// with cumulative counts; the +Inf bucket is count.
	buckets []bucket
	count   uint64
	sum     float64
}

type label struct{ name, value string }

type bucket struct {
	upperBound float64
	count      uint64
}

// gathering is one scrape's families, built by the rules of the exporter
// (the first instrument of a name decides its HELP; one of another type
// fails the scrape) and of client_golang's registry, which promhttp
// gathers through (a series twice, or a name that collides with a
// histogram's _sum, _count or _bucket, fails the scrape).
type gathering struct {
	families map[string]*family
	// seen holds every series' name and labels, to find one twice.
	seen map[string]string
	errs []error
}

func newGathering() *gathering {
	return &gathering{families: map[string]*family{}, seen: map[string]string{}}
}

// sorted is the scrape's families in the order promhttp writes them: by
// name, each family's series by label values.
func (g *gathering) sorted() []*family {
	out := make([]*family, 0, len(g.families))
	for _, f := range g.families {
		if len(f.series) > 0 {
			out = append(out, f)
			slices.SortStableFunc(f.series, compareSeries)
		}
	}
	slices.SortFunc(out, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return out
}

// compareSeries orders as client_golang does: fewer labels first, then
// by the values in the order of the label names. Label names, which it
// leaves to chance when the values tie, come last, so that the order is
// always the same.
func compareSeries(a, b series) int {
	if c := cmp.Compare(len(a.labels), len(b.labels)); c != 0 {
		return c
	}
	for i := range a.labels {
		if c := strings.Compare(a.labels[i].value, b.labels[i].value); c != 0 {
			return c
		}
	}
	for i := range a.labels {
		if c := strings.Compare(a.labels[i].name, b.labels[i].name); c != 0 {
			return c
		}
	}
	return 0
}

// addTargetInfo adds target_info, whose labels are the resource's
// attributes. The exporter makes no job or instance labels of
// service.name or service.instance.id, nor does this.
func (g *gathering) addTargetInfo(info []label) {
	f := &family{name: targetInfoName, help: targetInfoHelp, kind: gauge, from: "the resource"}
	g.families[f.name] = f
	g.add(f, series{labels: info, value: 1}, f.from)
}

// targetInfoLabels are the labels of target_info. An attribute that
// cannot be a label costs the scrape its target_info, not the scrape, as
// with the exporter.
func targetInfoLabels(res *resource.Resource) ([]label, error) {
	labels, err := labelsOf(res.Set())
	if err != nil {
		return nil, fmt.Errorf("%s of the resource: %w", targetInfoName, err)
	}
	return labels, nil
}

// addMetrics adds the families of one collection's metrics.
func (g *gathering) addMetrics(rm *metricdata.ResourceMetrics) {
	// The SDK lists scopes in a map's order. Sorted, the first instrument
	// of a name (whose description is the family's HELP when two differ)
	// is the same at every scrape; the exporter keeps the one of its
	// first scrape, whichever that was.
	scopes := slices.Clone(rm.ScopeMetrics)
	slices.SortStableFunc(scopes, func(a, b metricdata.ScopeMetrics) int {
		if c := cmp.Or(
			strings.Compare(a.Scope.Name, b.Scope.Name),
			strings.Compare(a.Scope.Version, b.Scope.Version),
			strings.Compare(a.Scope.SchemaURL, b.Scope.SchemaURL),
		); c != 0 {
			return c
		}
		enc := attribute.DefaultEncoder()
		return strings.Compare(a.Scope.Attributes.Encoded(enc), b.Scope.Attributes.Encoded(enc))
	})
	for _, sm := range scopes {
		if sm.Scope.Name == bridgeScope {
			continue
		}
		for _, m := range sm.Metrics {
			if err := g.addMetric(sm.Scope.Name, m); err != nil {
				g.errs = append(g.errs, fmt.Errorf("instrument %q of meter %q: %w", m.Name, sm.Scope.Name, err))
			}
		}
	}
}

func (g *gathering) addMetric(meter string, m metricdata.Metrics) error {
	var (
		k      kind
		nameAs naming
		points []point
		err    error
	)
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		k, nameAs = sumKind(data.IsMonotonic)
		points, err = valuePoints(data.DataPoints)
	case metricdata.Sum[float64]:
		k, nameAs = sumKind(data.IsMonotonic)
		points, err = valuePoints(data.DataPoints)
	case metricdata.Gauge[int64]:
		k, nameAs = gauge, namingGauge
		points, err = valuePoints(data.DataPoints)
	case metricdata.Gauge[float64]:
		k, nameAs = gauge, namingGauge
		points, err = valuePoints(data.DataPoints)
	case metricdata.Histogram[int64]:
		k, nameAs = histogram, namingHistogram
		points, err = histogramPoints(data.DataPoints)
	case metricdata.Histogram[float64]:
		k, nameAs = histogram, namingHistogram
		points, err = histogramPoints(data.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		k, nameAs = histogram, namingHistogram
		points, err = exponentialHistogramPoints(data.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		k, nameAs = histogram, namingHistogram
		points, err = exponentialHistogramPoints(data.DataPoints)
	default:
		return fmt.Errorf("its data is a %T, which has no Prometheus type here; aggregate it as a sum, gauge or histogram", m.Data)
	}
	name, nameErr := metricName(m.Name, m.Unit, nameAs)
	if nameErr != nil {
		return nameErr
	}
	from := fmt.Sprintf("instrument %q of meter %q", m.Name, meter)
	f, famErr := g.family(name, m.Description, k, from)
	if famErr != nil {
		return famErr
	}
	for _, p := range points {
		// A point whose attributes failed fails the scrape below; those
		// that did not still count as seen, as in client_golang.
		if p.err == nil {
			g.add(f, p.series, from)
		}
	}
	return err
}

// family is the family of name, made if it is the first of its name. An
// instrument of another type under the same name fails the scrape, as
// with the exporter; one with another description takes the family's.
func (g *gathering) family(name, help string, k kind, from string) (*family, error) {
	if f, ok := g.families[name]; ok {
		if f.kind != k {
			return nil, fmt.Errorf("its name %q is taken by %s, a %s, and this is a %s; rename one", name, f.from, f.kind, k)
		}
		// The exporter does not know of target_info, and client_golang
		// refuses a second HELP for it.
		if f.help != help && f.name == targetInfoName {
			return nil, fmt.Errorf("its name %q is the resource's, whose HELP is %q; rename the instrument", name, f.help)
		}
		return f, nil
	}
	if err := g.checkSuffixes(name, k); err != nil {
		return nil, err
	}
	f := &family{name: name, help: help, kind: k, from: from}
	g.families[name] = f
	return f, nil
}

// checkSuffixes fails a family whose samples would read as another's: a
// histogram's lines are name_bucket, name_sum and name_count.
func (g *gathering) checkSuffixes(name string, k kind) error {
	for _, suffix := range []string{"_count", "_sum", "_bucket"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := g.families[base]; ok && f.kind == histogram {
				return fmt.Errorf("its name %q collides with the histogram %q of %s; rename one", name, base, f.from)
			}
		}
		if f, ok := g.families[name+suffix]; ok && k == histogram {
			return fmt.Errorf("it is a histogram %q, whose %s line collides with %q of %s; rename one", name, suffix, f.name, f.from)
		}
	}
	return nil
}

// add adds s, from an instrument, to f, unless f has a series of the
// same labels: then the scrape fails, as two series of one name and
// labels do in client_golang.
func (g *gathering) add(f *family, s series, from string) {
	var key strings.Builder
	key.WriteString(f.name)
	for _, l := range s.labels {
		key.WriteByte(0xff)
		key.WriteString(l.name)
		key.WriteByte(0xff)
		key.WriteString(l.value)
	}
	if first, ok := g.seen[key.String()]; ok {
		g.errs = append(g.errs, fmt.Errorf("series %s%s comes twice, from %s and from %s: "+
			"an instrument of one name in two meters with the same attributes, or attribute keys that differ only where a label name cannot; rename one",
			f.name, formatLabels(s.labels), first, from))
		return
	}
	g.seen[key.String()] = from
	f.series = append(f.series, s)
}

func formatLabels(labels []label) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%s=%q", l.name, l.value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (g *gathering) err() error { return errors.Join(g.errs...) }

func sumKind(monotonic bool) (kind, naming) {
	if monotonic {
		return counter, namingMonotonicSum
	}
	return gauge, namingNonMonotonicSum
}

// point is a data point as a series, or why it cannot be one.
type point struct {
	series series
	err    error
}

// points converts each data point, and returns the first failure too.
func points[P any](dps []P, convert func(P) (series, error)) ([]point, error) {
	out := make([]point, len(dps))
	var first error
	for i, dp := range dps {
		out[i].series, out[i].err = convert(dp)
		if first == nil {
			first = out[i].err
		}
	}
	return out, first
}

func valuePoints[N int64 | float64](dps []metricdata.DataPoint[N]) ([]point, error) {
	return points(dps, func(dp metricdata.DataPoint[N]) (series, error) {
		labels, err := labelsOf(&dp.Attributes)
		return series{labels: labels, value: float64(dp.Value)}, err
	})
}

func histogramPoints[N int64 | float64](dps []metricdata.HistogramDataPoint[N]) ([]point, error) {
	return points(dps, func(dp metricdata.HistogramDataPoint[N]) (series, error) {
		labels, err := labelsOf(&dp.Attributes)
		if err != nil {
			return series{}, err
		}
		buckets := make([]bucket, 0, len(dp.Bounds))
		var cumulative uint64
		for i, bound := range dp.Bounds {
			cumulative += dp.BucketCounts[i]
			buckets = append(buckets, bucket{upperBound: bound, count: cumulative})
		}
		return series{labels: labels, buckets: distinctBounds(buckets), count: dp.Count, sum: float64(dp.Sum)}, nil
	})
}

// distinctBounds sorts buckets by bound, one bucket a bound: the exporter
// keys them by bound, so a bound given twice shows once, with the count
// up to its last.
func distinctBounds(buckets []bucket) []bucket {
	slices.SortStableFunc(buckets, func(a, b bucket) int { return cmp.Compare(a.upperBound, b.upperBound) })
	out := buckets[:0]
	for _, b := range buckets {
		if n := len(out); n > 0 && out[n-1].upperBound == b.upperBound {
			out[n-1] = b
			continue
		}
		out = append(out, b)
	}
	return out
}

// exponentialHistogramPoints converts exponential histograms as the
// exporter does. It makes native histograms of them, which the text
// format cannot carry: what a text scrape shows is the count, the sum
// and the +Inf bucket alone. The exporter's checks stay, because they
// fail the scrape: a scale under -4, which native histograms cannot
// hold, and buckets that do not add up to the count.
func exponentialHistogramPoints[N int64 | float64](dps []metricdata.ExponentialHistogramDataPoint[N]) ([]point, error) {
	return points(dps, func(dp metricdata.ExponentialHistogramDataPoint[N]) (series, error) {
		labels, err := labelsOf(&dp.Attributes)
		if err != nil {
			return series{}, err
		}
		if dp.Scale < -4 {
			return series{}, fmt.Errorf("an exponential histogram of scale %d, under the -4 Prometheus can hold; give its aggregation a larger MaxSize", dp.Scale)
		}
		sum := float64(dp.Sum)
		// The population is added as client_golang adds it, in int64
		// (wrapping as it does), a bucket over math.MaxInt64 left out as
		// the exporter leaves it out.
		population := int64(dp.ZeroCount)
		for _, counts := range [][]uint64{dp.PositiveBucket.Counts, dp.NegativeBucket.Counts} {
			for _, c := range counts {
				if c <= math.MaxInt64 {
					population += int64(c)
				}
			}
		}
		count := int64(dp.Count)
		if math.IsNaN(sum) && population > count || !math.IsNaN(sum) && population != count {
			return series{}, fmt.Errorf("an exponential histogram whose buckets hold %d observations and whose count is %d, which its aggregation should never make", population, dp.Count)
		}
		return series{labels: labels, count: dp.Count, sum: sum}, nil
	})
}

// labelsOf is the labels of a set of attributes, sorted by name. Keys
// that become one name give one label, its values sorted and joined by
// ";", as the OpenTelemetry specification says and the exporter does. A
// value must be UTF-8, which client_golang checks.
func labelsOf(attrs *attribute.Set) ([]label, error) {
	labels := make([]label, 0, attrs.Len())
	for it := attrs.Iter(); it.Next(); {
		kv := it.Attribute()
		name, err := labelName(string(kv.Key))
		if err != nil {
			return nil, err
		}
		value := kv.Value.String()
		if !utf8.ValidString(value) {
			return nil, fmt.Errorf("attribute %q: its value %q is not UTF-8, which Prometheus requires; record it as valid UTF-8", kv.Key, value)
		}
		labels = append(labels, label{name: name, value: value})
	}
	// Sanitising can change the order of keys, and join some.
	slices.SortStableFunc(labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	out := labels[:0]
	for i := 0; i < len(labels); {
		j := i + 1
		for j < len(labels) && labels[j].name == labels[i].name {
			j++
		}
		if j-i == 1 {
			out = append(out, labels[i])
		} else {
			values := make([]string, 0, j-i)
			for _, l := range labels[i:j] {
				values = append(values, l.value)
			}
			slices.Sort(values)
			out = append(out, label{name: labels[i].name, value: strings.Join(values, ";")})
		}
		i = j
	}
	return out, nil
}
