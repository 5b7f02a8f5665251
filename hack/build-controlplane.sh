#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-proxy from
# the pinned Go modules in third_party/controlplane, CoreDNS from its own
# in third_party/coredns, metrics-server from third_party/metricsserver
# and the VPA recommender from third_party/vpa, once per version, into a cache under the user's cache directory, and
# prints that directory. Nothing is downloaded but Go modules.
#
# With FLYWHEEL_BUILD_JAEGER=1 (what `fw local up --tracing` sets) it also
# builds the Jaeger trace viewer from third_party/jaeger, which nothing
# else needs: a run without tracing never waits for it. With
# FLYWHEEL_BUILD_TRAEFIK=1 (what hack/test.sh sets for the end-to-end
# tests) it builds Traefik from third_party/traefik, the second Gateway
# API implementation the routes are tested on.
#
# The cache key covers everything that decides the binaries (the tools
# modules' files and the Go version), so a fresh clone on the same machine
# reuses an earlier build and a version bump builds anew. metrics-server
# and the VPA recommender have keys of their own, kept beside them: a new
# release of one rebuilds it alone, not the control plane's twelve minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module="$root/third_party/controlplane"
kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$module/go.mod")
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$module/go.mod")
coredns_module="$root/third_party/coredns"
metricsserver_module="$root/third_party/metricsserver"
metricsserver_key=$( (cd "$metricsserver_module" && cat go.mod go.sum; go version) | sha256sum | cut -c1-16)
vpa_module="$root/third_party/vpa"
vpa_key=$( (cd "$vpa_module" && cat go.mod go.sum; go version) | sha256sum | cut -c1-16)
jaeger_module="$root/third_party/jaeger"
jaeger_key=$( (cd "$jaeger_module" && cat go.mod go.sum; go version) | sha256sum | cut -c1-16)
traefik_module="$root/third_party/traefik"
traefik_key=$( (cd "$traefik_module" && cat go.mod go.sum; go version) | sha256sum | cut -c1-16)

key=$( (cd "$module" && cat go.mod go.sum */main.go; cd "$coredns_module" && cat go.mod go.sum main.go; go version) | sha256sum | cut -c1-16)
cache="${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}/controlplane/${kube_version}-${etcd_version}-${key}"

binaries=(etcd kube-apiserver kube-controller-manager kube-proxy coredns)
controlplane_cached() {
	local b
	for b in "${binaries[@]}"; do
		[[ -x "$cache/$b" ]] || return 1
	done
}
metricsserver_cached() {
	[[ -x "$cache/metrics-server" && "$(cat "$cache/metrics-server.key" 2>/dev/null)" == "$metricsserver_key" ]]
}
vpa_cached() {
	[[ -x "$cache/vpa-recommender" && "$(cat "$cache/vpa-recommender.key" 2>/dev/null)" == "$vpa_key" ]]
}
jaeger_cached() {
	[[ "${FLYWHEEL_BUILD_JAEGER:-}" != 1 ]] ||
		[[ -x "$cache/jaeger" && "$(cat "$cache/jaeger.key" 2>/dev/null)" == "$jaeger_key" ]]
}
traefik_cached() {
	[[ "${FLYWHEEL_BUILD_TRAEFIK:-}" != 1 ]] ||
		[[ -x "$cache/traefik" && "$(cat "$cache/traefik.key" 2>/dev/null)" == "$traefik_key" ]]
}
cached() { controlplane_cached && metricsserver_cached && vpa_cached && jaeger_cached && traefik_cached; }
if cached; then
	echo "$cache"
	exit 0
fi

mkdir -p "$cache"
# Several test binaries (or a test run and `fw local up`) may ask at once:
# one builds while the others wait for it and then reuse its result.
if command -v flock >/dev/null; then
	exec 9>"$cache.lock"
	if ! flock -n 9; then
		echo >&2 "hack/build-controlplane.sh: waiting for another run's build to finish"
		# That run may go on to build more than this one needs (hack/test.sh
		# chains the control plane, Traefik and Jaeger in the background):
		# what it has finished is moved in place when its run ends, so
		# return as soon as that covers this one.
		until flock -n 9; do
			if cached; then
				echo "$cache"
				exit 0
			fi
			sleep 1
		done
	fi
	if cached; then
		echo "$cache"
		exit 0
	fi
fi
work=$(mktemp -d "$cache.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT

minor=${kube_version#v1.}
minor=${minor%%.*}
kube_ldflags="-s -w
 -X k8s.io/component-base/version.gitVersion=${kube_version}
 -X k8s.io/component-base/version.gitMajor=1
 -X k8s.io/component-base/version.gitMinor=${minor}
 -X k8s.io/component-base/version.gitTreeState=clean
 -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}
 -X k8s.io/client-go/pkg/version.gitMajor=1
 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"

if ! controlplane_cached; then
	echo >&2 "building etcd ${etcd_version}, kube-apiserver, kube-controller-manager and kube-proxy ${kube_version}, and CoreDNS (first time only, ~12 min on 2 cores)"
	cd "$module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/etcd" ./etcd
	CGO_ENABLED=0 go build -trimpath -ldflags "$kube_ldflags" -o "$work/kube-apiserver" ./kube-apiserver
	CGO_ENABLED=0 go build -trimpath -ldflags "$kube_ldflags" -o "$work/kube-controller-manager" ./kube-controller-manager
	CGO_ENABLED=0 go build -trimpath -ldflags "$kube_ldflags" -o "$work/kube-proxy" ./kube-proxy
	cd "$coredns_module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/coredns" .
fi
if ! metricsserver_cached; then
	echo >&2 "building metrics-server (first time only, ~3 min on 2 cores)"
	cd "$metricsserver_module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
	echo "$metricsserver_key" >"$work/metrics-server.key"
fi
if ! vpa_cached; then
	echo >&2 "building the VPA recommender (first time only, ~5 min on 2 cores)"
	cd "$vpa_module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/vpa-recommender" k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender
	echo "$vpa_key" >"$work/vpa-recommender.key"
fi
if ! jaeger_cached; then
	echo >&2 "building the Jaeger trace viewer (first time only, ~6 min on 2 cores)"
	cd "$jaeger_module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
	echo "$jaeger_key" >"$work/jaeger.key"
fi
if ! traefik_cached; then
	echo >&2 "building Traefik (first time only; the largest of these builds, a 170 MB program)"
	cd "$traefik_module"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/traefik" github.com/traefik/traefik/v3/cmd/traefik
	echo "$traefik_key" >"$work/traefik.key"
fi
mv -f "$work"/* "$cache"/
echo "$cache"
