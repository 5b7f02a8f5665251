package route

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/traffic"
)

// targeted returns the Configurations the Route's spec names and the
// Revisions targets send traffic to.
func targeted(route *v1.Route, targets []traffic.Target) (configurations, revisions sets.Set[string]) {
	configurations, revisions = sets.New[string](), sets.New[string]()
	for _, tt := range route.Spec.Traffic {
		if tt.ConfigurationName != "" {
			configurations.Insert(tt.ConfigurationName)
		}
	}
	for _, t := range targets {
		revisions.Insert(t.RevisionName)
	}
	return configurations, revisions
}

// reconcileRoutingMetadata makes the routes annotation of the
// Configurations and Revisions of the Route's namespace name the Route
// exactly where it sends traffic, and each Revision's routingState say
// whether any Route does: active while one does, reserve once none does
// (a Revision never routed stays pending). With removeStale false the
// Route is only added where it is missing, as when part of its traffic
// cannot be resolved and the HTTPRoutes keep serving the old split.
//
// The changes are merge patches of those keys alone: the Configuration
// and Service reconcilers own the rest of the metadata and keep the
// routes annotation as they find it. A patch carries the resourceVersion
// it was computed from, so two Routes editing one annotation at once
// cannot lose each other's change; the loser retries.
func (r *Reconciler) reconcileRoutingMetadata(ctx context.Context, route *v1.Route, configurations, revisions sets.Set[string], removeStale bool) error {
	cfgs, err := r.configurationLister.Configurations(route.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing Configurations: %w", err)
	}
	// In name order, so that the writes are the same on every pass.
	slices.SortFunc(cfgs, func(a, b *v1.Configuration) int { return strings.Compare(a.Name, b.Name) })
	for _, cfg := range cfgs {
		routes, ok := nextRoutes(cfg.Annotations, route.Name, configurations.Has(cfg.Name), removeStale)
		if !ok {
			continue
		}
		patch := metadataPatch(cfg.ResourceVersion, map[string]any{serving.RoutesAnnotation.String(): routes}, nil)
		if _, err := r.client.ServingV1().Configurations(route.Namespace).Patch(ctx, cfg.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrs.IsNotFound(err) {
			return fmt.Errorf("recording the Route on Configuration %s: %w", cfg.Name, err)
		}
	}

	revs, err := r.revisionLister.Revisions(route.Namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing Revisions: %w", err)
	}
	slices.SortFunc(revs, func(a, b *v1.Revision) int { return strings.Compare(a.Name, b.Name) })
	now := r.clock.Now().UTC().Format(time.RFC3339)
	for _, rev := range revs {
		want := revisions.Has(rev.Name)
		routes, changed := nextRoutes(rev.Annotations, route.Name, want, removeStale)
		if !changed && !want {
			continue
		}
		annotations := map[string]any{}
		if changed {
			annotations[serving.RoutesAnnotation.String()] = routes
		}
		state := rev.RoutingState()
		next := state
		switch {
		case want || (changed && routes != nil):
			next = serving.RoutingStateActive
		case state == serving.RoutingStateActive:
			next = serving.RoutingStateReserve
		}
		var lbls map[string]any
		if next != state {
			lbls = map[string]any{serving.RoutingStateLabel.String(): string(next)}
			annotations[serving.RoutingStateModifiedAnnotation.String()] = now
		}
		if len(annotations) == 0 {
			continue
		}
		patch := metadataPatch(rev.ResourceVersion, annotations, lbls)
		if _, err := r.client.ServingV1().Revisions(route.Namespace).Patch(ctx, rev.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrs.IsNotFound(err) {
			return fmt.Errorf("recording the routing state of Revision %s: %w", rev.Name, err)
		}
	}
	return nil
}

// nextRoutes returns the routes annotation an object should have, as a
// string or nil to remove it, and whether that differs from what it has:
// with route added when want is true, with route removed when want is
// false and removeStale is true.
func nextRoutes(annotations map[string]string, route string, want, removeStale bool) (any, bool) {
	routes := sets.New[string]()
	if v, ok := serving.RoutesAnnotation.Get(annotations); ok {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				routes.Insert(name)
			}
		}
	}
	switch {
	case want && !routes.Has(route):
		routes.Insert(route)
	case !want && removeStale && routes.Has(route):
		routes.Delete(route)
	default:
		return nil, false
	}
	if routes.Len() == 0 {
		return nil, true
	}
	return strings.Join(sets.List(routes), ","), true
}

// metadataPatch is a JSON merge patch of an object's annotations and
// labels; a nil value removes a key.
func metadataPatch(resourceVersion string, annotations, labels map[string]any) []byte {
	meta := map[string]any{}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if resourceVersion != "" {
		meta["resourceVersion"] = resourceVersion
	}
	b, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		// Maps of strings always marshal.
		panic(err)
	}
	return b
}
