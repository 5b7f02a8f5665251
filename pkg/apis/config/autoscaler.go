package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	cm "knative.dev/pkg/configmap"

	"flywheel.dev/pkg/apis/serving"
)

// AutoscalerConfigName is the ConfigMap of cluster-wide autoscaling
// settings; the autoscaling.knative.dev annotations override them per
// Revision.
const AutoscalerConfigName = "config-autoscaler"

// Bounds every autoscaler setting is held to, whether it comes from
// config-autoscaler or from an annotation.
const (
	MinStableWindow   = 6 * time.Second
	MaxStableWindow   = time.Hour
	MaxScaleDownDelay = time.Hour
	MinPanicWindowPct = 1.0
	MaxPanicWindowPct = 100.0
	MinPanicThreshold = 110.0
	MaxPanicThreshold = 1000.0
	// MinConcurrencyTarget is the smallest concurrency target that still
	// lets the decider work with whole requests.
	MinConcurrencyTarget = 0.01
)

// Autoscaler is the cluster-wide autoscaling configuration.
type Autoscaler struct {
	// ContainerConcurrencyTargetFraction is the share (0–1] of the target
	// the autoscaler aims at, leaving headroom for bursts.
	ContainerConcurrencyTargetFraction float64
	// ContainerConcurrencyTargetDefault is the concurrency target of a
	// Revision with no containerConcurrency and no target annotation.
	ContainerConcurrencyTargetDefault float64
	// RPSTargetDefault is the target of the rps metric.
	RPSTargetDefault float64
	// TargetBurstCapacity is the spare capacity below which the activator
	// stays in the request path; -1 keeps it there always, 0 never.
	TargetBurstCapacity float64

	StableWindow             time.Duration
	PanicWindowPercentage    float64
	PanicThresholdPercentage float64
	MaxScaleUpRate           float64
	MaxScaleDownRate         float64

	EnableScaleToZero             bool
	ScaleToZeroGracePeriod        time.Duration
	ScaleToZeroPodRetentionPeriod time.Duration
	ScaleDownDelay                time.Duration

	// PodAutoscalerClass is the class of Revisions with no class
	// annotation.
	PodAutoscalerClass string
	// ActivatorCapacity is how many requests one activator takes at once,
	// for sizing the activators in a Revision's path.
	ActivatorCapacity float64

	InitialScale          int32
	AllowZeroInitialScale bool
	MinScale              int32
	MaxScale              int32
	// MaxScaleLimit bounds max-scale annotations; 0 means no bound.
	MaxScaleLimit int32

	// RightSizing is the right-sizing mode of Revisions without the
	// autoscaling.flywheel.dev/right-sizing annotation: RightSizingOff
	// or RightSizingAdvise.
	RightSizing string
}

// The right-sizing modes, of config-autoscaler's right-sizing key and of
// the autoscaling.flywheel.dev/right-sizing annotation.
const (
	// RightSizingOff gives no advice on a Revision's requests.
	RightSizingOff = "off"
	// RightSizingAdvise has a Vertical Pod Autoscaler in Off mode
	// recommend requests for the Revision's serving container, shown on
	// its status. It never changes the pods.
	RightSizingAdvise = "advise"
)

// RightSizingModes lists the right-sizing modes, for validation messages.
var RightSizingModes = []string{RightSizingOff, RightSizingAdvise}

// DefaultAutoscaler returns the configuration in force when
// config-autoscaler is empty or missing.
func DefaultAutoscaler() *Autoscaler {
	return &Autoscaler{
		ContainerConcurrencyTargetFraction: 0.7,
		ContainerConcurrencyTargetDefault:  100,
		RPSTargetDefault:                   200,
		TargetBurstCapacity:                211,
		StableWindow:                       60 * time.Second,
		PanicWindowPercentage:              10,
		PanicThresholdPercentage:           200,
		MaxScaleUpRate:                     1000,
		MaxScaleDownRate:                   2,
		EnableScaleToZero:                  true,
		ScaleToZeroGracePeriod:             30 * time.Second,
		PodAutoscalerClass:                 serving.KPAClass,
		ActivatorCapacity:                  100,
		InitialScale:                       1,
		RightSizing:                        RightSizingOff,
	}
}

