package adapter

import (
	"log/slog"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// Watch keeps s's schedules to the PingSources informer holds: each one
// added or updated is scheduled as it now is, each one deleted removed at
// once. The handlers do no I/O, so a change takes effect as soon as the
// informer sees it.
func Watch(informer cache.SharedIndexInformer, s *Scheduler, log *slog.Logger) error {
	upsert := func(obj any) {
		src, ok := obj.(*sourcesv1.PingSource)
		if !ok {
			return
		}
		if err := s.Upsert(src); err != nil {
			log.Warn("not scheduling a PingSource the webhook should have refused", "error", err)
		}
	}
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    upsert,
		UpdateFunc: func(_, obj any) { upsert(obj) },
		DeleteFunc: func(obj any) {
			if ts, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = ts.Obj
			}
			if src, ok := obj.(*sourcesv1.PingSource); ok {
				s.Remove(types.NamespacedName{Namespace: src.Namespace, Name: src.Name})
			}
		},
	})
	return err
}

// stripManagedFields drops what the adapter never reads from each
// PingSource the informer keeps: with a thousand sources, the field
// managers' entries would weigh more than the sources.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
