package container

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
	"flywheel.dev/pkg/sources"
)

// Kind describes ContainerSources to the verbs every kind of source
// shares.
var Kind = &sourcecmd.Kind[*sourcesv1.ContainerSource, *sourcesv1.ContainerSourceList]{
	Kind:        "ContainerSource",
	Noun:        "container",
	Resource:    "containersources",
	CreateFlags: "--image IMAGE --sink SINK",
	Client: func(c sourcesv1client.SourcesV1Interface, ns string) sourcecmd.Client[*sourcesv1.ContainerSource, *sourcesv1.ContainerSourceList] {
		return c.ContainerSources(ns)
	},
	New: func(ns, name string) *sourcesv1.ContainerSource {
		return &sourcesv1.ContainerSource{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	},
	Items: func(l *sourcesv1.ContainerSourceList) []*sourcesv1.ContainerSource {
		items := make([]*sourcesv1.ContainerSource, len(l.Items))
		for i := range l.Items {
			items[i] = &l.Items[i]
		}
		return items
	},
	Source: func(s *sourcesv1.ContainerSource) (*duckv1.SourceSpec, *duckv1.SourceStatus) {
		return &s.Spec.SourceSpec, &s.Status.SourceStatus
	},
	Columns: []string{"IMAGE"},
	Row: func(s *sourcesv1.ContainerSource) []string {
		images := make([]string, len(s.Spec.Template.Spec.Containers))
		for i, c := range s.Spec.Template.Spec.Containers {
			images[i] = c.Image
		}
		return []string{strings.Join(images, " ")}
	},
	Describe: describe,
}

// NewContainerCommand returns `fw source container` and its verbs.
func NewContainerCommand(p *sourcecmd.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "container",
		Aliases: []string{"containersource", "containersources"},
		Short:   "Create, change, list, describe and delete ContainerSources",
		Long: `A ContainerSource runs a container image as a Deployment whose pods find
the sink's URL in ` + sources.SinkEnv + ` and the CloudEvents overrides in
` + sources.CEOverridesEnv + `: the image produces events and posts them there.`,
	}
	cmd.AddCommand(
		NewContainerCreateCommand(p),
		NewContainerUpdateCommand(p),
		NewContainerListCommand(p),
		NewContainerDescribeCommand(p),
		NewContainerDeleteCommand(p),
	)
	return cmd
}

// imageFlag is the flag create requires.
const imageFlag = "image"

// containerFlags are kn's flags for the ContainerSource's one container
// (the first, when a manifest gave it several) and its pod. Only those
// given change anything.
type containerFlags struct {
	flags.PodFlags
}

var (
	_ sourcecmd.Flags[*sourcesv1.ContainerSource]   = (*containerFlags)(nil)
	_ sourcecmd.Checker[*sourcesv1.ContainerSource] = (*containerFlags)(nil)
)

func (f *containerFlags) Add(fs *pflag.FlagSet) {
	// The source's SinkBinding sets these from --sink and --ce-override.
	f.ReservedEnv = []string{sources.SinkEnv, sources.CEOverridesEnv}
	f.ReservedEnvSetter = "the source's SinkBinding from --sink and --ce-override"
	f.PodFlags.Add(fs, "the container image that produces the events, e.g. ko://example.com/heartbeats or an image reference")
}

func (f *containerFlags) Require() error {
	if !f.ImageGiven() {
		return fmt.Errorf("--%s is required: the container image that produces the events, e.g. --%s ko://example.com/heartbeats", imageFlag, imageFlag)
	}
	return nil
}

func (f *containerFlags) Apply(s *sourcesv1.ContainerSource, _ string) error {
	return f.apply(s, false)
}

func (f *containerFlags) Check(s *sourcesv1.ContainerSource) error {
	return f.apply(s, true)
}

// apply changes the first container, adding one to an empty template
// unless the flags leave it empty.
func (f *containerFlags) apply(s *sourcesv1.ContainerSource, checkOnly bool) error {
	pod := &s.Spec.Template.Spec
	added := len(pod.Containers) == 0
	if added {
		pod.Containers = []corev1.Container{{}}
	}
	if err := f.ApplyPod(pod, &pod.Containers[0], checkOnly); err != nil {
		return err
	}
	if added && equality.Semantic.DeepEqual(pod.Containers[0], corev1.Container{}) {
		pod.Containers = nil
	}
	return nil
}

func describe(w io.Writer, s *sourcesv1.ContainerSource) {
	pod := &s.Spec.Template.Spec
	for i := range pod.Containers {
		c := &pod.Containers[i]
		if len(pod.Containers) > 1 {
			printers.Field(w, "Container", c.Name)
		}
		printers.Field(w, "Image", c.Image)
		printers.Container(w, c, pod)
	}
}
