package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewDomainFromMap(t *testing.T) {
	tests := []struct {
		name       string
		data       map[string]string
		want       *Domain
		wantErrKey string
	}{{
		name: "empty map gives example.com for every Route",
		data: map[string]string{},
		want: &Domain{Domains: map[string]map[string]string{"example.com": {}}},
	}, {
		name: "only _example gives the default",
		data: map[string]string{"_example": "example.org: |\n  selector: {app: x}\n"},
		want: DefaultDomainConfig(),
	}, {
		name: "domains replace the default",
		data: map[string]string{
			"apps.example.org":     "",
			"internal.example.org": "selector:\n  team: platform\n  tier: backend\n",
		},
		want: &Domain{Domains: map[string]map[string]string{
			"apps.example.org":     {},
			"internal.example.org": {"team": "platform", "tier": "backend"},
		}},
	}, {
		name:       "a key that is not a domain",
		data:       map[string]string{"apps_example.org": ""},
		wantErrKey: "apps_example.org",
	}, {
		name:       "a value that is not a selector",
		data:       map[string]string{"apps.example.org": "selectors:\n  team: a\n"},
		wantErrKey: "apps.example.org",
	}, {
		name:       "a selector with an invalid label",
		data:       map[string]string{"apps.example.org": "selector:\n  'bad key!': a\n"},
		wantErrKey: "apps.example.org",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewDomainFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, DomainConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewDomainFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewDomainFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestDomainFor(t *testing.T) {
	d := &Domain{Domains: map[string]map[string]string{
		"b.example.com":     {},
		"a.example.com":     {},
		"team.example.com":  {"team": "x"},
		"tier.example.com":  {"tier": "web"},
		"both.example.com":  {"team": "x", "tier": "web"},
		"other.example.com": {"team": "y", "tier": "web", "zone": "z"},
	}}
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"no labels: the catch-alls tie, alphabetical wins", nil, "a.example.com"},
		{"one selector matches", map[string]string{"team": "x"}, "team.example.com"},
		{"the most specific match wins", map[string]string{"team": "x", "tier": "web"}, "both.example.com"},
		{"a selector needs every label", map[string]string{"team": "y", "tier": "web"}, "tier.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.DomainFor(tt.labels); got != tt.want {
				t.Errorf("DomainFor(%v) = %q, want %q", tt.labels, got, tt.want)
			}
		})
	}

	selective := &Domain{Domains: map[string]map[string]string{"team.example.com": {"team": "x"}}}
	if got := selective.DomainFor(map[string]string{"team": "y"}); got != "" {
		t.Errorf("DomainFor with no matching selector = %q, want none", got)
	}
}
