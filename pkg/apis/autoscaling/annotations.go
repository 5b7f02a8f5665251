package autoscaling

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// Annotations is the typed form of a Revision's (or PodAutoscaler's)
// autoscaling.knative.dev annotations. A nil pointer or empty string means
// the annotation is absent and config-autoscaler decides; the …Or methods
// apply that rule so every reader resolves a setting the same way.
type Annotations struct {
	// Class is the autoscaler class, e.g. serving.KPAClass.
	Class string
	// Metric is what the autoscaler scales on, e.g. serving.MetricRPS.
	Metric string
	// Target is the per-pod target of Metric: requests for concurrency and
	// rps, a percentage of the CPU request for cpu, MiB for memory.
	Target *float64
	// TargetUtilizationPercentage is the share of Target aimed at.
	TargetUtilizationPercentage *float64
	MinScale                    *int32
	// MaxScale of 0 means no upper bound.
	MaxScale     *int32
	InitialScale *int32
	// ActivationScale is the scale a Revision jumps to when it leaves
	// zero.
	ActivationScale *int32
	ScaleDownDelay  *time.Duration
	// Window is the stable window of the KPA, and the HPA class's
	// scale-down stabilization window.
	Window                   *time.Duration
	PanicWindowPercentage    *float64
	PanicThresholdPercentage *float64
	// TargetBurstCapacity of -1 keeps the activator in the path always.
	TargetBurstCapacity           *float64
	ScaleToZeroPodRetentionPeriod *time.Duration
}

// ParseAnnotations reads the autoscaling.knative.dev annotations it knows
// into their types. It checks syntax only, so that a reconciler can read an
// object that was valid under an older config-autoscaler; the ranges are
// the business of ValidateAnnotations. Unknown keys are ignored here for
// the same reason.
func ParseAnnotations(annotations map[string]string) (Annotations, *apis.FieldError) {
	var a Annotations
	a.Class, _ = serving.ClassAnnotation.Get(annotations)
	a.Metric, _ = serving.MetricAnnotation.Get(annotations)
	var errs *apis.FieldError
	errs = errs.Also(
		parseFloat(annotations, serving.TargetAnnotation, &a.Target),
		parseFloat(annotations, serving.TargetUtilizationPercentageAnnotation, &a.TargetUtilizationPercentage),
		parseInt32(annotations, serving.MinScaleAnnotation, &a.MinScale),
		parseInt32(annotations, serving.MaxScaleAnnotation, &a.MaxScale),
		parseInt32(annotations, serving.InitialScaleAnnotation, &a.InitialScale),
		parseInt32(annotations, serving.ActivationScaleAnnotation, &a.ActivationScale),
		parseDuration(annotations, serving.ScaleDownDelayAnnotation, &a.ScaleDownDelay),
		parseDuration(annotations, serving.WindowAnnotation, &a.Window),
		parseFloat(annotations, serving.PanicWindowPercentageAnnotation, &a.PanicWindowPercentage),
		parseFloat(annotations, serving.PanicThresholdPercentageAnnotation, &a.PanicThresholdPercentage),
		parseFloat(annotations, serving.TargetBurstCapacityAnnotation, &a.TargetBurstCapacity),
		parseDuration(annotations, serving.ScaleToZeroPodRetentionPeriodAnnotation, &a.ScaleToZeroPodRetentionPeriod),
	)
	return a, errs
}

// ValidateAnnotations parses the autoscaling.knative.dev annotations (and
// Flywheel's right-sizing one) and holds each to the bounds of cfg,
// reporting every problem at once. Paths
// read annotations[<key>]; the caller adds where the annotations sit,
// e.g. .ViaField("metadata").
func ValidateAnnotations(cfg *config.Autoscaler, annotations map[string]string) *apis.FieldError {
	a, errs := ParseAnnotations(annotations)
	v := validator{cfg: cfg, raw: annotations, a: a}
	return errs.Also(
		validateKeys(annotations),
		v.class(),
		v.metric(),
		v.target(),
		v.targetUtilization(),
		v.scaleBounds(),
		v.initialScale(),
		v.activationScale(),
		v.scaleDownDelay(),
		v.window(),
		v.panicWindow(),
		v.panicThreshold(),
		v.targetBurstCapacity(),
		v.retentionPeriod(),
		ValidateRightSizing(annotations),
	)
}

