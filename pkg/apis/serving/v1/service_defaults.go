package v1

import (
	"context"

	"k8s.io/utils/ptr"
)

// SetDefaults implements apis.Defaultable. A Service with no traffic
// block sends all traffic to its latest ready revision.
func (s *Service) SetDefaults(ctx context.Context) {
	var old *ServiceSpec
	if base, ok := baseline[*Service](ctx); ok {
		old = &base.Spec
	}
	s.Spec.ConfigurationSpec.SetDefaults(ctx)
	if len(s.Spec.Traffic) == 0 {
		s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
	}
	s.Spec.RouteSpec.SetDefaults(ctx)
	setUserInfo(ctx, old, &s.Spec, &s.ObjectMeta)
}
