package release

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"

	"flywheel.dev/config"
	apisconfig "flywheel.dev/pkg/apis/config"
	gatewayapi "flywheel.dev/third_party/gateway-api"
)

// koScheme starts an image that ko builds from a Go import path: ko's
// own notation, which config/ uses for Flywheel's images.
const koScheme = "ko://"

// gatewayGroup is the Gateway API's API group.
const gatewayGroup = "gateway.networking.k8s.io"

// Manifests returns the objects of a release before ko resolves them, in
// install order: the Gateway API CRDs Flywheel uses, then config/core and
// config/eventing. Two changes make every image Flywheel runs one that a
// release publishes:
//
//   - config-deployment names the queue-proxy image, whose default
//     (ko://flywheel.dev/cmd/queue) only a node that builds ko:// images
//     understands;
//   - each upstream image of config.UpstreamImages becomes its program
//     built from the module go.mod pins (the server local mode runs, too),
//     with the user the upstream image runs as, since the base image runs
//     as nonroot.
//
// config/local (kube-proxy, CoreDNS, metrics-server, the VPA recommender)
// and config/tracing (Jaeger) stay out: a cluster brings the first two
// and chooses the others itself (docs/install.md).
func Manifests() ([]*unstructured.Unstructured, error) {
	core, err := config.Manifests(config.Core)
	if err != nil {
		return nil, err
	}
	eventing, err := config.Manifests(config.Eventing)
	if err != nil {
		return nil, err
	}
	flywheel := slices.Concat(core, eventing)
	gateway, err := gatewayCRDs(flywheel)
	if err != nil {
		return nil, err
	}
	if err := setQueueSidecarImage(flywheel); err != nil {
		return nil, err
	}
	if err := buildUpstreamImages(flywheel); err != nil {
		return nil, err
	}
	return slices.Concat(gateway, flywheel), nil
}

// gatewayCRDs returns the CRDs of third_party/gateway-api that objs need:
// those of the Gateway API resources their roles grant (the controller
// writes HTTPRoutes and reads Gateways, the built-in gateway reads
// GatewayClasses too) and of the Gateway API objects among them. The
// channel's other CRDs and its admission policy are not Flywheel's to
// install.
func gatewayCRDs(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	// Resources by their plural names, and the kinds of objects.
	need, kinds := sets.New[string](), sets.New[string]()
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Group == gatewayGroup {
			kinds.Insert(gvk.Kind)
		}
		if gvk.Group != "rbac.authorization.k8s.io" || (gvk.Kind != "ClusterRole" && gvk.Kind != "Role") {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			groups, _, _ := unstructured.NestedStringSlice(rule, "apiGroups")
			resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
			if !slices.Contains(groups, gatewayGroup) {
				continue
			}
			for _, res := range resources {
				res, _, _ = strings.Cut(res, "/")
				need.Insert(res)
			}
		}
	}

	channel, err := config.Manifests(gatewayapi.CRDs)
	if err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	for _, o := range channel {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if need.Has(plural) || kinds.Has(kind) {
			crds = append(crds, o)
			need.Delete(plural)
			kinds.Delete(kind)
		}
	}
	if missing := need.Union(kinds); missing.Len() > 0 {
		return nil, fmt.Errorf("config/ uses Gateway API resources %v that third_party/gateway-api has no CRD for", sets.List(missing))
	}
	return crds, nil
}

// setQueueSidecarImage names the queue-proxy image in config-deployment,
// as ko:// for ko to build.
func setQueueSidecarImage(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == apisconfig.DeploymentConfigName {
			return unstructured.SetNestedField(o.Object, apisconfig.DefaultQueueSidecarImage, "data", apisconfig.QueueSidecarImageKey)
		}
	}
	return fmt.Errorf("config/core has no ConfigMap %s", apisconfig.DeploymentConfigName)
}

// buildUpstreamImages replaces each upstream image of
// config.UpstreamImages that objs' pod templates run with its program
// as ko builds it, run as the upstream image's user.
func buildUpstreamImages(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		for _, field := range []string{"containers", "initContainers"} {
			path := []string{"spec", "template", "spec", field}
			containers, found, err := unstructured.NestedSlice(o.Object, path...)
			if err != nil || !found {
				continue
			}
			changed := false
			for _, c := range containers {
				container, _ := c.(map[string]any)
				image, _ := container["image"].(string)
				repo, _, _ := strings.Cut(image, ":")
				up, ok := config.UpstreamImages[repo]
				if !ok {
					continue
				}
				container["image"] = koScheme + up.ImportPath
				if up.User != "" {
					if err := setUser(container, up.User); err != nil {
						return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
					}
				}
				changed = true
			}
			if changed {
				if err := unstructured.SetNestedSlice(o.Object, containers, path...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// setUser makes container run as user, "<uid>[:<gid>]".
func setUser(container map[string]any, user string) error {
	uid, gid, hasGID := strings.Cut(user, ":")
	set := func(field, id string) error {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("user %q: %w", user, err)
		}
		return unstructured.SetNestedField(container, n, "securityContext", field)
	}
	if err := set("runAsUser", uid); err != nil {
		return err
	}
	if hasGID {
		return set("runAsGroup", gid)
	}
	return nil
}

// WriteYAML writes objs as one YAML stream, each object a document.
func WriteYAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
