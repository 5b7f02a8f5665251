package config

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	cm "knative.dev/pkg/configmap"
)

// DefaultsConfigName is the ConfigMap holding the defaults of Revisions.
const DefaultsConfigName = "config-defaults"

// Defaults are the values a Revision gets when its template leaves them
// out, and the bounds validation holds templates to.
type Defaults struct {
	// RevisionTimeoutSeconds is timeoutSeconds when unset.
	RevisionTimeoutSeconds int64
	// MaxRevisionTimeoutSeconds bounds timeoutSeconds and the other
	// request timeouts.
	MaxRevisionTimeoutSeconds int64
	// RevisionResponseStartTimeoutSeconds is responseStartTimeoutSeconds
	// when unset; 0 leaves it unset (the request timeout applies).
	RevisionResponseStartTimeoutSeconds int64
	// RevisionIdleTimeoutSeconds is idleTimeoutSeconds when unset; 0 means
	// no idle timeout.
	RevisionIdleTimeoutSeconds int64

	// ContainerConcurrency is containerConcurrency when unset; 0 means no
	// limit.
	ContainerConcurrency int64
	// ContainerConcurrencyMaxLimit bounds containerConcurrency.
	ContainerConcurrencyMaxLimit int64
	// AllowContainerConcurrencyZero, when false, makes 0 (no limit)
	// invalid.
	AllowContainerConcurrencyZero bool

	// UserContainerName names the only container of a template that names
	// none; with several containers the index is appended.
	UserContainerName string
	// InitContainerName is the same for init containers.
	InitContainerName string

	// EnableServiceLinks is enableServiceLinks when unset. Knative turns
	// service links off by default: with many Services they make pod
	// start slow and can break apps that read environment variables.
	EnableServiceLinks bool

	// Resource requests and limits given to the user containers that set
	// none; nil means leave unset.
	RevisionCPURequest    *resource.Quantity
	RevisionMemoryRequest *resource.Quantity
	RevisionCPULimit      *resource.Quantity
	RevisionMemoryLimit   *resource.Quantity
}

// DefaultDefaults returns the defaults used when config-defaults is empty
// or missing.
func DefaultDefaults() *Defaults {
	return &Defaults{
		RevisionTimeoutSeconds:        300,
		MaxRevisionTimeoutSeconds:     600,
		ContainerConcurrency:          0,
		ContainerConcurrencyMaxLimit:  1000,
		AllowContainerConcurrencyZero: true,
		UserContainerName:             "user-container",
		InitContainerName:             "init-container",
		EnableServiceLinks:            false,
	}
}

// fields is the one list of config-defaults' keys: parsing and
// DefaultsKeys both read it, so the keys documented in the ConfigMap's
// _example block are checked against the keys actually parsed.
func (d *Defaults) fields() []field {
	return []field{
		{"revision-timeout-seconds", bind(cm.AsInt64, &d.RevisionTimeoutSeconds)},
		{"max-revision-timeout-seconds", bind(cm.AsInt64, &d.MaxRevisionTimeoutSeconds)},
		{"revision-response-start-timeout-seconds", bind(cm.AsInt64, &d.RevisionResponseStartTimeoutSeconds)},
		{"revision-idle-timeout-seconds", bind(cm.AsInt64, &d.RevisionIdleTimeoutSeconds)},
		{"container-concurrency", bind(cm.AsInt64, &d.ContainerConcurrency)},
		{"container-concurrency-max-limit", bind(cm.AsInt64, &d.ContainerConcurrencyMaxLimit)},
		{"allow-container-concurrency-zero", bind(cm.AsBool, &d.AllowContainerConcurrencyZero)},
		{"container-name-template", bind(cm.AsString, &d.UserContainerName)},
		{"init-container-name-template", bind(cm.AsString, &d.InitContainerName)},
		{"enable-service-links", bind(cm.AsBool, &d.EnableServiceLinks)},
		{"revision-cpu-request", bind(asOptionalQuantity, &d.RevisionCPURequest)},
		{"revision-memory-request", bind(asOptionalQuantity, &d.RevisionMemoryRequest)},
		{"revision-cpu-limit", bind(asOptionalQuantity, &d.RevisionCPULimit)},
		{"revision-memory-limit", bind(asOptionalQuantity, &d.RevisionMemoryLimit)},
	}
}

// DefaultsKeys returns the keys config-defaults understands, in the order
// its documentation gives them, so that tests can hold the _example block
// of the shipped ConfigMap to the parser.
func DefaultsKeys() []string {
	return keysOf(DefaultDefaults().fields())
}

// NewDefaultsFromMap parses the data of config-defaults.
func NewDefaultsFromMap(data map[string]string) (*Defaults, error) {
	d := DefaultDefaults()
	if err := parseFields(data, d.fields()); err != nil {
		return nil, fmt.Errorf("%s: %w", DefaultsConfigName, err)
	}
	return d, d.validate()
}

