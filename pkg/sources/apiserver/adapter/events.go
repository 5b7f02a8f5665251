package adapter

import (
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources/apiserver"
)

// The extension attributes every event carries, copied from the object so
// that a Trigger can filter on them without reading the data (as
// Knative's adapter does).
const (
	KindExtension      = "kind"
	NameExtension      = "name"
	NamespaceExtension = "namespace"
)

// wholeObject reports whether mode's events carry the whole object:
// Resource mode. Any other (Reference, or one the webhook would refuse)
// carries a reference.
func wholeObject(mode string) bool { return mode == string(sourcesv1.EventModeResource) }

// Subject is the path of obj on the API server in the form Knative's
// adapter gives it, so that a Trigger filtering on subject works with
// either: /apis/<apiVersion>/namespaces/<namespace>/<resource>/<name>.
// The core group keeps the /apis prefix (/apis/v1/namespaces/…), unlike
// the API server's own /api/v1 paths, as in Knative. A cluster-scoped
// object has no namespaces segment.
func Subject(res apiserver.Resource, obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s", res.APIVersion(), ns, res.Resource, obj.GetName())
	}
	return fmt.Sprintf("/apis/%s/%s/%s", res.APIVersion(), res.Resource, obj.GetName())
}

// Reference is what a Reference-mode event carries: the object's
// apiVersion, kind, name and namespace, as a Kubernetes object reference
// writes them in JSON.
func Reference(obj *unstructured.Unstructured) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion: obj.GetAPIVersion(),
		Kind:       obj.GetKind(),
		Name:       obj.GetName(),
		Namespace:  obj.GetNamespace(),
	}
}

// eventMaker turns a change into the event that reports it.
type eventMaker struct {
	// source is the events' source attribute.
	source string
	mode   string
	// newID gives each event its id; now its time.
	newID func() string
	now   func() time.Time
}

// make returns the event that reports change to obj, one of res's
// objects: the type the mode and change call for, Knative's attributes,
// and as JSON data the whole object (Resource mode) or a reference to it.
func (m eventMaker) make(change apiserver.Change, res apiserver.Resource, obj *unstructured.Unstructured) (event.Event, error) {
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(m.newID())
	ev.SetTime(m.now())
	ev.SetType(apiserver.EventType(change, wholeObject(m.mode)))
	ev.SetSource(m.source)
	ev.SetSubject(Subject(res, obj))
	ev.SetExtension(KindExtension, obj.GetKind())
	ev.SetExtension(NameExtension, obj.GetName())
	// A cluster-scoped object has no namespace; an attribute is left out
	// rather than sent empty.
	if ns := obj.GetNamespace(); ns != "" {
		ev.SetExtension(NamespaceExtension, ns)
	}
	var data any = obj.Object
	if !wholeObject(m.mode) {
		data = Reference(obj)
	}
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return ev, fmt.Errorf("encoding %s %s as the data of an event: %w", obj.GetKind(), Subject(res, obj), err)
	}
	return ev, nil
}
