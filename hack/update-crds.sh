#!/usr/bin/env bash
# Regenerates config/core/crds, one CustomResourceDefinition per kind, from
# the Go types in pkg/apis and their +kubebuilder markers (short names,
# categories, printer columns, status subresource).
#
# Two stages:
#   1. controller-gen (pinned in hack/tools, built by hack/tool.sh) writes
#      the CRDs with full OpenAPI schemas. generateEmbeddedObjectMeta=true
#      keeps the name, labels and annotations of spec.template.metadata;
#      without it the schema is a bare object and the API server would
#      prune the revision name and the autoscaling annotations users set
#      there.
#   2. hack/crdpatch post-processes them. Its steps, each explained in
#      hack/crdpatch/patch.go:
#        - labels: app.kubernetes.io/part-of=flywheel on every CRD, and the
#          duck.knative.dev/{addressable,podspecable} labels Knative
#          tooling discovers kinds by;
#        - list-type map/set markers inherited from k8s.io/api are dropped
#          (lists become atomic): on a CRD the API server enforces them, so
#          a container without a name, a port without a number or an env
#          var set twice would be refused although Knative accepts them;
#        - containers[].name, ports[].containerPort and probe ports become
#          optional, since Knative's defaulting fills them in;
#        - a template's metadata takes creationTimestamp: null, which
#          clients built with older apimachinery (the stock kn) send;
#        - PingSource is served as v1beta2 too, a copy of v1, as Knative
#          serves it and the stock kn of Knative 1.15 writes it;
#        - the descriptions copied from k8s.io/api (pod spec, template
#          metadata) are dropped, keeping Flywheel's own: with them the
#          Service CRD is ~600 kB, past what client-side `kubectl apply`
#          can record; without them ~190 kB;
#        - files are named 300-<kind>.yaml, the install order config/core
#          uses, and marked as generated.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

out=config/core/crds
controller_gen=$("$root/hack/tool.sh" controller-gen)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/raw" "$work/crds"

"$controller_gen" crd:generateEmbeddedObjectMeta=true \
	paths=./pkg/apis/... output:crd:dir="$work/raw"
go run ./hack/crdpatch -in "$work/raw" -out "$work/crds"

# The directory holds generated files only: replacing it whole drops the
# CRD of a kind that no longer exists.
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -R "$work/crds" "$out"
