package testing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/client/injection/ducks/duck/v1/addressable"
	"knative.dev/pkg/controller"
	fakedynamicclient "knative.dev/pkg/injection/clients/dynamicclient/fake"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/tracker"
)

// Cond is what a test checks of a condition: what a user sees in
// kubectl's Ready and Reason columns.
type Cond struct {
	Type   apis.ConditionType
	Status corev1.ConditionStatus
	Reason string
}

// IsTrue is condition t True with no reason.
func IsTrue(t apis.ConditionType) Cond {
	return Cond{Type: t, Status: corev1.ConditionTrue}
}

// IsTrueBecause is condition t True with a reason.
func IsTrueBecause(t apis.ConditionType, reason string) Cond {
	return Cond{Type: t, Status: corev1.ConditionTrue, Reason: reason}
}

// IsFalse is condition t False with a reason.
func IsFalse(t apis.ConditionType, reason string) Cond {
	return Cond{Type: t, Status: corev1.ConditionFalse, Reason: reason}
}

// IsUnknown is condition t Unknown with a reason.
func IsUnknown(t apis.ConditionType, reason string) Cond {
	return Cond{Type: t, Status: corev1.ConditionUnknown, Reason: reason}
}

// ConditionsOf projects a status's conditions to what tests compare.
func ConditionsOf(s duckv1.Status) []Cond {
	got := make([]Cond, 0, len(s.Conditions))
	for _, c := range s.Conditions {
		got = append(got, Cond{Type: c.Type, Status: c.Status, Reason: c.Reason})
	}
	return got
}

// SortConds compares conditions whatever their order.
var SortConds = cmpopts.SortSlices(func(a, b Cond) bool { return a.Type < b.Type })

// Outcome says what a reconciliation's result makes the generated
// reconciler do: "done", "requeue after …", "permanent error: …" or
// "error: …".
func Outcome(err error) string {
	if err == nil {
		return "done"
	}
	if ok, after := controller.IsRequeueKey(err); ok {
		return fmt.Sprint("requeue after ", after)
	}
	if controller.IsPermanentError(err) {
		return "permanent error: " + err.Error()
	}
	return "error: " + err.Error()
}

// NewIndexer is an informer's store holding objs, for a lister.
func NewIndexer[T runtime.Object](t *testing.T, objs ...T) cache.Indexer {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		if err := idx.Add(o); err != nil {
			t.Fatalf("Adding %T to an indexer: %v", o, err)
		}
	}
	return idx
}

// NewURIResolver is a URI resolver whose references resolve against
// objs, through a fake dynamic client, and the context to call it with.
func NewURIResolver(t *testing.T, objs ...runtime.Object) (context.Context, *resolver.URIResolver) {
	t.Helper()
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	t.Cleanup(cancel)
	scheme := runtime.NewScheme()
	if err := k8sscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctx, _ = fakedynamicclient.With(ctx, scheme, objs...)
	ctx = addressable.WithDuck(ctx)
	// The tracker would enqueue the parent when what it refers to changes;
	// nothing runs a queue here.
	return ctx, resolver.NewURIResolverFromTracker(ctx, tracker.New(func(types.NamespacedName) {}, time.Minute))
}
