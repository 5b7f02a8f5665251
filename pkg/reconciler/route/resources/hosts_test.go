package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

func defaultConfig() *config.Config {
	return &config.Config{
		Network:  apisconfig.DefaultNetwork(),
		Domain:   apisconfig.DefaultDomainConfig(),
		Features: apisconfig.DefaultFeatures(),
	}
}

func TestHosts(t *testing.T) {
	clusterLocal := fwtesting.WithRouteLabels(map[string]string{serving.VisibilityLabel.String(): serving.VisibilityClusterLocal})
	tests := []struct {
		name   string
		route  *v1.Route
		tags   []string
		config func(*config.Config)
		want   []Host
	}{{
		name:  "a public Route is also served inside the cluster",
		route: fwtesting.Route("hello", "demo"),
		want: []Host{
			{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal},
			{Name: "hello.demo.example.com", Visibility: Public},
		},
	}, {
		name:  "each tag has hosts of its own",
		route: fwtesting.Route("hello", "demo"),
		tags:  []string{"blue", "green"},
		want: []Host{
			{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal},
			{Name: "hello.demo.example.com", Visibility: Public},
			{Name: "blue-hello.demo.svc.cluster.local", Tag: "blue", Visibility: ClusterLocal},
			{Name: "blue-hello.demo.example.com", Tag: "blue", Visibility: Public},
			{Name: "green-hello.demo.svc.cluster.local", Tag: "green", Visibility: ClusterLocal},
			{Name: "green-hello.demo.example.com", Tag: "green", Visibility: Public},
		},
	}, {
		name:  "a cluster-local Route has no public host",
		route: fwtesting.Route("hello", "demo", clusterLocal),
		tags:  []string{"blue"},
		want: []Host{
			{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal},
			{Name: "blue-hello.demo.svc.cluster.local", Tag: "blue", Visibility: ClusterLocal},
		},
	}, {
		name:  "the templates and domain of the configuration",
		route: fwtesting.Route("hello", "demo", fwtesting.WithRouteLabels(map[string]string{"team": "a"})),
		tags:  []string{"blue"},
		config: func(c *config.Config) {
			c.Network.DomainTemplate = "{{.Name}}--{{.Namespace}}.{{.Domain}}"
			c.Network.TagTemplate = "{{.Name}}-{{.Tag}}"
			c.Domain = &apisconfig.Domain{Domains: map[string]map[string]string{
				"example.org": {}, "team-a.example.org": {"team": "a"},
			}}
		},
		want: []Host{
			{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal},
			{Name: "hello--demo.team-a.example.org", Visibility: Public},
			{Name: "hello-blue.demo.svc.cluster.local", Tag: "blue", Visibility: ClusterLocal},
			{Name: "hello-blue--demo.team-a.example.org", Tag: "blue", Visibility: Public},
		},
	}, {
		name:  "no domain matches: cluster-local",
		route: fwtesting.Route("hello", "demo"),
		config: func(c *config.Config) {
			c.Domain = &apisconfig.Domain{Domains: map[string]map[string]string{"team-a.example.org": {"team": "a"}}}
		},
		want: []Host{{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal}},
	}, {
		name:  "the cluster-local domain: cluster-local",
		route: fwtesting.Route("hello", "demo"),
		config: func(c *config.Config) {
			c.Domain = &apisconfig.Domain{Domains: map[string]map[string]string{"svc.cluster.local": {}}}
		},
		want: []Host{{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			if tt.config != nil {
				tt.config(cfg)
			}
			got, err := Hosts(tt.route, tt.tags, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Hosts (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestHostsRefusesAnInvalidHost(t *testing.T) {
	route := fwtesting.Route("a-route-with-a-name-long-enough-to-break-the-host", "a-namespace-that-adds-more")
	cfg := defaultConfig()
	cfg.Network.DomainTemplate = "{{.Name}}-{{.Namespace}}.{{.Domain}}"
	if got, err := Hosts(route, nil, cfg); err == nil {
		t.Errorf("Hosts = %v, want an error for a label over 63 characters", got)
	}
}

func TestURLs(t *testing.T) {
	cfg := defaultConfig()
	cfg.Network.DefaultExternalScheme = "https"
	hosts := []Host{
		{Name: "hello.demo.svc.cluster.local", Visibility: ClusterLocal},
		{Name: "hello.demo.example.com", Visibility: Public},
		{Name: "blue-hello.demo.svc.cluster.local", Tag: "blue", Visibility: ClusterLocal},
		{Name: "blue-hello.demo.example.com", Tag: "blue", Visibility: Public},
	}
	if got, want := URLOf(hosts, "", cfg).String(), "https://hello.demo.example.com"; got != want {
		t.Errorf("URLOf the Route = %s, want %s", got, want)
	}
	if got, want := URLOf(hosts, "blue", cfg).String(), "https://blue-hello.demo.example.com"; got != want {
		t.Errorf("URLOf tag blue = %s, want %s", got, want)
	}
	if got, want := ClusterLocalURL(hosts).String(), "http://hello.demo.svc.cluster.local"; got != want {
		t.Errorf("ClusterLocalURL = %s, want %s", got, want)
	}
	local := hosts[:1]
	if got, want := URLOf(local, "", cfg).String(), "http://hello.demo.svc.cluster.local"; got != want {
		t.Errorf("URLOf a cluster-local Route = %s, want %s", got, want)
	}
}
