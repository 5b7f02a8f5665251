package http1

import "testing"

func TestMethodStringAllocatesOnlyForUncommonMethods(t *testing.T) {
	for _, m := range []string{"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"} {
		r := &Request{Method: []byte(m)}
		if got := r.MethodString(); got != m {
			t.Errorf("MethodString() = %q, want %q", got, m)
		}
	}
	get := &Request{Method: []byte("GET")}
	if n := testing.AllocsPerRun(100, func() { _ = get.MethodString() }); n != 0 {
		t.Errorf("MethodString of GET allocates %v times, want none", n)
	}
}
