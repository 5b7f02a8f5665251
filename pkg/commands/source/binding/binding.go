package binding

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
	"flywheel.dev/pkg/sources"
)

// Kind describes SinkBindings to the verbs every kind of source shares.
var Kind = &sourcecmd.Kind[*sourcesv1.SinkBinding, *sourcesv1.SinkBindingList]{
	Kind:        "SinkBinding",
	Noun:        "binding",
	Resource:    "sinkbindings",
	CreateFlags: "--subject KIND:APIVERSION:NAME --sink SINK",
	Client: func(c sourcesv1client.SourcesV1Interface, ns string) sourcecmd.Client[*sourcesv1.SinkBinding, *sourcesv1.SinkBindingList] {
		return c.SinkBindings(ns)
	},
	New: func(ns, name string) *sourcesv1.SinkBinding {
		return &sourcesv1.SinkBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	},
	Items: func(l *sourcesv1.SinkBindingList) []*sourcesv1.SinkBinding {
		items := make([]*sourcesv1.SinkBinding, len(l.Items))
		for i := range l.Items {
			items[i] = &l.Items[i]
		}
		return items
	},
	Source: func(s *sourcesv1.SinkBinding) (*duckv1.SourceSpec, *duckv1.SourceStatus) {
		return &s.Spec.SourceSpec, &s.Status.SourceStatus
	},
	Columns:  []string{"SUBJECT"},
	Row:      func(s *sourcesv1.SinkBinding) []string { return []string{subject(&s.Spec.Subject, s.Namespace)} },
	Describe: describe,
}

// NewBindingCommand returns `fw source binding` and its verbs.
func NewBindingCommand(p *sourcecmd.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "binding",
		Aliases: []string{"sinkbinding", "sinkbindings"},
		Short:   "Create, change, list, describe and delete SinkBindings",
		Long: `A SinkBinding points the pods of its subject at its sink: the containers
of the subject's pod template get ` + sources.SinkEnv + `, the sink's URL, and
` + sources.CEOverridesEnv + `, the CloudEvents overrides as JSON, for code that
sends events itself. The subject is one object by name, or every object
of a kind whose labels match a selector, in the binding's namespace: a
Deployment, StatefulSet, DaemonSet, Job, CronJob, Knative Service or
anything else with a pod template. The variables go when the binding
does.`,
	}
	cmd.AddCommand(
		NewBindingCreateCommand(p),
		NewBindingUpdateCommand(p),
		NewBindingListCommand(p),
		NewBindingDescribeCommand(p),
		NewBindingDeleteCommand(p),
	)
	return cmd
}

// Names of the flags, as errors spell them.
const (
	subjectFlag    = "subject"
	subjectExample = "Deployment:apps/v1:hello"
)

// bindingFlags are the SinkBinding's own flags. Only those given change
// anything.
type bindingFlags struct {
	subject string

	set *pflag.FlagSet
}

var _ sourcecmd.Flags[*sourcesv1.SinkBinding] = (*bindingFlags)(nil)

func (f *bindingFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	fs.StringVar(&f.subject, subjectFlag, "",
		"what to bind: KIND:APIVERSION:NAME for one object, e.g. "+subjectExample+
			", or KIND:APIVERSION:SELECTOR for every object of the kind whose labels match, e.g. Job:batch/v1:app=heartbeat,tier=web")
}

func (f *bindingFlags) changed(name string) bool { return f.set != nil && f.set.Changed(name) }

func (f *bindingFlags) Require() error {
	if !f.changed(subjectFlag) {
		return fmt.Errorf("--%s is required: the object whose pods get %s, e.g. --%s %s", subjectFlag, sources.SinkEnv, subjectFlag, subjectExample)
	}
	return nil
}

func (f *bindingFlags) Apply(s *sourcesv1.SinkBinding, namespace string) error {
	if !f.changed(subjectFlag) {
		return nil
	}
	subject, err := parseSubject(f.subject, namespace)
	if err != nil {
		return err
	}
	s.Spec.Subject = subject
	return nil
}

// parseSubject reads --subject: KIND:APIVERSION:NAME, or a label selector
// in place of the name, which tells itself by holding =, ! or a
// parenthesis. The subject is in namespace, the binding's.
func parseSubject(value, namespace string) (tracker.Reference, error) {
	ref, err := sourcecmd.ParseKindRef(subjectFlag, value, subjectExample)
	if err != nil {
		return tracker.Reference{}, err
	}
	s := tracker.Reference{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: namespace}
	switch {
	case ref.Rest == "":
		return tracker.Reference{}, fmt.Errorf("--%s %q: name the object, or give a label selector, after the apiVersion, e.g. --%s %s:%s:hello or --%s %s:%s:app=hello",
			subjectFlag, value, subjectFlag, ref.Kind, ref.APIVersion, subjectFlag, ref.Kind, ref.APIVersion)
	case strings.ContainsAny(ref.Rest, "=!(,"):
		if s.Selector, err = sourcecmd.ParseSelector(subjectFlag, value, ref.Rest); err != nil {
			return tracker.Reference{}, err
		}
	default:
		if problems := validation.IsDNS1123Subdomain(ref.Rest); len(problems) > 0 {
			return tracker.Reference{}, fmt.Errorf("--%s %q: %q is not the name of an object (%s), nor a label selector such as app=hello",
				subjectFlag, value, ref.Rest, strings.Join(problems, "; "))
		}
		s.Name = ref.Rest
	}
	return s, nil
}

// subject shows a subject as --subject takes it; one in another namespace
// than ns says so.
func subject(s *tracker.Reference, ns string) string {
	out := sourcecmd.FormatKindRef(s.Kind, s.APIVersion, s.Selector)
	if s.Name != "" {
		out += sourcecmd.RefSeparator + s.Name
	}
	if s.Namespace != "" && s.Namespace != ns {
		out += " in namespace " + s.Namespace
	}
	return out
}

func describe(w io.Writer, s *sourcesv1.SinkBinding) {
	printers.Field(w, "Subject", subject(&s.Spec.Subject, s.Namespace))
}
