package gateway_test

import (
	"bytes"
	"strings"
	"testing"

	"flywheel.dev/pkg/gateway"
)

func TestMainRefusesABadListenFlag(t *testing.T) {
	var stderr bytes.Buffer
	if code := gateway.Main([]string{"--listen", "flywheel-external=127.0.0.1:8080"}, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if want := "want NAMESPACE/GATEWAY=HOST:PORT"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not say %q", stderr.String(), want)
	}
}
