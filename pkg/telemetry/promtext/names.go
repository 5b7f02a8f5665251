package promtext

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The names follow github.com/prometheus/otlptranslator v1.0.0, which the
// OpenTelemetry exporter applies with UnderscoreEscapingWithSuffixes (its
// default): every rule below is one of the translator's, in its order,
// so that a series keeps the name dashboards and alerts know it by.

// unitWords is the translator's table of the UCUM units instruments
// carry and the words Prometheus names end with. A unit it does not know
// is used as written, cleaned like a name; "1" says nothing.
var unitWords = map[string]string{
	// Time
	"d":   "days",
	"h":   "hours",
	"min": "minutes",
	"s":   "seconds",
	"ms":  "milliseconds",
	"us":  "microseconds",
	"ns":  "nanoseconds",

	// Bytes
	"By":   "bytes",
	"KiBy": "kibibytes",
	"MiBy": "mebibytes",
	"GiBy": "gibibytes",
	"TiBy": "tibibytes",
	"KBy":  "kilobytes",
	"MBy":  "megabytes",
	"GBy":  "gigabytes",
	"TBy":  "terabytes",

	// SI
	"m": "meters",
	"V": "volts",
	"A": "amperes",
	"J": "joules",
	"W": "watts",
	"g": "grams",

	// Misc
	"Cel": "celsius",
	"Hz":  "hertz",
	"1":   "",
	"%":   "percent",
}

// perUnitWords is the translator's table for what follows the "/" of a
// unit ("By/s" is bytes_per_second): singular, unlike unitWords.
var perUnitWords = map[string]string{
	"s":  "second",
	"m":  "minute",
	"h":  "hour",
	"d":  "day",
	"w":  "week",
	"mo": "month",
	"y":  "year",
}

// naming is what of an instrument's kind its name depends on: a
// monotonic sum gets _total, a gauge of unit "1" gets _ratio. A
// non-monotonic sum is exposed as a gauge, yet named as neither.
type naming int

const (
	namingMonotonicSum naming = iota
	namingNonMonotonicSum
	namingGauge
	namingHistogram
)

// metricName is the Prometheus name of an instrument: its name's runs of
// letters, digits and colons joined by underscores, then the unit's
// words, then _total or _ratio, each added only when not already there.
func metricName(name, unit string, kind naming) (string, error) {
	tokens := strings.FieldsFunc(name, func(r rune) bool { return !isMetricNameChar(r) })
	mainUnit, perUnit := unitSuffixes(unit)
	tokens = appendUnitTokens(tokens, cleanUnit(mainUnit), cleanUnit(perUnit))
	if kind == namingMonotonicSum {
		tokens = append(withoutToken(tokens, "total"), "total")
	}
	// The translator adds _ratio to gauges only: some senders give
	// counters of things the unit "1", which makes no ratio.
	if unit == "1" && kind == namingGauge {
		tokens = append(withoutToken(tokens, "ratio"), "ratio")
	}
	out := strings.Join(tokens, "_")
	if out != "" && isDigit(out[0]) {
		out = "_" + out
	}
	if out == "" {
		return "", fmt.Errorf("instrument %q: no letter or digit in its name to make a Prometheus name of; rename the instrument", name)
	}
	return out, nil
}

// unitSuffixes splits a unit at its first "/" and looks both halves up;
// a half with a "{…}" annotation ("{request}") names no unit.
func unitSuffixes(unit string) (mainUnit, perUnit string) {
	main, per, hasPer := strings.Cut(unit, "/")
	if main = strings.TrimSpace(main); main != "" && !strings.ContainsAny(main, "{}") {
		mainUnit = lookup(unitWords, main)
	}
	if hasPer && per != "" {
		if per = strings.TrimSpace(per); per != "" && !strings.ContainsAny(per, "{}") {
			perUnit = lookup(perUnitWords, per)
		}
		if perUnit != "" {
			perUnit = "per_" + perUnit
		}
	}
	return mainUnit, perUnit
}

func lookup(words map[string]string, unit string) string {
	if w, ok := words[unit]; ok {
		return w
	}
	return unit
}

// cleanUnit makes a unit's words fit a name: what is not a letter, digit
// or colon becomes one underscore, with none in front. A trailing one
// stays, as in the translator ("foo." gives "foo_").
func cleanUnit(unit string) string {
	var b strings.Builder
	underscore := false
	for _, r := range unit {
		if !isMetricNameChar(r) {
			r = '_'
		}
		if r == '_' && underscore {
			continue
		}
		underscore = r == '_'
		b.WriteRune(r)
	}
	return strings.TrimPrefix(b.String(), "_")
}

// appendUnitTokens adds the unit's words unless the name has them as a
// token already ("duration.seconds" in seconds stays as it is).
func appendUnitTokens(tokens []string, mainUnit, perUnit string) []string {
	if slices.Contains(tokens, mainUnit) {
		mainUnit = ""
	}
	if perUnit == "per_" {
		perUnit = ""
	} else {
		perUnit = strings.TrimSuffix(perUnit, "_")
		if slices.Contains(tokens, perUnit) {
			perUnit = ""
		}
	}
	if perUnit != "" {
		mainUnit = strings.TrimSuffix(mainUnit, "_")
	}
	if mainUnit != "" {
		tokens = append(tokens, mainUnit)
	}
	if perUnit != "" {
		tokens = append(tokens, perUnit)
	}
	return tokens
}

// withoutToken drops every token equal to word, so that it can be
// appended once at the end.
func withoutToken(tokens []string, word string) []string {
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if t != word {
			out = append(out, t)
		}
	}
	return out
}

func isMetricNameChar(r rune) bool {
	return isLabelNameChar(r) || r == ':'
}

func isLabelNameChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// labelName is the Prometheus name of an attribute key: every run of
// characters other than letters and digits (underscores included)
// becomes one underscore, a leading digit gets "key_" in front, and a
// key of the form __x__ keeps its double underscores.
func labelName(key string) (string, error) {
	if key == "" {
		return "", errors.New("an attribute has an empty key, which names no label; give it a key")
	}
	inner, reserved := key, false
	if len(key) >= 4 && strings.HasPrefix(key, "__") && strings.HasSuffix(key, "__") {
		inner, reserved = key[2:len(key)-2], true
	}
	var b strings.Builder
	underscore := false
	for _, r := range inner {
		if isLabelNameChar(r) {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	name := b.String()
	if reserved {
		name = "__" + name + "__"
	}
	if name != "" && isDigit(name[0]) {
		name = "key_" + name
	}
	if strings.Trim(name, "_") == "" {
		return "", fmt.Errorf("attribute %q: its label name would be %q, which Prometheus does not accept; give it a letter or digit", key, name)
	}
	// client_golang refuses a label of a reserved name, and the exporter
	// fails the scrape with it.
	if strings.HasPrefix(name, "__") {
		return "", fmt.Errorf("attribute %q: its label name %q starts with __, which Prometheus reserves; rename the attribute", key, name)
	}
	return name, nil
}
