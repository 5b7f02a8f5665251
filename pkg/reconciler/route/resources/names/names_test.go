package names

import "testing"

func TestHTTPRoute(t *testing.T) {
	if got := HTTPRoute("blue-hello.demo.example.com"); got != "blue-hello.demo.example.com" {
		t.Errorf("HTTPRoute = %q, want the host", got)
	}
}
