package resources

import (
	"k8s.io/utils/ptr"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/service/resources/names"
)

// MakeRoute returns the Route the Service wants: the Service's traffic
// block under the Service's name, controlled by the Service.
func MakeRoute(svc *v1.Service) *v1.Route {
	return &v1.Route{
		ObjectMeta: childMeta(svc, names.Route(svc)),
		Spec:       v1.RouteSpec{Traffic: routeTraffic(svc)},
	}
}

// routeTraffic turns the Service's traffic targets into the Route's. A
// Service names its own Configuration implicitly (latestRevision: true);
// a Route may point at any Configuration, so those targets gain the
// Configuration's name. A Service with no traffic block sends everything
// to its latest ready revision: the webhook writes that default, but a
// Service stored without it must mean the same.
func routeTraffic(svc *v1.Service) []v1.TrafficTarget {
	config := names.Configuration(svc)
	if len(svc.Spec.Traffic) == 0 {
		return []v1.TrafficTarget{{
			ConfigurationName: config,
			LatestRevision:    ptr.To(true),
			Percent:           ptr.To[int64](100),
		}}
	}
	traffic := make([]v1.TrafficTarget, len(svc.Spec.Traffic))
	for i := range svc.Spec.Traffic {
		tt := *svc.Spec.Traffic[i].DeepCopy()
		if followsLatest(&tt) && tt.ConfigurationName == "" {
			tt.ConfigurationName = config
			tt.LatestRevision = ptr.To(true)
		}
		traffic[i] = tt
	}
	return traffic
}

// followsLatest reports whether a target follows the latest ready revision,
// reading an unset latestRevision as the webhook's default would.
func followsLatest(tt *v1.TrafficTarget) bool {
	if tt.LatestRevision != nil {
		return *tt.LatestRevision
	}
	return tt.RevisionName == ""
}
