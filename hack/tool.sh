#!/usr/bin/env bash
# Prints the path of a pinned development tool, building it on first use.
#
#   hack/tool.sh controller-gen
#   hack/tool.sh golangci-lint
#   hack/tool.sh ko
#   hack/tool.sh kn      (the stock Knative client, for the end-to-end tests)
#
# The tools are `tool` directives of their own module, hack/tools, because
# their dependency graphs (k8s.io/* 0.37, newer x/tools) must not move the
# versions the main module pins. A tool whose graph would move hack/tools'
# own (ko, with its cloud registries' credential helpers) has a module of
# its name under third_party instead, with a cache key of its own.
#
# `go tool` would re-link on every call and `go run` would do the same; a
# linter that takes seconds to link on each `make verify` is a tax, so
# each tool is built once into a cache directory whose key covers
# everything that decides the binary (the tools module's go.mod and go.sum
# and the Go version). A version bump builds anew; a fresh
# clone on the same machine reuses an earlier build.
set -euo pipefail

name=${1:?usage: hack/tool.sh <tool name, e.g. controller-gen or golangci-lint>}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module="$root/hack/tools"
if [[ -f "$root/third_party/$name/go.mod" ]]; then
	module="$root/third_party/$name"
fi

# A go.work above the repo, or one added later, must not change what the
# tools module resolves to.
export GOWORK=off

key=$( (cd "$module" && cat go.mod go.sum; go version) | sha256sum | cut -c1-16)
cache="${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}/tools/$key"
bin="$cache/$name"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

# The tool's package comes from the module's own `tool` directives, so the
# list of tools lives in one place.
pkg=$(cd "$module" && go list tool | awk -v name="$name" '{ n = split($0, p, "/"); if (p[n] == name) print }')
if [[ -z "$pkg" ]]; then
	echo "hack/tool.sh: no tool named $name in ${module#"$root"/}/go.mod; known tools:" >&2
	(cd "$module" && go list tool) >&2
	exit 1
fi

mkdir -p "$cache"
# Parallel callers (two verify runs, codegen and lint at once): one builds,
# the others wait for it and then reuse its result.
if command -v flock >/dev/null; then
	exec 9>"$cache/.$name.lock"
	flock 9
	if [[ -x "$bin" ]]; then
		echo "$bin"
		exit 0
	fi
fi

echo >&2 "building $name from ${module#"$root"/} (first time only)"
# Build to a temporary name and rename, so an interrupted build never
# leaves a truncated binary that the check above would take as done.
tmp=$(mktemp "$cache/.$name.XXXXXX")
trap 'rm -f "$tmp"' EXIT
(cd "$module" && CGO_ENABLED=0 go build -trimpath -o "$tmp" "$pkg")
chmod +x "$tmp"
mv "$tmp" "$bin"
echo "$bin"
