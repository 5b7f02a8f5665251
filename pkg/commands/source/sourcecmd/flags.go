package sourcecmd

import (
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/flags"
)

// Names of the flags every kind has, as errors spell them.
const (
	SinkFlag       = "sink"
	CEOverrideFlag = "ce-override"

	// RemoveSuffix after a key removes it: --ce-override team-.
	RemoveSuffix      = "-"
	keyValueSeparator = "="
)

// SourceFlags are the flags of what every kind's spec shares: --sink and
// --ce-override.
type SourceFlags struct {
	sink        string
	ceOverrides []string

	set *pflag.FlagSet
}

// Add registers the flags on fs; sender says who sends to the sink, for
// the help: "the PingSource".
func (f *SourceFlags) Add(fs *pflag.FlagSet, sender string) {
	f.set = fs
	fs.StringVarP(&f.sink, SinkFlag, "s", "", "where "+sender+" sends its events: "+delivery.SinkHelp)
	fs.StringArrayVar(&f.ceOverrides, CEOverrideFlag, nil,
		"CloudEvents extension attribute KEY=VALUE added to every event; KEY- removes it (repeatable)")
}

// Changed reports whether the flag called name was given.
func (f *SourceFlags) Changed(name string) bool {
	return f.set != nil && f.set.Changed(name)
}

// Apply changes spec as the given flags say; the sink's ref is in
// namespace. It changes spec only when every flag is good.
func (f *SourceFlags) Apply(spec *duckv1.SourceSpec, namespace string) error {
	edited := spec.DeepCopy()
	if f.Changed(SinkFlag) {
		sink, err := delivery.ParseSink(SinkFlag, f.sink, namespace)
		if err != nil {
			return err
		}
		edited.Sink = sink
	}
	if f.Changed(CEOverrideFlag) {
		var ext map[string]string
		if edited.CloudEventOverrides != nil {
			ext = edited.CloudEventOverrides.Extensions
		}
		ext, err := EditOverrides(ext, f.ceOverrides)
		if err != nil {
			return err
		}
		edited.CloudEventOverrides = nil
		if len(ext) > 0 {
			edited.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: ext}
		}
	}
	*spec = *edited
	return nil
}

// EditOverrides sets KEY=VALUE and removes KEY- in order, on a copy of
// extensions. A key must be a CloudEvents attribute name, as the API
// requires.
func EditOverrides(extensions map[string]string, edits []string) (map[string]string, error) {
	extensions = maps.Clone(extensions)
	for _, e := range edits {
		if key, ok := strings.CutSuffix(e, RemoveSuffix); ok && !strings.Contains(e, keyValueSeparator) {
			if err := checkExtensionName(e, key); err != nil {
				return nil, err
			}
			delete(extensions, key)
			continue
		}
		key, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE to add the extension attribute KEY to every event, e.g. --%s team=shop, or KEY- to remove it",
				CEOverrideFlag, e, CEOverrideFlag)
		}
		if err := checkExtensionName(e, key); err != nil {
			return nil, err
		}
		if extensions == nil {
			extensions = map[string]string{}
		}
		extensions[key] = value
	}
	return extensions, nil
}

// checkExtensionName refuses what the API would refuse as the name of an
// extension attribute, naming the flag rather than the field, and offers
// a name it would take.
func checkExtensionName(edit, name string) error {
	if name == "" {
		return fmt.Errorf("--%s %q: the attribute name before = is missing, e.g. --%s team=shop", CEOverrideFlag, edit, CEOverrideFlag)
	}
	err := eventingv1.ValidateAttributeName(name)
	if err == nil {
		return nil
	}
	suggestion := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, strings.ToLower(name))
	if suggestion == "" {
		return fmt.Errorf("--%s %q: %q is not an attribute name: %w", CEOverrideFlag, edit, name, err)
	}
	return fmt.Errorf("--%s %q: %q is not an attribute name: %w; write it as %s", CEOverrideFlag, edit, name, err, suggestion)
}

// WriteOptions are the flags of the verbs that write a source of kind T:
// the shared ones, the kind's own, and waiting.
type WriteOptions[T Object] struct {
	Source SourceFlags
	Kind   Flags[T]
	Wait   flags.WaitFlags
}

// Add registers every flag on cmd; kind names the kind, for the help.
func (o *WriteOptions[T]) Add(cmd *cobra.Command, kind string) {
	fs := cmd.Flags()
	o.Source.Add(fs, "the "+kind)
	o.Kind.Add(fs)
	o.Wait.Add(fs, "the "+kind+" is ready at this change, and print where its events go", true)
	o.Wait.AddErrorWindow(fs)
}

// apply changes obj as the flags say, the kind's own flags first; refs
// are in namespace.
func (o *WriteOptions[T]) apply(k sourceOf[T], obj T, namespace string) error {
	if err := o.Kind.Apply(obj, namespace); err != nil {
		return err
	}
	spec, _ := k(obj)
	return o.Source.Apply(spec, namespace)
}

// sourceOf is Kind.Source.
type sourceOf[T Object] func(T) (*duckv1.SourceSpec, *duckv1.SourceStatus)

// Checker is implemented by a kind's Flags whose check of an empty
// object differs from applying them to it: flags that name parts of the
// object (a volume to mount) can be checked only for their form there.
type Checker[T Object] interface {
	// Check refuses malformed flags, given an empty object.
	Check(obj T) error
}

// check refuses malformed flags before anything is read or sent, by
// applying them to an empty object.
func (o *WriteOptions[T]) check(newObj func(ns, name string) T, k sourceOf[T]) error {
	if _, err := o.Wait.Wait(); err != nil {
		return err
	}
	obj := newObj("", "")
	if c, ok := o.Kind.(Checker[T]); ok {
		if err := c.Check(obj); err != nil {
			return err
		}
		spec, _ := k(obj)
		return o.Source.Apply(spec, "")
	}
	return o.apply(k, obj, "")
}
