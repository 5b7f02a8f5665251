package queue

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Defaults for the settings a Revision may leave out.
const (
	// DefaultRevisionTimeout matches Knative's default timeoutSeconds.
	DefaultRevisionTimeout = 300 * time.Second
	// DefaultDrainWindow covers the time endpoint removals take to reach
	// the gateway and activator after a pod starts terminating.
	DefaultDrainWindow = 5 * time.Second
	// QueueDepthPerSlot sizes the default queue: this many waiting
	// requests per unit of container concurrency.
	QueueDepthPerSlot = 10
)

// Config is every setting of the queue-proxy sidecar. The Revision
// reconciler fills one and writes it with Env; the sidecar reads it back
// with ConfigFromEnv.
type Config struct {
	// Mode is how requests reach the sidecar.
	Mode Mode
	// ServingPort, InterceptPort, AdminPort and MetricsPort are the
	// sidecar's ports (see ports.go); ProfilingPort is 0 unless pprof is
	// wanted.
	ServingPort   int
	InterceptPort int
	AdminPort     int
	MetricsPort   int
	ProfilingPort int
	// UserPort is the app's port on 127.0.0.1.
	UserPort int
	// AppProtocol is what the app speaks on UserPort.
	AppProtocol AppProtocol
	// ContainerConcurrency is the most requests the app serves at once;
	// 0 means no limit.
	ContainerConcurrency int
	// QueueDepth is how many more requests may wait for a slot; beyond
	// that the sidecar answers 503. Unused when ContainerConcurrency is 0.
	QueueDepth int
	// RevisionTimeout bounds the wait for the response to start, queue
	// wait included (Knative's timeoutSeconds); a response that has
	// started is not cut for its length.
	RevisionTimeout time.Duration
	// ResponseStartTimeout bounds the wait for response headers; 0 is off.
	ResponseStartTimeout time.Duration
	// IdleTimeout bounds the gap between writes of a response, before its
	// start and after; 0 is off.
	IdleTimeout time.Duration
	// DrainWindow is how long the sidecar keeps serving after SIGTERM.
	DrainWindow time.Duration
	// ReadinessProbe checks the app.
	ReadinessProbe ProbeSpec
	// Namespace, Service, Configuration, Revision and Pod label the stats.
	Namespace     string
	Service       string
	Configuration string
	Revision      string
	Pod           string
	// Observability is where the sidecar's metrics and traces go.
	Observability Observability
}

// Observability is what config-observability says about metrics and
// traces, as the sidecar gets it: the ConfigMap's values as written, an
// empty one for a key the ConfigMap leaves out. The sidecar parses them
// with the parser of every other component (package telemetry), which
// this package must not import; the Revision reconciler checks them with
// it before it writes them.
type Observability struct {
	MetricsProtocol       string
	MetricsEndpoint       string
	MetricsExportInterval string
	TracingProtocol       string
	TracingEndpoint       string
	TracingSamplingRate   string
}

// DefaultConfig returns a Config with every default applied, for an app
// listening on userPort.
func DefaultConfig(userPort int) Config {
	return Config{
		Mode:            ModePort,
		ServingPort:     ServingPort,
		InterceptPort:   InterceptPort,
		AdminPort:       AdminPort,
		MetricsPort:     MetricsPort,
		UserPort:        userPort,
		AppProtocol:     AppProtocolHTTP1,
		RevisionTimeout: DefaultRevisionTimeout,
		DrainWindow:     DefaultDrainWindow,
		ReadinessProbe:  DefaultProbe(),
	}
}

// EnvVar is one environment variable of the sidecar container, free of
// Kubernetes types so that the sidecar need not import them.
type EnvVar struct {
	Name  EnvKey
	Value string
}

// Env returns c as the sidecar's environment, in a fixed order. Empty
// names are left out, so EnvPod stays free for the reconciler's
// downward-API reference.
func (c Config) Env() []EnvVar {
	env := []EnvVar{
		{EnvMode, string(c.Mode)},
		{EnvServingPort, strconv.Itoa(c.ServingPort)},
		{EnvInterceptPort, strconv.Itoa(c.InterceptPort)},
		{EnvAdminPort, strconv.Itoa(c.AdminPort)},
		{EnvMetricsPort, strconv.Itoa(c.MetricsPort)},
		{EnvProfilingPort, strconv.Itoa(c.ProfilingPort)},
		{EnvUserPort, strconv.Itoa(c.UserPort)},
		{EnvAppProtocol, string(c.AppProtocol)},
		{EnvContainerConcurrency, strconv.Itoa(c.ContainerConcurrency)},
		{EnvQueueDepth, strconv.Itoa(c.QueueDepth)},
		{EnvRevisionTimeout, c.RevisionTimeout.String()},
		{EnvResponseStartTimeout, c.ResponseStartTimeout.String()},
		{EnvIdleTimeout, c.IdleTimeout.String()},
		{EnvDrainWindow, c.DrainWindow.String()},
		{EnvReadinessProbe, c.ReadinessProbe.String()},
	}
	for _, v := range []EnvVar{
		{EnvNamespace, c.Namespace},
		{EnvService, c.Service},
		{EnvConfiguration, c.Configuration},
		{EnvRevision, c.Revision},
		{EnvPod, c.Pod},
		{EnvMetricsProtocol, c.Observability.MetricsProtocol},
		{EnvMetricsEndpoint, c.Observability.MetricsEndpoint},
		{EnvMetricsExportInterval, c.Observability.MetricsExportInterval},
		{EnvTracingProtocol, c.Observability.TracingProtocol},
		{EnvTracingEndpoint, c.Observability.TracingEndpoint},
		{EnvTracingSamplingRate, c.Observability.TracingSamplingRate},
	} {
		if v.Value != "" {
			env = append(env, v)
		}
	}
	return env
}

