// Command crdpatch turns the CustomResourceDefinitions controller-gen writes
// into the ones Flywheel ships in config/core/crds: one file per kind, named
// for its install order, labelled, and with the schema changes that keep
// every manifest Knative accepts acceptable to the API server too.
// hack/update-crds.sh runs it; each change is explained where it is made.
//
//	go run ./hack/crdpatch -in <controller-gen output> -out config/core/crds
package main
