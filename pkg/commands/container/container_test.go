package container

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

// add runs fw container add with in as its standard input.
func add(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	cmd := NewContainerCommand(&params.Params{})
	var out bytes.Buffer
	cmd.SetArgs(append([]string{"add"}, args...))
	cmd.SetIn(strings.NewReader(in))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// TestAddChains: each add prints what it read, then its own container,
// so that a pipe of adds builds the list --containers takes.
func TestAddChains(t *testing.T) {
	first, err := add(t, "", "proxy", "--image", "example.com/proxy:v1", "--env", "UPSTREAM=localhost:8080", "--arg", "--verbose")
	if err != nil {
		t.Fatal(err)
	}
	second, err := add(t, first, "logger", "--image", "example.com/logger:v1", "--request", "memory=32Mi", "--user", "1001")
	if err != nil {
		t.Fatal(err)
	}
	got, err := flags.ReadContainers(strings.NewReader(second))
	if err != nil {
		t.Fatalf("the output is not a containers: list: %v\n%s", err, second)
	}
	user := int64(1001)
	want := []corev1.Container{{
		Name: "proxy", Image: "example.com/proxy:v1", Args: []string{"--verbose"},
		Env: []corev1.EnvVar{{Name: "UPSTREAM", Value: "localhost:8080"}},
	}, {
		Name: "logger", Image: "example.com/logger:v1",
		Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}},
		SecurityContext: &corev1.SecurityContext{RunAsUser: &user},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("containers (-want, +got):\n%s", diff)
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"no image", "", []string{"proxy"}, "--image is required"},
		{"a bad name", "", []string{"Proxy_1", "--image", "example.com/proxy:v1"}, `"Proxy_1" is not a container name`},
		{"a name taken", "containers:\n- name: proxy\n  image: example.com/proxy:v1\n", []string{"proxy", "--image", "example.com/proxy:v2"}, "already have one named proxy"},
		{"input that is not a list", "hello\n", []string{"proxy", "--image", "example.com/proxy:v1"}, "reading the containers piped in"},
		{"a reserved flag of the pod", "", []string{"proxy", "--image", "example.com/proxy:v1", "--mount", "/data=data"}, "unknown flag: --mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := add(t, tc.in, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("fw container add %v: %v (%s), want it to say %q", tc.args, err, out, tc.want)
			}
		})
	}
}
