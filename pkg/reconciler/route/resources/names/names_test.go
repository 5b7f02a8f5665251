package names

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHTTPRoute(t *testing.T) {
	if got := HTTPRoute("blue-hello.demo.example.com"); got != "blue-hello.demo.example.com" {
		t.Errorf("HTTPRoute = %q, want the host", got)
	}
}

func TestService(t *testing.T) {
	if got := Service(&metav1.ObjectMeta{Name: "hello", Namespace: "demo"}); got != "hello" {
		t.Errorf("Service = %q, want the Route's name", got)
	}
}
