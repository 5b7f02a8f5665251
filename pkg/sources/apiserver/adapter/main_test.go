package adapter

import (
	"bytes"
	"strings"
	"testing"

	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/apiserver"
)

func TestMainSaysWhatIsMissing(t *testing.T) {
	cfg, err := apiserver.Config{
		CloudEventSource: "https://api", Mode: "Reference",
		Resources: []apiserver.Resource{{Version: "v1", Resource: "configmaps", Namespaced: true}},
	}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no config", map[string]string{apiserver.ConfigEnv: "", sources.SinkEnv: "http://sink"}, apiserver.ConfigEnv + " is not set"},
		{"no sink", map[string]string{apiserver.ConfigEnv: cfg, sources.SinkEnv: ""}, sources.SinkEnv + " is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			if code := Main(nil, &stderr); code != 1 {
				t.Errorf("Main = %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("Main said %q, want it to say %q", stderr.String(), tc.want)
			}
		})
	}
}
