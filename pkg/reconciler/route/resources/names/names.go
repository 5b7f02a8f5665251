package names

// HTTPRoute is the name of the HTTPRoute that serves host: the host
// itself. A Route has one HTTPRoute per host (main and tag hosts, public
// and cluster-local), and hosts are unique, so the names are too; two
// Routes that would claim one host meet at one HTTPRoute name, where the
// second is told the name is taken instead of both being served
// unpredictably. A host is a DNS name, which is always a valid object
// name.
func HTTPRoute(host string) string { return host }
