package v1

import (
	"context"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/queue"
)

// A Revision's pod spec is a subset of a Kubernetes pod spec: the platform
// owns the pod around the user's containers (its sidecar, its networking,
// its scaling), so fields that would take that over are refused, and
// fields Knative keeps behind a feature flag are allowed only when
// config-features turns the flag on.

// podSpecField is an optional pod spec field: set reports whether a spec
// uses it; feature is the config-features key that allows it, and empty
// means it is never allowed.
type podSpecField struct {
	name    string
	set     func(*corev1.PodSpec) bool
	feature string
}

var optionalPodSpecFields = []podSpecField{
	{name: "hostNetwork", set: func(p *corev1.PodSpec) bool { return p.HostNetwork }},
	{name: "hostPID", set: func(p *corev1.PodSpec) bool { return p.HostPID }},
	{name: "hostIPC", set: func(p *corev1.PodSpec) bool { return p.HostIPC }},
	{name: "hostUsers", set: func(p *corev1.PodSpec) bool { return p.HostUsers != nil }},
	{name: "nodeName", set: func(p *corev1.PodSpec) bool { return p.NodeName != "" }},
	{name: "hostname", set: func(p *corev1.PodSpec) bool { return p.Hostname != "" }},
	{name: "subdomain", set: func(p *corev1.PodSpec) bool { return p.Subdomain != "" }},
	{name: "setHostnameAsFQDN", set: func(p *corev1.PodSpec) bool { return p.SetHostnameAsFQDN != nil }},
	{name: "activeDeadlineSeconds", set: func(p *corev1.PodSpec) bool { return p.ActiveDeadlineSeconds != nil }},
	{name: "ephemeralContainers", set: func(p *corev1.PodSpec) bool { return len(p.EphemeralContainers) > 0 }},
	{name: "readinessGates", set: func(p *corev1.PodSpec) bool { return len(p.ReadinessGates) > 0 }},
	{name: "overhead", set: func(p *corev1.PodSpec) bool { return len(p.Overhead) > 0 }},
	{name: "preemptionPolicy", set: func(p *corev1.PodSpec) bool { return p.PreemptionPolicy != nil }},
	{name: "priority", set: func(p *corev1.PodSpec) bool { return p.Priority != nil }},
	{name: "os", set: func(p *corev1.PodSpec) bool { return p.OS != nil }},
	{name: "schedulingGates", set: func(p *corev1.PodSpec) bool { return len(p.SchedulingGates) > 0 }},
	{name: "resourceClaims", set: func(p *corev1.PodSpec) bool { return len(p.ResourceClaims) > 0 }},
	{name: "serviceAccount", set: func(p *corev1.PodSpec) bool { return p.DeprecatedServiceAccount != "" }},
	{name: "restartPolicy", set: func(p *corev1.PodSpec) bool {
		return p.RestartPolicy != "" && p.RestartPolicy != corev1.RestartPolicyAlways
	}},

	{name: "affinity", set: func(p *corev1.PodSpec) bool { return p.Affinity != nil },
		feature: config.FeaturePodSpecAffinity},
	{name: "topologySpreadConstraints", set: func(p *corev1.PodSpec) bool { return len(p.TopologySpreadConstraints) > 0 },
		feature: config.FeaturePodSpecTopologySpread},
	{name: "dnsPolicy", set: func(p *corev1.PodSpec) bool { return p.DNSPolicy != "" },
		feature: config.FeaturePodSpecDNSPolicy},
	{name: "dnsConfig", set: func(p *corev1.PodSpec) bool { return p.DNSConfig != nil },
		feature: config.FeaturePodSpecDNSConfig},
	{name: "hostAliases", set: func(p *corev1.PodSpec) bool { return len(p.HostAliases) > 0 },
		feature: config.FeaturePodSpecHostAliases},
	{name: "initContainers", set: func(p *corev1.PodSpec) bool { return len(p.InitContainers) > 0 },
		feature: config.FeaturePodSpecInitContainers},
	{name: "nodeSelector", set: func(p *corev1.PodSpec) bool { return len(p.NodeSelector) > 0 },
		feature: config.FeaturePodSpecNodeSelector},
	{name: "priorityClassName", set: func(p *corev1.PodSpec) bool { return p.PriorityClassName != "" },
		feature: config.FeaturePodSpecPriorityClassName},
	{name: "runtimeClassName", set: func(p *corev1.PodSpec) bool { return p.RuntimeClassName != nil },
		feature: config.FeaturePodSpecRuntimeClassName},
	{name: "schedulerName", set: func(p *corev1.PodSpec) bool { return p.SchedulerName != "" },
		feature: config.FeaturePodSpecSchedulerName},
	{name: "securityContext", set: func(p *corev1.PodSpec) bool { return p.SecurityContext != nil },
		feature: config.FeaturePodSpecSecurityContext},
	{name: "shareProcessNamespace", set: func(p *corev1.PodSpec) bool { return p.ShareProcessNamespace != nil },
		feature: config.FeaturePodSpecShareProcessNS},
	{name: "tolerations", set: func(p *corev1.PodSpec) bool { return len(p.Tolerations) > 0 },
		feature: config.FeaturePodSpecTolerations},
}

