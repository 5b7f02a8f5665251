package server_test

import (
	"bytes"
	"strings"
	"testing"

	"flywheel.dev/pkg/activator/server"
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
		{name: "help", args: []string{"-help"}, wantCode: 0, wantStderr: "-max-queue-depth int"},
		{name: "a shared flag", args: []string{"--shutdown-timeout", "soon"}, wantCode: 2, wantStderr: "for flag -shutdown-timeout"},
		{name: "its own flag", args: []string{"--max-queue-depth", "0"}, wantCode: 2, wantStderr: "--max-queue-depth 0: must be at least 1"},
		{name: "a Service not namespace/name", args: []string{"--autoscaler-service", "autoscaler"}, wantCode: 2, wantStderr: `--autoscaler-service "autoscaler": want namespace/name`},
		{name: "no kubeconfig", args: []string{"--kubeconfig", "/does/not/exist"}, wantCode: 1, wantStderr: `loading the API server configuration (--kubeconfig "/does/not/exist")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := server.Main(tt.args, &stderr); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
