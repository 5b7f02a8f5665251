package resources

import (
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/service/resources/names"
)

// MakeConfiguration returns the Configuration the Service wants: the
// Service's template under the Service's name, controlled by the Service.
func MakeConfiguration(svc *v1.Service) *v1.Configuration {
	return &v1.Configuration{
		ObjectMeta: childMeta(svc, names.Configuration(svc)),
		Spec:       *svc.Spec.ConfigurationSpec.DeepCopy(),
	}
}