// validatePodSpec checks the pod spec part of a RevisionSpec; paths are
// relative to the RevisionSpec.
func validatePodSpec(ctx context.Context, ps *corev1.PodSpec) *apis.FieldError {
	features := config.FromContextOrDefaults(ctx).Features
	var errs *apis.FieldError
	for _, f := range optionalPodSpecFields {
		if !f.set(ps) {
			continue
		}
		if f.feature == "" {
			errs = errs.Also(&apis.FieldError{
				Message: "must not set the field(s)",
				Paths:   []string{f.name},
				Details: "Flywheel runs and networks the pod itself; remove " + f.name,
			})
			continue
		}
		if features.Get(f.feature) == config.Disabled {
			errs = errs.Also(disabledFeature(f.name, f.feature))
		}
	}

	if ps.ServiceAccountName != "" {
		// Kubernetes' own rule and words: a pod refused later for this
		// would leave the Revision failing with a message far from the
		// field.
		if msgs := validation.IsDNS1123Subdomain(ps.ServiceAccountName); len(msgs) > 0 {
			errs = errs.Also(apis.ErrInvalidValue(ps.ServiceAccountName, "serviceAccountName", strings.Join(msgs, "; ")))
		}
	}
	errs = errs.Also(validatePodSecurityContext(ps.SecurityContext).ViaField("securityContext"))

	volumes, verrs := validateVolumes(ps.Volumes, features)
	errs = errs.Also(verrs)
	errs = errs.Also(validateContainers(ctx, ps.Containers, volumes, features))
	for i := range ps.InitContainers {
		errs = errs.Also(validateContainer(ctx, &ps.InitContainers[i], volumes, features, false).ViaFieldIndex("initContainers", i))
	}
	return errs
}

func disabledFeature(field, key string) *apis.FieldError {
	return &apis.FieldError{
		Message: "must not set the field(s)",
		Paths:   []string{field},
		Details: fmt.Sprintf("%s is turned off; an operator can allow it with %q: Enabled in the %s ConfigMap", field, key, config.FeaturesConfigName),
	}
}

