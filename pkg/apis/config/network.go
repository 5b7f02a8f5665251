package config

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	cm "knative.dev/pkg/configmap"
)

// NetworkConfigName is the ConfigMap that decides how Routes are exposed:
// the shape of their hostnames and the Gateways that serve them.
const NetworkConfigName = "config-network"

// Defaults of config-network.
const (
	// DefaultDomainTemplate names a Route's host after the Route, its
	// namespace and the domain config-domain chose, as Knative does.
	DefaultDomainTemplate = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
	// DefaultTagTemplate is the name a tag's host is made from, in place of
	// the Route's name in the domain template.
	DefaultTagTemplate = "{{.Tag}}-{{.Name}}"
	// DefaultExternalGateway is the Gateway of Routes reachable from
	// outside the cluster.
	DefaultExternalGateway = "flywheel-system/flywheel-external"
	// DefaultClusterLocalGateway is the Gateway of cluster-local hosts.
	DefaultClusterLocalGateway = "flywheel-system/flywheel-local"
	// DefaultClusterLocalGatewayService is the Service in front of the
	// built-in gateway's cluster-local listener
	// (config/core/500-gateway.yaml).
	DefaultClusterLocalGatewayService = "flywheel-system/flywheel-gateway-local"
)

// Network is the configuration of how Routes are exposed.
type Network struct {
	// DomainTemplate is a Go text/template of a Route's public host; see
	// DomainTemplateValues for what it may refer to.
	DomainTemplate string
	// TagTemplate is a Go text/template of the name that stands for the
	// Route's name in DomainTemplate when the host of a tag is made; see
	// TagTemplateValues.
	TagTemplate string
	// ExternalGateway is the Gateway that public hosts attach to.
	ExternalGateway types.NamespacedName
	// ClusterLocalGateway is the Gateway that cluster-local hosts attach
	// to, and every host of a cluster-local Route.
	ClusterLocalGateway types.NamespacedName
	// ClusterLocalGatewayService is the Service through which pods reach
	// the cluster-local Gateway. Each Route's Service of its own name is
	// an ExternalName alias of it, so that <route>.<namespace>.svc.cluster.local
	// resolves to the Gateway that serves that host.
	ClusterLocalGatewayService types.NamespacedName
	// DefaultExternalScheme is the scheme of public URLs: "http", or
	// "https" where the Gateway terminates TLS.
	DefaultExternalScheme string
}

// DomainTemplateValues are what DomainTemplate may refer to.
type DomainTemplateValues struct {
	// Name is the Route's name, or the tag template's result for a tag.
	Name string
	// Namespace is the Route's namespace.
	Namespace string
	// Domain is the domain config-domain chose for the Route.
	Domain string
	// Annotations and Labels are the Route's.
	Annotations map[string]string
	Labels      map[string]string
}

// TagTemplateValues are what TagTemplate may refer to.
type TagTemplateValues struct {
	// Name is the Route's name.
	Name string
	// Tag is the traffic target's tag.
	Tag string
}

// DefaultNetwork returns the configuration in force when config-network is
// empty or missing.
func DefaultNetwork() *Network {
	return &Network{
		DomainTemplate:             DefaultDomainTemplate,
		TagTemplate:                DefaultTagTemplate,
		ExternalGateway:            mustNamespacedName(DefaultExternalGateway),
		ClusterLocalGateway:        mustNamespacedName(DefaultClusterLocalGateway),
		ClusterLocalGatewayService: mustNamespacedName(DefaultClusterLocalGatewayService),
		DefaultExternalScheme:      "http",
	}
}

func mustNamespacedName(s string) types.NamespacedName {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		panic("not namespace/name: " + s)
	}
	return types.NamespacedName{Namespace: ns, Name: name}
}

func (n *Network) fields() []field {
	return []field{
		{"domain-template", bind(cm.AsString, &n.DomainTemplate)},
		{"tag-template", bind(cm.AsString, &n.TagTemplate)},
		{"external-gateway", bind(cm.AsNamespacedName, &n.ExternalGateway)},
		{"cluster-local-gateway", bind(cm.AsNamespacedName, &n.ClusterLocalGateway)},
		{"cluster-local-gateway-service", bind(cm.AsNamespacedName, &n.ClusterLocalGatewayService)},
		{"default-external-scheme", bind(cm.AsString, &n.DefaultExternalScheme)},
	}
}

// NetworkKeys returns the keys config-network understands.
func NetworkKeys() []string {
	return keysOf(DefaultNetwork().fields())
}

// NewNetworkFromMap parses the data of config-network. The templates are
// tried on sample Routes here, so that a template that cannot make a
// hostname is refused when the ConfigMap changes rather than found out
// Route by Route.
func NewNetworkFromMap(data map[string]string) (*Network, error) {
	n := DefaultNetwork()
	if err := parseFields(data, n.fields()); err != nil {
		return nil, fmt.Errorf("%s: %w", NetworkConfigName, err)
	}
	return n, n.validate()
}

