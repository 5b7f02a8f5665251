package pingsource

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/network"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// The conditions of a PingSource with nothing wrong.
var (
	readyCond    = isTrue(apis.ConditionReady)
	sinkProvided = isTrue(sourcesv1.PingSourceConditionSinkProvided)
	deployed     = isTrue(sourcesv1.PingSourceConditionDeployed)
)

// sinkURL is newSource's sink.
const sinkURL = "http://display.example.com/events"

func TestReconcileKind(t *testing.T) {
	available := adapterDeployment(WithAvailable(corev1.ConditionTrue, "MinimumReplicasAvailable"))

	tests := []struct {
		name string
		// The world at the start of the reconciliation.
		source      *sourcesv1.PingSource
		deployments []*appsv1.Deployment
		sinks       []runtime.Object // what references resolve against
		// What the reconciliation did.
		wantOutcome    string
		wantConditions []cond
		wantSink       string
	}{{
		name:           "sink given as a URL, adapter available: Ready",
		source:         newSource(),
		deployments:    []*appsv1.Deployment{available},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided, deployed},
		wantSink:       sinkURL,
	}, {
		name:           "sink referring to a Kubernetes Service: its cluster-local name",
		source:         newSource(WithSink(refDestination("v1", "Service", "display"))),
		deployments:    []*appsv1.Deployment{available},
		sinks:          []runtime.Object{kubeService("display")},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided, deployed},
		wantSink:       "http://" + network.GetServiceHostname("display", testNamespace),
	}, {
		name:           "sink referring to a Broker: its address",
		source:         newSource(WithSink(refDestination("eventing.knative.dev/v1", "Broker", "default"))),
		deployments:    []*appsv1.Deployment{available},
		sinks:          []runtime.Object{broker("default", "http://broker-ingress.flywheel-system.svc.cluster.local/shop/default")},
		wantOutcome:    "done",
		wantConditions: []cond{readyCond, sinkProvided, deployed},
		wantSink:       "http://broker-ingress.flywheel-system.svc.cluster.local/shop/default",
	}, {
		name:        "sink referring to a missing Broker: SinkProvided False NotFound, the sink resolved before forgotten, so that the adapter stops sending",
		source:      newSource(WithSink(refDestination("eventing.knative.dev/v1", "Broker", "default")), WithSinkURI("http://old.example.com")),
		deployments: []*appsv1.Deployment{available},
		sinks:       []runtime.Object{broker("other", "http://broker-ingress.flywheel-system.svc.cluster.local/shop/other")},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, ReasonSinkNotFound),
			isFalse(sourcesv1.PingSourceConditionSinkProvided, ReasonSinkNotFound),
			deployed,
		},
	}, {
		name:        "sink referring to a Broker without an address yet: SinkProvided False SinkNotResolved",
		source:      newSource(WithSink(refDestination("eventing.knative.dev/v1", "Broker", "default"))),
		deployments: []*appsv1.Deployment{available},
		sinks:       []runtime.Object{broker("default", "")},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, sourcesv1.ReasonSinkNotResolved),
			isFalse(sourcesv1.PingSourceConditionSinkProvided, sourcesv1.ReasonSinkNotResolved),
			deployed,
		},
	}, {
		name:        "adapter's Deployment missing: Deployed False DeploymentNotFound, the sink resolved all the same",
		source:      newSource(),
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, ReasonAdapterNotFound),
			sinkProvided,
			isFalse(sourcesv1.PingSourceConditionDeployed, ReasonAdapterNotFound),
		},
		wantSink: sinkURL,
	}, {
		name:        "a Deployment of the adapter's name in another namespace: not the adapter",
		source:      newSource(),
		deployments: []*appsv1.Deployment{adapterDeployment(InNamespace(testNamespace), WithAvailable(corev1.ConditionTrue, "MinimumReplicasAvailable"))},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, ReasonAdapterNotFound),
			sinkProvided,
			isFalse(sourcesv1.PingSourceConditionDeployed, ReasonAdapterNotFound),
		},
		wantSink: sinkURL,
	}, {
		name:        "adapter unavailable: Deployed False with the Deployment's reason",
		source:      newSource(),
		deployments: []*appsv1.Deployment{adapterDeployment(WithAvailable(corev1.ConditionFalse, "MinimumReplicasUnavailable"))},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "MinimumReplicasUnavailable"),
			sinkProvided,
			isFalse(sourcesv1.PingSourceConditionDeployed, "MinimumReplicasUnavailable"),
		},
		wantSink: sinkURL,
	}, {
		name:        "adapter that has not reported yet: Deployed Unknown DeploymentUnavailable",
		source:      newSource(),
		deployments: []*appsv1.Deployment{adapterDeployment()},
		wantOutcome: "done",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, sourcesv1.ReasonDeploymentUnavailable),
			sinkProvided,
			isUnknown(sourcesv1.PingSourceConditionDeployed, sourcesv1.ReasonDeploymentUnavailable),
		},
		wantSink: sinkURL,
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, uriResolver := newResolver(t, tc.sinks...)
			r := &Reconciler{
				deploymentLister: appsv1listers.NewDeploymentLister(newIndexer(t, tc.deployments...)),
				uriResolver:      uriResolver,
				systemNamespace:  systemNamespace,
			}
			src := tc.source.DeepCopy()

			got := outcome(r.ReconcileKind(ctx, src))

			if got != tc.wantOutcome {
				t.Errorf("ReconcileKind() = %s, want %s", got, tc.wantOutcome)
			}
			if d := cmp.Diff(tc.wantConditions, conditionsOf(src.Status.Status), sortConds); d != "" {
				t.Errorf("Conditions (-want, +got):\n%s", d)
			}
			if got := src.Status.SinkURI.String(); got != tc.wantSink {
				t.Errorf("SinkURI = %q, want %q", got, tc.wantSink)
			}
			wantAttrs := []duckv1.CloudEventAttributes{{Type: "dev.knative.sources.ping", Source: "/apis/v1/namespaces/shop/pingsources/nightly"}}
			if d := cmp.Diff(wantAttrs, src.Status.CloudEventAttributes); d != "" {
				t.Errorf("CloudEventAttributes (-want, +got):\n%s", d)
			}
		})
	}
}

// TestConditionMessagesSayTheFix: a user reading the condition learns
// what is missing and what to do.
func TestConditionMessagesSayTheFix(t *testing.T) {
	ctx, uriResolver := newResolver(t, broker("other", "http://broker-ingress.flywheel-system.svc.cluster.local/shop/other"))
	r := &Reconciler{
		deploymentLister: appsv1listers.NewDeploymentLister(newIndexer[*appsv1.Deployment](t)),
		uriResolver:      uriResolver,
		systemNamespace:  systemNamespace,
	}
	src := newSource(WithSink(refDestination("eventing.knative.dev/v1", "Broker", "default")))
	if err := r.ReconcileKind(ctx, src); err != nil {
		t.Fatal(err)
	}
	for ct, want := range map[apis.ConditionType]string{
		sourcesv1.PingSourceConditionSinkProvided: "The sink Broker shop/default does not exist: create it, or point spec.sink at one that does.",
		sourcesv1.PingSourceConditionDeployed:     "The Deployment flywheel-system/flywheel-pingsource-adapter that sends every PingSource's events does not exist: install config/eventing.",
	} {
		if got := src.Status.GetCondition(ct).Message; got != want {
			t.Errorf("%s message = %q, want %q", ct, got, want)
		}
	}
}
