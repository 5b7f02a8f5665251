package containersource

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgotesting "k8s.io/client-go/testing"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	flywheelclient "flywheel.dev/pkg/client/injection/client"
	containersourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/containersource"
	sourceslisters "flywheel.dev/pkg/client/listers/sources/v1"
	"flywheel.dev/pkg/reconciler/containersource/resources/names"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
	"flywheel.dev/pkg/sources"
)

// refuse returns a reactor that fails verb on resource with err.
func refuse(verb, resource string, err error) clientgotesting.ReactionFunc {
	return func(action clientgotesting.Action) (bool, runtime.Object, error) {
		if action.GetVerb() == verb && action.GetResource().Resource == resource {
			return true, nil, err
		}
		return false, nil, nil
	}
}

func TestReconcile(t *testing.T) {
	src := newSource()
	deploymentName := names.Deployment(src)
	sinkBindingName := names.SinkBinding(src)
	restartNever := apierrs.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, deploymentName, field.ErrorList{
		field.NotSupported(field.NewPath("spec", "template", "spec", "restartPolicy"), "Never", []string{"Always"}),
	})
	overrides := map[string]string{"team": "shop"}
	overridesEnv := corev1.EnvVar{Name: sources.CEOverridesEnv, Value: `{"extensions":{"team":"shop"}}`}
	// ready is the status of a source whose binding and Deployment are
	// both ready.
	ready := func(s *sourcesv1.ContainerSourceStatus) {
		s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
		s.PropagateReceiveAdapterStatus(deployment(src, available(corev1.ConditionTrue, "", "")))
	}

	table := rtesting.TableTest{{
		Name: "a missing source is nothing to do",
		Key:  testKey,
	}, {
		Name:        "a new source: its SinkBinding, owned; the Deployment waits for the binding to resolve the sink",
		Key:         testKey,
		Objects:     objects(newSource()),
		WantCreates: objects(sinkBinding(src)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sourcesv1.SinkBindingStatus{})
			markUnknown(s, sourcesv1.ContainerSourceConditionReceiveAdapterReady, ReasonWaitingForSink,
				"The Deployment is made once the SinkBinding %q has resolved the sink, so that its pods start with K_SINK.", sinkBindingName)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created SinkBinding %q", sinkBindingName)},
	}, {
		Name:    "the binding's sink does not resolve and there is no Deployment yet: none is made",
		Key:     testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingSinkNotFound)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingSinkNotFound).Status)
			markUnknown(s, sourcesv1.ContainerSourceConditionReceiveAdapterReady, ReasonWaitingForSink,
				"The Deployment is made once the SinkBinding %q has resolved the sink, so that its pods start with K_SINK.", sinkBindingName)
		})}},
	}, {
		Name:        "the binding knows the sink: the Deployment is made, owned, its pods bound from the start",
		Key:         testKey,
		Objects:     objects(newSource(), sinkBinding(src, bindingReady(brokerURL))),
		WantCreates: objects(deployment(src, bound(brokerURL))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
			s.PropagateReceiveAdapterStatus(deployment(src))
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "overrides: the binding carries them, the Deployment starts with K_CE_OVERRIDES",
		Key:  testKey,
		Objects: objects(newSource(WithOverrides(overrides)),
			sinkBinding(newSource(WithOverrides(overrides)), bindingReady(brokerURL))),
		WantCreates: objects(deployment(newSource(WithOverrides(overrides)), bound(brokerURL, overridesEnv))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(WithOverrides(overrides)), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
			s.PropagateReceiveAdapterStatus(deployment(src))
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", deploymentName)},
	}, {
		Name: "binding and Deployment ready: the source Ready, its sinkUri the binding's; nothing written",
		Key:  testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), ready)}},
	}, {
		Name: "the binding's sink does not resolve: SinkBindingReady False with the binding's reason",
		Key:  testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingSinkNotFound),
			deployment(src, available(corev1.ConditionTrue, "", ""))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingSinkNotFound).Status)
			s.PropagateReceiveAdapterStatus(deployment(src, available(corev1.ConditionTrue, "", "")))
		})}},
	}, {
		Name: "the Deployment unavailable: ReceiveAdapterReady False with the Deployment's reason",
		Key:  testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
			s.PropagateReceiveAdapterStatus(deployment(src, available(corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")))
		})}},
	}, {
		Name: "the source's arguments changed: the Deployment updated, the binding's K_SINK kept",
		Key:  testKey,
		Objects: objects(newSource(WithArgs("--period=1s")), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""))),
		WantUpdates:       []clientgotesting.UpdateActionImpl{{Object: deployment(newSource(WithArgs("--period=1s")), bound(brokerURL), available(corev1.ConditionTrue, "", ""))}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(WithArgs("--period=1s")), ready)}},
		WantEvents:        []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonUpdated, "Updated Deployment %q", deploymentName)},
	}, {
		Name: "a variable removed from the source: removed from the Deployment too",
		Key:  testKey,
		Objects: objects(newSource(WithoutEnv), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""))),
		WantUpdates:       []clientgotesting.UpdateActionImpl{{Object: deployment(newSource(WithoutEnv), bound(brokerURL), available(corev1.ConditionTrue, "", ""))}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(WithoutEnv), ready)}},
		WantEvents:        []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonUpdated, "Updated Deployment %q", deploymentName)},
	}, {
		Name: "the Deployment's image changed by hand: put back",
		Key:  testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""), func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "ko://example.com/other"
			})),
		WantUpdates:       []clientgotesting.UpdateActionImpl{{Object: deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""))}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), ready)}},
		WantEvents:        []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonUpdated, "Updated Deployment %q", deploymentName)},
	}, {
		Name: "the source's sink changed: the SinkBinding updated, the Deployment left to it",
		Key:  testKey,
		Objects: objects(newSource(WithSinkURI("http://display.shop.svc.cluster.local")), sinkBinding(src, bindingReady(brokerURL)),
			deployment(src, bound(brokerURL), available(corev1.ConditionTrue, "", ""))),
		WantUpdates:       []clientgotesting.UpdateActionImpl{{Object: sinkBinding(newSource(WithSinkURI("http://display.shop.svc.cluster.local")), bindingReady(brokerURL))}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(WithSinkURI("http://display.shop.svc.cluster.local")), ready)}},
		WantEvents:        []string{rtesting.Eventf(corev1.EventTypeNormal, ReasonUpdated, "Updated SinkBinding %q", sinkBindingName)},
	}, {
		Name:    "a Deployment of that name the source does not own: ReceiveAdapterReady False NotOwned, no retry",
		Key:     testKey,
		Objects: objects(newSource(), sinkBinding(src, bindingReady(brokerURL)), notOwnedBy(deployment(src))),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
			markFalse(s, sourcesv1.ContainerSourceConditionReceiveAdapterReady, ReasonNotOwned,
				"There is an existing Deployment %q that the ContainerSource does not own: delete it, or rename the ContainerSource.", deploymentName)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			`ContainerSource shop/heartbeat: There is an existing Deployment %q that the ContainerSource does not own: delete it, or rename the ContainerSource.`, deploymentName)},
	}, {
		Name:    "a SinkBinding of that name the source does not own: SinkBindingReady False NotOwned, no retry",
		Key:     testKey,
		Objects: objects(newSource(), notOwnedBy(sinkBinding(src))),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			markFalse(s, sourcesv1.ContainerSourceConditionSinkBindingReady, ReasonNotOwned,
				"There is an existing SinkBinding %q that the ContainerSource does not own: delete it, or rename the ContainerSource.", sinkBindingName)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			`ContainerSource shop/heartbeat: There is an existing SinkBinding %q that the ContainerSource does not own: delete it, or rename the ContainerSource.`, sinkBindingName)},
	}, {
		Name:         "a Deployment the API server refuses: ReceiveAdapterReady False CreateFailed with its message, no retry",
		Key:          testKey,
		Objects:      objects(newSource(), sinkBinding(src, bindingReady(brokerURL))),
		WithReactors: []clientgotesting.ReactionFunc{refuse("create", "deployments", restartNever)},
		WantErr:      true,
		WantCreates:  objects(deployment(src, bound(brokerURL))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: withStatus(newSource(), func(s *sourcesv1.ContainerSourceStatus) {
			s.PropagateSinkBindingStatus(&sinkBinding(src, bindingReady(brokerURL)).Status)
			markFalse(s, sourcesv1.ContainerSourceConditionReceiveAdapterReady, ReasonCreateFailed,
				"The API server refused creating Deployment %q: %v. Correct the ContainerSource's spec.", deploymentName, restartNever)
		})}},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating Deployment %s: %v", deploymentName, restartNever)},
	}}

	table.Test(t, fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, _ configmap.Watcher) controller.Reconciler {
		objs := listers.GetServingObjects()
		r := &Reconciler{
			kube:              kubeclient.Get(ctx),
			client:            flywheelclient.Get(ctx),
			deploymentLister:  listers.GetDeploymentLister(),
			sinkBindingLister: sourceslisters.NewSinkBindingLister(indexerOf[*sourcesv1.SinkBinding](objs)),
		}
		return containersourcereconciler.NewReconciler(ctx, logging.FromContext(ctx), flywheelclient.Get(ctx),
			sourceslisters.NewContainerSourceLister(indexerOf[*sourcesv1.ContainerSource](objs)), controller.GetEventRecorder(ctx), r)
	}))
}