// validateContainers checks the app containers. One container is the
// serving one: it alone may declare a port, and with several containers
// exactly one must, so the platform knows where requests go.
func validateContainers(ctx context.Context, containers []corev1.Container, volumes map[string]bool, features *config.Features) *apis.FieldError {
	if len(containers) == 0 {
		return apis.ErrMissingField("containers")
	}
	var errs *apis.FieldError
	if len(containers) > 1 && features.MultiContainer == config.Disabled {
		errs = errs.Also(disabledFeature("containers", config.FeatureMultiContainer))
	}

	var withPorts []int
	for i := range containers {
		if len(containers[i].Ports) > 0 {
			withPorts = append(withPorts, i)
		}
	}
	switch {
	case len(withPorts) > 1:
		paths := make([]string, len(withPorts))
		for n, i := range withPorts {
			paths[n] = fmt.Sprintf("containers[%d].ports", i)
		}
		errs = errs.Also(&apis.FieldError{
			Message: "more than one container declares ports",
			Paths:   paths,
			Details: "exactly one container, the one that serves requests, may declare a port",
		})
	case len(withPorts) == 0 && len(containers) > 1:
		errs = errs.Also(&apis.FieldError{
			Message: "no container declares a port",
			Paths:   []string{"containers"},
			Details: "with several containers, give the one that serves requests a port (e.g. ports: [{containerPort: 8080}])",
		})
	}

	names := map[string]bool{}
	for i := range containers {
		c := &containers[i]
		serving := len(withPorts) == 1 && withPorts[0] == i || len(containers) == 1
		errs = errs.Also(validateContainer(ctx, c, volumes, features, serving).ViaFieldIndex("containers", i))
		if c.Name != "" {
			if names[c.Name] {
				errs = errs.Also(&apis.FieldError{
					Message: fmt.Sprintf("duplicate container name %q", c.Name),
					Paths:   []string{"name"},
					Details: "give each container its own name",
				}).ViaFieldIndex("containers", i)
			}
			names[c.Name] = true
		}
	}
	return errs
}

func validateContainer(_ context.Context, c *corev1.Container, volumes map[string]bool, features *config.Features, serving bool) *apis.FieldError {
	var errs *apis.FieldError
	if c.Image == "" {
		errs = errs.Also(&apis.FieldError{
			Message: "missing field(s)",
			Paths:   []string{"image"},
			Details: "every container needs an image, e.g. image: ko://example.com/hello or an image reference",
		})
	}
	if c.Name != "" {
		if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
			errs = errs.Also(apis.ErrInvalidValue(c.Name, "name", strings.Join(msgs, "; ")))
		}
		if c.Name == queue.ContainerName {
			errs = errs.Also(apis.ErrInvalidValue(c.Name, "name", "the name "+queue.ContainerName+" is the platform's sidecar; choose another"))
		}
	}

	var disallowed []string
	if c.Lifecycle != nil {
		disallowed = append(disallowed, "lifecycle")
	}
	if c.Stdin {
		disallowed = append(disallowed, "stdin")
	}
	if c.StdinOnce {
		disallowed = append(disallowed, "stdinOnce")
	}
	if c.TTY {
		disallowed = append(disallowed, "tty")
	}
	if len(c.VolumeDevices) > 0 {
		disallowed = append(disallowed, "volumeDevices")
	}
	if c.RestartPolicy != nil {
		disallowed = append(disallowed, "restartPolicy")
	}
	if len(disallowed) > 0 {
		errs = errs.Also(apis.ErrDisallowedFields(disallowed...))
	}

	errs = errs.Also(validateEnv(c.Env, features))
	errs = errs.Also(validatePorts(c.Ports))
	errs = errs.Also(validateVolumeMounts(c.VolumeMounts, volumes))
	errs = errs.Also(validateSecurityContext(c.SecurityContext, features).ViaField("securityContext"))

	if serving {
		errs = errs.Also(validateProbe(c.ReadinessProbe).ViaField("readinessProbe"))
	} else if c.ReadinessProbe != nil {
		errs = errs.Also(validateProbe(c.ReadinessProbe).ViaField("readinessProbe"))
	}
	if c.LivenessProbe != nil {
		errs = errs.Also(validateProbe(c.LivenessProbe).ViaField("livenessProbe"))
		if c.LivenessProbe.SuccessThreshold > 1 {
			errs = errs.Also(apis.ErrOutOfBoundsValue(c.LivenessProbe.SuccessThreshold, 1, 1, "livenessProbe.successThreshold"))
		}
	}
	if c.StartupProbe != nil {
		errs = errs.Also(validateProbe(c.StartupProbe).ViaField("startupProbe"))
	}
	return errs
}

func validateEnv(env []corev1.EnvVar, features *config.Features) *apis.FieldError {
	var errs *apis.FieldError
	for i, e := range env {
		if slices.Contains(serving.ReservedEnvVars, e.Name) {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("%q is a reserved environment variable", e.Name),
				Paths:   []string{"name"},
				Details: fmt.Sprintf("the platform sets %s; rename yours", strings.Join(serving.ReservedEnvVars, ", ")),
			}).ViaFieldIndex("env", i)
		}
		if e.ValueFrom != nil && (e.ValueFrom.FieldRef != nil || e.ValueFrom.ResourceFieldRef != nil) &&
			features.PodSpecFieldRef == config.Disabled {
			errs = errs.Also(disabledFeature("valueFrom", config.FeaturePodSpecFieldRef)).ViaFieldIndex("env", i)
		}
	}
	return errs
}

