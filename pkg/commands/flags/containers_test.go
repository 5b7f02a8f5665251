package flags

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
)

// containersFile writes a containers: list to a file of the test's.
func containersFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "containers.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const sidecars = `containers:
- name: proxy
  image: example.com/proxy:v1
- name: logger
  image: example.com/logger:v1
`

func TestContainersAddsAndReplacesByName(t *testing.T) {
	port := corev1.ContainerPort{ContainerPort: 8080}
	got := service()
	if err := apply(t, got, "--port", "8080", "--containers", containersFile(t, sidecars)); err != nil {
		t.Fatal(err)
	}
	serving := service(withPorts(port)).Spec.Template.Spec.Containers[0]
	want := []corev1.Container{serving, {Name: "proxy", Image: "example.com/proxy:v1"}, {Name: "logger", Image: "example.com/logger:v1"}}
	if diff := cmp.Diff(want, got.Spec.Template.Spec.Containers); diff != "" {
		t.Errorf("containers (-want, +got):\n%s", diff)
	}

	// kn's older name; a container of the same name is replaced, in place.
	newProxy := "containers:\n- name: proxy\n  image: example.com/proxy:v2\n  args: [--verbose]\n"
	if err := apply(t, got, "--extra-containers", containersFile(t, newProxy), "--env", "A=2"); err != nil {
		t.Fatal(err)
	}
	serving.Env[0].Value = "2"
	want = []corev1.Container{serving, {Name: "proxy", Image: "example.com/proxy:v2", Args: []string{"--verbose"}}, want[2]}
	if diff := cmp.Diff(want, got.Spec.Template.Spec.Containers); diff != "" {
		t.Errorf("containers after a second file (-want, +got):\n%s", diff)
	}
}

func TestContainersReadsStandardInputOnce(t *testing.T) {
	fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
	var f ServiceFlags
	f.Add(fs)
	if err := fs.Parse([]string{"--port", "8080", "--containers", "-"}); err != nil {
		t.Fatal(err)
	}
	f.SetStdin(strings.NewReader(sidecars))
	// Check, then Apply, as the commands do: both need the containers.
	if err := f.Check("hello"); err != nil {
		t.Fatal(err)
	}
	got := service()
	if err := f.Apply(got); err != nil {
		t.Fatalf("Apply after Check: %v", err)
	}
	names := []string{}
	for _, c := range got.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"user-container", "proxy", "logger"}, names); diff != "" {
		t.Errorf("containers (-want, +got):\n%s", diff)
	}
}

func TestContainersRefusesWhatItCannotPlace(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string
		want       string
	}{
		{"no port", sidecars, nil, "give --port for the serving container"},
		{"no name", "containers:\n- image: example.com/proxy:v1\n", []string{"--port", "8080"}, "every container needs a name"},
		{"the serving container's name", "containers:\n- name: user-container\n  image: example.com/proxy:v1\n", []string{"--port", "8080"}, "container user-container is the serving container"},
		{"not a list", "containers: proxy\n", []string{"--port", "8080"}, "not a containers: list"},
		{"nothing", "", []string{"--port", "8080"}, "holds no containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refuses(t, service(), append(tc.args, "--containers", containersFile(t, tc.file)), []string{tc.want})
		})
	}
}
