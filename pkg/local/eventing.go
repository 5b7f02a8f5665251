package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/config"
	"flywheel.dev/pkg/node"
)

// upstreamImageMappings maps every upstream image objs' workloads run to
// its program's import path and user, as the node's images ConfigMap
// takes them.
func upstreamImageMappings(objs []*unstructured.Unstructured) map[string]string {
	images := map[string]string{}
	for _, o := range objs {
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			m, _ := c.(map[string]any)
			image, _ := m["image"].(string)
			repo, _, _ := strings.Cut(image, ":")
			if up, ok := config.UpstreamImages[repo]; ok {
				images[node.ImagesConfigMapKey(image)] = node.ImageMapping(node.KoPrefix+up.ImportPath, up.User)
			}
		}
	}
	return images
}

// localVolumes gives each StatefulSet in objs, in place of its volume
// claim templates, directories under dir of the same names, as a
// local-path provisioner would: the node has no storage classes, and a
// directory outlives the pod as a volume does. Local mode runs one
// replica, so one directory per claim serves. Each starts empty: local
// mode's cluster starts from an empty etcd, and NATS's streams must not
// outlive the Brokers they were made for.
func localVolumes(objs []*unstructured.Unstructured, dir string) error {
	for _, o := range objs {
		if o.GetKind() != "StatefulSet" {
			continue
		}
		var ss appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ss); err != nil {
			return fmt.Errorf("reading StatefulSet %s: %w", o.GetName(), err)
		}
		if len(ss.Spec.VolumeClaimTemplates) == 0 {
			continue
		}
		directory := corev1.HostPathDirectoryOrCreate
		for _, claim := range ss.Spec.VolumeClaimTemplates {
			p := filepath.Join(dir, ss.Namespace, ss.Name, claim.Name)
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			ss.Spec.Template.Spec.Volumes = append(ss.Spec.Template.Spec.Volumes, corev1.Volume{
				Name:         claim.Name,
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p, Type: &directory}},
			})
		}
		ss.Spec.VolumeClaimTemplates = nil
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&ss)
		if err != nil {
			return err
		}
		o.Object = u
	}
	return nil
}
