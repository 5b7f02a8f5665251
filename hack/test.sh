#!/usr/bin/env bash
# The README's test command: every layer of tests, in order of cost.
#   1. unit tests (fake clients, fake clocks), with the race detector;
#   2. integration tests against a real etcd + kube-apiserver, built from
#      the pinned modules in third_party/controlplane on first use;
#   3. end-to-end tests against a whole local cluster: the control plane,
#      Flywheel's components, the process node and the gateway.
# Needs root (network namespaces for components and pods). The unit layer
# ends with a bounded fuzz run (FLYWHEEL_FUZZTIME per target, 20s). Set
# FLYWHEEL_TEST_LAYERS to a subset ("unit integration e2e") to run fewer;
# extra arguments go to every `go test`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
layers=${FLYWHEEL_TEST_LAYERS:-unit integration e2e}

start=$SECONDS
step() { printf '\n=== %s (%ds elapsed)\n' "$*" $((SECONDS - start)); }

"$root/hack/ensure-host.sh"

if [[ " $layers " == *" unit "* ]]; then
	step "unit tests"
	go test -race -timeout 5m ./... "$@"
	# The HTTP/1.1 fast path's differential fuzz targets, each for a short
	# bounded time beyond their checked-in corpus (which the unit tests
	# above already replay): new smuggling shapes get a chance in CI.
	step "fuzz (${FLYWHEEL_FUZZTIME:-20s} per target)"
	for target in FuzzRequest FuzzResponse FuzzReadBody FuzzClientResponse FuzzClientRequest; do
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FLYWHEEL_FUZZTIME:-20s}" ./pkg/network/http1
	done
fi

if [[ " $layers " == *" integration "* || " $layers " == *" e2e "* ]]; then
	# From here on everything builds as the node builds its images, ko
	# the release's and this script the control plane: static, trimmed
	# paths. The test binaries, fw and the components then share one
	# build of their packages, where cgo's and trimpath's would each
	# compile nearly all of them again (net and everything above it):
	# about 2 minutes of 2 cores on a machine with an empty Go cache.
	export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
	step "control-plane binaries"
	# The lifecycle tests run fw local up --tracing, which runs Jaeger;
	# TestRoutesThroughTraefik runs Traefik.
	if [[ " $layers " == *" e2e "* ]]; then
		export FLYWHEEL_BUILD_JAEGER=1 FLYWHEEL_BUILD_TRAEFIK=1
	fi
	FLYWHEEL_CONTROLPLANE_BIN=$("$root/hack/build-controlplane.sh")
	export FLYWHEEL_CONTROLPLANE_BIN
	# The release tests (test/integration/release_test.go,
	# test/e2e/release) run hack/release.sh, which builds its images
	# with ko: ko is built here, once per version (cached beside the
	# other tools), so that its first build (minutes) does not count
	# against a test's timeout.
	step "ko, for the release tests"
	"$root/hack/tool.sh" ko >/dev/null
	# A test binary that dies (panic, timeout) cannot remove its network
	# sandboxes, pods and processes itself; sweep whatever it left.
	trap 'go run ./hack/sweep "${TMPDIR:-/tmp}/flywheel-e2e/node" "${TMPDIR:-/tmp}/flywheel-e2e-release/node"' EXIT
fi

if [[ " $layers " == *" integration "* ]]; then
	step "integration tests (real etcd + kube-apiserver)"
	go test -tags integration -count=1 -timeout 20m ./test/integration/... "$@"
fi

if [[ " $layers " == *" e2e "* ]]; then
	step "end-to-end tests (a local cluster with the process node and the gateway)"
	# The node builds Flywheel's components from their ko:// images as ko
	# does. One go build of them all compiles what they share once, on
	# both cores, before the first cluster's bring-up is timed.
	go build -buildvcs=false -o /dev/null \
		./cmd/webhook ./cmd/controller ./cmd/activator ./cmd/autoscaler ./cmd/gateway ./cmd/queue
	# One package at a time: each runs a local cluster of its own, and two
	# cannot share a host (the node address and the pod range).
	go test -tags e2e -p 1 -count=1 -timeout 20m ./test/e2e/... "$@"
fi

step "all tests passed"
