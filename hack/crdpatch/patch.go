package main

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// partOf is the label every object Flywheel installs carries, so that
// `kubectl get crd -l app.kubernetes.io/part-of=flywheel` finds them.
var partOf = map[string]string{"app.kubernetes.io/part-of": "flywheel"}

// duckLabels are the labels by which Knative tooling (eventing's sink and
// binding resolution, kn) discovers which kinds are addressable (have
// status.address), which carry a pod spec template (spec.template.spec),
// which are event sources (`kn source list` lists every kind labelled
// duck.knative.dev/source) and which are bindings. They are part of the
// API an existing client relies on.
var duckLabels = map[string]map[string]string{
	"services.serving.knative.dev": {
		"duck.knative.dev/addressable": "true",
		"duck.knative.dev/podspecable": "true",
	},
	"configurations.serving.knative.dev": {
		"duck.knative.dev/podspecable": "true",
	},
	"routes.serving.knative.dev": {
		"duck.knative.dev/addressable": "true",
	},
	"brokers.eventing.knative.dev": {
		"duck.knative.dev/addressable": "true",
	},
	"pingsources.sources.knative.dev":      sourceLabels,
	"apiserversources.sources.knative.dev": sourceLabels,
	"containersources.sources.knative.dev": sourceLabels,
	"sinkbindings.sources.knative.dev": {
		"duck.knative.dev/source":     "true",
		"eventing.knative.dev/source": "true",
		"duck.knative.dev/binding":    "true",
	},
}

// sourceLabels mark a kind as an event source, both ways Knative's sources
// CRDs do.
var sourceLabels = map[string]string{
	"duck.knative.dev/source":     "true",
	"eventing.knative.dev/source": "true",
}

// patch applies every change, in order. Each step says why it is needed.
func patch(crd *apiextensionsv1.CustomResourceDefinition) {
	label(crd)
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		walk(v.Schema.OpenAPIV3Schema, nil, func(path []string, s *apiextensionsv1.JSONSchemaProps) {
			atomicLists(s)
			relaxKnativeDefaults(path, s)
			dropInheritedDescriptions(path, s)
			acceptNullCreationTimestamp(path, s)
		})
	}
	serveEarlierVersions(crd)
}

// earlierVersions are versions Knative still serves beside v1, with the
// same schema, that clients in use read and write. The stock kn of
// Knative 1.15 (knative.dev/client v0.42, which the end-to-end tests run)
// and earlier manages PingSources as sources.knative.dev/v1beta2, and
// stops with "no or newer Knative Sources API found" where that version
// is not served.
var earlierVersions = map[string][]apiextensionsv1.CustomResourceDefinitionVersion{
	"pingsources.sources.knative.dev": {{
		Name:               "v1beta2",
		Deprecated:         true,
		DeprecationWarning: ptr("sources.knative.dev/v1beta2 PingSource is deprecated: write sources.knative.dev/v1, which has the same fields"),
	}},
}

// serveEarlierVersions adds earlierVersions to the CRD as served copies of
// its storage version: same schema, printer columns and subresources, not
// stored. With no conversion webhook the API server converts between
// them by rewriting apiVersion, which is right only because the schemas
// are the same; the admission webhooks, registered for v1 with the
// default matchPolicy Equivalent, see every request as v1.
func serveEarlierVersions(crd *apiextensionsv1.CustomResourceDefinition) {
	extra := earlierVersions[crd.Name]
	if len(extra) == 0 {
		return
	}
	i := slices.IndexFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Storage })
	if i < 0 {
		return
	}
	stored := crd.Spec.Versions[i]
	for _, e := range extra {
		v := *stored.DeepCopy()
		v.Name = e.Name
		v.Served = true
		v.Storage = false
		v.Deprecated = e.Deprecated
		v.DeprecationWarning = e.DeprecationWarning
		crd.Spec.Versions = append(crd.Spec.Versions, v)
	}
}

// acceptNullCreationTimestamp lets a template's object metadata carry
// creationTimestamp, as a pod template's may. Clients built with
// k8s.io/apimachinery before 0.35 (the stock kn among them, and YAML that
// `kubectl create --dry-run -o yaml` wrote) send `creationTimestamp: null`
// in every template; without the field in the schema the API server
// warns of an unknown field, and refuses the object outright under
// strict field validation (kubectl's default).
func acceptNullCreationTimestamp(path []string, s *apiextensionsv1.JSONSchemaProps) {
	if !endsWith(path, "template", "metadata") || s.Properties == nil {
		return
	}
	s.Properties["creationTimestamp"] = apiextensionsv1.JSONSchemaProps{Type: "string", Format: "date-time", Nullable: true}
}

func ptr[T any](v T) *T { return &v }

func label(crd *apiextensionsv1.CustomResourceDefinition) {
	if crd.Labels == nil {
		crd.Labels = map[string]string{}
	}
	for k, v := range partOf {
		crd.Labels[k] = v
	}
	for k, v := range duckLabels[crd.Name] {
		crd.Labels[k] = v
	}
}

