package http1

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestUpstreamSetKeepsOnePoolPerAddressUntilRetainDropsIt(t *testing.T) {
	app := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(app.Close)
	s := NewUpstreamSet(UpstreamOptions{})
	a, b := s.Get(app.Listener.Addr().String()), s.Get("10.0.0.1:80")
	if s.Get(app.Listener.Addr().String()) != a {
		t.Error("a second Get of an address made a new upstream; want its pool kept")
	}
	// An idle connection in a's pool, to see it closed.
	uc, _, err := a.get(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	a.put(uc)

	s.Retain(func(addr string) bool { return addr == "10.0.0.1:80" })
	if s.Get("10.0.0.1:80") != b {
		t.Error("Retain dropped a live address")
	}
	if s.Get(app.Listener.Addr().String()) == a {
		t.Error("Retain kept an address it was told is gone")
	}
	a.mu.Lock()
	idle, closed := len(a.idle), a.closed
	a.mu.Unlock()
	if idle != 0 || !closed {
		t.Errorf("the dropped upstream has %d idle connections, closed=%v; want none, closed", idle, closed)
	}
}
