package flags

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// probeFlagNames are the two flags of one probe.
type probeFlagNames struct{ handler, opts string }

var (
	livenessFlags  = probeFlagNames{handler: probeLivenessFlag, opts: probeLivenessOptsFlag}
	readinessFlags = probeFlagNames{handler: probeReadinessFlag, opts: probeReadinessOptsFlag}
)

// probeFlagValue is a flag's value; the zero value is a flag not given.
type probeFlagValue struct {
	value string
	given bool
}

func given(value string) probeFlagValue { return probeFlagValue{value: value, given: true} }

// probeWith is timing with h as its handler.
func probeWith(h corev1.ProbeHandler, timing corev1.Probe) *corev1.Probe {
	timing.ProbeHandler = h
	return &timing
}

func httpCheck(scheme corev1.URIScheme, host string, port intstr.IntOrString, path string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: scheme, Host: host, Port: port, Path: path}}
}

func tcpCheck(host string, port intstr.IntOrString) corev1.ProbeHandler {
	return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: host, Port: port}}
}

func execCheck(command ...string) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}}
}

// containerPort is a probe's port left for the platform to fill in.
var containerPort = intstr.IntOrString{}

func editProbeWith(current *corev1.Probe, flags probeFlagNames, handler, opts probeFlagValue) (*corev1.Probe, error) {
	return editProbe(current, flags.handler, handler.value, handler.given, flags.opts, opts.value, opts.given)
}

// admitted reports what the webhook finds wrong with a Service whose
// container has probe as the probe flags names, after its defaults.
func admitted(t *testing.T, flags probeFlagNames, probe *corev1.Probe) error {
	t.Helper()
	container := corev1.Container{Image: "ko://example.com/hello"}
	if flags == livenessFlags {
		container.LivenessProbe = probe
	} else {
		container.ReadinessProbe = probe
	}
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo"},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container}}},
		}}},
	}
	ctx := context.Background()
	svc.SetDefaults(ctx)
	if errs := svc.Validate(ctx); errs != nil {
		return errs
	}
	return nil
}

