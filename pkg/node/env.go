package node

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// defaultPath is a container's PATH when the pod sets none: what container
// images conventionally set.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// envResolver builds a container's environment the way the kubelet does:
// envFrom sources in order, then env entries, each value's $(VAR)
// references expanded against the variables defined before it. ConfigMaps
// and Secrets are read from the API when the container starts, so a
// restart sees their current values.
type envResolver struct {
	kube kubernetes.Interface
	// capacity stands in for resource limits a container does not set, as
	// the node's allocatable does on a kubelet.
	capacity corev1.ResourceList
	// apiServer is the API server as pods reach it; the zero value sets no
	// KUBERNETES_* variables.
	apiServer netip.AddrPort
}

// podAddresses are the downward API's status fields, known only once the
// sandbox exists.
type podAddresses struct {
	podIP, hostIP string
}

// envError is an environment that cannot be built (a missing ConfigMap
// key, an unsupported field): the container waits with
// CreateContainerConfigError until it can.
type envError struct{ err error }

func (e *envError) Error() string { return e.err.Error() }
func (e *envError) Unwrap() error { return e.err }

func (r *envResolver) resolve(ctx context.Context, pod *corev1.Pod, c *corev1.Container, addrs podAddresses) ([]string, error) {
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	env := newEnvList()
	env.set("PATH", defaultPath)
	env.set("HOSTNAME", hostname)
	// The kubernetes Service's variables come first, so that the
	// container's own env can override them, as on a kubelet.
	for _, kv := range apiServerEnv(r.apiServer) {
		env.set(kv[0], kv[1])
	}

	for _, from := range c.EnvFrom {
		data, err := r.envFromSource(ctx, pod.Namespace, from)
		if err != nil {
			return nil, &envError{err}
		}
		for k, v := range data {
			env.set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expand(e.Value, env.lookup))
			continue
		}
		v, ok, err := r.valueFrom(ctx, pod, c, e.ValueFrom, addrs)
		if err != nil {
			return nil, &envError{fmt.Errorf("env %s: %w", e.Name, err)}
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	return env.list(), nil
}

// apiServerEnv is what in-cluster clients read to find the API server:
// KUBERNETES_SERVICE_HOST/PORT and the service-link variables of the
// kubernetes Service, with the port pods reach it on.
func apiServerEnv(ap netip.AddrPort) [][2]string {
	if !ap.IsValid() {
		return nil
	}
	host, port := ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	url := "tcp://" + net.JoinHostPort(host, port)
	prefix := "KUBERNETES_PORT_" + port + "_TCP"
	return [][2]string{
		{"KUBERNETES_SERVICE_HOST", host},
		{"KUBERNETES_SERVICE_PORT", port},
		{"KUBERNETES_SERVICE_PORT_HTTPS", port},
		{"KUBERNETES_PORT", url},
		{prefix, url},
		{prefix + "_PROTO", "tcp"},
		{prefix + "_PORT", port},
		{prefix + "_ADDR", host},
	}
}

func (r *envResolver) envFromSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := r.kube.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("envFrom ConfigMap %s: %w", from.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := r.kube.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("envFrom Secret %s: %w", from.SecretRef.Name, err)
		}
		data := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

// valueFrom resolves one valueFrom; ok is false for an optional reference
// that is missing, which leaves the variable unset.
func (r *envResolver) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, addrs podAddresses) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(pod, src.FieldRef.FieldPath, addrs)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := r.resourceValue(c, src.ResourceFieldRef)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("reading ConfigMap %s: %w", ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("key %q is not in ConfigMap %s", ref.Key, ref.Name)
		}
		return v, true, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("reading Secret %s: %w", ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("key %q is not in Secret %s", ref.Key, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, fmt.Errorf("valueFrom names no source this node supports")
}

// fieldValue is the downward API for environment variables.
func fieldValue(pod *corev1.Pod, path string, addrs podAddresses) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return addrs.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return addrs.hostIP, nil
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// subscript parses "<prefix>['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// resourceValue is resourceFieldRef: the container's limit or request in
// units of the divisor, rounded up; an unset limit is the node's capacity.
func (r *envResolver) resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef %q is not supported", ref.Resource)
	}
	res := corev1.ResourceName(name)
	var q resource.Quantity
	var set bool
	if kind == "limits" {
		q, set = c.Resources.Limits[res]
		if !set {
			q, set = r.capacity[res]
		}
	} else {
		q, set = c.Resources.Requests[res]
	}
	if !set {
		return "0", nil
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	v := math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))
	return fmt.Sprintf("%d", int64(v)), nil
}

// expand replaces $(NAME) with NAME's value when defined and $$ with $,
// leaving other text as it is: the kubelet's expansion rules.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandAll expands each of args against env.
func expandAll(args []string, env []string) []string {
	if len(args) == 0 {
		return nil
	}
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, lookup)
	}
	return out
}

// envList is an ordered set of variables: a later set replaces the value
// but keeps the first position.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnvList() *envList { return &envList{vals: map[string]string{}} }

func (l *envList) set(k, v string) {
	if _, ok := l.vals[k]; !ok {
		l.keys = append(l.keys, k)
	}
	l.vals[k] = v
}

func (l *envList) lookup(k string) (string, bool) {
	v, ok := l.vals[k]
	return v, ok
}

func (l *envList) list() []string {
	out := make([]string, len(l.keys))
	for i, k := range l.keys {
		out[i] = k + "=" + l.vals[k]
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }
