package routing_test

import (
	"math"
	"testing"

	"flywheel.dev/pkg/gateway/routing"
)

func TestRulePickFollowsWeights(t *testing.T) {
	backends := []*routing.Backend{{Name: "a", Weight: 90}, {Name: "b", Weight: 10}, {Name: "zero", Weight: 0}}
	rule := &routing.Rule{Backends: backends}
	const n = 20000
	counts := map[string]int{}
	for range n {
		counts[rule.Pick().Name]++
	}
	if counts["zero"] != 0 {
		t.Errorf("a backend of weight 0 got %d requests", counts["zero"])
	}
	// The split is random: 5 standard deviations of a binomial count
	// (about 212 for 10% of 20000) make a false failure vanishingly rare
	// and still catch a wrong proportion.
	for name, weight := range map[string]float64{"a": 0.9, "b": 0.1} {
		want := weight * n
		tolerance := 5 * math.Sqrt(n*weight*(1-weight))
		if got := float64(counts[name]); math.Abs(got-want) > tolerance {
			t.Errorf("backend %s got %v of %d requests, want %v ± %.0f", name, got, n, want, tolerance)
		}
	}
}

func TestRulePickWithoutWeight(t *testing.T) {
	for name, rule := range map[string]*routing.Rule{
		"no backends":     {},
		"all of weight 0": {Backends: []*routing.Backend{{Name: "a"}, {Name: "b"}}},
	} {
		if b := rule.Pick(); b != nil {
			t.Errorf("%s: picked %s, want none", name, b.Name)
		}
	}
}

func TestBackendPickFewestInFlight(t *testing.T) {
	a, b, c := &routing.Endpoint{Address: "a"}, &routing.Endpoint{Address: "b"}, &routing.Endpoint{Address: "c"}
	backend := &routing.Backend{Endpoints: []*routing.Endpoint{a, b, c}}
	a.Begin()
	b.Begin()
	b.Begin()
	for range 20 {
		if got := backend.Pick(nil); got != c {
			t.Fatalf("picked %s with a:1 b:2 c:0 in flight, want c", got.Address)
		}
	}
	if got := backend.Pick([]*routing.Endpoint{c}); got != a {
		t.Errorf("picked %s with c excluded, want a (1 in flight against b's 2)", got.Address)
	}
	if got := backend.Pick([]*routing.Endpoint{a, b, c}); got != nil {
		t.Errorf("picked %s with every endpoint excluded, want none", got.Address)
	}
	a.End()
	b.End()
	if a.InFlight() != 0 || b.InFlight() != 1 {
		t.Errorf("in flight a:%d b:%d, want a:0 b:1", a.InFlight(), b.InFlight())
	}

	// Idle endpoints share the load instead of the first taking all.
	seen := map[string]bool{}
	idle := &routing.Backend{Endpoints: []*routing.Endpoint{{Address: "x"}, {Address: "y"}, {Address: "z"}}}
	for range 100 {
		seen[idle.Pick(nil).Address] = true
	}
	if len(seen) != 3 {
		t.Errorf("100 picks among idle endpoints reached %v, want all three", seen)
	}
}

func TestEndpointPoolSharesEndpointsAcrossBuilds(t *testing.T) {
	// Tested through Build elsewhere; here the in-flight count must
	// follow an address from one table to the next.
	pool := routing.NewEndpointPool()
	first := buildWithEndpoint(pool, "10.0.0.1:8080")
	first.Begin()
	pool.Prune()
	second := buildWithEndpoint(pool, "10.0.0.1:8080")
	if first != second || second.InFlight() != 1 {
		t.Errorf("the rebuilt table has a new endpoint (in flight %d); want the same one, 1 in flight", second.InFlight())
	}
	first.End()
	pool.Prune()
	pool.Prune() // nothing used since: forgotten
	if third := buildWithEndpoint(pool, "10.0.0.1:8080"); third == first {
		t.Error("an address unused across a Prune was kept")
	}
}
