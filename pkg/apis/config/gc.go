package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	cm "knative.dev/pkg/configmap"
)

// GCConfigName is the ConfigMap that bounds how many Revisions that no
// Route serves are kept, and for how long.
const GCConfigName = "config-gc"

// GCDisabled is the value of a config-gc bound that is switched off, written
// "disabled" in the ConfigMap.
const GCDisabled = -1

// disabledValue is how the ConfigMap spells GCDisabled.
const disabledValue = "disabled"

// GC is the configuration of the garbage collection of Revisions. A
// Revision is only ever collected while it is non-active: no Route sends
// it traffic and it is neither the latest created nor the latest ready
// Revision of its Configuration.
type GC struct {
	// RetainSinceCreateTime keeps a non-active Revision this long after it
	// was created; GCDisabled leaves creation time out of the decision.
	RetainSinceCreateTime time.Duration
	// RetainSinceLastActiveTime keeps a non-active Revision this long
	// after it last took traffic; GCDisabled leaves it out of the decision.
	RetainSinceLastActiveTime time.Duration
	// MinNonActiveRevisions non-active Revisions of each Configuration,
	// the most recently active, are kept whatever their age.
	MinNonActiveRevisions int64
	// MaxNonActiveRevisions caps the non-active Revisions kept for each
	// Configuration, however young; GCDisabled removes the cap.
	MaxNonActiveRevisions int64
}

// DefaultGC returns the configuration in force when config-gc is empty or
// missing: Knative's defaults.
func DefaultGC() *GC {
	return &GC{
		RetainSinceCreateTime:     48 * time.Hour,
		RetainSinceLastActiveTime: 15 * time.Hour,
		MinNonActiveRevisions:     20,
		MaxNonActiveRevisions:     1000,
	}
}

func (g *GC) fields() []field {
	return []field{
		{"retain-since-create-time", bind(asDisablableDuration, &g.RetainSinceCreateTime)},
		{"retain-since-last-active-time", bind(asDisablableDuration, &g.RetainSinceLastActiveTime)},
		{"min-non-active-revisions", bind(cm.AsInt64, &g.MinNonActiveRevisions)},
		{"max-non-active-revisions", bind(asDisablableInt64, &g.MaxNonActiveRevisions)},
	}
}

// GCKeys returns the keys config-gc understands.
func GCKeys() []string {
	return keysOf(DefaultGC().fields())
}

// NewGCFromMap parses the data of config-gc.
func NewGCFromMap(data map[string]string) (*GC, error) {
	g := DefaultGC()
	if err := parseFields(data, g.fields()); err != nil {
		return nil, fmt.Errorf("%s: %w", GCConfigName, err)
	}
	return g, g.validate()
}

// NewGCFromConfigMap parses config-gc.
func NewGCFromConfigMap(c *corev1.ConfigMap) (*GC, error) {
	return NewGCFromMap(c.Data)
}

func (g *GC) validate() error {
	const name = GCConfigName
	switch {
	case g.RetainSinceCreateTime < 0 && g.RetainSinceCreateTime != GCDisabled:
		return invalid(name, "retain-since-create-time", g.RetainSinceCreateTime, `must be 0s or more, or "disabled"`)
	case g.RetainSinceLastActiveTime < 0 && g.RetainSinceLastActiveTime != GCDisabled:
		return invalid(name, "retain-since-last-active-time", g.RetainSinceLastActiveTime, `must be 0s or more, or "disabled"`)
	case g.MinNonActiveRevisions < 0:
		return invalid(name, "min-non-active-revisions", g.MinNonActiveRevisions, "must be 0 or more")
	case g.MaxNonActiveRevisions < 0 && g.MaxNonActiveRevisions != GCDisabled:
		return invalid(name, "max-non-active-revisions", g.MaxNonActiveRevisions, `must be 0 or more, or "disabled"`)
	case g.MaxNonActiveRevisions != GCDisabled && g.MaxNonActiveRevisions < g.MinNonActiveRevisions:
		return invalid(name, "max-non-active-revisions", g.MaxNonActiveRevisions,
			fmt.Sprintf("must be at least min-non-active-revisions (%d), or \"disabled\"", g.MinNonActiveRevisions))
	}
	return nil
}

// asDisablableDuration parses a duration, or "disabled" as GCDisabled.
func asDisablableDuration(key string, target *time.Duration) cm.ParseFunc {
	return func(data map[string]string) error {
		v, ok := data[key]
		if !ok {
			return nil
		}
		if strings.EqualFold(strings.TrimSpace(v), disabledValue) {
			*target = GCDisabled
			return nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("failed to parse %q: %w", key, err)
		}
		*target = d
		return nil
	}
}

// asDisablableInt64 parses a whole number, or "disabled" as GCDisabled.
func asDisablableInt64(key string, target *int64) cm.ParseFunc {
	return func(data map[string]string) error {
		v, ok := data[key]
		if !ok {
			return nil
		}
		if strings.EqualFold(strings.TrimSpace(v), disabledValue) {
			*target = GCDisabled
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("failed to parse %q: %w", key, err)
		}
		*target = n
		return nil
	}
}