// validatePorts checks the serving container's port: one at most, TCP, not
// one the queue-proxy listens on, and named for its protocol.
func validatePorts(ports []corev1.ContainerPort) *apis.FieldError {
	if len(ports) == 0 {
		return nil
	}
	var errs *apis.FieldError
	if len(ports) > 1 {
		errs = errs.Also(&apis.FieldError{
			Message: "more than one container port is set",
			Paths:   []string{"ports"},
			Details: "declare the single port the container serves requests on",
		})
	}
	p := ports[0]
	if p.ContainerPort != 0 && (p.ContainerPort < 1 || p.ContainerPort > 65535) {
		errs = errs.Also(apis.ErrOutOfBoundsValue(p.ContainerPort, 1, 65535, "containerPort").ViaFieldIndex("ports", 0))
	} else if queue.IsReservedPort(p.ContainerPort) {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("port %d is reserved", p.ContainerPort),
			Paths:   []string{"containerPort"},
			Details: fmt.Sprintf("the queue-proxy sidecar listens on %v; choose another port, e.g. %d", queue.ReservedPorts, serving.DefaultUserPort),
		}).ViaFieldIndex("ports", 0)
	}
	if p.Name != "" && p.Name != serving.PortNameHTTP1 && p.Name != serving.PortNameH2C {
		errs = errs.Also(apis.ErrInvalidValue(p.Name, "name",
			fmt.Sprintf("name the port %q for HTTP/1.1 or %q for HTTP/2 without TLS (gRPC), or leave it out", serving.PortNameHTTP1, serving.PortNameH2C)).ViaFieldIndex("ports", 0))
	}
	if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
		errs = errs.Also(apis.ErrInvalidValue(p.Protocol, "protocol", "only TCP is served").ViaFieldIndex("ports", 0))
	}
	if p.HostPort != 0 {
		errs = errs.Also(apis.ErrDisallowedFields("hostPort").ViaFieldIndex("ports", 0))
	}
	if p.HostIP != "" {
		errs = errs.Also(apis.ErrDisallowedFields("hostIP").ViaFieldIndex("ports", 0))
	}
	return errs
}

// validateVolumes allows the volume kinds that hold configuration or
// scratch space and that a scaled-out, stateless pod can share; it
// returns the declared names for the mounts to refer to.
func validateVolumes(volumes []corev1.Volume, features *config.Features) (map[string]bool, *apis.FieldError) {
	names := make(map[string]bool, len(volumes))
	var errs *apis.FieldError
	for i, v := range volumes {
		if names[v.Name] {
			errs = errs.Also(apis.ErrInvalidValue(v.Name, "name", "give each volume its own name").ViaFieldIndex("volumes", i))
		}
		names[v.Name] = true
		switch {
		case v.ConfigMap != nil, v.Secret != nil, v.Projected != nil, v.DownwardAPI != nil:
		case v.EmptyDir != nil:
			if features.PodSpecVolumesEmptyDir == config.Disabled {
				errs = errs.Also(disabledFeature("emptyDir", config.FeaturePodSpecVolumesEmptyDir).ViaFieldIndex("volumes", i))
			}
		case v.PersistentVolumeClaim != nil:
			if features.PodSpecPersistentVolumeClaim == config.Disabled {
				errs = errs.Also(disabledFeature("persistentVolumeClaim", config.FeaturePodSpecPersistentVolumeClaim).ViaFieldIndex("volumes", i))
			}
		default:
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("volume %q has an unsupported source", v.Name),
				Paths:   []string{fmt.Sprintf("volumes[%d]", i)},
				Details: "use configMap, secret, projected, downwardAPI, emptyDir or persistentVolumeClaim",
			})
		}
	}
	return names, errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes map[string]bool) *apis.FieldError {
	var errs *apis.FieldError
	paths := map[string]bool{}
	for i, m := range mounts {
		if !volumes[m.Name] {
			errs = errs.Also(apis.ErrInvalidValue(m.Name, "name", "no volume of this name is declared in volumes").ViaFieldIndex("volumeMounts", i))
		}
		switch clean := path.Clean(m.MountPath); {
		case !path.IsAbs(m.MountPath):
			errs = errs.Also(apis.ErrInvalidValue(m.MountPath, "mountPath", "must be an absolute path").ViaFieldIndex("volumeMounts", i))
		case paths[clean]:
			errs = errs.Also(apis.ErrInvalidValue(m.MountPath, "mountPath", "another volume is mounted here").ViaFieldIndex("volumeMounts", i))
		default:
			paths[clean] = true
		}
	}
	return errs
}

