package apiserver

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/sources"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// Kind describes ApiServerSources to the verbs every kind of source
// shares.
var Kind = &sourcecmd.Kind[*sourcesv1.ApiServerSource, *sourcesv1.ApiServerSourceList]{
	Kind:        "ApiServerSource",
	Noun:        "apiserver",
	Resource:    "apiserversources",
	CreateFlags: "--resource KIND:APIVERSION --sink SINK",
	Client: func(c sourcesv1client.SourcesV1Interface, ns string) sourcecmd.Client[*sourcesv1.ApiServerSource, *sourcesv1.ApiServerSourceList] {
		return c.ApiServerSources(ns)
	},
	New: func(ns, name string) *sourcesv1.ApiServerSource {
		return &sourcesv1.ApiServerSource{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	},
	Items: func(l *sourcesv1.ApiServerSourceList) []*sourcesv1.ApiServerSource {
		items := make([]*sourcesv1.ApiServerSource, len(l.Items))
		for i := range l.Items {
			items[i] = &l.Items[i]
		}
		return items
	},
	Source: func(s *sourcesv1.ApiServerSource) (*duckv1.SourceSpec, *duckv1.SourceStatus) {
		return &s.Spec.SourceSpec, &s.Status.SourceStatus
	},
	Columns: []string{"RESOURCES"},
	Row: func(s *sourcesv1.ApiServerSource) []string {
		return []string{strings.Join(resources(s.Spec.Resources), " ")}
	},
	Describe: describe,
}

// NewAPIServerCommand returns `fw source apiserver` and its verbs.
func NewAPIServerCommand(p *sourcecmd.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apiserver",
		Aliases: []string{"apiserversource", "apiserversources"},
		Short:   "Create, change, list, describe and delete ApiServerSources",
		Long: `An ApiServerSource watches Kubernetes objects of the kinds it names, in
its namespace, and sends an event for each one added, updated or
deleted: ` + sources.ApiServerSourceAddRefEventType + ` and the like in Reference mode
(the event holds a reference to the object), ` + sources.ApiServerSourceAddEventType + `
and the like in Resource mode (the whole object). It watches with its
service account, which needs get, list and watch on those kinds.`,
	}
	cmd.AddCommand(
		NewAPIServerCreateCommand(p),
		NewAPIServerUpdateCommand(p),
		NewAPIServerListCommand(p),
		NewAPIServerDescribeCommand(p),
		NewAPIServerDeleteCommand(p),
	)
	return cmd
}

// Names of the flags, as errors spell them.
const (
	resourceFlag       = "resource"
	modeFlag           = "mode"
	serviceAccountFlag = "service-account"

	resourceExample = "Event:v1"
)

// apiServerFlags are the ApiServerSource's own flags. Only those given
// change anything.
type apiServerFlags struct {
	resources      []string
	mode           string
	serviceAccount string

	set *pflag.FlagSet
}

var _ sourcecmd.Flags[*sourcesv1.ApiServerSource] = (*apiServerFlags)(nil)

func (f *apiServerFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	fs.StringArrayVar(&f.resources, resourceFlag, nil,
		"a kind of object to watch, KIND:APIVERSION, optionally only those whose labels match :SELECTOR, e.g. Event:v1 or Deployment:apps/v1:app=hello,tier=web "+
			"(repeatable; given to update, the list replaces the source's)")
	fs.StringVar(&f.mode, modeFlag, "",
		"what each event holds: "+string(sourcesv1.EventModeReference)+" (a reference to the object; the default) or "+string(sourcesv1.EventModeResource)+" (the whole object)")
	fs.StringVar(&f.serviceAccount, serviceAccountFlag, "",
		"the service account the source watches with, which needs get, list and watch on the kinds watched (the one named "+
			sourcesv1.DefaultServiceAccountName+" when not given; an empty value sets it back)")
}

func (f *apiServerFlags) changed(name string) bool { return f.set != nil && f.set.Changed(name) }