// ClassOr returns the class annotation, or the cluster default.
func (a Annotations) ClassOr(cfg *config.Autoscaler) string {
	if a.Class != "" {
		return a.Class
	}
	return cfg.PodAutoscalerClass
}

// MetricOr returns the metric annotation, or the default of the class:
// cpu for the HPA class, which has no request metrics of its own, and
// concurrency otherwise, as in Knative.
func (a Annotations) MetricOr(cfg *config.Autoscaler) string {
	if a.Metric != "" {
		return a.Metric
	}
	if a.ClassOr(cfg) == serving.HPAClass {
		return serving.MetricCPU
	}
	return serving.MetricConcurrency
}

// WindowOr returns the stable window annotation, or the cluster's.
func (a Annotations) WindowOr(cfg *config.Autoscaler) time.Duration {
	return or(a.Window, cfg.StableWindow)
}

// PanicWindowPercentageOr returns the panic window annotation, as a
// percentage of the stable window, or the cluster's.
func (a Annotations) PanicWindowPercentageOr(cfg *config.Autoscaler) float64 {
	return or(a.PanicWindowPercentage, cfg.PanicWindowPercentage)
}

// PanicThresholdPercentageOr returns the panic threshold annotation, or
// the cluster's.
func (a Annotations) PanicThresholdPercentageOr(cfg *config.Autoscaler) float64 {
	return or(a.PanicThresholdPercentage, cfg.PanicThresholdPercentage)
}

// TargetBurstCapacityOr returns the target burst capacity annotation, or
// the cluster's.
func (a Annotations) TargetBurstCapacityOr(cfg *config.Autoscaler) float64 {
	return or(a.TargetBurstCapacity, cfg.TargetBurstCapacity)
}

// ScaleDownDelayOr returns the scale-down delay annotation, or the
// cluster's.
func (a Annotations) ScaleDownDelayOr(cfg *config.Autoscaler) time.Duration {
	return or(a.ScaleDownDelay, cfg.ScaleDownDelay)
}

// ScaleToZeroPodRetentionPeriodOr returns the retention period annotation,
// or the cluster's.
func (a Annotations) ScaleToZeroPodRetentionPeriodOr(cfg *config.Autoscaler) time.Duration {
	return or(a.ScaleToZeroPodRetentionPeriod, cfg.ScaleToZeroPodRetentionPeriod)
}

// InitialScaleOr returns the initial scale annotation, or the cluster's.
func (a Annotations) InitialScaleOr(cfg *config.Autoscaler) int32 {
	return or(a.InitialScale, cfg.InitialScale)
}

// ScaleBoundsOr returns min-scale and max-scale, each from its annotation
// or else the cluster's; a max of 0 means no upper bound.
func (a Annotations) ScaleBoundsOr(cfg *config.Autoscaler) (minScale, maxScale int32) {
	return or(a.MinScale, cfg.MinScale), or(a.MaxScale, cfg.MaxScale)
}

func or[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

// annotationPath is the path of key under an object's metadata, written
// whole rather than with ViaKey: the dots in the key would make FieldError
// split it into "annotations.[autoscaling.knative.dev/…]".
func annotationPath(key string) string {
	return "annotations[" + key + "]"
}

func parseFloat(m map[string]string, key serving.AnnotationKey, dst **float64) *apis.FieldError {
	v, ok := key.Get(m)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	// NaN would slip through every range check below, so it is refused
	// with the syntax errors.
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return apis.ErrInvalidValue(v, annotationPath(key.String()), shortName(key)+` must be a number, e.g. "70"`)
	}
	*dst = &f
	return nil
}