func TestEditProbe(t *testing.T) {
	for _, tc := range []struct {
		name          string
		flags         probeFlagNames
		current       *corev1.Probe
		handler, opts probeFlagValue
		want          *corev1.Probe
	}{{
		name:    "http with host and port",
		flags:   readinessFlags,
		handler: given("http:example.com:8080:/healthz"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "example.com", intstr.FromInt32(8080), "/healthz"), corev1.Probe{}),
	}, {
		name:    "http with a port and no host",
		flags:   livenessFlags,
		handler: given("http::8080:/healthz"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/healthz"), corev1.Probe{}),
	}, {
		name:    "http with neither host nor port probes the container's port",
		flags:   readinessFlags,
		handler: given("http:::/healthz"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", containerPort, "/healthz"), corev1.Probe{}),
	}, {
		name:    "https to the port named h2c",
		flags:   livenessFlags,
		handler: given("https::h2c:/ready"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTPS, "", intstr.FromString("h2c"), "/ready"), corev1.Probe{}),
	}, {
		name:    "https with host and port",
		flags:   readinessFlags,
		handler: given("https:example.com:8443:/ready"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTPS, "example.com", intstr.FromInt32(8443), "/ready"), corev1.Probe{}),
	}, {
		name:    "a path gets its leading slash",
		flags:   readinessFlags,
		handler: given("http::8080:healthz"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/healthz"), corev1.Probe{}),
	}, {
		name:    "an empty path is the root",
		flags:   readinessFlags,
		handler: given("http:::"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", containerPort, "/"), corev1.Probe{}),
	}, {
		name:    "a path keeps its colons and query",
		flags:   readinessFlags,
		handler: given("http::8080:/v1/ready:deep?full=1"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/v1/ready:deep?full=1"), corev1.Probe{}),
	}, {
		name:    "the type is read in any case",
		flags:   readinessFlags,
		handler: given("HTTPS::8443:/ready"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTPS, "", intstr.FromInt32(8443), "/ready"), corev1.Probe{}),
	}, {
		name:    "tcp with host and port",
		flags:   livenessFlags,
		handler: given("tcp:localhost:8080"),
		want:    probeWith(tcpCheck("localhost", intstr.FromInt32(8080)), corev1.Probe{}),
	}, {
		name:    "tcp with neither host nor port checks the container's port",
		flags:   readinessFlags,
		handler: given("tcp::"),
		want:    probeWith(tcpCheck("", containerPort), corev1.Probe{}),
	}, {
		name:    "exec with arguments split on commas",
		flags:   livenessFlags,
		handler: given("exec:cat,/tmp/healthy"),
		want:    probeWith(execCheck("cat", "/tmp/healthy"), corev1.Probe{}),
	}, {
		name:    "exec without arguments",
		flags:   readinessFlags,
		handler: given("exec:/bin/check"),
		want:    probeWith(execCheck("/bin/check"), corev1.Probe{}),
	}, {
		name:    "an empty handler removes the probe",
		flags:   livenessFlags,
		current: probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 5}),
		handler: given(""),
		want:    nil,
	}, {
		name:    "removing a probe that is not there is no error",
		flags:   livenessFlags,
		handler: given(""),
		want:    nil,
	}, {
		name:    "a new handler keeps the timing",
		flags:   livenessFlags,
		current: probeWith(tcpCheck("", containerPort), corev1.Probe{InitialDelaySeconds: 3, PeriodSeconds: 5, FailureThreshold: 2}),
		handler: given("exec:/bin/check"),
		want:    probeWith(execCheck("/bin/check"), corev1.Probe{InitialDelaySeconds: 3, PeriodSeconds: 5, FailureThreshold: 2}),
	}, {
		name:    "the same handler on the probe as the webhook defaulted it changes nothing",
		flags:   readinessFlags,
		current: probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/healthz"), corev1.Probe{SuccessThreshold: 1}),
		handler: given("http::8080:/healthz"),
		want:    probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/healthz"), corev1.Probe{SuccessThreshold: 1}),
	}, {
		name:    "opts alone change only the fields they name, keys in any case",
		flags:   readinessFlags,
		current: probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 5, FailureThreshold: 2, SuccessThreshold: 1}),
		opts:    given("periodseconds=10,TIMEOUTSECONDS=3"),
		want:    probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 3, FailureThreshold: 2, SuccessThreshold: 1}),
	}, {
		name:  "readiness opts alone time the check the platform gives a probe without a handler",
		flags: readinessFlags,
		opts:  given("PeriodSeconds=3"),
		want:  &corev1.Probe{PeriodSeconds: 3},
	}, {
		name:    "readiness opts on a probe without a handler",
		flags:   readinessFlags,
		current: &corev1.Probe{PeriodSeconds: 5},
		opts:    given("PeriodSeconds=6"),
		want:    &corev1.Probe{PeriodSeconds: 6},
	}, {
		name:    "opts alone on a probe with a gRPC handler the flags cannot write",
		flags:   livenessFlags,
		current: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}},
		opts:    given("PeriodSeconds=30"),
		want:    &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, PeriodSeconds: 30},
	}, {
		name:    "handler and every opt in one command",
		flags:   livenessFlags,
		handler: given("http::8080:/healthz"),
		opts:    given("InitialDelaySeconds=0,TimeoutSeconds=2,PeriodSeconds=15,SuccessThreshold=1,FailureThreshold=5"),
		want: probeWith(httpCheck(corev1.URISchemeHTTP, "", intstr.FromInt32(8080), "/healthz"),
			corev1.Probe{TimeoutSeconds: 2, PeriodSeconds: 15, SuccessThreshold: 1, FailureThreshold: 5}),
	}, {
		name:    "a readiness probe may need several successes",
		flags:   readinessFlags,
		handler: given("tcp::"),
		opts:    given("SuccessThreshold=2"),
		want:    probeWith(tcpCheck("", containerPort), corev1.Probe{SuccessThreshold: 2}),
	}, {
		name:    "an initial delay of 0 is allowed",
		flags:   livenessFlags,
		current: probeWith(tcpCheck("", containerPort), corev1.Probe{InitialDelaySeconds: 10}),
		opts:    given("InitialDelaySeconds=0"),
		want:    probeWith(tcpCheck("", containerPort), corev1.Probe{}),
	}, {
		name:    "no flags leave the probe as it was",
		flags:   readinessFlags,
		current: probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 5}),
		want:    probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 5}),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.current.DeepCopy()
			got, err := editProbeWith(tc.current, tc.flags, tc.handler, tc.opts)
			if err != nil {
				t.Fatalf("editProbe(--%s %+v, --%s %+v) = %v", tc.flags.handler, tc.handler, tc.flags.opts, tc.opts, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("editProbe(--%s %+v, --%s %+v) (-want, +got):\n%s", tc.flags.handler, tc.handler, tc.flags.opts, tc.opts, diff)
			}
			if diff := cmp.Diff(before, tc.current); diff != "" {
				t.Errorf("editProbe changed the probe it was given (-before, +after):\n%s", diff)
			}
			if got != nil && got == tc.current {
				t.Error("editProbe returned the probe it was given; want a copy")
			}
			if err := admitted(t, tc.flags, got); err != nil {
				t.Errorf("the webhook refuses the probe: %v", err)
			}
		})
	}
}