// EnvError says which variable is wrong, why, and what to set instead.
type EnvError struct {
	Key     EnvKey
	Value   string
	Problem string
	Fix     string
	// Err is the parse error behind Problem, if any.
	Err error
}

func (e *EnvError) Error() string {
	return fmt.Sprintf("%s=%q: %s; %s", e.Key, e.Value, e.Problem, e.Fix)
}

func (e *EnvError) Unwrap() error { return e.Err }

// ConfigFromEnv reads the sidecar's Config from getenv (os.Getenv in the
// binary, a map in tests), applies defaults to unset variables, and
// validates the result. The error lists every bad variable at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		Mode:                 Mode(r.str(EnvMode, string(ModePort))),
		ServingPort:          r.port(EnvServingPort, ServingPort),
		InterceptPort:        r.port(EnvInterceptPort, InterceptPort),
		AdminPort:            r.port(EnvAdminPort, AdminPort),
		MetricsPort:          r.port(EnvMetricsPort, MetricsPort),
		ProfilingPort:        r.optionalPort(EnvProfilingPort),
		UserPort:             r.requiredPort(EnvUserPort),
		AppProtocol:          AppProtocol(r.str(EnvAppProtocol, string(AppProtocolHTTP1))),
		ContainerConcurrency: r.count(EnvContainerConcurrency, 0, "set it to the Revision's containerConcurrency, 0 for no limit"),
		RevisionTimeout:      r.duration(EnvRevisionTimeout, DefaultRevisionTimeout),
		ResponseStartTimeout: r.duration(EnvResponseStartTimeout, 0),
		IdleTimeout:          r.duration(EnvIdleTimeout, 0),
		DrainWindow:          r.duration(EnvDrainWindow, DefaultDrainWindow),
		ReadinessProbe:       r.probe(EnvReadinessProbe),
		Namespace:            getenv(string(EnvNamespace)),
		Service:              getenv(string(EnvService)),
		Configuration:        getenv(string(EnvConfiguration)),
		Revision:             getenv(string(EnvRevision)),
		Pod:                  getenv(string(EnvPod)),
		Observability: Observability{
			MetricsProtocol:       getenv(string(EnvMetricsProtocol)),
			MetricsEndpoint:       getenv(string(EnvMetricsEndpoint)),
			MetricsExportInterval: getenv(string(EnvMetricsExportInterval)),
			TracingProtocol:       getenv(string(EnvTracingProtocol)),
			TracingEndpoint:       getenv(string(EnvTracingEndpoint)),
			TracingSamplingRate:   getenv(string(EnvTracingSamplingRate)),
		},
	}
	c.QueueDepth = r.count(EnvQueueDepth, QueueDepthPerSlot*c.ContainerConcurrency,
		"set it to how many requests may wait for the app, or leave it unset for 10 × containerConcurrency")
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the relations between settings that each parse alone:
// distinct ports, a known mode, timeouts that fit in the revision timeout.
// Its errors name the environment variable to change.
func (c Config) Validate() error {
	var errs []error
	bad := func(k EnvKey, v any, problem, fix string) {
		errs = append(errs, &EnvError{Key: k, Value: fmt.Sprint(v), Problem: problem, Fix: fix})
	}
	if c.Mode != ModePort && c.Mode != ModeTransparent {
		bad(EnvMode, c.Mode, "unknown mode", fmt.Sprintf("set it to %q or %q", ModePort, ModeTransparent))
	}
	if c.AppProtocol != AppProtocolHTTP1 && c.AppProtocol != AppProtocolH2C {
		bad(EnvAppProtocol, c.AppProtocol, "unknown protocol",
			fmt.Sprintf("set it to %q or %q from the name of the container's port", AppProtocolHTTP1, AppProtocolH2C))
	}
	ports := []struct {
		key  EnvKey
		port int
	}{
		{EnvServingPort, c.ServingPort}, {EnvInterceptPort, c.InterceptPort},
		{EnvAdminPort, c.AdminPort}, {EnvMetricsPort, c.MetricsPort},
		{EnvProfilingPort, c.ProfilingPort}, {EnvUserPort, c.UserPort},
	}
	seen := map[int]EnvKey{}
	for _, p := range ports {
		if p.port == 0 && p.key == EnvProfilingPort {
			continue
		}
		if p.port <= 0 || p.port > 65535 {
			bad(p.key, p.port, "not a TCP port", "set it between 1 and 65535")
			continue
		}
		if other, ok := seen[p.port]; ok {
			bad(p.key, p.port, "the same port as "+string(other), "give each port its own number")
			continue
		}
		seen[p.port] = p.key
	}
	if c.ContainerConcurrency < 0 {
		bad(EnvContainerConcurrency, c.ContainerConcurrency, "negative", "set it to 0 (no limit) or more")
	}
	if c.QueueDepth < 0 {
		bad(EnvQueueDepth, c.QueueDepth, "negative", "set it to 0 (no queue) or more")
	}
	if c.RevisionTimeout <= 0 {
		bad(EnvRevisionTimeout, c.RevisionTimeout, "not positive", "set it to the Revision's timeoutSeconds, e.g. 300s")
	}
	// Both the revision and the response-start timeout bound the wait for
	// the response's start, so a longer response-start timeout could never
	// fire; the idle timeout also bounds a response that has started, which
	// may run past the revision timeout, so it may be the longer.
	for _, t := range []struct {
		key EnvKey
		d   time.Duration
	}{{EnvResponseStartTimeout, c.ResponseStartTimeout}, {EnvIdleTimeout, c.IdleTimeout}} {
		switch {
		case t.d < 0:
			bad(t.key, t.d, "negative", "set it to 0s (off) or more")
		case t.key == EnvResponseStartTimeout && c.RevisionTimeout > 0 && t.d > c.RevisionTimeout:
			bad(t.key, t.d, "longer than "+string(EnvRevisionTimeout)+"="+c.RevisionTimeout.String()+", so it could never fire",
				"lower it, or raise the revision timeout")
		}
	}
	if c.DrainWindow < 0 {
		bad(EnvDrainWindow, c.DrainWindow, "negative", "set it to 0s (no drain) or more")
	}
	if err := c.ReadinessProbe.Validate(); err != nil {
		errs = append(errs, &EnvError{Key: EnvReadinessProbe, Value: c.ReadinessProbe.String(),
			Problem: err.Error(), Fix: "fix the container's readinessProbe", Err: err})
	}
	return errors.Join(errs...)
}

