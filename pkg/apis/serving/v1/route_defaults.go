package v1

import (
	"context"

	"k8s.io/utils/ptr"
)

// SetDefaults implements apis.Defaultable.
func (r *Route) SetDefaults(ctx context.Context) {
	var old *RouteSpec
	if base, ok := baseline[*Route](ctx); ok {
		old = &base.Spec
	}
	r.Spec.SetDefaults(ctx)
	setUserInfo(ctx, old, &r.Spec, &r.ObjectMeta)
}

// SetDefaults completes each traffic target.
func (rs *RouteSpec) SetDefaults(ctx context.Context) {
	for i := range rs.Traffic {
		rs.Traffic[i].SetDefaults(ctx)
	}
}

// SetDefaults makes a target that names no revision follow the latest
// ready one: {percent: 100} means "all traffic to the latest revision".
func (tt *TrafficTarget) SetDefaults(context.Context) {
	if tt.LatestRevision == nil {
		tt.LatestRevision = ptr.To(tt.RevisionName == "")
	}
}