// NewDefaultsFromConfigMap parses config-defaults.
func NewDefaultsFromConfigMap(c *corev1.ConfigMap) (*Defaults, error) {
	return NewDefaultsFromMap(c.Data)
}

func (d *Defaults) validate() error {
	switch {
	case d.RevisionTimeoutSeconds <= 0:
		return invalid(DefaultsConfigName, "revision-timeout-seconds", d.RevisionTimeoutSeconds, "must be at least 1")
	case d.MaxRevisionTimeoutSeconds < d.RevisionTimeoutSeconds:
		return invalid(DefaultsConfigName, "max-revision-timeout-seconds", d.MaxRevisionTimeoutSeconds,
			fmt.Sprintf("must be at least revision-timeout-seconds (%d)", d.RevisionTimeoutSeconds))
	case d.RevisionResponseStartTimeoutSeconds < 0 || d.RevisionResponseStartTimeoutSeconds > d.RevisionTimeoutSeconds:
		return invalid(DefaultsConfigName, "revision-response-start-timeout-seconds", d.RevisionResponseStartTimeoutSeconds,
			fmt.Sprintf("must be between 0 and revision-timeout-seconds (%d)", d.RevisionTimeoutSeconds))
	case d.RevisionIdleTimeoutSeconds < 0 || d.RevisionIdleTimeoutSeconds > d.MaxRevisionTimeoutSeconds:
		return invalid(DefaultsConfigName, "revision-idle-timeout-seconds", d.RevisionIdleTimeoutSeconds,
			fmt.Sprintf("must be between 0 and max-revision-timeout-seconds (%d)", d.MaxRevisionTimeoutSeconds))
	case d.ContainerConcurrencyMaxLimit < 1:
		return invalid(DefaultsConfigName, "container-concurrency-max-limit", d.ContainerConcurrencyMaxLimit, "must be at least 1")
	case d.ContainerConcurrency < 0 || d.ContainerConcurrency > d.ContainerConcurrencyMaxLimit:
		return invalid(DefaultsConfigName, "container-concurrency", d.ContainerConcurrency,
			fmt.Sprintf("must be between 0 and container-concurrency-max-limit (%d)", d.ContainerConcurrencyMaxLimit))
	case d.ContainerConcurrency == 0 && !d.AllowContainerConcurrencyZero:
		return invalid(DefaultsConfigName, "container-concurrency", 0,
			"must be at least 1 while allow-container-concurrency-zero is false")
	case d.UserContainerName == "":
		return invalid(DefaultsConfigName, "container-name-template", `""`, "must name the container")
	case d.InitContainerName == "":
		return invalid(DefaultsConfigName, "init-container-name-template", `""`, "must name the container")
	}
	return nil
}

// field is one key of a ConfigMap with the parser that fills its field of
// the typed configuration. Keeping the key beside its parser in one table
// is what lets the *Keys functions list exactly the keys that are parsed.
type field struct {
	key   string
	parse func(key string) cm.ParseFunc
}

// bind pairs a knative.dev/pkg/configmap parser with the variable it
// fills, leaving the key to the table so that it is written only once.
func bind[T any](as func(key string, target T) cm.ParseFunc, target T) func(string) cm.ParseFunc {
	return func(key string) cm.ParseFunc { return as(key, target) }
}

// parseFields applies the parsers of fields to data. Keys of data that no
// field names, such as the _example block, are ignored.
func parseFields(data map[string]string, fields []field) error {
	parsers := make([]cm.ParseFunc, 0, len(fields))
	for _, f := range fields {
		parsers = append(parsers, f.parse(f.key))
	}
	return cm.Parse(data, parsers...)
}

func keysOf(fields []field) []string {
	keys := make([]string, 0, len(fields))
	for _, f := range fields {
		keys = append(keys, f.key)
	}
	return keys
}

// asOptionalQuantity is cm.AsQuantity with an empty value meaning unset,
// which the quantities' default is. Without it the _example block could
// not show these keys at their default, and an operator could clear a
// default only by deleting its key.
func asOptionalQuantity(key string, target **resource.Quantity) cm.ParseFunc {
	return func(data map[string]string) error {
		if v, ok := data[key]; ok && strings.TrimSpace(v) == "" {
			*target = nil
			return nil
		}
		return cm.AsQuantity(key, target)(data)
	}
}

// invalid is the error for a ConfigMap key whose value cannot be used: it
// names the ConfigMap, the key and what would be valid.
func invalid(configMap, key string, value any, fix string) error {
	return fmt.Errorf("%s: invalid value %v for %q: %s", configMap, value, key, fix)
}
