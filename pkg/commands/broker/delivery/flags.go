package delivery

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/printers"
)

// Names of the flags, as errors spell them.
const (
	DeadLetterSinkFlag = "dl-sink"
	retryFlag          = "retry"
	backoffPolicyFlag  = "backoff-policy"
	backoffDelayFlag   = "backoff-delay"
	timeoutFlag        = "timeout"
)

// Flags are the flags of a DeliverySpec. Only the flags a user gave
// change anything, so that the same code serves create and update.
type Flags struct {
	DeadLetterSink string
	Retry          int32
	BackoffPolicy  string
	BackoffDelay   string
	Timeout        string

	// set tells which flags were given.
	set *pflag.FlagSet
}

// Add registers the flags on fs; of is what the delivery is of ("the
// Broker's Triggers", "this Trigger"), for the help.
func (f *Flags) Add(fs *pflag.FlagSet, of string) {
	f.set = fs
	fs.StringVar(&f.DeadLetterSink, DeadLetterSinkFlag, "",
		"where an event goes once every delivery attempt to "+of+" failed: "+SinkHelp+"; an empty value removes it")
	fs.Int32Var(&f.Retry, retryFlag, 0, "how many times a failed delivery to "+of+" is tried again after the first attempt")
	fs.StringVar(&f.BackoffPolicy, backoffPolicyFlag, "",
		"how retries are spaced: linear (the delay times the retry's number) or exponential (the delay times 2 to that number)")
	fs.StringVar(&f.BackoffDelay, backoffDelayFlag, "", "the delay --backoff-policy multiplies, as an ISO 8601 duration, e.g. PT0.2S")
	fs.StringVar(&f.Timeout, timeoutFlag, "", "how long one delivery attempt may take, as an ISO 8601 duration, e.g. PT10S")
}

func (f *Flags) changed(name string) bool {
	return f.set != nil && f.set.Changed(name)
}

// Check refuses malformed flags without a spec to apply them to, so that
// a command can fail on them before it connects.
func (f *Flags) Check() error {
	_, err := f.Apply(nil, "")
	return err
}

// Apply returns ds changed as the given flags say, leaving ds itself
// alone; refs of a dead-letter sink are in namespace. The result is nil
// when nothing is set.
func (f *Flags) Apply(ds *eventingv1.DeliverySpec, namespace string) (*eventingv1.DeliverySpec, error) {
	edited := ds.DeepCopy()
	if edited == nil {
		edited = &eventingv1.DeliverySpec{}
	}
	if f.changed(DeadLetterSinkFlag) {
		edited.DeadLetterSink = nil
		if f.DeadLetterSink != "" {
			sink, err := ParseSink(DeadLetterSinkFlag, f.DeadLetterSink, namespace)
			if err != nil {
				return nil, err
			}
			edited.DeadLetterSink = &sink
		}
	}
	if f.changed(retryFlag) {
		if f.Retry < 0 {
			return nil, fmt.Errorf("--%s %d: give the number of retries after the first attempt, 0 or more", retryFlag, f.Retry)
		}
		edited.Retry = ptr.To(f.Retry)
	}
	if f.changed(backoffPolicyFlag) {
		policy := eventingv1.BackoffPolicyType(f.BackoffPolicy)
		if policy != eventingv1.BackoffPolicyLinear && policy != eventingv1.BackoffPolicyExponential {
			return nil, fmt.Errorf("--%s %q: want %s or %s", backoffPolicyFlag, f.BackoffPolicy,
				eventingv1.BackoffPolicyLinear, eventingv1.BackoffPolicyExponential)
		}
		edited.BackoffPolicy = &policy
	}
	for _, d := range []struct {
		flag, value, example string
		field                **string
	}{
		{backoffDelayFlag, f.BackoffDelay, "PT0.2S", &edited.BackoffDelay},
		{timeoutFlag, f.Timeout, "PT10S", &edited.Timeout},
	} {
		if !f.changed(d.flag) {
			continue
		}
		if err := checkDuration(d.flag, d.value, d.example); err != nil {
			return nil, err
		}
		*d.field = ptr.To(d.value)
	}
	if equality.Semantic.DeepEqual(edited, &eventingv1.DeliverySpec{}) {
		return nil, nil
	}
	return edited, nil
}

// checkDuration refuses what is not a positive ISO 8601 duration and,
// when the value is a Go duration (10s), offers the same in ISO 8601.
func checkDuration(flag, value, example string) error {
	d, err := eventingv1.ParseDuration(value)
	if err == nil && d > 0 {
		return nil
	}
	if goDuration, goErr := time.ParseDuration(value); goErr == nil && goDuration > 0 {
		example = ISODuration(goDuration)
	}
	return fmt.Errorf("--%s %q: write a duration above zero in ISO 8601, e.g. --%s %s", flag, value, flag, example)
}

// ISODuration writes d in ISO 8601 as seconds: PT0.2S, PT90S.
func ISODuration(d time.Duration) string {
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}

// Describe writes the fields of ds set by a user to w, a tabwriter of a
// describe command's fields; the refs of objects in namespace ns go
// without it.
func Describe(w io.Writer, ds *eventingv1.DeliverySpec, ns string) {
	if ds == nil {
		return
	}
	if ds.DeadLetterSink != nil {
		printers.Field(w, "Dead letter sink", FormatDestination(ds.DeadLetterSink, ns))
	}
	if ds.Retry != nil {
		printers.Field(w, "Retry", strconv.Itoa(int(*ds.Retry)))
	}
	var backoff []string
	if ds.BackoffPolicy != nil {
		backoff = append(backoff, string(*ds.BackoffPolicy))
	}
	if ds.BackoffDelay != nil {
		backoff = append(backoff, "delay "+*ds.BackoffDelay)
	}
	if len(backoff) > 0 {
		printers.Field(w, "Backoff", strings.Join(backoff, ", "))
	}
	if ds.Timeout != nil {
		printers.Field(w, "Timeout", *ds.Timeout)
	}
}