// fields is the one list of config-autoscaler's keys: parsing and
// AutoscalerKeys both read it. The target percentage is written as a
// percentage but held as a fraction, so it is parsed into
// targetPercentage for the caller to check and convert.
func (a *Autoscaler) fields(targetPercentage *float64) []field {
	return []field{
		{"container-concurrency-target-percentage", bind(asFiniteFloat64, targetPercentage)},
		{"container-concurrency-target-default", bind(asFiniteFloat64, &a.ContainerConcurrencyTargetDefault)},
		{"requests-per-second-target-default", bind(asFiniteFloat64, &a.RPSTargetDefault)},
		{"target-burst-capacity", bind(asFiniteFloat64, &a.TargetBurstCapacity)},
		{"stable-window", bind(cm.AsDuration, &a.StableWindow)},
		{"panic-window-percentage", bind(asFiniteFloat64, &a.PanicWindowPercentage)},
		{"panic-threshold-percentage", bind(asFiniteFloat64, &a.PanicThresholdPercentage)},
		{"max-scale-up-rate", bind(asFiniteFloat64, &a.MaxScaleUpRate)},
		{"max-scale-down-rate", bind(asFiniteFloat64, &a.MaxScaleDownRate)},
		{"enable-scale-to-zero", bind(cm.AsBool, &a.EnableScaleToZero)},
		{"scale-to-zero-grace-period", bind(cm.AsDuration, &a.ScaleToZeroGracePeriod)},
		{"scale-to-zero-pod-retention-period", bind(cm.AsDuration, &a.ScaleToZeroPodRetentionPeriod)},
		{"scale-down-delay", bind(cm.AsDuration, &a.ScaleDownDelay)},
		{"pod-autoscaler-class", bind(cm.AsString, &a.PodAutoscalerClass)},
		{"activator-capacity", bind(asFiniteFloat64, &a.ActivatorCapacity)},
		{"initial-scale", bind(cm.AsInt32, &a.InitialScale)},
		{"allow-zero-initial-scale", bind(cm.AsBool, &a.AllowZeroInitialScale)},
		{"min-scale", bind(cm.AsInt32, &a.MinScale)},
		{"max-scale", bind(cm.AsInt32, &a.MaxScale)},
		{"max-scale-limit", bind(cm.AsInt32, &a.MaxScaleLimit)},
		{"right-sizing", bind(cm.AsString, &a.RightSizing)},
	}
}

// AutoscalerKeys returns the keys config-autoscaler understands, in the
// order its documentation gives them, so that tests can hold the _example
// block of the shipped ConfigMap to the parser.
func AutoscalerKeys() []string {
	return keysOf(DefaultAutoscaler().fields(new(float64)))
}

// asFiniteFloat64 is cm.AsFloat64 refusing NaN and infinities, which
// strconv accepts. The range checks of validate cannot catch NaN, since
// every comparison with it is false, and no setting has a use for an
// infinite value: the decider would divide by it or multiply with it.
func asFiniteFloat64(key string, target *float64) cm.ParseFunc {
	return func(data map[string]string) error {
		if err := cm.AsFloat64(key, target)(data); err != nil {
			return err
		}
		if math.IsNaN(*target) || math.IsInf(*target, 0) {
			return fmt.Errorf("failed to parse %q: %s is not a finite number", key, data[key])
		}
		return nil
	}
}

// NewAutoscalerFromMap parses the data of config-autoscaler.
func NewAutoscalerFromMap(data map[string]string) (*Autoscaler, error) {
	a := DefaultAutoscaler()
	targetPercentage := a.ContainerConcurrencyTargetFraction * 100
	if err := parseFields(data, a.fields(&targetPercentage)); err != nil {
		return nil, fmt.Errorf("%s: %w", AutoscalerConfigName, err)
	}
	if targetPercentage <= 0 || targetPercentage > 100 {
		return nil, invalid(AutoscalerConfigName, "container-concurrency-target-percentage", targetPercentage, "must be in (0, 100]")
	}
	a.ContainerConcurrencyTargetFraction = targetPercentage / 100
	return a, a.validate()
}

// NewAutoscalerFromConfigMap parses config-autoscaler.
func NewAutoscalerFromConfigMap(c *corev1.ConfigMap) (*Autoscaler, error) {
	return NewAutoscalerFromMap(c.Data)
}

