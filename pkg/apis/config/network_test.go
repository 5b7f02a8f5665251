package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

func TestNewNetworkFromMap(t *testing.T) {
	allKeys := map[string]string{
		"domain-template":               "{{.Name}}-{{.Namespace}}.{{.Domain}}",
		"tag-template":                  "{{.Name}}-{{.Tag}}",
		"external-gateway":              "gateways/public",
		"cluster-local-gateway":         "gateways/internal",
		"cluster-local-gateway-service": "gateways/internal-lb",
		"default-external-scheme":       "HTTPS",
	}
	checkCoversKeys(t, allKeys, NetworkKeys())

	tests := []struct {
		name       string
		data       map[string]string
		want       *Network
		wantErrKey string
	}{{
		name: "empty map gives the defaults",
		data: map[string]string{},
		want: DefaultNetwork(),
	}, {
		name: "every key set; the scheme is lower-cased",
		data: allKeys,
		want: &Network{
			DomainTemplate:             "{{.Name}}-{{.Namespace}}.{{.Domain}}",
			TagTemplate:                "{{.Name}}-{{.Tag}}",
			ExternalGateway:            types.NamespacedName{Namespace: "gateways", Name: "public"},
			ClusterLocalGateway:        types.NamespacedName{Namespace: "gateways", Name: "internal"},
			ClusterLocalGatewayService: types.NamespacedName{Namespace: "gateways", Name: "internal-lb"},
			DefaultExternalScheme:      "https",
		},
	}, {
		name:       "domain template that does not parse",
		data:       map[string]string{"domain-template": "{{.Name}.{{.Namespace}}.{{.Domain}}"},
		wantErrKey: "domain-template",
	}, {
		name:       "domain template naming a field that does not exist",
		data:       map[string]string{"domain-template": "{{.Name}}.{{.Namespace}}.{{.Zone}}"},
		wantErrKey: "domain-template",
	}, {
		name:       "domain template without the namespace: Routes of two namespaces would collide",
		data:       map[string]string{"domain-template": "{{.Name}}.{{.Domain}}"},
		wantErrKey: "domain-template",
	}, {
		name:       "domain template making an invalid host",
		data:       map[string]string{"domain-template": "{{.Name}}_{{.Namespace}}.{{.Domain}}"},
		wantErrKey: "domain-template",
	}, {
		name: "domain template reading a label",
		data: map[string]string{"domain-template": `{{.Name}}.{{.Namespace}}.{{index .Labels "zone" | printf "%.0s"}}{{.Domain}}`},
		want: func() *Network {
			n := DefaultNetwork()
			n.DomainTemplate = `{{.Name}}.{{.Namespace}}.{{index .Labels "zone" | printf "%.0s"}}{{.Domain}}`
			return n
		}(),
	}, {
		name:       "tag template without the tag: two tags would collide",
		data:       map[string]string{"tag-template": "{{.Name}}"},
		wantErrKey: "tag-template",
	}, {
		name:       "tag template making an invalid host",
		data:       map[string]string{"tag-template": "{{.Tag}}/{{.Name}}"},
		wantErrKey: "tag-template",
	}, {
		name:       "gateway without a namespace",
		data:       map[string]string{"external-gateway": "public"},
		wantErrKey: "external-gateway",
	}, {
		name:       "gateway with an invalid name",
		data:       map[string]string{"cluster-local-gateway": "gateways/Local"},
		wantErrKey: "cluster-local-gateway",
	}, {
		name:       "gateway Service without a namespace",
		data:       map[string]string{"cluster-local-gateway-service": "flywheel-gateway-local"},
		wantErrKey: "cluster-local-gateway-service",
	}, {
		name:       "gateway Service whose name is no Service name: it starts with a digit",
		data:       map[string]string{"cluster-local-gateway-service": "gateways/1-local"},
		wantErrKey: "cluster-local-gateway-service",
	}, {
		name:       "scheme other than http or https",
		data:       map[string]string{"default-external-scheme": "ftp"},
		wantErrKey: "default-external-scheme",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewNetworkFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, NetworkConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewNetworkFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewNetworkFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestNetworkHosts(t *testing.T) {
	n := DefaultNetwork()
	values := DomainTemplateValues{Name: "hello", Namespace: "demo", Domain: "example.com"}
	if got, err := n.Host(values); err != nil || got != "hello.demo.example.com" {
		t.Errorf("Host = %q, %v; want hello.demo.example.com", got, err)
	}
	tagged, err := n.TagName(TagTemplateValues{Name: "hello", Tag: "blue"})
	if err != nil || tagged != "blue-hello" {
		t.Fatalf("TagName = %q, %v; want blue-hello", tagged, err)
	}
	values.Name = tagged
	if got, err := n.Host(values); err != nil || got != "blue-hello.demo.example.com" {
		t.Errorf("Host of the tag = %q, %v; want blue-hello.demo.example.com", got, err)
	}

	// A host label past 63 characters is refused at the Route, which the
	// sample at parse time cannot catch.
	values.Name = "a-name-that-is-long-enough-to-make-the-first-label-of-the-host-too-long"
	if got, err := n.Host(values); err == nil {
		t.Errorf("Host with a 70-character label = %q, want an error", got)
	}
}

func TestClusterLocalGatewayHost(t *testing.T) {
	if got, want := DefaultNetwork().ClusterLocalGatewayHost(), "flywheel-gateway-local.flywheel-system.svc.cluster.local"; got != want {
		t.Errorf("ClusterLocalGatewayHost of the defaults = %q, want %q", got, want)
	}
	n, err := NewNetworkFromMap(map[string]string{"cluster-local-gateway-service": "istio-system/knative-local-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.ClusterLocalGatewayHost(), "knative-local-gateway.istio-system.svc.cluster.local"; got != want {
		t.Errorf("ClusterLocalGatewayHost = %q, want %q", got, want)
	}
}
