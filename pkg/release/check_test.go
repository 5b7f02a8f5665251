package release

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func deployment(image string, env ...map[string]any) *unstructured.Unstructured {
	container := map[string]any{"name": "c", "image": image}
	if len(env) > 0 {
		var vars []any
		for _, e := range env {
			vars = append(vars, e)
		}
		container["env"] = vars
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "namespace": "ns"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{container},
		}}},
	}}
}

func TestCheckResolved(t *testing.T) {
	const repo = "registry.example.com/flywheel"
	for _, tc := range []struct {
		name string
		objs []*unstructured.Unstructured
		want string // in the error; empty for none
	}{{
		name: "digests in the repository",
		objs: []*unstructured.Unstructured{deployment(repo+"/flywheel.dev/cmd/controller@"+digest,
			map[string]any{"name": "ADAPTER_IMAGE", "value": repo + "/flywheel.dev/cmd/adapter@" + digest})},
	}, {
		name: "ko:// left",
		objs: []*unstructured.Unstructured{deployment(repo+"/x@"+digest,
			map[string]any{"name": "ADAPTER", "value": "ko://flywheel.dev/cmd/adapter"})},
		want: "not resolved: Deployment ns/d: ko://flywheel.dev/cmd/adapter",
	}, {
		name: "a tag",
		objs: []*unstructured.Unstructured{deployment(repo + "/x:latest")},
		want: "is not a digest",
	}, {
		name: "an image of another repository",
		objs: []*unstructured.Unstructured{deployment("registry.example.com/other/x@" + digest)},
		want: "is not in " + repo,
	}, {
		name: "an image env var with a tag",
		objs: []*unstructured.Unstructured{deployment(repo+"/x@"+digest,
			map[string]any{"name": "ADAPTER_IMAGE", "value": "nats:2.15.3"})},
		want: "nats:2.15.3 is not a digest",
	}, {
		name: "no image",
		objs: nil,
		want: "runs no image",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckResolved(tc.objs, repo)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckResolved: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckResolved = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestCheckResolvedNormalizesDockerHub: an image ko pushed to docker.io
// reads back as index.docker.io; both are the same repository.
func TestCheckResolvedNormalizesDockerHub(t *testing.T) {
	objs := []*unstructured.Unstructured{deployment("index.docker.io/someone/flywheel.dev/cmd/queue@" + digest)}
	if err := CheckResolved(objs, "docker.io/someone"); err != nil {
		t.Error(err)
	}
}
