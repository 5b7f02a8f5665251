package process

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// Health is what a component's admin endpoints report: /livez that the
// process runs, /readyz (and /healthz, its older name) that it has loaded
// what it serves from and is not draining.
type Health struct {
	loading  string
	loaded   chan struct{}
	once     sync.Once
	draining atomic.Bool
}

// NewHealth returns the Health of a component that is not loaded yet;
// /readyz answers loading until MarkLoaded, e.g. "routes not loaded yet".
func NewHealth(loading string) *Health {
	return &Health{loading: loading, loaded: make(chan struct{})}
}

// MarkLoaded says the component holds what it serves from. Later calls do
// nothing.
func (h *Health) MarkLoaded() { h.once.Do(func() { close(h.loaded) }) }

// Loaded returns a channel closed by MarkLoaded.
func (h *Health) Loaded() <-chan struct{} { return h.loaded }

// IsLoaded reports whether MarkLoaded was called.
func (h *Health) IsLoaded() bool {
	select {
	case <-h.loaded:
		return true
	default:
		return false
	}
}

// MarkDraining makes /readyz fail from now on, so that whatever sends the
// component traffic stops before its listeners close.
func (h *Health) MarkDraining() { h.draining.Store(true) }

// Ready returns why the component is not ready, or nil.
func (h *Health) Ready() error {
	switch {
	case h.draining.Load():
		return errors.New("draining")
	case !h.IsLoaded():
		return errors.New(h.loading)
	}
	return nil
}

// Handler serves GET /livez, /readyz and /healthz: 200 "ok", or 503 with
// the reason the component is not ready.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	ready := func(w http.ResponseWriter, _ *http.Request) {
		if err := h.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	}
	mux.HandleFunc("GET /readyz", ready)
	mux.HandleFunc("GET /healthz", ready)
	return mux
}