func parseInt32(m map[string]string, key serving.AnnotationKey, dst **int32) *apis.FieldError {
	v, ok := key.Get(m)
	if !ok {
		return nil
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return apis.ErrInvalidValue(v, annotationPath(key.String()), shortName(key)+` must be a whole number, e.g. "3"`)
	}
	i32 := int32(i)
	*dst = &i32
	return nil
}

func parseDuration(m map[string]string, key serving.AnnotationKey, dst **time.Duration) *apis.FieldError {
	v, ok := key.Get(m)
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return apis.ErrInvalidValue(v, annotationPath(key.String()), shortName(key)+` must be a duration, e.g. "60s" or "1m"`)
	}
	*dst = &d
	return nil
}

// shortName is key without its namespace, as users talk about it.
func shortName(key serving.AnnotationKey) string {
	return strings.TrimPrefix(key.String(), serving.AutoscalingGroupName+"/")
}

// validateKeys refuses keys in the autoscaling.knative.dev namespace that
// mean nothing here: a misspelt annotation would otherwise be ignored
// without a word and the Revision scale in a way the user did not ask for.
func validateKeys(annotations map[string]string) *apis.FieldError {
	var errs *apis.FieldError
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		if !serving.IsAutoscalingAnnotation(k) || slices.Contains(serving.AutoscalingAnnotations, serving.AnnotationKey(k)) {
			continue
		}
		errs = errs.Also(apis.ErrInvalidKeyName(k, annotationPath(k), unknownKeyFix(k)))
	}
	return errs
}

// unknownKeyFix lists the keys that exist, and for a camelCase key from an
// old Knative manifest (minScale) names the current spelling (min-scale).
func unknownKeyFix(key string) string {
	names := make([]string, 0, len(serving.AutoscalingAnnotations))
	for _, k := range serving.AutoscalingAnnotations {
		names = append(names, shortName(k))
	}
	fix := fmt.Sprintf("known %s/ annotations: %s", serving.AutoscalingGroupName, strings.Join(names, ", "))
	if kebab := kebabCase(key); kebab != key && slices.Contains(serving.AutoscalingAnnotations, serving.AnnotationKey(kebab)) {
		fix = fmt.Sprintf("did you mean %s? %s", kebab, fix)
	}
	return fix
}

func kebabCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('-')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// validator holds one object's annotations, raw and parsed, while each
// rule looks at them. A rule skips an annotation that failed to parse:
// its syntax error is already reported.
type validator struct {
	cfg *config.Autoscaler
	raw map[string]string
	a   Annotations
}

func (v validator) path(key serving.AnnotationKey) string {
	return annotationPath(key.String())
}

func (v validator) invalid(key serving.AnnotationKey, fix string) *apis.FieldError {
	return apis.ErrInvalidValue(v.raw[key.String()], v.path(key), fix)
}

func (v validator) outOfBounds(key serving.AnnotationKey, lower, upper any, fix string) *apis.FieldError {
	err := apis.ErrOutOfBoundsValue(v.raw[key.String()], lower, upper, v.path(key))
	err.Details = fix
	return err
}

// classValid reports whether the class annotation is absent or names a
// class this package knows. With a bad class annotation the
// class-dependent rules stay quiet rather than pile guesses on the one
// real mistake.
func (v validator) classValid() bool {
	c, ok := serving.ClassAnnotation.Get(v.raw)
	return !ok || c == serving.KPAClass || c == serving.HPAClass
}

func (v validator) class() *apis.FieldError {
	if v.classValid() {
		return nil
	}
	return v.invalid(serving.ClassAnnotation, fmt.Sprintf("class must be %s or %s", serving.KPAClass, serving.HPAClass))
}

// metricsOf lists the metrics each class can scale on. The KPA scales on
// what the queue-proxy measures; the HPA also on the resource metrics the
// Kubernetes metrics server provides.
func metricsOf(class string) []string {
	switch class {
	case serving.KPAClass:
		return []string{serving.MetricConcurrency, serving.MetricRPS}
	default:
		return []string{serving.MetricConcurrency, serving.MetricRPS, serving.MetricCPU, serving.MetricMemory}
	}
}

