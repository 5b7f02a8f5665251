package gateway_test

import (
	"bytes"
	"strings"
	"testing"

	"flywheel.dev/pkg/gateway"
)

// TestMainExitCodes: a wrong flag exits 2 naming the flag, before
// anything starts; a configuration that cannot be loaded exits 1.
func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "help", args: []string{"-help"}, wantCode: 0, wantStderr: "-listen NAMESPACE/GATEWAY=HOST:PORT"},
		{name: "a bad listen flag", args: []string{"--listen", "flywheel-external=127.0.0.1:8080"}, wantCode: 2, wantStderr: "want NAMESPACE/GATEWAY=HOST:PORT"},
		{name: "a shared flag", args: []string{"--drain-window", "soon"}, wantCode: 2, wantStderr: "for flag -drain-window"},
		{name: "no kubeconfig", args: []string{"--listen", "ns/gw=127.0.0.1:0", "--kubeconfig", "/does/not/exist"}, wantCode: 1, wantStderr: `loading the API server configuration (--kubeconfig "/does/not/exist")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := gateway.Main(tt.args, &stderr); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
