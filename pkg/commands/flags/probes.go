package flags

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/queue"
)

// Names of the probe flags, and the parts of their values. The syntax is
// kn's, so that a kn user's command means the same here.
const (
	probeLivenessFlag      = "probe-liveness"
	probeLivenessOptsFlag  = "probe-liveness-opts"
	probeReadinessFlag     = "probe-readiness"
	probeReadinessOptsFlag = "probe-readiness-opts"

	probeTypeHTTP       = "http"
	probeTypeHTTPS      = "https"
	probeTypeTCP        = "tcp"
	probeTypeExec       = "exec"
	probePartSeparator  = ":"
	probeListSeparator  = ","
	probeHandlerExample = "http::8080:/healthz"
	probeHandlerSyntax  = "want http:HOST:PORT:PATH, https:HOST:PORT:PATH, tcp:HOST:PORT or exec:CMD[,ARG...] (e.g. " + probeHandlerExample + ")"

	probeInitialDelayKey     = "InitialDelaySeconds"
	probeTimeoutKey          = "TimeoutSeconds"
	probePeriodKey           = "PeriodSeconds"
	probeSuccessThresholdKey = "SuccessThreshold"
	probeFailureThresholdKey = "FailureThreshold"
	probeOptsSyntax          = "want KEY=VALUE[,KEY=VALUE...] with the keys " + probeInitialDelayKey + ", " + probeTimeoutKey + ", " +
		probePeriodKey + ", " + probeSuccessThresholdKey + " and " + probeFailureThresholdKey + " (e.g. PeriodSeconds=5,FailureThreshold=3)"
)

// probeTimingFields are the fields the opts flags set, with the least
// value each may take. Only a delay may be 0: the Kubernetes API gives
// the others a minimum of 1, and as 0 is how an unset field is stored, a
// 0 would quietly mean the default rather than what was typed.
var probeTimingFields = []struct {
	key   string
	least int64
	// belowLeast says more than "must be 1 or more", when there is more
	// to say.
	belowLeast string
	field      func(*corev1.Probe) *int32
}{
	{key: probeInitialDelayKey, least: 0, field: func(p *corev1.Probe) *int32 { return &p.InitialDelaySeconds }},
	{key: probeTimeoutKey, least: 1, field: func(p *corev1.Probe) *int32 { return &p.TimeoutSeconds }},
	{
		key: probePeriodKey, least: 1, field: func(p *corev1.Probe) *int32 { return &p.PeriodSeconds },
		// Knative users write PeriodSeconds=0 for fast readiness probing.
		belowLeast: "Knative reads 0 as probing readiness aggressively, which Flywheel does anyway until the app first passes; give the period for after that (the default is 10)",
	},
	{key: probeSuccessThresholdKey, least: 1, field: func(p *corev1.Probe) *int32 { return &p.SuccessThreshold }},
	{key: probeFailureThresholdKey, least: 1, field: func(p *corev1.Probe) *int32 { return &p.FailureThreshold }},
}

// editProbe returns the probe after the flags: handler replaces the probe's
// handler when handlerSet, opts sets its timing fields when optsSet.
// An empty handler removes the probe (nil). current is not modified. The
// flag names say which probe this is and appear in the errors.
func editProbe(current *corev1.Probe, handlerFlag, handler string, handlerSet bool, optsFlag, opts string, optsSet bool) (*corev1.Probe, error) {
	probe := current.DeepCopy()
	if handlerSet {
		if handler == "" {
			if optsSet {
				return nil, fmt.Errorf("--%s %q: sets the timing of the probe that --%s \"\" removes; drop one of the two flags", optsFlag, opts, handlerFlag)
			}
			return nil, nil
		}
		h, err := parseProbeHandler(handlerFlag, handler)
		if err != nil {
			return nil, err
		}
		if probe == nil {
			probe = &corev1.Probe{}
		}
		// The timing stays: a new check of the same app keeps its pace.
		probe.ProbeHandler = h
	}
	if !optsSet {
		return probe, nil
	}
	switch {
	case optsFlag == probeReadinessOptsFlag && probe == nil:
		// The platform gives a readiness probe without a handler its
		// default check (TCP on the container's port), so timing alone
		// is enough.
		probe = &corev1.Probe{}
	case optsFlag != probeReadinessOptsFlag && (probe == nil || !hasProbeHandler(probe.ProbeHandler)):
		return nil, fmt.Errorf("--%s %q: there is no probe to time yet; give --%s too, e.g. --%s %s",
			optsFlag, opts, handlerFlag, handlerFlag, probeHandlerExample)
	}
	if err := setProbeTiming(probe, optsFlag, opts); err != nil {
		return nil, err
	}
	return probe, nil
}

func hasProbeHandler(h corev1.ProbeHandler) bool {
	return h.HTTPGet != nil || h.TCPSocket != nil || h.Exec != nil || h.GRPC != nil
}

