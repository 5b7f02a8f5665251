package http1

import (
	"sync"
	"sync/atomic"
)

// UpstreamSet holds an Upstream per address, for a proxy whose upstreams
// come and go (a gateway's endpoints, an activator's pods), each with its
// own keep-alive pool. Get reads the set without a lock: it is replaced
// whole when an address is added or removed, which is rare next to
// requests.
type UpstreamSet struct {
	opts  UpstreamOptions
	pools atomic.Pointer[map[string]*Upstream]
	mu    sync.Mutex // held by writers
}

// NewUpstreamSet returns an empty set whose upstreams are made with opts.
func NewUpstreamSet(opts UpstreamOptions) *UpstreamSet {
	return &UpstreamSet{opts: opts}
}

// Get returns the upstream of address, made on first use.
func (s *UpstreamSet) Get(address string) *Upstream {
	if m := s.pools.Load(); m != nil {
		if u, ok := (*m)[address]; ok {
			return u
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current()
	if u, ok := old[address]; ok {
		return u
	}
	next := make(map[string]*Upstream, len(old)+1)
	for a, u := range old {
		next[a] = u
	}
	u := NewUpstream(address, s.opts)
	next[address] = u
	s.pools.Store(&next)
	return u
}

func (s *UpstreamSet) current() map[string]*Upstream {
	if m := s.pools.Load(); m != nil {
		return *m
	}
	return nil
}

// Retain closes and forgets the upstreams whose address live says is
// gone. A request still holding one finishes on it; the next to ask for
// that address makes a new one.
func (s *UpstreamSet) Retain(live func(address string) bool) {
	s.mu.Lock()
	old := s.current()
	next := make(map[string]*Upstream, len(old))
	var gone []*Upstream
	for a, u := range old {
		if live(a) {
			next[a] = u
		} else {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		s.pools.Store(&next)
	}
	s.mu.Unlock()
	for _, u := range gone {
		u.Close()
	}
}

// CloseIdleConnections closes the idle connections of every upstream.
func (s *UpstreamSet) CloseIdleConnections() {
	for _, u := range s.current() {
		u.CloseIdleConnections()
	}
}