func validateSecurityContext(sc *corev1.SecurityContext, features *config.Features) *apis.FieldError {
	if sc == nil {
		return nil
	}
	errs := validateIDs(map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup})
	if sc.Privileged != nil && *sc.Privileged {
		errs = errs.Also(apis.ErrInvalidValue(true, "privileged", "privileged containers are not allowed"))
	}
	// NET_BIND_SERVICE alone needs no flag, as in Knative: it is what
	// secure-pod-defaults gives back to a container on a port below 1024.
	if sc.Capabilities != nil && slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c != netBindService }) &&
		features.ContainerSpecAddCapabilities == config.Disabled {
		errs = errs.Also(disabledFeature("add", config.FeatureContainerSpecAddCapabilities).ViaField("capabilities"))
	}
	return errs
}

// validatePodSecurityContext checks the user and group IDs of the pod's
// security context; whether it may be set at all is a feature flag.
func validatePodSecurityContext(sc *corev1.PodSecurityContext) *apis.FieldError {
	if sc == nil {
		return nil
	}
	errs := validateIDs(map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup, "fsGroup": sc.FSGroup})
	for i, g := range sc.SupplementalGroups {
		if g < 0 || g > math.MaxInt32 {
			errs = errs.Also(apis.ErrOutOfBoundsValue(g, 0, math.MaxInt32, fmt.Sprintf("supplementalGroups[%d]", i)))
		}
	}
	return errs
}

// validateIDs refuses user and group IDs outside the range Kubernetes
// accepts, so that admission names the field instead of the pod failing
// to start.
func validateIDs(ids map[string]*int64) *apis.FieldError {
	var errs *apis.FieldError
	for _, field := range slices.Sorted(maps.Keys(ids)) {
		if id := ids[field]; id != nil && (*id < 0 || *id > math.MaxInt32) {
			errs = errs.Also(apis.ErrOutOfBoundsValue(*id, 0, math.MaxInt32, field))
		}
	}
	return errs
}

// validateProbe allows at most one handler: the queue-proxy runs the
// serving container's readiness probe itself and must know which one.
func validateProbe(p *corev1.Probe) *apis.FieldError {
	if p == nil {
		return nil
	}
	var handlers []string
	if p.HTTPGet != nil {
		handlers = append(handlers, "httpGet")
	}
	if p.TCPSocket != nil {
		handlers = append(handlers, "tcpSocket")
	}
	if p.Exec != nil {
		handlers = append(handlers, "exec")
	}
	if p.GRPC != nil {
		handlers = append(handlers, "grpc")
	}
	var errs *apis.FieldError
	if len(handlers) > 1 {
		errs = errs.Also(apis.ErrMultipleOneOf(handlers...))
	}
	if p.PeriodSeconds < 0 {
		errs = errs.Also(apis.ErrOutOfBoundsValue(p.PeriodSeconds, 0, 3600, "periodSeconds"))
	}
	if p.TimeoutSeconds < 0 {
		errs = errs.Also(apis.ErrOutOfBoundsValue(p.TimeoutSeconds, 0, 3600, "timeoutSeconds"))
	}
	if p.FailureThreshold < 0 {
		errs = errs.Also(apis.ErrOutOfBoundsValue(p.FailureThreshold, 0, 1000, "failureThreshold"))
	}
	return errs
}