func (v validator) metric() *apis.FieldError {
	m, ok := serving.MetricAnnotation.Get(v.raw)
	if !ok {
		return nil
	}
	class := v.a.ClassOr(v.cfg)
	if !v.classValid() {
		class = ""
	}
	allowed := metricsOf(class)
	if slices.Contains(allowed, m) {
		return nil
	}
	fix := "metric must be one of: " + strings.Join(allowed, ", ")
	if class != "" {
		fix = fmt.Sprintf("metric for class %s must be one of: %s", class, strings.Join(allowed, ", "))
	}
	return v.invalid(serving.MetricAnnotation, fix)
}

func (v validator) target() *apis.FieldError {
	t := v.a.Target
	if t == nil {
		return nil
	}
	key := serving.TargetAnnotation
	switch v.a.MetricOr(v.cfg) {
	case serving.MetricCPU:
		if *t < 1 || *t > 100 {
			return v.outOfBounds(key, 1, 100, "target for the cpu metric is a percentage of the CPU request, from 1 to 100")
		}
	case serving.MetricMemory:
		// Knative reads a memory target as MiB per pod, not a percentage,
		// so it has no upper bound.
		if *t < 1 {
			return v.invalid(key, "target for the memory metric is MiB per pod and must be at least 1")
		}
	default:
		if *t < config.MinConcurrencyTarget {
			return v.invalid(key, fmt.Sprintf("target must be at least %v", config.MinConcurrencyTarget))
		}
	}
	return nil
}

func (v validator) targetUtilization() *apis.FieldError {
	if p := v.a.TargetUtilizationPercentage; p != nil && (*p < 1 || *p > 100) {
		return v.outOfBounds(serving.TargetUtilizationPercentageAnnotation, 1, 100,
			"target-utilization-percentage is the share of the target aimed at, from 1 to 100")
	}
	return nil
}

// scaleBounds checks min-scale and max-scale against each other only
// when both are annotations: the cluster's defaults may change under a
// Revision, and that should not make the Revision invalid.
func (v validator) scaleBounds() *apis.FieldError {
	var errs *apis.FieldError
	lo, hi := v.a.MinScale, v.a.MaxScale
	if lo != nil && *lo < 0 {
		errs = errs.Also(v.invalid(serving.MinScaleAnnotation, "min-scale must be 0 or more"))
		lo = nil
	}
	if hi != nil && *hi < 0 {
		errs = errs.Also(v.invalid(serving.MaxScaleAnnotation, "max-scale must be 0 (no upper bound) or more"))
		hi = nil
	}
	if lo != nil && hi != nil && *hi > 0 && *lo > *hi {
		err := apis.ErrGeneric(fmt.Sprintf("min-scale %d is greater than max-scale %d", *lo, *hi),
			v.path(serving.MinScaleAnnotation), v.path(serving.MaxScaleAnnotation))
		err.Details = "lower min-scale or raise max-scale (max-scale 0 means no upper bound)"
		errs = errs.Also(err)
	}
	if limit := v.cfg.MaxScaleLimit; limit > 0 {
		if hi != nil && *hi == 0 {
			errs = errs.Also(v.invalid(serving.MaxScaleAnnotation, fmt.Sprintf(
				"max-scale 0 means no upper bound, which max-scale-limit %d in config-autoscaler forbids; set max-scale from 1 to %d", limit, limit)))
		}
		if hi != nil && *hi > limit {
			errs = errs.Also(v.outOfBounds(serving.MaxScaleAnnotation, 1, limit,
				fmt.Sprintf("max-scale-limit in config-autoscaler caps max-scale at %d", limit)))
		}
		if lo != nil && *lo > limit {
			errs = errs.Also(v.outOfBounds(serving.MinScaleAnnotation, 0, limit,
				fmt.Sprintf("max-scale-limit in config-autoscaler caps min-scale at %d", limit)))
		}
	}
	return errs
}

