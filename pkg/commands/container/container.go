// Package container implements `fw container`: container definitions for
// a Service with more than one container, as kn container does.
package container

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

// NewContainerCommand returns `fw container` and its verb. It talks to no
// cluster, but takes the cluster flags every other noun takes, as kn's
// global ones, so that a command line that always passes --kubeconfig
// works.
func NewContainerCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Write container definitions for a Service with more than one container",
		Long: `A Service's pod may run containers beside the serving one (sidecars).
fw container add prints their definitions, which fw service create, update
and apply take with --containers FILE, or --containers - from a pipe.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(NewContainerAddCommand())
	return cmd
}

// NewContainerAddCommand returns `fw container add`.
func NewContainerAddCommand() *cobra.Command {
	var f flags.PodFlags
	cmd := &cobra.Command{
		Use:   "add NAME --image IMAGE",
		Short: "Print a container definition after the ones piped in, for --containers",
		Long: `Print, as YAML, a containers: list that holds the containers read from
standard input when it is a pipe or a file, then a container NAME shaped
by the flags (kn's container flags). Chain it to build several, and pass
the result to fw service create, update or apply with --containers -.
Nothing is sent to a cluster.`,
		Example: `  # A Service with two sidecars beside the serving container:
  fw container add proxy --image registry.example.com/proxy:v1 --env UPSTREAM=localhost:8080 |
    fw container add logger --image registry.example.com/logger:v2 --request memory=32Mi |
    fw service create hello --image ko://flywheel.dev/examples/hello --port 8080 --containers -

  # Keep them in a file instead:
  fw container add proxy --image registry.example.com/proxy:v1 > containers.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("give the name of one container, e.g. sidecar (got %d arguments)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdd(cmd.InOrStdin(), cmd.OutOrStdout(), &f, args[0])
		},
	}
	f.AddContainer(cmd.Flags(), "container image to run, e.g. registry.example.com/sidecar:v1 or ko://example.com/sidecar")
	return cmd
}

func runAdd(in io.Reader, out io.Writer, f *flags.PodFlags, name string) error {
	if problems := validation.IsDNS1123Label(name); len(problems) > 0 {
		return fmt.Errorf("%q is not a container name: %s", name, strings.Join(problems, "; "))
	}
	if f.Image == "" {
		return fmt.Errorf("--image is required: the image the container %s runs, e.g. --image registry.example.com/sidecar:v1", name)
	}
	var list flags.ContainerList
	if piped(in) {
		var err error
		if list.Containers, err = flags.ReadContainers(in); err != nil {
			return fmt.Errorf("reading the containers piped in: %w", err)
		}
	}
	if slices.ContainsFunc(list.Containers, func(c corev1.Container) bool { return c.Name == name }) {
		return fmt.Errorf("the containers piped in already have one named %s: give another name", name)
	}
	c := corev1.Container{Name: name}
	if err := f.ApplyContainer(&c); err != nil {
		return err
	}
	list.Containers = append(list.Containers, c)
	b, err := yaml.Marshal(list)
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// piped reports whether in brings containers to read: anything but a
// terminal, which would wait for someone to type.
func piped(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return true
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice == 0
}
