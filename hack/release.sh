#!/usr/bin/env bash
# Builds Flywheel's release: every component image with ko (no Docker),
# pushed to $KO_DOCKER_REPO, and one flywheel.yaml that installs them on
# any cluster (docs/install.md). Prints the path of flywheel.yaml.
#
#   KO_DOCKER_REPO=registry.example.com/flywheel hack/release.sh \
#       [--platform linux/amd64] [--tag latest] [--output bin/release]
#
# flywheel.yaml holds the Gateway API CRDs Flywheel uses, config/core and
# config/eventing (pkg/release.Manifests says what changes), with every
# image resolved to the digest ko pushed: the components, the queue-proxy
# sidecar, the ApiServerSource adapter and NATS (built from the module
# go.mod pins). The script checks that no ko:// reference is left and that
# every image is a digest in $KO_DOCKER_REPO.
#
# The images' base is made here and pushed to $KO_DOCKER_REPO/base
# (pkg/release.BaseImage: root, nonroot 65532 and nobody, CA certificates,
# /tmp; no shell), so nothing is pulled from anywhere but your registry.
# Set KO_DEFAULTBASEIMAGE to build on another base instead; it must hold
# every platform asked for.
#
# Images are pushed with the tag given (ko's default, latest) and named by
# their import paths: $KO_DOCKER_REPO/flywheel.dev/cmd/controller and so on.
# Registry credentials come from the Docker config (~/.docker/config.json),
# as for ko; a registry on loopback is spoken to over plain HTTP.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

: "${KO_DOCKER_REPO:?set KO_DOCKER_REPO to the repository to push the images to, e.g. registry.example.com/flywheel}"
# One platform unless asked: each more compiles every dependency again.
platform=linux/amd64
tag=latest
output="$root/bin/release"
while (($#)); do
	case $1 in
	--platform) platform=${2:?--platform needs a value}; shift 2 ;;
	--platform=*) platform=${1#*=}; shift ;;
	--tag) tag=${2:?--tag needs a value}; shift 2 ;;
	--tag=*) tag=${1#*=}; shift ;;
	--output) output=${2:?--output needs a value}; shift 2 ;;
	--output=*) output=${1#*=}; shift ;;
	*) echo "hack/release.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# The release builds from go.mod as it stands, whatever go.work is around.
export GOWORK=off
ko=$("$root/hack/tool.sh" ko)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/release" ./hack/release

if [[ -z "${KO_DEFAULTBASEIMAGE:-}" ]]; then
	KO_DEFAULTBASEIMAGE=$("$work/release" base --repository "$KO_DOCKER_REPO/base:$tag" --platform "$platform")
	export KO_DEFAULTBASEIMAGE
	echo >&2 "base image: $KO_DEFAULTBASEIMAGE"
fi

"$work/release" manifests >"$work/unresolved.yaml"
# ko builds each ko:// image once for every platform, in parallel, and
# replaces the reference with the digest it pushed.
"$ko" resolve --preserve-import-paths --platform="$platform" --tags="$tag" \
	-f "$work/unresolved.yaml" >"$work/flywheel.yaml"
"$work/release" check --repository "$KO_DOCKER_REPO" "$work/flywheel.yaml"

mkdir -p "$output"
{
	echo "# Flywheel $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), images in $KO_DOCKER_REPO for $platform."
	echo "# Install: kubectl apply --server-side -f flywheel.yaml (docs/install.md)."
	cat "$work/flywheel.yaml"
} >"$output/flywheel.yaml"
echo "$output/flywheel.yaml"
