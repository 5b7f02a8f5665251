package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ConfigEnv holds the adapter's Config as JSON.
const ConfigEnv = "FLYWHEEL_APISERVER_SOURCE_CONFIG"

// The adapter's probes: HealthPath answers while the process runs,
// ReadyPath once every watch has listed what it watches.
const (
	ProbePort  = 8080
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// Config is what one adapter watches and how it turns a change into an
// event. The reconciler resolves everything the adapter would otherwise
// have to look up (each kind's resource and scope, the namespaces a
// selector matches), so that the adapter watches exactly what the
// permission check allowed.
type Config struct {
	// SourceNamespace and SourceName name the ApiServerSource, for logs.
	SourceNamespace string `json:"sourceNamespace"`
	SourceName      string `json:"sourceName"`

	// CloudEventSource is the source attribute of every event: the API
	// server's URL, the same value the source's status.ceAttributes shows.
	CloudEventSource string `json:"ceSource"`

	// Mode is the source's spec.mode (sources/v1 EventModeReference or
	// EventModeResource): what each event's data holds.
	Mode string `json:"mode"`

	// Resources are the kinds to watch.
	Resources []Resource `json:"resources"`

	// Owner, when set, keeps only objects whose controller (the owner
	// reference with controller: true) is of this apiVersion and kind.
	Owner *Owner `json:"owner,omitempty"`

	// AllNamespaces watches namespaced resources across the cluster with
	// one watch each; otherwise each is watched in every one of
	// Namespaces. Cluster-scoped resources are watched cluster-wide
	// either way.
	AllNamespaces bool     `json:"allNamespaces,omitempty"`
	Namespaces    []string `json:"namespaces,omitempty"`
}

// Resource is one kind to watch, as the API server serves it.
type Resource struct {
	// Group, Version and Resource (the plural, lower-case name, such as
	// configmaps) locate the collection; Group is empty for the core API.
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	// Kind is the kind's name, for logs.
	Kind string `json:"kind"`
	// Namespaced is false for a cluster-scoped kind such as Namespace.
	Namespaced bool `json:"namespaced"`
	// LabelSelector narrows the watch, in the API server's label
	// selector syntax; empty watches every object.
	LabelSelector string `json:"labelSelector,omitempty"`
}

// APIVersion is the resource's group and version as an object's
// apiVersion field writes them: v1 for the core group, apps/v1 otherwise.
func (r Resource) APIVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// NamespacesOf is where r is watched: across the cluster (the one
// namespace "") when r is cluster-scoped or every namespace is watched,
// else in each of Namespaces. The reconciler checks the service
// account's permissions where the adapter will watch, from this one rule.
func (c Config) NamespacesOf(r Resource) []string {
	if !r.Namespaced || c.AllNamespaces {
		return []string{""}
	}
	return c.Namespaces
}

// Owner names the kind of the objects' controller.
type Owner struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Encode is c as ConfigEnv holds it.
func (c Config) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encoding the adapter config: %w", err)
	}
	return string(b), nil
}

// Decode reads a Config as Encode writes it, and checks it.
func Decode(raw string) (Config, error) {
	var c Config
	if raw == "" {
		return c, fmt.Errorf("%s is not set: the adapter runs from the Deployment the ApiServerSource reconciler makes, which sets it", ConfigEnv)
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, fmt.Errorf("%s is not the adapter config as JSON: %w", ConfigEnv, err)
	}
	return c, c.Validate()
}

// Validate checks that c names something to watch and a way to report
// it.
func (c Config) Validate() error {
	var errs []error
	if c.CloudEventSource == "" {
		errs = append(errs, errors.New("ceSource is empty: set it to the API server's URL"))
	}
	if c.Mode == "" {
		errs = append(errs, errors.New("mode is empty: set it to the source's spec.mode"))
	}
	if len(c.Resources) == 0 {
		errs = append(errs, errors.New("resources is empty: list at least one kind to watch"))
	}
	for i, r := range c.Resources {
		var missing []string
		if r.Version == "" {
			missing = append(missing, "version")
		}
		if r.Resource == "" {
			missing = append(missing, "resource")
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("resources[%d] has no %s", i, strings.Join(missing, " or ")))
		}
	}
	if c.Owner != nil && c.Owner.APIVersion == "" && c.Owner.Kind == "" {
		errs = append(errs, errors.New("owner names neither apiVersion nor kind: remove it or name the owners' kind"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid %s: %w", ConfigEnv, err)
	}
	return nil
}
