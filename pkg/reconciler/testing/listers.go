package testing

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakekubeclientset "k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	rtesting "knative.dev/pkg/reconciler/testing"
	fakegatewayclientset "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	fakeservingclientset "flywheel.dev/pkg/client/clientset/versioned/fake"
	servinglisters "flywheel.dev/pkg/client/listers/serving/v1"
)

// clientSetSchemes lists the schemes of every fake clientset a row's
// objects can belong to.
var clientSetSchemes = []func(*runtime.Scheme) error{
	fakekubeclientset.AddToScheme,
	fakeservingclientset.AddToScheme,
	fakegatewayclientset.AddToScheme,
}

// Listers serves a row's objects through the same lister interfaces the
// informers give a reconciler, without running informers: a table row
// states the world at the start of one reconciliation.
type Listers struct {
	sorter rtesting.ObjectSorter
	// unstructured are the objects of APIs with no typed clientset here.
	unstructured []runtime.Object
}

// NewListers sorts objs by type into listers. It panics on an object of a
// type no fake clientset knows, which is a mistake in the test, unless it
// is an *unstructured.Unstructured (see GetUnstructuredLister).
func NewListers(objs []runtime.Object) Listers {
	objs, unstructuredObjs := splitUnstructured(objs)
	scheme := runtime.NewScheme()
	for _, addTo := range clientSetSchemes {
		if err := addTo(scheme); err != nil {
			panic(err)
		}
	}
	ls := Listers{sorter: rtesting.NewObjectSorter(scheme), unstructured: unstructuredObjs}
	ls.sorter.AddObjects(objs...)
	return ls
}

// GetServingObjects returns the objects that belong in the fake Flywheel
// clientset.
func (l Listers) GetServingObjects() []runtime.Object {
	return l.sorter.ObjectsForSchemeFunc(fakeservingclientset.AddToScheme)
}

// GetKubeObjects returns the objects that belong in the fake Kubernetes
// clientset.
func (l Listers) GetKubeObjects() []runtime.Object {
	return l.sorter.ObjectsForSchemeFunc(fakekubeclientset.AddToScheme)
}

// GetServiceLister returns a lister over the row's Services.
func (l Listers) GetServiceLister() servinglisters.ServiceLister {
	return servinglisters.NewServiceLister(l.sorter.IndexerForObjectType(&v1.Service{}))
}

// GetConfigurationLister returns a lister over the row's Configurations.
func (l Listers) GetConfigurationLister() servinglisters.ConfigurationLister {
	return servinglisters.NewConfigurationLister(l.sorter.IndexerForObjectType(&v1.Configuration{}))
}

// GetRevisionLister returns a lister over the row's Revisions.
func (l Listers) GetRevisionLister() servinglisters.RevisionLister {
	return servinglisters.NewRevisionLister(l.sorter.IndexerForObjectType(&v1.Revision{}))
}

// GetRouteLister returns a lister over the row's Routes.
func (l Listers) GetRouteLister() servinglisters.RouteLister {
	return servinglisters.NewRouteLister(l.sorter.IndexerForObjectType(&v1.Route{}))
}

// GetConfigMapLister returns a lister over the row's ConfigMaps.
func (l Listers) GetConfigMapLister() corev1listers.ConfigMapLister {
	return corev1listers.NewConfigMapLister(l.sorter.IndexerForObjectType(&corev1.ConfigMap{}))
}
