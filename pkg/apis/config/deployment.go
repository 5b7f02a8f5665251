package config

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	cm "knative.dev/pkg/configmap"
)

// DeploymentConfigName is the ConfigMap that shapes the Deployment of
// every Revision: the queue-proxy sidecar's image and resources, and how
// long a rollout may take.
const DeploymentConfigName = "config-deployment"

// DefaultQueueSidecarImage is the sidecar's image on a cluster whose nodes
// build ko:// images, as local mode's process node does.
const DefaultQueueSidecarImage = "ko://flywheel.dev/cmd/queue"

// QueueSidecarImageKey is the key of config-deployment that names the
// queue-proxy image; a release sets it to the image it publishes.
const QueueSidecarImageKey = "queue-sidecar-image"

// Deployment is the configuration of Revision Deployments.
type Deployment struct {
	// QueueSidecarImage is the image of the queue-proxy container.
	QueueSidecarImage string
	// QueueSidecar… are the sidecar's resources; nil leaves one unset.
	QueueSidecarCPURequest    *resource.Quantity
	QueueSidecarMemoryRequest *resource.Quantity
	QueueSidecarCPULimit      *resource.Quantity
	QueueSidecarMemoryLimit   *resource.Quantity
	// QueueSidecarDrainWindow is how long a terminating pod keeps serving
	// after its readiness fails, so that endpoint removals can reach every
	// sender first.
	QueueSidecarDrainWindow time.Duration
	// ProgressDeadline is how long a Deployment may take to make progress
	// before the Revision reports it failed.
	ProgressDeadline time.Duration
	// RegistriesSkippingTagResolving are registries whose tags are not
	// resolved to digests (local registries with no digest API).
	RegistriesSkippingTagResolving []string
	// DigestResolutionTimeout bounds resolving one image tag.
	DigestResolutionTimeout time.Duration
}

// DefaultDeployment returns the configuration in force when
// config-deployment is empty or missing.
func DefaultDeployment() *Deployment {
	return &Deployment{
		QueueSidecarImage:              DefaultQueueSidecarImage,
		QueueSidecarCPURequest:         ptrTo(resource.MustParse("25m")),
		QueueSidecarDrainWindow:        5 * time.Second,
		ProgressDeadline:               600 * time.Second,
		RegistriesSkippingTagResolving: []string{"kind.local", "ko.local", "dev.local"},
		DigestResolutionTimeout:        10 * time.Second,
	}
}

func ptrTo[T any](v T) *T { return &v }

func (d *Deployment) fields() []field {
	return []field{
		{QueueSidecarImageKey, bind(cm.AsString, &d.QueueSidecarImage)},
		{"queue-sidecar-cpu-request", bind(asOptionalQuantity, &d.QueueSidecarCPURequest)},
		{"queue-sidecar-memory-request", bind(asOptionalQuantity, &d.QueueSidecarMemoryRequest)},
		{"queue-sidecar-cpu-limit", bind(asOptionalQuantity, &d.QueueSidecarCPULimit)},
		{"queue-sidecar-memory-limit", bind(asOptionalQuantity, &d.QueueSidecarMemoryLimit)},
		{"queue-sidecar-drain-window", bind(cm.AsDuration, &d.QueueSidecarDrainWindow)},
		{"progress-deadline", bind(cm.AsDuration, &d.ProgressDeadline)},
		{"registries-skipping-tag-resolving", bind(asCommaList, &d.RegistriesSkippingTagResolving)},
		{"digest-resolution-timeout", bind(cm.AsDuration, &d.DigestResolutionTimeout)},
	}
}

// asCommaList parses a comma separated list; an empty value is an empty
// list.
func asCommaList(key string, target *[]string) cm.ParseFunc {
	return func(data map[string]string) error {
		v, ok := data[key]
		if !ok {
			return nil
		}
		*target = nil
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*target = append(*target, item)
			}
		}
		return nil
	}
}

// DeploymentKeys returns the keys config-deployment understands.
func DeploymentKeys() []string {
	return keysOf(DefaultDeployment().fields())
}

// NewDeploymentFromMap parses the data of config-deployment.
func NewDeploymentFromMap(data map[string]string) (*Deployment, error) {
	d := DefaultDeployment()
	if err := parseFields(data, d.fields()); err != nil {
		return nil, fmt.Errorf("%s: %w", DeploymentConfigName, err)
	}
	return d, d.validate()
}

// NewDeploymentFromConfigMap parses config-deployment.
func NewDeploymentFromConfigMap(c *corev1.ConfigMap) (*Deployment, error) {
	return NewDeploymentFromMap(c.Data)
}

func (d *Deployment) validate() error {
	const name = DeploymentConfigName
	switch {
	case strings.TrimSpace(d.QueueSidecarImage) == "":
		return invalid(name, QueueSidecarImageKey, `""`, "must name the queue-proxy image, e.g. "+DefaultQueueSidecarImage)
	case d.QueueSidecarDrainWindow < 0:
		return invalid(name, "queue-sidecar-drain-window", d.QueueSidecarDrainWindow, "must be 0s or more")
	case d.ProgressDeadline <= 0 || d.ProgressDeadline.Round(time.Second) != d.ProgressDeadline:
		return invalid(name, "progress-deadline", d.ProgressDeadline, "must be a positive whole number of seconds")
	case d.DigestResolutionTimeout <= 0:
		return invalid(name, "digest-resolution-timeout", d.DigestResolutionTimeout, "must be positive")
	}
	return nil
}