func (a *Autoscaler) validate() error {
	const name = AutoscalerConfigName
	switch {
	case a.ContainerConcurrencyTargetDefault < MinConcurrencyTarget:
		return invalid(name, "container-concurrency-target-default", a.ContainerConcurrencyTargetDefault, fmt.Sprintf("must be at least %v", MinConcurrencyTarget))
	case a.RPSTargetDefault < MinConcurrencyTarget:
		return invalid(name, "requests-per-second-target-default", a.RPSTargetDefault, fmt.Sprintf("must be at least %v", MinConcurrencyTarget))
	case a.TargetBurstCapacity < 0 && a.TargetBurstCapacity != -1:
		return invalid(name, "target-burst-capacity", a.TargetBurstCapacity, "must be -1 (activator always in path) or at least 0")
	case a.StableWindow < MinStableWindow || a.StableWindow > MaxStableWindow || a.StableWindow.Round(time.Second) != a.StableWindow:
		return invalid(name, "stable-window", a.StableWindow, fmt.Sprintf("must be whole seconds between %v and %v", MinStableWindow, MaxStableWindow))
	case a.PanicWindowPercentage < MinPanicWindowPct || a.PanicWindowPercentage > MaxPanicWindowPct:
		return invalid(name, "panic-window-percentage", a.PanicWindowPercentage, "must be between 1 and 100")
	case a.PanicThresholdPercentage < MinPanicThreshold || a.PanicThresholdPercentage > MaxPanicThreshold:
		return invalid(name, "panic-threshold-percentage", a.PanicThresholdPercentage, "must be between 110 and 1000")
	case a.MaxScaleUpRate <= 1:
		return invalid(name, "max-scale-up-rate", a.MaxScaleUpRate, "must be greater than 1")
	case a.MaxScaleDownRate <= 1:
		return invalid(name, "max-scale-down-rate", a.MaxScaleDownRate, "must be greater than 1")
	case a.ScaleToZeroGracePeriod < 6*time.Second:
		return invalid(name, "scale-to-zero-grace-period", a.ScaleToZeroGracePeriod, "must be at least 6s")
	case a.ScaleToZeroPodRetentionPeriod < 0 || a.ScaleToZeroPodRetentionPeriod > time.Hour:
		return invalid(name, "scale-to-zero-pod-retention-period", a.ScaleToZeroPodRetentionPeriod, "must be between 0s and 1h")
	case a.ScaleDownDelay < 0 || a.ScaleDownDelay > MaxScaleDownDelay || a.ScaleDownDelay.Round(time.Second) != a.ScaleDownDelay:
		return invalid(name, "scale-down-delay", a.ScaleDownDelay, "must be whole seconds between 0s and 1h")
	case a.PodAutoscalerClass == "":
		return invalid(name, "pod-autoscaler-class", `""`, "must name a class, e.g. "+serving.KPAClass)
	case a.ActivatorCapacity < 1:
		return invalid(name, "activator-capacity", a.ActivatorCapacity, "must be at least 1")
	case a.InitialScale < 0 || (a.InitialScale == 0 && !a.AllowZeroInitialScale):
		return invalid(name, "initial-scale", a.InitialScale, "must be at least 1, or 0 with allow-zero-initial-scale: true")
	case a.MinScale < 0:
		return invalid(name, "min-scale", a.MinScale, "must be at least 0")
	case a.MaxScale < 0 || (a.MaxScale != 0 && a.MaxScale < a.MinScale):
		return invalid(name, "max-scale", a.MaxScale, "must be 0 (unbounded) or at least min-scale")
	case a.MaxScaleLimit < 0 || (a.MaxScaleLimit > 0 && (a.MaxScale == 0 || a.MaxScale > a.MaxScaleLimit)):
		if a.MaxScaleLimit < 0 {
			return invalid(name, "max-scale-limit", a.MaxScaleLimit, "must be at least 0")
		}
		return invalid(name, "max-scale", a.MaxScale, fmt.Sprintf("must be between 1 and max-scale-limit (%d)", a.MaxScaleLimit))
	case !slices.Contains(RightSizingModes, a.RightSizing):
		return invalid(name, "right-sizing", fmt.Sprintf("%q", a.RightSizing), "must be one of: "+strings.Join(RightSizingModes, ", "))
	}
	return nil
}
