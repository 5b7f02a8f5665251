package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/config"
	"flywheel.dev/pkg/node"
)

// TestEventingRunsLocally checks what local mode does to config/eventing:
// NATS's upstream image maps to its server built from the pinned module,
// run as root as the upstream image runs it, and its volume claim becomes an empty directory under the work
// directory, as the fresh cluster's state is empty too.
func TestEventingRunsLocally(t *testing.T) {
	objs, err := config.Manifests(config.Eventing)
	if err != nil {
		t.Fatal(err)
	}
	images := upstreamImageMappings(objs)
	if diff := cmp.Diff(map[string]string{node.ImagesConfigMapKey("nats:2.15.3"): node.ImageMapping(node.KoPrefix+"github.com/nats-io/nats-server/v2", "0")}, images); diff != "" {
		t.Errorf("images mapped (-want, +got):\n%s", diff)
	}

	dir := t.TempDir()
	stale := filepath.Join(dir, "flywheel-system", "flywheel-nats", "data", "jetstream", "old")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := localVolumes(objs, dir); err != nil {
		t.Fatal(err)
	}
	var ss appsv1.StatefulSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "StatefulSet", "flywheel-nats").Object, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 0 {
		t.Errorf("volume claim templates left: %+v", ss.Spec.VolumeClaimTemplates)
	}
	var data string
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.HostPath != nil {
			data = v.HostPath.Path
		}
	}
	if want := filepath.Join(dir, "flywheel-system", "flywheel-nats", "data"); data != want {
		t.Errorf("the data volume is at %q, want a directory at %s", data, want)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("what an earlier run left in the volume is still there (%v)", err)
	}
}
