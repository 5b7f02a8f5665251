package queue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func envMap(env []EnvVar) func(string) string {
	m := make(map[string]string, len(env))
	for _, v := range env {
		m[string(v.Name)] = v.Value
	}
	return func(k string) string { return m[k] }
}

func TestConfigRoundTrip(t *testing.T) {
	full := Config{
		Mode:                 ModeTransparent,
		ServingPort:          8012,
		InterceptPort:        8013,
		AdminPort:            8022,
		MetricsPort:          9090,
		ProfilingPort:        9091,
		UserPort:             8080,
		AppProtocol:          AppProtocolH2C,
		ContainerConcurrency: 10,
		QueueDepth:           25,
		RevisionTimeout:      90 * time.Second,
		ResponseStartTimeout: 15 * time.Second,
		IdleTimeout:          1500 * time.Millisecond,
		DrainWindow:          3 * time.Second,
		ReadinessProbe: ProbeSpec{
			HTTPGet: &HTTPGetProbe{
				Path: "/healthz", Port: 8080, Scheme: "HTTP",
				HTTPHeaders: []HTTPHeader{{Name: "X-Probe", Value: "yes"}},
			},
			PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 4, SuccessThreshold: 2,
		},
		Namespace:     "default",
		Service:       "hello",
		Configuration: "hello",
		Revision:      "hello-00001",
		Pod:           "hello-00001-deployment-abc",
		Observability: Observability{
			MetricsProtocol: "grpc", MetricsEndpoint: "http://collector.observability:4317", MetricsExportInterval: "30s",
			TracingProtocol: "http/protobuf", TracingEndpoint: "http://collector.observability:4318/v1/traces", TracingSamplingRate: "0.1",
		},
	}
	// The idle timeout may outlast the revision timeout: it also bounds
	// a response that has started, which the revision timeout does not.
	longIdle := DefaultConfig(8080)
	longIdle.RevisionTimeout = 10 * time.Second
	longIdle.IdleTimeout = time.Minute
	tcp := DefaultConfig(3000)
	tcp.ContainerConcurrency = 1
	tcp.QueueDepth = 0

	for name, want := range map[string]Config{
		"every field set":          full,
		"defaults":                 DefaultConfig(8080),
		"tcp probe, explicit zero": tcp,
		"idle past the revision":   longIdle,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ConfigFromEnv(envMap(want.Env()))
			if err != nil {
				t.Fatalf("ConfigFromEnv(Env()) = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	got, err := ConfigFromEnv(envMap([]EnvVar{
		{EnvUserPort, "8080"},
		{EnvContainerConcurrency, "4"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig(8080)
	want.ContainerConcurrency = 4
	want.QueueDepth = 40 // 10 × containerConcurrency
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want, +got):\n%s", diff)
	}
}

func TestEnvLeavesPodForTheDownwardAPI(t *testing.T) {
	for _, v := range DefaultConfig(8080).Env() {
		if v.Name == EnvPod {
			t.Errorf("Env() wrote %s=%q; the reconciler sets it from the downward API", v.Name, v.Value)
		}
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[EnvKey]string
		// wantKeys are the variables the error must name.
		wantKeys []EnvKey
		// wantText is a part of the fix the error must suggest.
		wantText string
	}{{
		name:     "user port missing",
		env:      map[EnvKey]string{},
		wantKeys: []EnvKey{EnvUserPort},
		wantText: "port the app container listens on",
	}, {
		name:     "not a number",
		env:      map[EnvKey]string{EnvUserPort: "http", EnvContainerConcurrency: "ten"},
		wantKeys: []EnvKey{EnvUserPort, EnvContainerConcurrency},
		wantText: "not a whole number",
	}, {
		name:     "user port taken by the sidecar",
		env:      map[EnvKey]string{EnvUserPort: "8012"},
		wantKeys: []EnvKey{EnvUserPort},
		wantText: "same port as " + string(EnvServingPort),
	}, {
		name:     "bad mode",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvMode: "sidecar"},
		wantKeys: []EnvKey{EnvMode},
		wantText: `"port" or "transparent"`,
	}, {
		name:     "bad duration",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvRevisionTimeout: "300"},
		wantKeys: []EnvKey{EnvRevisionTimeout},
		wantText: "Go duration such as 30s",
	}, {
		name:     "response start longer than the revision timeout",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvRevisionTimeout: "10s", EnvResponseStartTimeout: "20s"},
		wantKeys: []EnvKey{EnvResponseStartTimeout},
		wantText: "could never fire",
	}, {
		name:     "negative concurrency",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvContainerConcurrency: "-1"},
		wantKeys: []EnvKey{EnvContainerConcurrency},
		wantText: "0 (no limit)",
	}, {
		name:     "probe with an exec handler",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvReadinessProbe: `{"exec":{"command":["true"]}}`},
		wantKeys: []EnvKey{EnvReadinessProbe},
		wantText: "httpGet or tcpSocket",
	}, {
		name:     "probe with two handlers",
		env:      map[EnvKey]string{EnvUserPort: "8080", EnvReadinessProbe: `{"httpGet":{},"tcpSocket":{}}`},
		wantKeys: []EnvKey{EnvReadinessProbe},
		wantText: "keep one",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(func(k string) string { return tc.env[EnvKey(k)] })
			if err == nil {
				t.Fatal("ConfigFromEnv() = nil error, want one")
			}
			for _, k := range tc.wantKeys {
				if !strings.Contains(err.Error(), string(k)) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not say %q", err, tc.wantText)
			}
			var envErr *EnvError
			if !errors.As(err, &envErr) {
				t.Errorf("error %q is not an *EnvError", err)
			}
		})
	}
}

func TestProbeDefaults(t *testing.T) {
	p := ProbeSpec{TCPSocket: &TCPSocketProbe{}}
	got := []any{p.Period(), p.Timeout(), p.Failures(), p.Successes()}
	want := []any{10 * time.Second, time.Second, 3, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("probe defaults (-want, +got):\n%s", diff)
	}
}
