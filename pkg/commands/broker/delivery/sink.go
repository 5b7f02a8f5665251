package delivery

import (
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// sinkKind is a kind of object a sink can name as PREFIX:NAME.
type sinkKind struct {
	prefix     string
	apiVersion string
	kind       string
	// what it is, for help and errors.
	what string
}

// sinkKinds are the objects --sink and --dl-sink can name, in the order
// help and errors list them.
var sinkKinds = []sinkKind{
	{"ksvc", servingv1.SchemeGroupVersion.String(), "Service", "a Knative Service"},
	{"svc", corev1.SchemeGroupVersion.String(), "Service", "a Kubernetes Service"},
	{"broker", eventingv1.SchemeGroupVersion.String(), "Broker", "a Broker"},
}

const prefixSeparator = ":"

// SinkHelp describes the values of a sink flag, for its help.
const SinkHelp = "ksvc:NAME (a Knative Service), svc:NAME (a Kubernetes Service), broker:NAME or a URL"

// ParseSink reads the value of a sink flag (flag is its name, for
// errors): PREFIX:NAME for an object in namespace, or a URL with a scheme
// and a host.
func ParseSink(flag, value, namespace string) (duckv1.Destination, error) {
	if prefix, name, ok := strings.Cut(value, prefixSeparator); ok {
		for _, k := range sinkKinds {
			if prefix != k.prefix {
				continue
			}
			if problems := validation.IsDNS1123Subdomain(name); len(problems) > 0 {
				return duckv1.Destination{}, fmt.Errorf("--%s %q: %q is not the name of %s (%s); write %s:NAME, e.g. %s:hello",
					flag, value, name, k.what, strings.Join(problems, "; "), k.prefix, k.prefix)
			}
			return duckv1.Destination{Ref: &duckv1.KReference{
				APIVersion: k.apiVersion, Kind: k.kind, Namespace: namespace, Name: name,
			}}, nil
		}
	}
	if u, err := url.Parse(value); err == nil && u.Scheme != "" && u.Host != "" {
		return duckv1.Destination{URI: (*apis.URL)(u)}, nil
	}
	example := value
	if example == "" || strings.ContainsAny(example, ":/") {
		example = "hello"
	}
	return duckv1.Destination{}, fmt.Errorf("--%s %q: want ksvc:NAME for a Knative Service, svc:NAME for a Kubernetes Service, "+
		"broker:NAME for a Broker, or a URL with a scheme, e.g. ksvc:%s or http://%s.%s.svc.cluster.local",
		flag, value, example, example, namespaceForExample(namespace))
}

func namespaceForExample(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// FormatDestination shows d as a user would give it to a sink flag:
// ksvc:hello, svc:hello, broker:default or a URL; an object in another
// namespace than ns, or of another kind, says so.
func FormatDestination(d *duckv1.Destination, ns string) string {
	if d == nil {
		return ""
	}
	var s string
	if ref := d.Ref; ref != nil {
		s = fmt.Sprintf("%s %s (%s)", ref.Kind, ref.Name, ref.APIVersion)
		for _, k := range sinkKinds {
			if ref.APIVersion == k.apiVersion && ref.Kind == k.kind {
				s = k.prefix + prefixSeparator + ref.Name
				break
			}
		}
		if ref.Namespace != "" && ref.Namespace != ns {
			s += " in namespace " + ref.Namespace
		}
	}
	if d.URI != nil {
		if s != "" {
			// A URI next to a ref is a path on the ref's address.
			return s + ", path " + d.URI.String()
		}
		return d.URI.String()
	}
	return s
}
