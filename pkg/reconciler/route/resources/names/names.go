package names

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// HTTPRoute is the name of the HTTPRoute that serves host: the host
// itself. A Route has one HTTPRoute per host (main and tag hosts, public
// and cluster-local), and hosts are unique, so the names are too; two
// Routes that would claim one host meet at one HTTPRoute name, where the
// second is told the name is taken instead of both being served
// unpredictably. A host is a DNS name, which is always a valid object
// name.
func HTTPRoute(host string) string { return host }

// Service is the name of the core Service of a Route: the Route's own,
// which is what makes <route>.<namespace>.svc.cluster.local a name the
// cluster's DNS answers.
func Service(route metav1.Object) string { return route.GetName() }
