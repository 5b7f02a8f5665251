package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/network"
	"knative.dev/pkg/system"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream"
)

var now = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

// The conditions of a Broker with nothing wrong.
var (
	readyCond        = isTrue(apis.ConditionReady)
	ingressReady     = isTrue(eventingv1.BrokerConditionIngress)
	streamReady      = isTrue(eventingv1.BrokerConditionStream)
	hasAddress       = isTrue(eventingv1.BrokerConditionAddressable)
	noDeadLetterSink = isTrueBecause(eventingv1.BrokerConditionDeadLetterSinkResolved, "DeadLetterSinkNotConfigured")
	deadLetterSink   = isTrue(eventingv1.BrokerConditionDeadLetterSinkResolved)
)

// brokerAddress is testBroker's address on the ingress.
const brokerAddress = "http://broker-ingress.flywheel-system.svc.cluster.local/demo/default"

// The calls of a reconciliation that made the stream and found no
// consumer to delete. (Its capacity is its length, so that append copies.)
var ensuredAndListed = []call{
	{Op: "EnsureStream", Broker: brokerKey},
	{Op: "Consumers", Broker: brokerKey},
}

func TestReconcileKind(t *testing.T) {
	t.Setenv(system.NamespaceEnvKey, systemNamespace)
	orphan := jetstream.ConsumerInfo{Name: jetstream.ConsumerName("gone-uid"), Created: now.Add(-10 * time.Minute)}

	tests := []struct {
		name string
		// The world at the start of the reconciliation.
		broker    *eventingv1.Broker
		slices    []*discoveryv1.EndpointSlice
		triggers  []*eventingv1.Trigger
		sinks     []runtime.Object // what references resolve against
		consumers []jetstream.ConsumerInfo
		errs      map[string]error // by Streams method
		// What the reconciliation did.
		wantOutcome    string
		wantConditions []cond
		wantAddress    string
		wantDLS        string
		wantCalls      []call
	}{{
		name:           "ingress ready and stream made: Broker Ready at the ingress's address, checked again in a minute",
		broker:         newBroker(),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:        "ingress without an EndpointSlice: IngressReady Unknown NoEndpoints, stream made all the same",
		broker:      newBroker(),
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, "NoEndpoints"),
			isUnknown(eventingv1.BrokerConditionIngress, "NoEndpoints"),
			streamReady, hasAddress, noDeadLetterSink,
		},
		wantAddress: brokerAddress,
		wantCalls:   ensuredAndListed,
	}, {
		name:        "ingress endpoint not ready: IngressReady Unknown NoEndpoints",
		broker:      newBroker(),
		slices:      []*discoveryv1.EndpointSlice{ingressSlice(systemNamespace, ptr.To(false))},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, "NoEndpoints"),
			isUnknown(eventingv1.BrokerConditionIngress, "NoEndpoints"),
			streamReady, hasAddress, noDeadLetterSink,
		},
		wantAddress: brokerAddress,
		wantCalls:   ensuredAndListed,
	}, {
		name:           "ingress endpoint without a ready condition counts as ready, as the API says",
		broker:         newBroker(),
		slices:         []*discoveryv1.EndpointSlice{ingressSlice(systemNamespace, nil)},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:        "ready endpoint of another Service in the system namespace: not the ingress's",
		broker:      newBroker(),
		slices:      []*discoveryv1.EndpointSlice{serviceSlice(systemNamespace, "broker-dispatcher", ptr.To(true))},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, "NoEndpoints"),
			isUnknown(eventingv1.BrokerConditionIngress, "NoEndpoints"),
			streamReady, hasAddress, noDeadLetterSink,
		},
		wantAddress: brokerAddress,
		wantCalls:   ensuredAndListed,
	}, {
		name:        "ready endpoint of a broker-ingress Service in a user's namespace: not the ingress's",
		broker:      newBroker(),
		slices:      []*discoveryv1.EndpointSlice{ingressSlice(testNamespace, ptr.To(true))},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, "NoEndpoints"),
			isUnknown(eventingv1.BrokerConditionIngress, "NoEndpoints"),
			streamReady, hasAddress, noDeadLetterSink,
		},
		wantAddress: brokerAddress,
		wantCalls:   ensuredAndListed,
	}, {
		name:           "dead-letter sink given as a URL: recorded as resolved",
		broker:         newBroker(WithDeadLetterSink(uriDestination("http://dls.example.com/dead"))),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, deadLetterSink},
		wantAddress:    brokerAddress,
		wantDLS:        "http://dls.example.com/dead",
		wantCalls:      ensuredAndListed,
	}, {
		name:           "dead-letter sink referring to a Kubernetes Service: resolved to the Service's cluster-local name",
		broker:         newBroker(WithDeadLetterSink(refDestination("v1", "Service", "dls"))),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		sinks:          []runtime.Object{kubeService("dls")},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, deadLetterSink},
		wantAddress:    brokerAddress,
		wantDLS:        "http://" + network.GetServiceHostname("dls", testNamespace),
		wantCalls:      ensuredAndListed,
	}, {
		name:           "dead-letter sink referring to a Knative Service: resolved to its address",
		broker:         newBroker(WithDeadLetterSink(refDestination("serving.knative.dev/v1", "Service", "dls"))),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		sinks:          []runtime.Object{knativeService("dls", "http://dls.demo.example.com")},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, deadLetterSink},
		wantAddress:    brokerAddress,
		wantDLS:        "http://dls.demo.example.com",
		wantCalls:      ensuredAndListed,
	}, {
		name:        "dead-letter sink referring to a missing Service: DeadLetterSinkResolved False, the Broker still takes events",
		broker:      newBroker(WithDeadLetterSink(refDestination("v1", "Service", "dls"))),
		slices:      []*discoveryv1.EndpointSlice{readySlice},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "Unresolved"),
			ingressReady, streamReady, hasAddress,
			isFalse(eventingv1.BrokerConditionDeadLetterSinkResolved, "Unresolved"),
		},
		wantAddress: brokerAddress,
		wantCalls:   ensuredAndListed,
	}, {
		name:        "stream cannot be made: StreamReady False StreamFailed, no address, error to retry",
		broker:      newBroker(),
		slices:      []*discoveryv1.EndpointSlice{readySlice},
		errs:        map[string]error{"EnsureStream": errNATS},
		wantOutcome: "error: making the stream of Broker demo/default: " + errNATS.Error(),
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "StreamFailed"),
			ingressReady,
			isFalse(eventingv1.BrokerConditionStream, "StreamFailed"),
			isUnknown(eventingv1.BrokerConditionAddressable, ""),
			noDeadLetterSink,
		},
		wantCalls: []call{{Op: "EnsureStream", Broker: brokerKey}},
	}, {
		name:   "consumer of an existing Trigger: kept",
		broker: newBroker(),
		slices: []*discoveryv1.EndpointSlice{readySlice},
		triggers: []*eventingv1.Trigger{
			newTrigger("display", testBroker, "display-uid"),
		},
		consumers: []jetstream.ConsumerInfo{
			{Name: jetstream.ConsumerName("display-uid"), Created: now.Add(-time.Hour)},
		},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:   "consumer older than five minutes whose Trigger is gone: deleted, the others kept",
		broker: newBroker(),
		slices: []*discoveryv1.EndpointSlice{readySlice},
		triggers: []*eventingv1.Trigger{
			newTrigger("display", testBroker, "display-uid"),
		},
		consumers: []jetstream.ConsumerInfo{
			{Name: jetstream.ConsumerName("display-uid"), Created: now.Add(-time.Hour)},
			orphan,
		},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls: append(ensuredAndListed,
			call{Op: "DeleteConsumer", Broker: brokerKey, Consumer: orphan.Name}),
	}, {
		name:   "consumer younger than five minutes without a Trigger: kept, its Trigger may not be in the cache yet",
		broker: newBroker(),
		slices: []*discoveryv1.EndpointSlice{readySlice},
		consumers: []jetstream.ConsumerInfo{
			{Name: jetstream.ConsumerName("new-uid"), Created: now.Add(-4*time.Minute - 59*time.Second)},
		},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:   "consumer whose Trigger belongs to another Broker: deleted",
		broker: newBroker(),
		slices: []*discoveryv1.EndpointSlice{readySlice},
		triggers: []*eventingv1.Trigger{
			newTrigger("display", "other", "gone-uid"),
		},
		consumers:      []jetstream.ConsumerInfo{orphan},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls: append(ensuredAndListed,
			call{Op: "DeleteConsumer", Broker: brokerKey, Consumer: orphan.Name}),
	}, {
		name:   "consumer not named for a Trigger (an operator's, made with the nats CLI): kept",
		broker: newBroker(),
		slices: []*discoveryv1.EndpointSlice{readySlice},
		consumers: []jetstream.ConsumerInfo{
			{Name: "debug", Created: now.Add(-time.Hour)},
		},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:           "consumers cannot be listed: error to retry, the Broker stays Ready",
		broker:         newBroker(),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		errs:           map[string]error{"Consumers": errNATS},
		wantOutcome:    "error: listing the consumers of Broker demo/default: " + errNATS.Error(),
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls:      ensuredAndListed,
	}, {
		name:           "orphan cannot be deleted: error to retry, the Broker stays Ready",
		broker:         newBroker(),
		slices:         []*discoveryv1.EndpointSlice{readySlice},
		consumers:      []jetstream.ConsumerInfo{orphan},
		errs:           map[string]error{"DeleteConsumer": errNATS},
		wantOutcome:    "error: " + errNATS.Error(),
		wantConditions: []cond{readyCond, ingressReady, streamReady, hasAddress, noDeadLetterSink},
		wantAddress:    brokerAddress,
		wantCalls: append(ensuredAndListed,
			call{Op: "DeleteConsumer", Broker: brokerKey, Consumer: orphan.Name}),
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, uriResolver := newResolver(t, tc.sinks...)
			streams := &fakeStreams{consumers: tc.consumers, errs: tc.errs}
			r := &Reconciler{
				streams:       streams,
				sliceLister:   discoverylisters.NewEndpointSliceLister(newIndexer(t, tc.slices...)),
				triggerLister: listers.NewTriggerLister(newIndexer(t, tc.triggers...)),
				clock:         clocktesting.NewFakePassiveClock(now),
				uriResolver:   uriResolver,
				clusterDomain: testDomain,
			}
			b := tc.broker.DeepCopy()

			got := outcome(r.ReconcileKind(ctx, b))

			if got != tc.wantOutcome {
				t.Errorf("ReconcileKind() = %s, want %s", got, tc.wantOutcome)
			}
			if d := cmp.Diff(tc.wantConditions, conditionsOf(b.Status.Status), sortConds); d != "" {
				t.Errorf("Conditions (-want, +got):\n%s", d)
			}
			if got := addressOf(b); got != tc.wantAddress {
				t.Errorf("Address = %q, want %q", got, tc.wantAddress)
			}
			if got := b.Status.DeadLetterSinkURI.String(); got != tc.wantDLS {
				t.Errorf("DeadLetterSinkURI = %q, want %q", got, tc.wantDLS)
			}
			if d := cmp.Diff(tc.wantCalls, streams.calls); d != "" {
				t.Errorf("Streams calls (-want, +got):\n%s", d)
			}
		})
	}
}

