package v1

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses an ISO 8601 duration as DeliverySpec's timeout and
// backoffDelay hold it: P, then weeks and days, then T and hours, minutes
// and seconds, each a decimal that may have a fraction (PT0.2S, PT1M30S,
// P1DT12H). Years and months are refused: they have no fixed length.
func ParseDuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" || rest == "T" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration: write P, then T and the time, as in PT0.2S or PT1M30S", s)
	}
	datePart, timePart, hasTime := strings.Cut(rest, "T")
	if hasTime && timePart == "" {
		return 0, fmt.Errorf("%q: nothing follows T", s)
	}
	var total float64
	add := func(part, units string, unitOf map[byte]time.Duration) error {
		seen := -1
		for part != "" {
			i := strings.IndexFunc(part, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != ',' })
			if i <= 0 {
				return fmt.Errorf("%q is not an ISO 8601 duration: each number needs a unit of %s", s, units)
			}
			unit := part[i]
			order := strings.IndexByte(units, unit)
			if unit == 'Y' || (unit == 'M' && units == "WD") {
				return fmt.Errorf("%q: years and months have no fixed length; use days (P30D)", s)
			}
			if order < 0 {
				return fmt.Errorf("%q is not an ISO 8601 duration: %q is not a unit here (%s)", s, unit, units)
			}
			if order <= seen {
				return fmt.Errorf("%q is not an ISO 8601 duration: units must come in the order %s, once each", s, units)
			}
			seen = order
			v, err := strconv.ParseFloat(strings.ReplaceAll(part[:i], ",", "."), 64)
			if err != nil {
				return fmt.Errorf("%q: %q is not a number", s, part[:i])
			}
			total += v * float64(unitOf[unit])
			part = part[i+1:]
		}
		return nil
	}
	if err := add(datePart, "WD", map[byte]time.Duration{'W': 7 * 24 * time.Hour, 'D': 24 * time.Hour}); err != nil {
		return 0, err
	}
	if err := add(timePart, "HMS", map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second}); err != nil {
		return 0, err
	}
	// Round, not truncate: 1.001 * 1e9 is 1000999999.9999999 in floating
	// point. float64(math.MaxInt64) is 2^63, one past the longest Duration.
	total = math.Round(total)
	if total >= math.MaxInt64 {
		return 0, errors.New("the duration is too long")
	}
	return time.Duration(total), nil
}
