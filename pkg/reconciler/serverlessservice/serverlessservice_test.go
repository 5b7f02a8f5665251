package serverlessservice

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	discoveryv1listers "k8s.io/client-go/listers/discovery/v1"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	fakekubeclient "knative.dev/pkg/client/injection/kube/client/fake"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	servingclient "flywheel.dev/pkg/client/injection/client"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

var slicesResource = discoveryv1.SchemeGroupVersion.WithResource("endpointslices")

func updated(s *discoveryv1.EndpointSlice) clientgotesting.UpdateActionImpl {
	return clientgotesting.UpdateActionImpl{
		ActionImpl: clientgotesting.ActionImpl{Namespace: testNamespace, Verb: "update", Resource: slicesResource},
		Object:     s,
	}
}

func deleted(name string) clientgotesting.DeleteActionImpl {
	return clientgotesting.DeleteActionImpl{
		ActionImpl: clientgotesting.ActionImpl{Namespace: testNamespace, Verb: "delete", Resource: slicesResource},
		Name:       name,
	}
}

// alreadyCreated makes the API server hold existing, which the row's
// listers do not: creating it fails as AlreadyExists, getting it works.
func alreadyCreated(existing *discoveryv1.EndpointSlice) clientgotesting.ReactionFunc {
	return func(action clientgotesting.Action) (bool, runtime.Object, error) {
		if action.GetResource() != slicesResource {
			return false, nil, nil
		}
		switch action.GetVerb() {
		case "create":
			return true, nil, apierrs.NewAlreadyExists(slicesResource.GroupResource(), existing.Name)
		case "get":
			return true, existing, nil
		}
		return false, nil, nil
	}
}

