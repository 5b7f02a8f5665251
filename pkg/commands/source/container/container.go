package container

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
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

// Names of the flags, as errors spell them.
const (
	imageFlag          = "image"
	envFlag            = "env"
	argFlag            = "arg"
	cmdFlag            = "cmd"
	serviceAccountFlag = "service-account"

	removeSuffix      = "-"
	keyValueSeparator = "="
)

// reservedEnv are the variables the source's SinkBinding sets.
var reservedEnv = []string{sources.SinkEnv, sources.CEOverridesEnv}

// containerFlags are the ContainerSource's own flags, which shape its one
// container (the first, when a manifest gave it several). Only those given
// change anything.
type containerFlags struct {
	image          string
	env            []string
	args           []string
	command        []string
	serviceAccount string

	set *pflag.FlagSet
}

var _ sourcecmd.Flags[*sourcesv1.ContainerSource] = (*containerFlags)(nil)

func (f *containerFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	fs.StringVar(&f.image, imageFlag, "", "the container image that produces the events, e.g. ko://example.com/heartbeats or an image reference")
	fs.StringArrayVarP(&f.env, envFlag, "e", nil, "environment variable NAME=VALUE of the container; NAME- removes it (repeatable)")
	fs.StringArrayVar(&f.args, argFlag, nil,
		"an argument of the container, after its command (repeatable, in order; given to update, the list replaces the container's; a single empty value removes them)")
	fs.StringArrayVar(&f.command, cmdFlag, nil,
		"the container's command in place of the image's entrypoint, e.g. --cmd /ko-app/heartbeats (repeatable, in order; a single empty value goes back to the entrypoint)")
	fs.StringVar(&f.serviceAccount, serviceAccountFlag, "",
		"the service account the pods run as (the namespace's default when not given; an empty value sets it back)")
}

func (f *containerFlags) changed(name string) bool { return f.set != nil && f.set.Changed(name) }

func (f *containerFlags) Require() error {
	if !f.changed(imageFlag) {
		return fmt.Errorf("--%s is required: the container image that produces the events, e.g. --%s ko://example.com/heartbeats", imageFlag, imageFlag)
	}
	return nil
}

func (f *containerFlags) Apply(s *sourcesv1.ContainerSource, _ string) error {
	pod := &s.Spec.Template.Spec
	if f.changed(imageFlag) || f.changed(envFlag) || f.changed(argFlag) || f.changed(cmdFlag) {
		if err := f.applyContainer(pod); err != nil {
			return err
		}
	}
	if f.changed(serviceAccountFlag) {
		if f.serviceAccount != "" {
			if problems := validation.IsDNS1123Subdomain(f.serviceAccount); len(problems) > 0 {
				return fmt.Errorf("--%s %q: not the name of a service account (%s)", serviceAccountFlag, f.serviceAccount, strings.Join(problems, "; "))
			}
		}
		pod.ServiceAccountName = f.serviceAccount
	}
	return nil
}

// applyContainer changes the first container, adding one to an empty
// template.
func (f *containerFlags) applyContainer(pod *corev1.PodSpec) error {
	if len(pod.Containers) == 0 {
		pod.Containers = []corev1.Container{{}}
	}
	c := &pod.Containers[0]
	if f.changed(imageFlag) {
		if f.image == "" {
			return fmt.Errorf("--%s is empty: give the container image that produces the events", imageFlag)
		}
		c.Image = f.image
	}
	if f.changed(envFlag) {
		env, err := editEnv(c.Env, f.env)
		if err != nil {
			return err
		}
		c.Env = env
	}
	if f.changed(argFlag) {
		c.Args = list(f.args)
	}
	if f.changed(cmdFlag) {
		c.Command = list(f.command)
	}
	return nil
}

// list is the values of a repeatable flag whose single empty value means
// none.
func list(values []string) []string {
	if len(values) == 1 && values[0] == "" {
		return nil
	}
	return values
}

// editEnv sets NAME=VALUE and removes NAME- in order, keeping the order
// of the variables already there.
func editEnv(env []corev1.EnvVar, edits []string) ([]corev1.EnvVar, error) {
	env = slices.Clone(env)
	for _, e := range edits {
		if name, ok := strings.CutSuffix(e, removeSuffix); ok && !strings.Contains(e, keyValueSeparator) {
			env = slices.DeleteFunc(env, func(v corev1.EnvVar) bool { return v.Name == name })
			continue
		}
		name, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || name == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE to set a variable, e.g. --%s INTERVAL=10s, or NAME- to remove it", envFlag, e, envFlag)
		}
		if slices.Contains(reservedEnv, name) {
			return nil, fmt.Errorf("--%s %q: %s is set by the source's SinkBinding from --sink and --ce-override, and cannot be set", envFlag, e, name)
		}
		if i := slices.IndexFunc(env, func(v corev1.EnvVar) bool { return v.Name == name }); i >= 0 {
			env[i] = corev1.EnvVar{Name: name, Value: value}
			continue
		}
		env = append(env, corev1.EnvVar{Name: name, Value: value})
	}
	if len(env) == 0 {
		return nil, nil
	}
	return env, nil
}

func describe(w io.Writer, s *sourcesv1.ContainerSource) {
	pod := &s.Spec.Template.Spec
	for i := range pod.Containers {
		c := &pod.Containers[i]
		if len(pod.Containers) > 1 {
			printers.Field(w, "Container", c.Name)
		}
		printers.Field(w, "Image", c.Image)
		if len(c.Command) > 0 {
			printers.Field(w, "Command", strings.Join(c.Command, " "))
		}
		if len(c.Args) > 0 {
			printers.Field(w, "Args", strings.Join(c.Args, " "))
		}
		env := make([]string, len(c.Env))
		for j, v := range c.Env {
			env[j] = v.Name + "=" + v.Value
			if v.ValueFrom != nil {
				env[j] = v.Name + " from " + valueSource(v.ValueFrom)
			}
		}
		printers.Fields(w, "Env", env)
	}
	if pod.ServiceAccountName != "" {
		printers.Field(w, "Service account", pod.ServiceAccountName)
	}
}

// valueSource names where a variable's value comes from.
func valueSource(v *corev1.EnvVarSource) string {
	switch {
	case v.ConfigMapKeyRef != nil:
		return "ConfigMap " + v.ConfigMapKeyRef.Name + ", key " + v.ConfigMapKeyRef.Key
	case v.SecretKeyRef != nil:
		return "Secret " + v.SecretKeyRef.Name + ", key " + v.SecretKeyRef.Key
	case v.FieldRef != nil:
		return "field " + v.FieldRef.FieldPath
	case v.ResourceFieldRef != nil:
		return "resource " + v.ResourceFieldRef.Resource
	}
	return "elsewhere"
}
