package resources

import (
	"fmt"

	"knative.dev/pkg/apis"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
)

// Visibility says from where a host is reached, and so which Gateway its
// HTTPRoute attaches to.
type Visibility int

// The visibilities of a host.
const (
	// Public hosts attach to config-network's external Gateway.
	Public Visibility = iota
	// ClusterLocal hosts attach to its cluster-local Gateway.
	ClusterLocal
)

// Host is one hostname a Route is served at.
type Host struct {
	// Name is the DNS name.
	Name string
	// Tag is the traffic tag the host serves; "" for the Route's main
	// hosts, which serve its whole split.
	Tag string
	// Visibility decides the Gateway.
	Visibility Visibility
}

// IsClusterLocal reports whether route is served inside the cluster only:
// it carries the label networking.knative.dev/visibility: cluster-local
// (a Service's labels are its Route's too), or config-domain gives it no
// domain, or the cluster-local one.
func IsClusterLocal(route *v1.Route, cfg *config.Config) bool {
	if v, _ := serving.VisibilityLabel.Get(route.Labels); v == serving.VisibilityClusterLocal {
		return true
	}
	domain := cfg.Domain.DomainFor(route.Labels)
	return domain == "" || domain == apisconfig.ClusterLocalDomain
}

// Hosts returns the hosts of route: for its main hosts and then for each
// tag in turn, the cluster-local host <name>.<namespace>.svc.cluster.local
// and, unless the Route is cluster-local, its public host from
// config-network's templates and config-domain's domain. A tag's hosts use
// the name the tag template makes in place of the Route's name.
func Hosts(route *v1.Route, tags []string, cfg *config.Config) ([]Host, error) {
	public := !IsClusterLocal(route, cfg)
	domain := cfg.Domain.DomainFor(route.Labels)

	var hosts []Host
	for _, tag := range append([]string{""}, tags...) {
		name := route.Name
		if tag != "" {
			var err error
			if name, err = cfg.Network.TagName(apisconfig.TagTemplateValues{Name: route.Name, Tag: tag}); err != nil {
				return nil, fmt.Errorf("tag-template of %s for tag %q: %w", apisconfig.NetworkConfigName, tag, err)
			}
		}
		hosts = append(hosts, Host{
			Name:       name + "." + route.Namespace + "." + apisconfig.ClusterLocalDomain,
			Tag:        tag,
			Visibility: ClusterLocal,
		})
		if !public {
			continue
		}
		host, err := cfg.Network.Host(apisconfig.DomainTemplateValues{
			Name:        name,
			Namespace:   route.Namespace,
			Domain:      domain,
			Annotations: route.Annotations,
			Labels:      route.Labels,
		})
		if err != nil {
			return nil, fmt.Errorf("domain-template of %s: %w", apisconfig.NetworkConfigName, err)
		}
		hosts = append(hosts, Host{Name: host, Tag: tag, Visibility: Public})
	}
	return hosts, nil
}

// URL returns the URL of h: with config-network's scheme for a public
// host, plain http inside the cluster.
func URL(h Host, cfg *config.Config) *apis.URL {
	if h.Visibility == ClusterLocal {
		return apis.HTTP(h.Name)
	}
	return &apis.URL{Scheme: cfg.Network.DefaultExternalScheme, Host: h.Name}
}

// URLOf returns the URL the Route reports for tag, or for itself when tag
// is "": the public one, or the cluster-local one for a cluster-local
// Route.
func URLOf(hosts []Host, tag string, cfg *config.Config) *apis.URL {
	var found *Host
	for i := range hosts {
		if h := &hosts[i]; h.Tag == tag && (found == nil || h.Visibility == Public) {
			found = h
		}
	}
	if found == nil {
		return nil
	}
	return URL(*found, cfg)
}

// ClusterLocalURL returns the URL of the Route inside the cluster.
func ClusterLocalURL(hosts []Host) *apis.URL {
	for _, h := range hosts {
		if h.Tag == "" && h.Visibility == ClusterLocal {
			return apis.HTTP(h.Name)
		}
	}
	return nil
}
