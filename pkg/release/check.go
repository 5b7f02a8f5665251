package release

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// Unresolved returns where objs still name a ko:// import path: each
// string value that starts with one (ko resolves whole values only, so
// the mention in a ConfigMap's _example text is not one).
func Unresolved(objs []*unstructured.Unstructured) []string {
	var found []string
	for _, o := range objs {
		walkStrings(o.Object, func(s string) {
			if strings.HasPrefix(s, koScheme) {
				found = append(found, fmt.Sprintf("%s %s: %s", o.GetKind(), qualifiedName(o), s))
			}
		})
	}
	return found
}

func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case map[string]any:
		for _, e := range v {
			walkStrings(e, f)
		}
	case []any:
		for _, e := range v {
			walkStrings(e, f)
		}
	}
}

// Images returns every image objs have a node run, sorted, each once:
// the images of the containers and init containers of pod templates,
// the values of environment variables named *_IMAGE (the controller's
// ApiServerSource adapter), and config-deployment's queue-proxy image.
func Images(objs []*unstructured.Unstructured) []string {
	var images []string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == apisconfig.DeploymentConfigName {
			if image, ok, _ := unstructured.NestedString(o.Object, "data", apisconfig.QueueSidecarImageKey); ok {
				images = append(images, image)
			}
		}
		for _, field := range []string{"containers", "initContainers"} {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
			for _, c := range containers {
				container, _ := c.(map[string]any)
				if image, ok := container["image"].(string); ok {
					images = append(images, image)
				}
				env, _, _ := unstructured.NestedSlice(container, "env")
				for _, e := range env {
					v, _ := e.(map[string]any)
					if n, _ := v["name"].(string); strings.HasSuffix(n, "_IMAGE") {
						if image, ok := v["value"].(string); ok {
							images = append(images, image)
						}
					}
				}
			}
		}
	}
	slices.Sort(images)
	return slices.Compact(images)
}

// CheckResolved checks a release that ko resolved: no ko:// import path
// is left, and every image of Images is a digest in repository repo
// (KO_DOCKER_REPO), so that what a cluster runs is exactly what was
// published.
func CheckResolved(objs []*unstructured.Unstructured, repo string) error {
	// ko names images repo/<import path>; parsed so, a repository on
	// Docker Hub reads back under index.docker.io, and a one-part
	// repo there is a namespace, not library/<repo>.
	probe, err := name.NewRepository(strings.TrimSuffix(repo, "/") + "/x")
	if err != nil {
		return fmt.Errorf("repository %q: %w", repo, err)
	}
	prefix := strings.TrimSuffix(probe.Name(), "x")
	var errs []error
	for _, u := range Unresolved(objs) {
		errs = append(errs, fmt.Errorf("not resolved: %s", u))
	}
	images := Images(objs)
	if len(images) == 0 {
		errs = append(errs, errors.New("the release runs no image"))
	}
	for _, image := range images {
		d, err := name.NewDigest(image)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("image %s is not a digest: %w", image, err))
		case !strings.HasPrefix(d.Context().Name(), prefix):
			errs = append(errs, fmt.Errorf("image %s is not in %s", image, repo))
		}
	}
	return errors.Join(errs...)
}

func qualifiedName(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + o.GetName()
	}
	return o.GetName()
}
