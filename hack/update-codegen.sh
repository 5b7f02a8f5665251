#!/usr/bin/env bash
# Regenerates everything generated from the API types: deep copies,
# clientset, listers, informers, knative.dev/pkg injection and generated
# reconcilers (into pkg/client), and the CRD schemas in config/core.
# The generators are pinned as tools in go.mod (and hack/tools/go.mod for
# controller-gen), so the output depends only on the repo.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

module=flywheel.dev
boilerplate=hack/boilerplate.go.txt
apis=(serving/v1 autoscaling/v1alpha1 eventing/v1 sources/v1)
input_pkgs=()
for gv in "${apis[@]}"; do input_pkgs+=("$module/pkg/apis/$gv"); done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# Build the generators once: `go tool` would re-link them on every call.
GOBIN="$bin" go install \
	k8s.io/code-generator/cmd/deepcopy-gen \
	k8s.io/code-generator/cmd/client-gen \
	k8s.io/code-generator/cmd/lister-gen \
	k8s.io/code-generator/cmd/informer-gen \
	knative.dev/pkg/codegen/cmd/injection-gen

echo "deepcopy"
find pkg/apis -name zz_generated.deepcopy.go -delete
"$bin/deepcopy-gen" --go-header-file "$boilerplate" --output-file zz_generated.deepcopy.go "${input_pkgs[@]}"

echo "clientset, listers, informers"
rm -rf pkg/client
client_inputs=()
for gv in "${apis[@]}"; do client_inputs+=(--input "$gv"); done
"$bin/client-gen" --go-header-file "$boilerplate" \
	--output-dir pkg/client/clientset --output-pkg "$module/pkg/client/clientset" \
	--clientset-name versioned --input-base "$module/pkg/apis" "${client_inputs[@]}"
"$bin/lister-gen" --go-header-file "$boilerplate" \
	--output-dir pkg/client/listers --output-pkg "$module/pkg/client/listers" "${input_pkgs[@]}"
"$bin/informer-gen" --go-header-file "$boilerplate" \
	--output-dir pkg/client/informers --output-pkg "$module/pkg/client/informers" \
	--versioned-clientset-package "$module/pkg/client/clientset/versioned" \
	--listers-package "$module/pkg/client/listers" "${input_pkgs[@]}"

echo "injection and reconcilers"
"$bin/injection-gen" --go-header-file "$boilerplate" \
	--versioned-clientset-package "$module/pkg/client/clientset/versioned" \
	--external-versions-informers-package "$module/pkg/client/informers/externalversions" \
	--listers-package "$module/pkg/client/listers" \
	--output-package "$module/pkg/client/injection" --output-dir pkg/client/injection \
	--input-dirs "$(IFS=,; echo "${input_pkgs[*]}")"

if [[ -x hack/update-crds.sh ]]; then
	echo "CRDs"
	hack/update-crds.sh
fi

gofmt -w pkg/client

echo "CLI reference"
rm -rf docs/cmd
mkdir -p docs/cmd
go run ./hack/clidocs docs/cmd
