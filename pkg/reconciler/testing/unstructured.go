package testing

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// splitUnstructured separates a row's objects of APIs no typed clientset
// here knows (CRDs of other projects, such as the Vertical Pod
// Autoscaler's), written as *unstructured.Unstructured, from the rest.
// They go to the fake dynamic client and to GetUnstructuredLister.
func splitUnstructured(objs []runtime.Object) (typed []runtime.Object, dynamic []runtime.Object) {
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok {
			dynamic = append(dynamic, o)
		} else {
			typed = append(typed, o)
		}
	}
	return typed, dynamic
}

// GetUnstructuredLister returns a lister over the row's unstructured
// objects of kind gvk, as a dynamic informer's lister serves them.
func (l Listers) GetUnstructuredLister(gvk schema.GroupVersionKind, gvr schema.GroupVersionResource) cache.GenericLister {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range l.unstructured {
		if o.GetObjectKind().GroupVersionKind() == gvk {
			if err := indexer.Add(o); err != nil {
				panic(err)
			}
		}
	}
	return cache.NewGenericLister(indexer, gvr.GroupResource())
}
