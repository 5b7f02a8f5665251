package names

import "knative.dev/pkg/kmeta"

// Configuration returns the name of the Configuration a Service owns. It is
// the Service's own name: Knative users expect `kubectl get configuration
// <service>` to find it.
func Configuration(svc kmeta.Accessor) string { return svc.GetName() }

// Route returns the name of the Route a Service owns; like the
// Configuration, it shares the Service's name.
func Route(svc kmeta.Accessor) string { return svc.GetName() }