// addressOf is the Broker's address, "" when it has none; its single
// entry in addresses must agree.
func addressOf(b *eventingv1.Broker) string {
	if b.Status.Address == nil {
		if len(b.Status.Addresses) != 0 {
			return fmt.Sprintf("no address but addresses %v", b.Status.Addresses)
		}
		return ""
	}
	url := b.Status.Address.URL.String()
	if len(b.Status.Addresses) != 1 || b.Status.Addresses[0].URL.String() != url {
		return fmt.Sprintf("address %s but addresses %v", url, b.Status.Addresses)
	}
	return url
}

func TestFinalizeKind(t *testing.T) {
	tests := []struct {
		name        string
		err         error // DeleteStream's
		wantOutcome string
	}{{
		name:        "stream deleted, with its events and consumers",
		wantOutcome: "done",
	}, {
		name:        "NATS not configured: there is no stream to delete",
		err:         jetstream.ErrNotConfigured,
		wantOutcome: "done",
	}, {
		name:        "stream cannot be deleted: error to retry, the finalizer stays",
		err:         errNATS,
		wantOutcome: "error: " + errNATS.Error(),
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := logtesting.TestContextWithLogger(t)
			streams := &fakeStreams{errs: map[string]error{"DeleteStream": tc.err}}
			r := &Reconciler{streams: streams}

			got := outcome(r.FinalizeKind(ctx, newBroker()))

			if got != tc.wantOutcome {
				t.Errorf("FinalizeKind() = %s, want %s", got, tc.wantOutcome)
			}
			if d := cmp.Diff([]call{{Op: "DeleteStream", Broker: brokerKey}}, streams.calls); d != "" {
				t.Errorf("Streams calls (-want, +got):\n%s", d)
			}
		})
	}
}