func TestReconcile(t *testing.T) {
	otherRevision := fwtesting.Revision(testRevision, testNamespace)
	otherRevision.UID = "an-earlier-revision-of-the-same-name"

	table := rtesting.TableTest{{
		Name: "key of a deleted Revision: nothing to do",
		Key:  testKey,
	}, {
		Name:    "no private slice yet: nothing written",
		Key:     testKey,
		Objects: []runtime.Object{rev},
	}, {
		Name: "ready pods reach the public Service",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2"))),
		},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2"))))},
	}, {
		Name: "pods not ready are left out; one still serving while it terminates goes along",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(unready("10.0.0.1"), terminating("10.0.0.2", true), terminating("10.0.0.3", false))),
		},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(terminating("10.0.0.2", true))))},
	}, {
		Name: "no endpoints: the public Service gets an empty slice, like the private one",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", nil, withPorts()),
		},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", nil, withPorts()))},
	}, {
		Name: "IPv6 endpoints go in a slice of their own",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("v4aaa", endpoints(ready("10.0.0.1"))),
			privateSlice("v6aaa", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6)),
		},
		WantCreates: []runtime.Object{
			created(publicSlice("v4aaa", endpoints(ready("10.0.0.1")))),
			created(publicSlice("v6aaa", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6))),
		},
	}, {
		Name: "nothing changed: nothing written",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"), unready("10.0.0.2"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1")), withLabel("added-by", "someone else")),
		},
	}, {
		Name: "a pod becoming ready is added",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1")), withLabel("added-by", "someone else")),
		},
		WantUpdates: []clientgotesting.UpdateActionImpl{updated(
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2")), withLabel("added-by", "someone else")))},
	}, {
		Name: "a pod turning unready is removed",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"), unready("10.0.0.2"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"), ready("10.0.0.2"))),
		},
		WantUpdates: []clientgotesting.UpdateActionImpl{updated(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
	}, {
		Name: "a slice whose source is gone is deleted, after its replacement is written",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("n3wer", endpoints(ready("10.0.0.1"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WantCreates: []runtime.Object{created(publicSlice("n3wer", endpoints(ready("10.0.0.1"))))},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted(publicService + "-x7k2p")},
	}, {
		Name: "slices of the public Service that others manage, or an earlier Revision controls, are left alone",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			publicSlice("manual", endpoints(ready("192.0.2.1")), withLabel(discoveryv1.LabelManagedBy, "someone-else")),
			publicSlice("before", endpoints(ready("192.0.2.2")), withOwner(otherRevision)),
		},
	}, {
		Name: "the private Service's slices are only read",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
	}, {
		Name: "a slice of the wanted name that is not ours is not taken over",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			publicSlice("x7k2p", endpoints(ready("192.0.2.1")), withLabel(discoveryv1.LabelManagedBy, "someone-else")),
		},
		WantErr: true,
		WantEvents: []string{
			rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
				`revision hello-00001: there is an existing EndpointSlice "hello-00001-x7k2p" that we do not own`),
		},
	}, {
		Name: "a slice whose address type changed is replaced",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6)),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted(publicService + "-x7k2p")},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("fd00::1")), withAddressType(discoveryv1.AddressTypeIPv6)))},
	}, {
		Name: "a slice created moments ago, not yet in the cache, is left for its own event",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WithReactors: []clientgotesting.ReactionFunc{alreadyCreated(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
		WantCreates:  []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
	}, {
		Name: "a slice of the wanted name that is not ours, not yet in the cache, is not taken over either",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WithReactors: []clientgotesting.ReactionFunc{alreadyCreated(
			publicSlice("x7k2p", endpoints(ready("192.0.2.1")), withLabel(discoveryv1.LabelManagedBy, "someone-else")))},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
		WantErr:     true,
		WantEvents: []string{
			rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
				`revision hello-00001: there is an existing EndpointSlice "hello-00001-x7k2p" that we do not own`),
		},
	}, {
		Name: "no ready pod: the public Service points at the activator",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(unready("10.0.0.1"))),
			activatorSlice("q8w4z", endpoints(ready("10.0.9.1"), ready("10.0.9.2"))),
		},
		WantCreates: []runtime.Object{created(proxySlice("q8w4z", endpoints(ready("10.0.9.1"), ready("10.0.9.2"))))},
	}, {
		Name: "the last pod goes: the activator's slice is written before the pods' goes",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(terminating("10.0.0.1", true))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			activatorSlice("q8w4z", endpoints(ready("10.0.9.1"))),
		},
		WantCreates: []runtime.Object{created(proxySlice("q8w4z", endpoints(ready("10.0.9.1"))))},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted(publicService + "-x7k2p")},
	}, {
		Name: "a pod is ready again: the pods' slice is written before the activator's goes",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			proxySlice("q8w4z", endpoints(ready("10.0.9.1"))),
			activatorSlice("q8w4z", endpoints(ready("10.0.9.1"))),
		},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted(publicService + "-q8w4z")},
	}, {
		Name: "the activator's endpoints change: the proxied Revision follows",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			activatorSlice("q8w4z", endpoints(ready("10.0.9.3"))),
			proxySlice("q8w4z", endpoints(ready("10.0.9.1"))),
		},
		WantUpdates: []clientgotesting.UpdateActionImpl{updated(proxySlice("q8w4z", endpoints(ready("10.0.9.3"))))},
	}, {
		Name: "the autoscaler wants the activator in the path: it replaces the ready pods",
		Key:  testKey,
		Objects: []runtime.Object{rev, podAutoscaler(true),
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			activatorSlice("q8w4z", endpoints(ready("10.0.9.1"))),
			publicSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WantCreates: []runtime.Object{created(proxySlice("q8w4z", endpoints(ready("10.0.9.1"))))},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted("hello-00001-x7k2p")},
	}, {
		Name: "the autoscaler no longer wants the activator: the ready pods come back",
		Key:  testKey,
		Objects: []runtime.Object{rev, podAutoscaler(false),
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
			activatorSlice("q8w4z", endpoints(ready("10.0.9.1"))),
			proxySlice("q8w4z", endpoints(ready("10.0.9.1"))),
		},
		WantCreates: []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
		WantDeletes: []clientgotesting.DeleteActionImpl{deleted("hello-00001-q8w4z")},
	}, {
		Name: "creating fails: retried",
		Key:  testKey,
		Objects: []runtime.Object{rev,
			privateSlice("x7k2p", endpoints(ready("10.0.0.1"))),
		},
		WithReactors: []clientgotesting.ReactionFunc{rtesting.InduceFailure("create", "endpointslices")},
		WantErr:      true,
		WantCreates:  []runtime.Object{created(publicSlice("x7k2p", endpoints(ready("10.0.0.1"))))},
		WantEvents: []string{rtesting.Eventf(corev1.EventTypeWarning, "InternalError",
			"creating EndpointSlice hello-00001-x7k2p: inducing failure for create endpointslices")},
	}}

	table.Test(t, fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, _ configmap.Watcher) controller.Reconciler {
		r := &Reconciler{
			kube:        fakekubeclient.Get(ctx),
			sliceLister: sliceLister(t, listers),
			paLister:    listers.GetPodAutoscalerLister(),
		}
		return revisionreconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetRevisionLister(), controller.GetEventRecorder(ctx), r,
			controller.Options{AgentName: agentName, SkipStatusUpdates: true})
	}))
}

// sliceLister serves the row's EndpointSlices; the shared Listers have
// no lister for them.
func sliceLister(t *testing.T, listers *fwtesting.Listers) discoveryv1listers.EndpointSliceLister {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, obj := range listers.GetKubeObjects() {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			if err := indexer.Add(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	return discoveryv1listers.NewEndpointSliceLister(indexer)
}