func (v validator) initialScale() *apis.FieldError {
	s := v.a.InitialScale
	switch {
	case s == nil:
		return nil
	case *s < 0:
		return v.invalid(serving.InitialScaleAnnotation, "initial-scale must be 0 or more")
	case *s == 0 && !v.cfg.AllowZeroInitialScale:
		return v.invalid(serving.InitialScaleAnnotation, "initial-scale 0 needs allow-zero-initial-scale: true in config-autoscaler")
	}
	return nil
}

func (v validator) activationScale() *apis.FieldError {
	s := v.a.ActivationScale
	if s == nil {
		return nil
	}
	if *s < 1 {
		return v.invalid(serving.ActivationScaleAnnotation, "activation-scale must be at least 1")
	}
	if hi := v.a.MaxScale; hi != nil && *hi > 0 && *s > *hi {
		err := apis.ErrGeneric(fmt.Sprintf("activation-scale %d is greater than max-scale %d", *s, *hi),
			v.path(serving.ActivationScaleAnnotation), v.path(serving.MaxScaleAnnotation))
		err.Details = "lower activation-scale or raise max-scale"
		return err
	}
	return nil
}

// wholeSeconds refuses a duration the autoscaler could not honour: it
// ticks in seconds.
func (v validator) wholeSeconds(key serving.AnnotationKey, d time.Duration) *apis.FieldError {
	if d.Truncate(time.Second) != d {
		return v.invalid(key, shortName(key)+` must be whole seconds, e.g. "90s"`)
	}
	return nil
}

func (v validator) scaleDownDelay() *apis.FieldError {
	d := v.a.ScaleDownDelay
	if d == nil {
		return nil
	}
	key := serving.ScaleDownDelayAnnotation
	if *d < 0 || *d > config.MaxScaleDownDelay {
		return v.outOfBounds(key, time.Duration(0), config.MaxScaleDownDelay, "scale-down-delay must be from 0s to 1h")
	}
	return v.wholeSeconds(key, *d)
}

func (v validator) window() *apis.FieldError {
	d := v.a.Window
	if d == nil {
		return nil
	}
	// Both classes use it: the built-in one's stable window, the HPA
	// class's scale-down stabilization window and wait before zero.
	key := serving.WindowAnnotation
	if *d < config.MinStableWindow || *d > config.MaxStableWindow {
		return v.outOfBounds(key, config.MinStableWindow, config.MaxStableWindow,
			fmt.Sprintf("window must be from %v to %v", config.MinStableWindow, config.MaxStableWindow))
	}
	return v.wholeSeconds(key, *d)
}

func (v validator) panicWindow() *apis.FieldError {
	if p := v.a.PanicWindowPercentage; p != nil && (*p < config.MinPanicWindowPct || *p > config.MaxPanicWindowPct) {
		return v.outOfBounds(serving.PanicWindowPercentageAnnotation, config.MinPanicWindowPct, config.MaxPanicWindowPct,
			"panic-window-percentage is a percentage of the stable window, from 1 to 100")
	}
	return nil
}

func (v validator) panicThreshold() *apis.FieldError {
	if p := v.a.PanicThresholdPercentage; p != nil && (*p < config.MinPanicThreshold || *p > config.MaxPanicThreshold) {
		return v.outOfBounds(serving.PanicThresholdPercentageAnnotation, config.MinPanicThreshold, config.MaxPanicThreshold,
			"panic-threshold-percentage is a percentage of the target capacity, from 110 to 1000")
	}
	return nil
}

func (v validator) targetBurstCapacity() *apis.FieldError {
	if c := v.a.TargetBurstCapacity; c != nil && *c < 0 && *c != -1 {
		return v.invalid(serving.TargetBurstCapacityAnnotation,
			"target-burst-capacity must be -1 (activator always in the path) or 0 or more")
	}
	return nil
}

func (v validator) retentionPeriod() *apis.FieldError {
	if d := v.a.ScaleToZeroPodRetentionPeriod; d != nil && (*d < 0 || *d > time.Hour) {
		return v.outOfBounds(serving.ScaleToZeroPodRetentionPeriodAnnotation, time.Duration(0), time.Hour,
			"scale-to-zero-pod-retention-period must be from 0s to 1h")
	}
	return nil
}