// atomicLists removes the list-type map and set markers the pod spec
// inherits from k8s.io/api. On a built-in Pod they only guide server-side
// apply; on a custom resource the API server enforces them: every map key
// must be present (or the CRD itself is rejected unless the key is required
// or defaulted) and keys must be unique. That would turn away manifests
// that Knative, and Kubernetes for a Pod, accept: a container without a
// name (the webhook names it), a port given only by name (h2c) whose
// number the webhook defaults, or an env var set twice (a Pod warns, a
// list map refuses). Flywheel's webhook validates the pod spec and the
// Deployment it becomes is validated again, so nothing is lost but
// per-item field ownership under server-side apply, which Knative objects,
// applied whole, do not use.
func atomicLists(s *apiextensionsv1.JSONSchemaProps) {
	if s.XListType == nil {
		return
	}
	switch *s.XListType {
	case "map", "set":
		s.XListType = nil
		s.XListMapKeys = nil
	}
}

// probeHandlers are the probe actions that name a port.
var probeHandlers = []string{"httpGet", "tcpSocket", "grpc"}

// probes are the container probes Knative lets a user write.
var probes = []string{"livenessProbe", "readinessProbe", "startupProbe"}

// relaxKnativeDefaults makes optional what k8s.io/api requires but
// Knative fills in itself, so that the API server does not refuse a valid
// Knative manifest before the defaulting webhook can complete it:
//   - containers[].name: Knative names the containers of a Revision;
//   - containers[].ports[].containerPort: a port may give only its name
//     (http1 or h2c) and take the default number;
//   - a probe's httpGet/tcpSocket/grpc port: Knative points it at the
//     serving port, and most manifests leave it out.
func relaxKnativeDefaults(path []string, s *apiextensionsv1.JSONSchemaProps) {
	switch {
	case endsWith(path, "containers", "[]"), endsWith(path, "initContainers", "[]"):
		s.Required = without(s.Required, "name")
	case endsWith(path, "containers", "[]", "ports", "[]"), endsWith(path, "initContainers", "[]", "ports", "[]"):
		s.Required = without(s.Required, "containerPort")
	case len(path) >= 2 && slices.Contains(probes, path[len(path)-2]) && slices.Contains(probeHandlers, path[len(path)-1]):
		s.Required = without(s.Required, "port")
	}
}

// podSpecFields are the JSON names of corev1.PodSpec's fields, to tell the
// pod spec part of a RevisionSpec from the fields Knative adds to it.
var podSpecFields = func() []string {
	var names []string
	t := reflect.TypeFor[corev1.PodSpec]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// dropInheritedDescriptions removes the descriptions of everything the
// schema takes from k8s.io/api: the pod spec's fields and a template's
// object metadata. They make up nearly all of the text (a Service CRD
// would be about 600 kB with them, past the 256 kB that client-side
// `kubectl apply` can record in its last-applied annotation), and
// `kubectl explain pod.spec` already documents them. The descriptions of
// Flywheel's own fields (containerConcurrency, traffic, status …) stay, so
// that `kubectl explain ksvc.spec.traffic` documents the Knative API.
func dropInheritedDescriptions(path []string, s *apiextensionsv1.JSONSchemaProps) {
	if endsWith(path, "template", "metadata") {
		stripDescriptions(s)
		return
	}
	if !isPodSpec(s) {
		return
	}
	for _, name := range podSpecFields {
		if p, ok := s.Properties[name]; ok {
			stripDescriptions(&p)
			s.Properties[name] = p
		}
	}
}

func isPodSpec(s *apiextensionsv1.JSONSchemaProps) bool {
	for _, name := range podSpecFields {
		if _, ok := s.Properties[name]; !ok {
			return false
		}
	}
	return true
}

func stripDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	walk(s, nil, func(_ []string, s *apiextensionsv1.JSONSchemaProps) { s.Description = "" })
}

// walk calls fn on s and every schema below it, parents first, with the
// path of property names that leads there ("[]" for array items, "{}" for
// map values). Nodes are written back, since the schema holds its
// properties by value.
func walk(s *apiextensionsv1.JSONSchemaProps, path []string, fn func([]string, *apiextensionsv1.JSONSchemaProps)) {
	fn(path, s)
	for name, p := range s.Properties {
		walk(&p, append(slices.Clip(path), name), fn)
		s.Properties[name] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		walk(s.Items.Schema, append(slices.Clip(path), "[]"), fn)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walk(s.AdditionalProperties.Schema, append(slices.Clip(path), "{}"), fn)
	}
}

func endsWith(path []string, suffix ...string) bool {
	return len(path) >= len(suffix) && slices.Equal(path[len(path)-len(suffix):], suffix)
}

// without returns list minus name, nil when nothing is left, so that an
// emptied required list disappears from the YAML.
func without(list []string, name string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == name })
	if len(out) == 0 {
		return nil
	}
	return out
}