// envReader parses variables and collects every error, so one start of a
// misconfigured sidecar reports all of its mistakes.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (r *envReader) fail(k EnvKey, v, problem, fix string, err error) {
	r.errs = append(r.errs, &EnvError{Key: k, Value: v, Problem: problem, Fix: fix, Err: err})
}

func (r *envReader) str(k EnvKey, def string) string {
	if v := r.getenv(string(k)); v != "" {
		return v
	}
	return def
}

func (r *envReader) int(k EnvKey, def int, fix string) (int, bool) {
	v := r.getenv(string(k))
	if v == "" {
		return def, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(k, v, "not a whole number", fix, err)
		return def, false
	}
	return n, true
}

func (r *envReader) port(k EnvKey, def int) int {
	n, _ := r.int(k, def, "set it to a TCP port between 1 and 65535, or leave it unset")
	return n
}

func (r *envReader) optionalPort(k EnvKey) int {
	n, _ := r.int(k, 0, "set it to a TCP port for pprof, or 0 for none")
	return n
}

func (r *envReader) requiredPort(k EnvKey) int {
	if r.getenv(string(k)) == "" {
		r.fail(k, "", "not set", "set it to the port the app container listens on", nil)
		return 0
	}
	n, _ := r.int(k, 0, "set it to the port the app container listens on")
	return n
}

func (r *envReader) count(k EnvKey, def int, fix string) int {
	n, _ := r.int(k, def, fix)
	return n
}

func (r *envReader) duration(k EnvKey, def time.Duration) time.Duration {
	v := r.getenv(string(k))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(k, v, "not a duration", "write it as a Go duration such as 30s or 1m30s", err)
		return def
	}
	return d
}

func (r *envReader) probe(k EnvKey) ProbeSpec {
	v := r.getenv(string(k))
	if v == "" {
		return DefaultProbe()
	}
	p, err := ParseProbe(v)
	if err != nil {
		r.fail(k, v, err.Error(), "write the JSON of a probe with httpGet or tcpSocket", err)
		return DefaultProbe()
	}
	return p
}