// NewNetworkFromConfigMap parses config-network.
func NewNetworkFromConfigMap(c *corev1.ConfigMap) (*Network, error) {
	return NewNetworkFromMap(c.Data)
}

func (n *Network) validate() error {
	const name = NetworkConfigName
	n.DefaultExternalScheme = strings.ToLower(strings.TrimSpace(n.DefaultExternalScheme))
	if n.DefaultExternalScheme != "http" && n.DefaultExternalScheme != "https" {
		return invalid(name, "default-external-scheme", fmt.Sprintf("%q", n.DefaultExternalScheme), `must be "http" or "https"`)
	}
	// A Service's name is a DNS-1035 label, stricter than the
	// namespace/name parser checks: it must start with a letter.
	if msgs := validation.IsDNS1035Label(n.ClusterLocalGatewayService.Name); len(msgs) > 0 {
		return invalid(name, "cluster-local-gateway-service", fmt.Sprintf("%q", n.ClusterLocalGatewayService.String()),
			"must name a Service: "+strings.Join(msgs, "; "))
	}
	if _, err := template.New("domain-template").Parse(n.DomainTemplate); err != nil {
		return invalid(name, "domain-template", fmt.Sprintf("%q", n.DomainTemplate), "must be a Go text/template: "+err.Error())
	}
	if _, err := template.New("tag-template").Parse(n.TagTemplate); err != nil {
		return invalid(name, "tag-template", fmt.Sprintf("%q", n.TagTemplate), "must be a Go text/template: "+err.Error())
	}

	// Two Routes, or two tags, must never share a host, so each template
	// must use what tells them apart; trying samples that differ in one
	// value at a time finds a template that leaves it out.
	sample := DomainTemplateValues{Name: "hello", Namespace: "demo", Domain: "example.com"}
	host, err := n.Host(sample)
	if err != nil {
		return invalid(name, "domain-template", fmt.Sprintf("%q", n.DomainTemplate), err.Error())
	}
	otherName, otherNS := sample, sample
	otherName.Name = "other"
	otherNS.Namespace = "elsewhere"
	for _, other := range []DomainTemplateValues{otherName, otherNS} {
		if h, err := n.Host(other); err != nil || h == host {
			return invalid(name, "domain-template", fmt.Sprintf("%q", n.DomainTemplate),
				"must use both {{.Name}} and {{.Namespace}}, or two Routes would share a host")
		}
	}

	tagged, err := n.TagName(TagTemplateValues{Name: "hello", Tag: "blue"})
	if err == nil {
		_, err = n.Host(DomainTemplateValues{Name: tagged, Namespace: "demo", Domain: "example.com"})
	}
	if err != nil {
		return invalid(name, "tag-template", fmt.Sprintf("%q", n.TagTemplate), err.Error())
	}
	otherTag, _ := n.TagName(TagTemplateValues{Name: "hello", Tag: "green"})
	otherRoute, _ := n.TagName(TagTemplateValues{Name: "other", Tag: "blue"})
	if otherTag == tagged || otherRoute == tagged {
		return invalid(name, "tag-template", fmt.Sprintf("%q", n.TagTemplate),
			"must use both {{.Tag}} and {{.Name}}, or two tags would share a host")
	}
	return nil
}

// ClusterLocalGatewayHost is the DNS name of ClusterLocalGatewayService
// inside the cluster.
func (n *Network) ClusterLocalGatewayHost() string {
	return n.ClusterLocalGatewayService.Name + "." + n.ClusterLocalGatewayService.Namespace + "." + ClusterLocalDomain
}

// Host returns the host DomainTemplate makes of v. It fails when the
// template does not run or its result is not a DNS name that a Gateway
// API hostname accepts.
func (n *Network) Host(v DomainTemplateValues) (string, error) {
	host, err := execute("domain-template", n.DomainTemplate, v)
	if err != nil {
		return "", err
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return "", fmt.Errorf("the host %q is not a valid DNS name: %s", host, strings.Join(msgs, "; "))
	}
	for _, label := range strings.Split(host, ".") {
		if msgs := validation.IsDNS1123Label(label); len(msgs) > 0 {
			return "", fmt.Errorf("the host %q has a label %q that is not valid: %s", host, label, strings.Join(msgs, "; "))
		}
	}
	return host, nil
}

// TagName returns the name TagTemplate makes of v, to stand for the
// Route's name in DomainTemplate.
func (n *Network) TagName(v TagTemplateValues) (string, error) {
	return execute("tag-template", n.TagTemplate, v)
}

// execute runs a template. Parsing on each call keeps Network a plain
// value that tests compare and copy; templates are short.
func execute(name, text string, data any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
