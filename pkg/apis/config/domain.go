package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// DomainConfigName is the ConfigMap that gives Routes their domain.
const DomainConfigName = "config-domain"

// DefaultDomain is the domain of every Route while config-domain names
// none. Like Knative's, it is a placeholder that resolves nowhere: an
// operator sets a domain whose DNS points at the external Gateway.
const DefaultDomain = "example.com"

// ClusterLocalDomain is the domain of hosts inside the cluster. A Route
// that config-domain gives this domain is cluster-local, as if it carried
// the visibility label.
const ClusterLocalDomain = "svc.cluster.local"

// Domain is the configuration of Routes' domains: each domain with the
// labels a Route must carry to get it.
type Domain struct {
	// Domains maps a domain to its selector. An empty selector matches
	// every Route.
	Domains map[string]map[string]string
}

// DefaultDomainConfig returns the configuration in force when
// config-domain holds no domain.
func DefaultDomainConfig() *Domain {
	return &Domain{Domains: map[string]map[string]string{DefaultDomain: {}}}
}

// domainValue is the value of a config-domain key, as Knative writes it:
// empty, or YAML with a selector of labels.
type domainValue struct {
	Selector map[string]string `json:"selector,omitempty"`
}

// NewDomainFromMap parses the data of config-domain: each key other than
// _example is a domain, its value empty or `selector:` with labels. Data
// with no domain gives the default. A value that is not such YAML is
// refused rather than read as "every Route", which would hand the domain
// to Routes it was not meant for.
func NewDomainFromMap(data map[string]string) (*Domain, error) {
	d := &Domain{Domains: map[string]map[string]string{}}
	for domain, value := range data {
		if domain == "_example" {
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(domain); len(msgs) > 0 {
			return nil, invalid(DomainConfigName, domain, "(the key)", "a key must be a domain name: "+strings.Join(msgs, "; "))
		}
		var v domainValue
		if err := yaml.UnmarshalStrict([]byte(value), &v); err != nil {
			return nil, invalid(DomainConfigName, domain, fmt.Sprintf("%q", value),
				"must be empty or YAML of the form `selector: {<label>: <value>, ...}`: "+err.Error())
		}
		if _, err := labels.ValidatedSelectorFromSet(v.Selector); err != nil {
			return nil, invalid(DomainConfigName, domain, fmt.Sprintf("%q", value), "the selector's labels are not valid: "+err.Error())
		}
		if v.Selector == nil {
			v.Selector = map[string]string{}
		}
		d.Domains[domain] = v.Selector
	}
	if len(d.Domains) == 0 {
		return DefaultDomainConfig(), nil
	}
	return d, nil
}

// NewDomainFromConfigMap parses config-domain.
func NewDomainFromConfigMap(c *corev1.ConfigMap) (*Domain, error) {
	return NewDomainFromMap(c.Data)
}

// DomainKeys returns the keys of the default config-domain, the ones its
// _example block shows at their default.
func DomainKeys() []string {
	return slices.Sorted(maps.Keys(DefaultDomainConfig().Domains))
}

// DomainFor returns the domain of a Route with these labels: of the
// domains whose selector the labels satisfy, the one whose selector names
// the most labels, so that a specific rule beats a catch-all; on a tie,
// the first in alphabetical order, so that the choice does not depend on
// map order. It returns "" when no selector matches: such a Route has no
// public host.
func (d *Domain) DomainFor(routeLabels map[string]string) string {
	chosen, specificity := "", -1
	for _, domain := range slices.Sorted(maps.Keys(d.Domains)) {
		selector := d.Domains[domain]
		if len(selector) <= specificity || !labels.SelectorFromSet(selector).Matches(labels.Set(routeLabels)) {
			continue
		}
		chosen, specificity = domain, len(selector)
	}
	return chosen
}