func (f *apiServerFlags) Require() error {
	if !f.changed(resourceFlag) {
		return fmt.Errorf("--%s is required: the kind of object to watch, e.g. --%s %s for the namespace's Kubernetes events, or --%s ConfigMap:v1",
			resourceFlag, resourceFlag, resourceExample, resourceFlag)
	}
	return nil
}

func (f *apiServerFlags) Apply(s *sourcesv1.ApiServerSource, _ string) error {
	spec := &s.Spec
	if f.changed(resourceFlag) {
		rs, err := parseResources(f.resources)
		if err != nil {
			return err
		}
		spec.Resources = rs
	}
	if f.changed(modeFlag) {
		mode, err := parseMode(f.mode)
		if err != nil {
			return err
		}
		spec.Mode = mode
	}
	if f.changed(serviceAccountFlag) {
		if f.serviceAccount != "" {
			if problems := validation.IsDNS1123Subdomain(f.serviceAccount); len(problems) > 0 {
				return fmt.Errorf("--%s %q: not the name of a service account (%s)", serviceAccountFlag, f.serviceAccount, strings.Join(problems, "; "))
			}
		}
		spec.ServiceAccountName = f.serviceAccount
	}
	return nil
}

// parseResources reads each --resource; at least one is needed.
func parseResources(values []string) ([]sourcesv1.APIVersionKindSelector, error) {
	rs := make([]sourcesv1.APIVersionKindSelector, 0, len(values))
	for _, v := range values {
		ref, err := sourcecmd.ParseKindRef(resourceFlag, v, resourceExample)
		if err != nil {
			return nil, err
		}
		if ref.Rest == "true" || ref.Rest == "false" {
			// kn once took KIND:APIVERSION:isController.
			return nil, fmt.Errorf("--%s %q: what follows the apiVersion is a label selector, e.g. %s:%s:app=hello; leave it out to watch every %s",
				resourceFlag, v, ref.Kind, ref.APIVersion, ref.Kind)
		}
		selector, err := sourcecmd.ParseSelector(resourceFlag, v, ref.Rest)
		if err != nil {
			return nil, err
		}
		rs = append(rs, sourcesv1.APIVersionKindSelector{APIVersion: ref.APIVersion, Kind: ref.Kind, Selector: selector})
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("--%s: give at least one kind to watch, e.g. --%s %s", resourceFlag, resourceFlag, resourceExample)
	}
	return rs, nil
}

// parseMode reads --mode in any case.
func parseMode(value string) (sourcesv1.EventMode, error) {
	for _, m := range []sourcesv1.EventMode{sourcesv1.EventModeReference, sourcesv1.EventModeResource} {
		if strings.EqualFold(value, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("--%s %q: want %s, for events that hold a reference to the object, or %s, for events that hold the whole object",
		modeFlag, value, sourcesv1.EventModeReference, sourcesv1.EventModeResource)
}

// resources shows each resource as --resource takes it.
func resources(rs []sourcesv1.APIVersionKindSelector) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = sourcecmd.FormatKindRef(r.Kind, r.APIVersion, r.Selector)
	}
	return out
}

func describe(w io.Writer, s *sourcesv1.ApiServerSource) {
	spec := &s.Spec
	printers.Fields(w, "Resources", resources(spec.Resources))
	mode := spec.Mode
	if mode == "" {
		mode = sourcesv1.EventModeReference
	}
	printers.Field(w, "Mode", string(mode))
	account := spec.ServiceAccountName
	if account == "" {
		account = sourcesv1.DefaultServiceAccountName
	}
	printers.Field(w, "Service account", account)
	if o := spec.Owner; o != nil {
		printers.Field(w, "Owner", o.Kind+sourcecmd.RefSeparator+o.APIVersion)
	}
	if sel := spec.NamespaceSelector; sel != nil {
		printers.Field(w, "Namespace selector", metav1.FormatLabelSelector(sel))
	}
	printers.Fields(w, "Namespaces watched", s.Status.Namespaces)
}
