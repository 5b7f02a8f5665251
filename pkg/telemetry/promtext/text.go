package promtext

import (
	"math"
	"strconv"
)

// ContentType is the media type of what Exporter writes: Prometheus' text
// format 0.0.4, which every Prometheus and OpenMetrics scraper reads.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// appendText appends families as expfmt writes them for promhttp, so
// that the lines match byte for byte. Names need no quoting: metricName
// and labelName only make names of the classic character set.
func appendText(b []byte, families []*family) []byte {
	for _, f := range families {
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.kind.String()...)
		b = append(b, '\n')
		for _, s := range f.series {
			if f.kind != histogram {
				b = appendSample(b, f.name, "", s.labels, nil, s.value)
				continue
			}
			infSeen := false
			for _, bucket := range s.buckets {
				b = appendSample(b, f.name, "_bucket", s.labels, &bucket.upperBound, float64(bucket.count))
				infSeen = infSeen || math.IsInf(bucket.upperBound, +1)
			}
			if !infSeen {
				inf := math.Inf(+1)
				b = appendSample(b, f.name, "_bucket", s.labels, &inf, float64(s.count))
			}
			b = appendSample(b, f.name, "_sum", s.labels, nil, s.sum)
			b = appendSample(b, f.name, "_count", s.labels, nil, float64(s.count))
		}
	}
	return b
}

// appendSample appends one line, name{labels,le="bound"} value; le is a
// histogram bucket's bound, nil elsewhere.
func appendSample(b []byte, name, suffix string, labels []label, le *float64, value float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) > 0 || le != nil {
		sep := byte('{')
		for _, l := range labels {
			b = append(b, sep)
			b = append(b, l.name...)
			b = append(b, `="`...)
			b = appendEscaped(b, l.value, true)
			b = append(b, '"')
			sep = ','
		}
		if le != nil {
			b = append(b, sep)
			b = append(b, `le="`...)
			b = appendFloat(b, *le)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, value)
	return append(b, '\n')
}

// appendEscaped appends s with the escapes of the text format (those of
// prometheus/common's expfmt): backslashes and newlines, and in a label
// value double quotes too.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quoted:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats as expfmt does: the shortest decimal that reads
// back as f, +Inf, -Inf or NaN, and 0 for negative zero.
func appendFloat(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
