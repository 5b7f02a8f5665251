package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProbeSpec is the app's readiness probe as the sidecar runs it: the
// subset of a Kubernetes Probe the sidecar understands, kept as a local
// type because the sidecar must not depend on k8s.io/api. Its JSON field
// names match the Kubernetes ones, so a reconciler that resolved named
// ports can marshal the same shape.
type ProbeSpec struct {
	// HTTPGet probes with an HTTP GET; a 2xx or 3xx status is a success.
	HTTPGet *HTTPGetProbe `json:"httpGet,omitempty"`
	// TCPSocket probes by opening a TCP connection.
	TCPSocket *TCPSocketProbe `json:"tcpSocket,omitempty"`
	// PeriodSeconds is the interval between probes once the app has been
	// ready once; 0 means DefaultProbePeriod. Until then the sidecar probes
	// much faster, so that a new pod takes traffic as soon as it can.
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// TimeoutSeconds bounds one probe; 0 means DefaultProbeTimeout.
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// FailureThreshold consecutive failures make a ready app unready; 0
	// means DefaultFailureThreshold.
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
	// SuccessThreshold consecutive successes make an unready app ready
	// again; 0 means 1. The first success at start-up always counts.
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
}

// HTTPGetProbe is an HTTP readiness check against the app.
type HTTPGetProbe struct {
	// Path is the request path; empty means "/".
	Path string `json:"path,omitempty"`
	// Port is the app's port to probe; 0 means the user port.
	Port int32 `json:"port,omitempty"`
	// Scheme is "HTTP" (the default) or "HTTPS"; HTTPS probes skip
	// certificate checks, as the kubelet's do.
	Scheme string `json:"scheme,omitempty"`
	// HTTPHeaders are added to the probe request.
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header of an HTTP probe.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketProbe is a TCP readiness check against the app.
type TCPSocketProbe struct {
	// Port is the app's port to probe; 0 means the user port.
	Port int32 `json:"port,omitempty"`
}

// Probe defaults, the same as the kubelet's.
const (
	DefaultProbePeriod      = 10 * time.Second
	DefaultProbeTimeout     = time.Second
	DefaultFailureThreshold = 3
)

// Period returns the interval between probes after start-up.
func (p ProbeSpec) Period() time.Duration {
	if p.PeriodSeconds <= 0 {
		return DefaultProbePeriod
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

// Timeout returns the bound on one probe.
func (p ProbeSpec) Timeout() time.Duration {
	if p.TimeoutSeconds <= 0 {
		return DefaultProbeTimeout
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

// Failures returns how many consecutive failures make the app unready.
func (p ProbeSpec) Failures() int {
	if p.FailureThreshold <= 0 {
		return DefaultFailureThreshold
	}
	return int(p.FailureThreshold)
}

// Successes returns how many consecutive successes make the app ready.
func (p ProbeSpec) Successes() int {
	if p.SuccessThreshold <= 0 {
		return 1
	}
	return int(p.SuccessThreshold)
}

// DefaultProbe checks that the app accepts TCP connections on its port,
// which is what the platform assumes when a container declares no probe.
func DefaultProbe() ProbeSpec {
	return ProbeSpec{TCPSocket: &TCPSocketProbe{}}
}

// ParseProbe decodes the JSON of EnvReadinessProbe and checks it.
func ParseProbe(s string) (ProbeSpec, error) {
	var p ProbeSpec
	dec := json.NewDecoder(strings.NewReader(s))
	// An unknown field is most likely a handler the sidecar cannot run
	// (exec, grpc): refuse it instead of probing something else.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return ProbeSpec{}, fmt.Errorf("decoding probe JSON: %w", err)
	}
	return p, p.Validate()
}

// Validate reports what is wrong with p, if anything.
func (p ProbeSpec) Validate() error {
	var errs []error
	switch {
	case p.HTTPGet == nil && p.TCPSocket == nil:
		errs = append(errs, errors.New("needs one of httpGet or tcpSocket"))
	case p.HTTPGet != nil && p.TCPSocket != nil:
		errs = append(errs, errors.New("has both httpGet and tcpSocket; keep one"))
	}
	if h := p.HTTPGet; h != nil {
		if h.Scheme != "" && h.Scheme != "HTTP" && h.Scheme != "HTTPS" {
			errs = append(errs, fmt.Errorf("httpGet.scheme %q is neither HTTP nor HTTPS", h.Scheme))
		}
		if h.Port < 0 || h.Port > 65535 {
			errs = append(errs, fmt.Errorf("httpGet.port %d is not a port", h.Port))
		}
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			errs = append(errs, fmt.Errorf("httpGet.path %q must start with /", h.Path))
		}
	}
	if t := p.TCPSocket; t != nil && (t.Port < 0 || t.Port > 65535) {
		errs = append(errs, fmt.Errorf("tcpSocket.port %d is not a port", t.Port))
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"periodSeconds", p.PeriodSeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"failureThreshold", p.FailureThreshold}, {"successThreshold", p.SuccessThreshold},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// String returns the probe's JSON, as EnvReadinessProbe carries it.
func (p ProbeSpec) String() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Only unsupported types fail to marshal; ProbeSpec has none.
		panic(fmt.Sprintf("marshalling a ProbeSpec: %v", err))
	}
	return string(b)
}