func parseProbeHandler(flag, value string) (corev1.ProbeHandler, error) {
	refuse := func(format string, args ...any) (corev1.ProbeHandler, error) {
		return corev1.ProbeHandler{}, fmt.Errorf("--%s %q: %s; %s", flag, value, fmt.Sprintf(format, args...), probeHandlerSyntax)
	}
	kind, rest, _ := strings.Cut(value, probePartSeparator)
	switch kind = strings.ToLower(kind); kind {
	case probeTypeHTTP, probeTypeHTTPS:
		// The path comes last and may hold colons of its own.
		parts := strings.SplitN(rest, probePartSeparator, 3)
		if len(parts) < 3 {
			return refuse("%s needs HOST:PORT:PATH after it (HOST and PORT may be empty)", kind)
		}
		port, problem := parseProbePort(parts[1])
		if problem != "" {
			return refuse("%s", problem)
		}
		// Explicit, because readiness probes are defaulted to HTTP: the
		// same flag given again then changes nothing.
		scheme := corev1.URISchemeHTTP
		if kind == probeTypeHTTPS {
			scheme = corev1.URISchemeHTTPS
		}
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host:   parts[0],
			Port:   port,
			Path:   "/" + strings.TrimPrefix(parts[2], "/"),
			Scheme: scheme,
		}}, nil
	case probeTypeTCP:
		parts := strings.Split(rest, probePartSeparator)
		if len(parts) < 2 {
			return refuse("tcp needs HOST:PORT after it (HOST and PORT may be empty)")
		}
		if len(parts) > 2 {
			return refuse("tcp takes HOST:PORT after it and no more parts")
		}
		port, problem := parseProbePort(parts[1])
		if problem != "" {
			return refuse("%s", problem)
		}
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: parts[0], Port: port}}, nil
	case probeTypeExec:
		command := strings.Split(rest, probeListSeparator)
		if command[0] == "" {
			return refuse("exec needs the command to run after it")
		}
		return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}}, nil
	}
	return refuse("the type %q is none of %s, %s, %s or %s", kind, probeTypeHTTP, probeTypeHTTPS, probeTypeTCP, probeTypeExec)
}

// parseProbePort returns the port of an HTTP or TCP probe, or what is
// wrong with it. An empty port is left for the platform to fill in with
// the container's port. A name can only be the one the container's port
// has (serving allows no other): the kubelet fails a liveness probe on a
// name it cannot find, and the queue-proxy probes readiness on the
// container's port whatever the name.
func parseProbePort(s string) (intstr.IntOrString, string) {
	if s == "" {
		return intstr.IntOrString{}, ""
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if s != serving.PortNameHTTP1 && s != serving.PortNameH2C {
			return intstr.IntOrString{}, fmt.Sprintf("the port %q is neither a number nor a name a container's port can have (%s or %s, as given to --%s)",
				s, serving.PortNameHTTP1, serving.PortNameH2C, portFlag)
		}
		return intstr.FromString(s), ""
	}
	if n < 1 || n > maxPort {
		return intstr.IntOrString{}, fmt.Sprintf("the port %d is not from 1 to %d; leave PORT empty for the container's port", n, maxPort)
	}
	if queue.IsReservedPort(int32(n)) {
		return intstr.IntOrString{}, fmt.Sprintf("the port %d is the queue-proxy sidecar's (it reserves %v), so the probe would not reach the app; leave PORT empty for the container's port",
			n, queue.ReservedPorts)
	}
	return intstr.FromInt32(int32(n)), ""
}

// setProbeTiming sets the fields opts names and leaves the others. It
// checks every option before it sets any.
func setProbeTiming(probe *corev1.Probe, flag, opts string) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("--%s %q: %s; %s", flag, opts, fmt.Sprintf(format, args...), probeOptsSyntax)
	}
	values := make(map[int]int32, len(probeTimingFields))
	for _, opt := range strings.Split(opts, probeListSeparator) {
		key, value, ok := strings.Cut(opt, keyValueSeparator)
		if !ok || key == "" {
			return refuse("%q is not KEY=VALUE", opt)
		}
		i := -1
		for j, f := range probeTimingFields {
			if strings.EqualFold(key, f.key) {
				i = j
			}
		}
		if i < 0 {
			return refuse("the key %q is not a probe option", key)
		}
		f := probeTimingFields[i]
		if _, twice := values[i]; twice {
			return refuse("%s is given twice", f.key)
		}
		n, err := strconv.ParseInt(value, 10, 32)
		if err != nil {
			return refuse("%s=%s: the value is not a whole number up to %d", f.key, value, math.MaxInt32)
		}
		if n < f.least {
			if f.belowLeast != "" {
				return refuse("%s=%s: must be %d or more; %s", f.key, value, f.least, f.belowLeast)
			}
			return refuse("%s=%s: must be %d or more", f.key, value, f.least)
		}
		if f.key == probeSuccessThresholdKey && n != 1 && flag == probeLivenessOptsFlag {
			// Kubernetes and the webhook refuse any other: a liveness
			// probe restarts the container on failures and has no use
			// for a run of successes.
			return refuse("%s=%s: a liveness probe's must be 1", f.key, value)
		}
		values[i] = int32(n)
	}
	for i, v := range values {
		*probeTimingFields[i].field(probe) = v
	}
	return nil
}
