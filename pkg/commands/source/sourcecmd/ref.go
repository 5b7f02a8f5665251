package sourcecmd

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RefSeparator separates the parts of KIND:APIVERSION[:REST].
const RefSeparator = ":"

// KindRef is a value of --resource or --subject: KIND:APIVERSION, then
// optionally :REST (a label selector, or a name).
type KindRef struct {
	Kind       string
	APIVersion string
	// Rest is what follows the second separator, empty when nothing does.
	Rest string
}

// knownKinds are kinds a source often names. Their names are taken in any
// case (kn's examples write cronjob), and they make the examples of
// errors.
var knownKinds = []KindRef{
	{Kind: "Event", APIVersion: "v1"},
	{Kind: "ConfigMap", APIVersion: "v1"},
	{Kind: "Secret", APIVersion: "v1"},
	{Kind: "Pod", APIVersion: "v1"},
	{Kind: "Service", APIVersion: "v1"},
	{Kind: "Namespace", APIVersion: "v1"},
	{Kind: "ServiceAccount", APIVersion: "v1"},
	{Kind: "Deployment", APIVersion: "apps/v1"},
	{Kind: "StatefulSet", APIVersion: "apps/v1"},
	{Kind: "DaemonSet", APIVersion: "apps/v1"},
	{Kind: "ReplicaSet", APIVersion: "apps/v1"},
	{Kind: "Job", APIVersion: "batch/v1"},
	{Kind: "CronJob", APIVersion: "batch/v1"},
	{Kind: "Revision", APIVersion: "serving.knative.dev/v1"},
	{Kind: "Configuration", APIVersion: "serving.knative.dev/v1"},
	{Kind: "Route", APIVersion: "serving.knative.dev/v1"},
	{Kind: "Broker", APIVersion: "eventing.knative.dev/v1"},
	{Kind: "Trigger", APIVersion: "eventing.knative.dev/v1"},
}

// versionPattern matches the version part of an apiVersion: v1, v1beta1.
var versionPattern = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)

// ParseKindRef reads the value of flag as KIND:APIVERSION[:REST]; example
// is a good value, for errors. A known kind may be written in any case.
func ParseKindRef(flag, value, example string) (KindRef, error) {
	parts := strings.SplitN(value, RefSeparator, 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return KindRef{}, fmt.Errorf("--%s %q: want KIND:APIVERSION, e.g. --%s %s", flag, value, flag, example)
	}
	r := KindRef{Kind: parts[0], APIVersion: parts[1]}
	if len(parts) == 3 {
		r.Rest = parts[2]
	}
	if looksLikeAPIVersion(r.Kind) && !looksLikeAPIVersion(r.APIVersion) {
		return KindRef{}, fmt.Errorf("--%s %q: the kind comes first, then its apiVersion, e.g. --%s %s:%s",
			flag, value, flag, r.APIVersion, r.Kind)
	}
	for _, k := range knownKinds {
		if strings.EqualFold(r.Kind, k.Kind) {
			r.Kind = k.Kind
			break
		}
	}
	if first := []rune(r.Kind)[0]; !unicode.IsUpper(first) {
		return KindRef{}, fmt.Errorf("--%s %q: %q is not a kind, which begins with a capital letter, e.g. --%s %s",
			flag, value, r.Kind, flag, example)
	}
	if gv, err := schema.ParseGroupVersion(r.APIVersion); err != nil || !versionPattern.MatchString(gv.Version) {
		return KindRef{}, fmt.Errorf("--%s %q: %q is not an apiVersion; write GROUP/VERSION, or only the version for the core group, e.g. %s",
			flag, value, r.APIVersion, apiVersionExample(r.Kind))
	}
	return r, nil
}

// looksLikeAPIVersion reports whether s reads as an apiVersion rather
// than a kind: apps/v1, v1.
func looksLikeAPIVersion(s string) bool {
	return strings.Contains(s, "/") || versionPattern.MatchString(s)
}

// apiVersionExample is the apiVersion of kind if it is a known one, else
// a sample one.
func apiVersionExample(kind string) string {
	for _, k := range knownKinds {
		if k.Kind == kind {
			return k.APIVersion
		}
	}
	return "apps/v1 for a Deployment, v1 for a ConfigMap"
}

// ParseSelector reads a label selector as kubectl's -l takes it:
// app=hello,tier in (web,api). Empty means none.
func ParseSelector(flag, value, selector string) (*metav1.LabelSelector, error) {
	if selector == "" {
		return nil, nil
	}
	s, err := metav1.ParseToLabelSelector(selector)
	if err == nil {
		_, err = metav1.LabelSelectorAsSelector(s)
	}
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %q is not a label selector (%w); write KEY=VALUE pairs separated by commas, e.g. app=hello,tier=web",
			flag, value, selector, err)
	}
	if len(s.MatchLabels) == 0 {
		s.MatchLabels = nil
	}
	if len(s.MatchExpressions) == 0 {
		s.MatchExpressions = nil
	}
	return s, nil
}

// FormatKindRef shows a kind and an optional selector as the flags take
// them: Deployment:apps/v1 or Deployment:apps/v1:app=hello.
func FormatKindRef(kind, apiVersion string, selector *metav1.LabelSelector) string {
	s := kind + RefSeparator + apiVersion
	if selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(selector); err == nil && !sel.Empty() {
			s += RefSeparator + sel.String()
		}
	}
	return s
}
