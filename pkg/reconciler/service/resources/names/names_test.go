package names

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestNames(t *testing.T) {
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"}}
	if got, want := Configuration(svc), "hello"; got != want {
		t.Errorf("Configuration() = %q, want %q", got, want)
	}
	if got, want := Route(svc), "hello"; got != want {
		t.Errorf("Route() = %q, want %q", got, want)
	}
}
