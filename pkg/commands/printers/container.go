package printers

import (
	"io"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Container writes the fields of a description that fw's pod flags set
// on a container and its pod: command, arguments, environment, mounts,
// resources and service account. A field that is not set is left out.
func Container(w io.Writer, c *corev1.Container, pod *corev1.PodSpec) {
	if len(c.Command) > 0 {
		Field(w, "Command", strings.Join(c.Command, " "))
	}
	if len(c.Args) > 0 {
		Field(w, "Args", strings.Join(c.Args, " "))
	}
	env := make([]string, len(c.Env))
	for i, v := range c.Env {
		env[i] = v.Name + "=" + v.Value
		if v.ValueFrom != nil {
			env[i] = v.Name + " from " + valueSource(v.ValueFrom)
		}
	}
	Fields(w, "Env", env)
	var envFrom []string
	for _, s := range c.EnvFrom {
		switch {
		case s.ConfigMapRef != nil:
			envFrom = append(envFrom, s.Prefix+"* from ConfigMap "+s.ConfigMapRef.Name)
		case s.SecretRef != nil:
			envFrom = append(envFrom, s.Prefix+"* from Secret "+s.SecretRef.Name)
		}
	}
	Fields(w, "Env from", envFrom)
	mounts := make([]string, len(c.VolumeMounts))
	for i, m := range c.VolumeMounts {
		mounts[i] = m.MountPath + " from " + volumeSource(pod, m.Name)
		if m.SubPath != "" {
			mounts[i] += ", " + m.SubPath
		}
		if m.ReadOnly {
			mounts[i] += " (read-only)"
		}
	}
	Fields(w, "Mounts", mounts)
	if len(c.Resources.Requests) > 0 {
		Field(w, "Requests", resources(c.Resources.Requests))
	}
	if len(c.Resources.Limits) > 0 {
		Field(w, "Limits", resources(c.Resources.Limits))
	}
	if c.ReadinessProbe != nil {
		Field(w, "Readiness", probe(c.ReadinessProbe))
	}
	if c.LivenessProbe != nil {
		Field(w, "Liveness", probe(c.LivenessProbe))
	}
	if pod.ServiceAccountName != "" {
		Field(w, "Service account", pod.ServiceAccountName)
	}
}

// probe summarises a probe: its check, then the timing that is set, e.g.
// "HTTP GET /healthz at :8080, every 2s".
func probe(p *corev1.Probe) string {
	at := func(host string, port intstr.IntOrString) string {
		if port.Type == intstr.Int && port.IntValue() == 0 {
			if host == "" {
				return " at the container's port"
			}
			return " at " + host + ", the container's port"
		}
		return " at " + host + ":" + port.String()
	}
	var check string
	switch h := p.ProbeHandler; {
	case h.HTTPGet != nil:
		scheme := string(h.HTTPGet.Scheme)
		if scheme == "" {
			scheme = string(corev1.URISchemeHTTP)
		}
		check = scheme + " GET " + h.HTTPGet.Path + at(h.HTTPGet.Host, h.HTTPGet.Port)
	case h.TCPSocket != nil:
		check = "TCP" + at(h.TCPSocket.Host, h.TCPSocket.Port)
	case h.Exec != nil:
		check = "exec " + strings.Join(h.Exec.Command, " ")
	case h.GRPC != nil:
		check = "gRPC at :" + strconv.Itoa(int(h.GRPC.Port))
	default:
		check = "the platform's default"
	}
	parts := []string{check}
	for _, t := range []struct {
		label string
		value int32
		unit  string
	}{
		{"after ", p.InitialDelaySeconds, "s"},
		{"every ", p.PeriodSeconds, "s"},
		{"timeout ", p.TimeoutSeconds, "s"},
		{"failing after ", p.FailureThreshold, ""},
	} {
		if t.value > 0 {
			parts = append(parts, t.label+strconv.Itoa(int(t.value))+t.unit)
		}
	}
	return strings.Join(parts, ", ")
}

// valueSource names where a variable's value comes from.
func valueSource(v *corev1.EnvVarSource) string {
	switch {
	case v.ConfigMapKeyRef != nil:
		return "ConfigMap " + v.ConfigMapKeyRef.Name + ", key " + v.ConfigMapKeyRef.Key
	case v.SecretKeyRef != nil:
		return "Secret " + v.SecretKeyRef.Name + ", key " + v.SecretKeyRef.Key
	case v.FieldRef != nil:
		return "field " + v.FieldRef.FieldPath
	case v.ResourceFieldRef != nil:
		return "resource " + v.ResourceFieldRef.Resource
	}
	return "elsewhere"
}

// volumeSource names what the pod's volume of that name shows.
func volumeSource(pod *corev1.PodSpec, name string) string {
	i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name })
	if i < 0 {
		return "volume " + name
	}
	switch v := pod.Volumes[i]; {
	case v.ConfigMap != nil:
		return "ConfigMap " + v.ConfigMap.Name
	case v.Secret != nil:
		return "Secret " + v.Secret.SecretName
	case v.PersistentVolumeClaim != nil:
		return "claim " + v.PersistentVolumeClaim.ClaimName
	case v.EmptyDir != nil:
		return "emptyDir " + name
	}
	return "volume " + name
}

// resources renders a resource list as "cpu 250m, memory 128Mi", sorted.
func resources(list corev1.ResourceList) string {
	parts := make([]string, 0, len(list))
	for name, q := range list {
		parts = append(parts, string(name)+" "+q.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