// TestEditProbeRefusesBadInput checks that each error names the flag, the
// value and what is wanted, and that the probe is left as it was.
func TestEditProbeRefusesBadInput(t *testing.T) {
	existing := probeWith(tcpCheck("", containerPort), corev1.Probe{PeriodSeconds: 5})
	for _, tc := range []struct {
		name          string
		flags         probeFlagNames
		current       *corev1.Probe
		handler, opts probeFlagValue
		want          []string // each must appear in the error
	}{
		{
			name: "unknown type", flags: readinessFlags, handler: given("grpc::9000"),
			want: []string{`--probe-readiness "grpc::9000"`, `the type "grpc" is none of http, https, tcp or exec`, probeHandlerSyntax},
		},
		{
			name: "no type", flags: livenessFlags, handler: given("8080"),
			want: []string{`--probe-liveness "8080"`, `the type "8080"`, probeHandlerSyntax},
		},
		{
			name: "http without a path", flags: readinessFlags, handler: given("http::8080"),
			want: []string{`--probe-readiness "http::8080"`, "http needs HOST:PORT:PATH", probeHandlerSyntax},
		},
		{
			name: "https with nothing after it", flags: readinessFlags, handler: given("https"),
			want: []string{`--probe-readiness "https"`, "https needs HOST:PORT:PATH"},
		},
		{
			name: "tcp without a host part", flags: livenessFlags, handler: given("tcp:8080"),
			want: []string{`--probe-liveness "tcp:8080"`, "tcp needs HOST:PORT", probeHandlerSyntax},
		},
		{
			name: "tcp with a path", flags: livenessFlags, handler: given("tcp::8080:/healthz"),
			want: []string{`--probe-liveness "tcp::8080:/healthz"`, "tcp takes HOST:PORT after it and no more parts"},
		},
		{
			name: "exec without a command", flags: livenessFlags, handler: given("exec:"),
			want: []string{`--probe-liveness "exec:"`, "exec needs the command", probeHandlerSyntax},
		},
		{
			name: "a port name the container cannot have", flags: livenessFlags, handler: given("http::web:/healthz"),
			want: []string{`--probe-liveness "http::web:/healthz"`, `the port "web" is neither a number nor a name`, "http1 or h2c", "--port"},
		},
		{
			name: "a port above 65535", flags: readinessFlags, handler: given("tcp::70000"),
			want: []string{`--probe-readiness "tcp::70000"`, "the port 70000 is not from 1 to 65535", "leave PORT empty"},
		},
		{
			name: "port 0", flags: readinessFlags, handler: given("tcp::0"),
			want: []string{`--probe-readiness "tcp::0"`, "the port 0 is not from 1 to 65535"},
		},
		{
			name: "the sidecar's port", flags: readinessFlags, handler: given("http::8012:/"),
			want: []string{`--probe-readiness "http::8012:/"`, "the port 8012 is the queue-proxy sidecar's", "leave PORT empty"},
		},
		{
			name: "opts with an unknown key", flags: readinessFlags, current: existing, opts: given("Period=5"),
			want: []string{`--probe-readiness-opts "Period=5"`, `the key "Period" is not a probe option`, probeOptsSyntax},
		},
		{
			name: "opts without =", flags: readinessFlags, current: existing, opts: given("PeriodSeconds"),
			want: []string{`--probe-readiness-opts "PeriodSeconds"`, `"PeriodSeconds" is not KEY=VALUE`, probeOptsSyntax},
		},
		{
			name: "empty opts", flags: readinessFlags, current: existing, opts: given(""),
			want: []string{`--probe-readiness-opts ""`, `"" is not KEY=VALUE`},
		},
		{
			name: "a trailing comma", flags: readinessFlags, current: existing, opts: given("PeriodSeconds=5,"),
			want: []string{`--probe-readiness-opts "PeriodSeconds=5,"`, `"" is not KEY=VALUE`},
		},
		{
			name: "a value with a unit", flags: livenessFlags, current: existing, opts: given("TimeoutSeconds=5s"),
			want: []string{`--probe-liveness-opts "TimeoutSeconds=5s"`, "TimeoutSeconds=5s: the value is not a whole number", probeOptsSyntax},
		},
		{
			name: "a negative delay", flags: livenessFlags, current: existing, opts: given("InitialDelaySeconds=-1"),
			want: []string{`--probe-liveness-opts "InitialDelaySeconds=-1"`, "InitialDelaySeconds=-1: must be 0 or more"},
		},
		{
			name: "a timeout of 0", flags: livenessFlags, current: existing, opts: given("TimeoutSeconds=0"),
			want: []string{`--probe-liveness-opts "TimeoutSeconds=0"`, "TimeoutSeconds=0: must be 1 or more"},
		},
		{
			name: "a failure threshold of 0", flags: readinessFlags, current: existing, opts: given("FailureThreshold=0"),
			want: []string{`--probe-readiness-opts "FailureThreshold=0"`, "FailureThreshold=0: must be 1 or more"},
		},
		{
			name: "Knative's period of 0", flags: readinessFlags, current: existing, opts: given("PeriodSeconds=0"),
			want: []string{`--probe-readiness-opts "PeriodSeconds=0"`, "must be 1 or more", "Knative reads 0 as probing readiness aggressively"},
		},
		{
			name: "a key given twice", flags: readinessFlags, current: existing, opts: given("PeriodSeconds=5,periodSeconds=6"),
			want: []string{`--probe-readiness-opts "PeriodSeconds=5,periodSeconds=6"`, "PeriodSeconds is given twice"},
		},
		{
			name: "a liveness probe needing several successes", flags: livenessFlags, current: existing, opts: given("SuccessThreshold=2"),
			want: []string{`--probe-liveness-opts "SuccessThreshold=2"`, "a liveness probe's must be 1"},
		},
		{
			name: "liveness opts without a probe", flags: livenessFlags, opts: given("PeriodSeconds=5"),
			want: []string{`--probe-liveness-opts "PeriodSeconds=5"`, "there is no probe to time yet", "give --probe-liveness too, e.g. --probe-liveness http::8080:/healthz"},
		},
		{
			name: "opts for a probe the same command removes", flags: readinessFlags, current: existing, handler: given(""), opts: given("PeriodSeconds=6"),
			want: []string{`--probe-readiness-opts "PeriodSeconds=6"`, `--probe-readiness "" removes`},
		},
		{
			name: "a bad handler with good opts", flags: livenessFlags, current: existing, handler: given("udp::53"), opts: given("PeriodSeconds=6"),
			want: []string{`--probe-liveness "udp::53"`, `the type "udp"`},
		},
		{
			name: "bad opts with a good handler", flags: livenessFlags, handler: given("tcp::"), opts: given("Delay=3"),
			want: []string{`--probe-liveness-opts "Delay=3"`, `the key "Delay"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.current.DeepCopy()
			got, err := editProbeWith(tc.current, tc.flags, tc.handler, tc.opts)
			if err == nil {
				t.Fatalf("editProbe(--%s %+v, --%s %+v) = %+v, want an error", tc.flags.handler, tc.handler, tc.flags.opts, tc.opts, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("editProbe(--%s %+v, --%s %+v) = %q, want it to say %q", tc.flags.handler, tc.handler, tc.flags.opts, tc.opts, err, w)
				}
			}
			if diff := cmp.Diff(before, tc.current); diff != "" {
				t.Errorf("editProbe changed the probe although it failed (-before, +after):\n%s", diff)
			}
		})
	}
}
