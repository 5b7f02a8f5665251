package trigger

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/equality"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/params"
)

// NewTriggerCommand returns `fw trigger` and its verbs.
func NewTriggerCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "trigger",
		Aliases: []string{"triggers"},
		Short:   "Create, change, list, describe and delete Triggers",
		Long: `A Trigger delivers the events of one Broker that match its filter to a
subscriber: a Knative Service, a Kubernetes Service, another Broker or a
URL. A filter names CloudEvents attributes and the values they must
have; a Trigger without one gets every event of its Broker.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewTriggerCreateCommand(p),
		NewTriggerUpdateCommand(p),
		NewTriggerListCommand(p),
		NewTriggerDescribeCommand(p),
		NewTriggerDeleteCommand(p),
	)
	return cmd
}

// Names of the flags, as errors spell them.
const (
	brokerFlag    = "broker"
	sinkFlag      = "sink"
	filterFlag    = "filter"
	orderedFlag   = "ordered"
	noOrderedFlag = "no-ordered"

	removeSuffix      = "-"
	keyValueSeparator = "="
)

// writeOptions are the flags of the verbs that write a Trigger. Only the
// flags a user gave change anything, so that create and update share
// them.
type writeOptions struct {
	sink      string
	filters   []string
	ordered   bool
	noOrdered bool
	delivery  delivery.Flags

	set *pflag.FlagSet
}

func (o *writeOptions) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	o.set = fs
	fs.StringVarP(&o.sink, sinkFlag, "s", "", "where matching events go: "+delivery.SinkHelp)
	fs.StringArrayVar(&o.filters, filterFlag, nil,
		"deliver only events whose attribute KEY is VALUE: KEY=VALUE; KEY= matches any value; KEY- removes the filter on KEY (repeatable; every one must match)")
	fs.BoolVar(&o.ordered, orderedFlag, false,
		"deliver events one at a time, in the order the Broker stored them")
	fs.BoolVar(&o.noOrdered, noOrderedFlag, false, "deliver events concurrently (the default): the opposite of --ordered")
	o.delivery.Add(fs, "the subscriber")
}

func (o *writeOptions) changed(name string) bool {
	return o.set != nil && o.set.Changed(name)
}

// check refuses malformed flags before anything is read or sent.
func (o *writeOptions) check() error {
	return o.apply(&eventingv1.Trigger{}, "")
}

// apply changes t as the given flags say and leaves the rest alone; refs
// are in namespace. It checks every flag before it changes anything, so
// that on error t is as it was.
func (o *writeOptions) apply(t *eventingv1.Trigger, namespace string) error {
	edited := t.DeepCopy()
	if o.changed(sinkFlag) {
		sink, err := delivery.ParseSink(sinkFlag, o.sink, namespace)
		if err != nil {
			return err
		}
		edited.Spec.Subscriber = sink
	}
	if o.changed(filterFlag) {
		var attrs eventingv1.TriggerFilterAttributes
		if edited.Spec.Filter != nil {
			attrs = edited.Spec.Filter.Attributes
		}
		attrs, err := editFilter(attrs, o.filters)
		if err != nil {
			return err
		}
		edited.Spec.Filter = nil
		if len(attrs) > 0 {
			edited.Spec.Filter = &eventingv1.TriggerFilter{Attributes: attrs}
		}
	}
	if err := o.applyOrder(&edited.Annotations); err != nil {
		return err
	}
	ds, err := o.delivery.Apply(edited.Spec.Delivery, namespace)
	if err != nil {
		return err
	}
	edited.Spec.Delivery = ds
	*t = *edited
	return nil
}

// applyOrder sets the delivery order annotation for --ordered, and removes
// it, back to the default, for --no-ordered.
func (o *writeOptions) applyOrder(annotations *map[string]string) error {
	if !o.changed(orderedFlag) && !o.changed(noOrderedFlag) {
		return nil
	}
	if o.changed(orderedFlag) && o.changed(noOrderedFlag) && o.ordered == o.noOrdered {
		return errors.New("--ordered and --no-ordered contradict each other: give one of them")
	}
	ordered := o.ordered
	if o.changed(noOrderedFlag) {
		ordered = !o.noOrdered
	}
	key := eventing.DeliveryOrderAnnotation.String()
	if !ordered {
		delete(*annotations, key)
		if len(*annotations) == 0 {
			*annotations = nil
		}
		return nil
	}
	if *annotations == nil {
		*annotations = map[string]string{}
	}
	(*annotations)[key] = eventing.DeliveryOrderOrdered
	return nil
}

// editFilter sets KEY=VALUE and removes KEY- in order, on a copy of attrs.
func editFilter(attrs eventingv1.TriggerFilterAttributes, edits []string) (eventingv1.TriggerFilterAttributes, error) {
	attrs = maps.Clone(attrs)
	for _, e := range edits {
		if key, ok := strings.CutSuffix(e, removeSuffix); ok && !strings.Contains(e, keyValueSeparator) {
			if err := checkAttributeName(e, key); err != nil {
				return nil, err
			}
			delete(attrs, key)
			continue
		}
		key, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE to deliver only events whose attribute KEY is VALUE, "+
				"e.g. --%s type=com.example.order.placed, or KEY- to remove the filter on KEY", filterFlag, e, filterFlag)
		}
		if err := checkAttributeName(e, key); err != nil {
			return nil, err
		}
		if attrs == nil {
			attrs = eventingv1.TriggerFilterAttributes{}
		}
		attrs[key] = value
	}
	return attrs, nil
}

// checkAttributeName refuses what cannot be the name of a CloudEvents
// attribute: the API would refuse it too, naming the field, not the flag.
func checkAttributeName(edit, name string) error {
	if name == "" {
		return fmt.Errorf("--%s %q: the attribute name before = is missing, e.g. --%s type=com.example.order.placed", filterFlag, edit, filterFlag)
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return fmt.Errorf("--%s %q: %q is not a CloudEvents attribute name, which holds only lower-case letters and digits (type, source, subject, or an extension such as region)",
				filterFlag, edit, name)
		}
	}
	return nil
}

// unchanged reports whether edited would change nothing that a user can
// set on t.
func unchanged(t, edited *eventingv1.Trigger) bool {
	return equality.Semantic.DeepEqual(t.Spec, edited.Spec) &&
		equality.Semantic.DeepEqual(t.Annotations, edited.Annotations)
}

// exactlyOneName is the argument check of the verbs that take one Trigger.
func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one Trigger, e.g. orders (got %d arguments)", len(args))
	}
	return nil
}
