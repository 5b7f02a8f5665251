#!/usr/bin/env bash
# The README's test command: every layer of tests, in order of cost.
#   1. unit tests (fake clients, fake clocks), with the race detector;
#   2. integration tests against a real etcd + kube-apiserver, built from
#      the pinned modules in third_party/controlplane on first use.
# Needs root (the integration tests give components pod-like network
# namespaces). Set FLYWHEEL_TEST_LAYERS to a subset ("unit integration") to
# run fewer; extra arguments go to every `go test`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
layers=${FLYWHEEL_TEST_LAYERS:-unit integration}

start=$SECONDS
step() { printf '\n=== %s (%ds elapsed)\n' "$*" $((SECONDS - start)); }

"$root/hack/ensure-host.sh"

if [[ " $layers " == *" unit "* ]]; then
	step "unit tests"
	go test -race -timeout 5m ./... "$@"
fi

if [[ " $layers " == *" integration "* ]]; then
	step "control-plane binaries"
	FLYWHEEL_CONTROLPLANE_BIN=$("$root/hack/build-controlplane.sh")
	export FLYWHEEL_CONTROLPLANE_BIN
	step "integration tests (real etcd + kube-apiserver)"
	# A test binary that dies (panic, timeout) cannot remove its network
	# sandboxes itself; sweep whatever a dead test process left.
	trap 'go run ./hack/sweep' EXIT
	go test -tags integration -count=1 -timeout 20m ./test/integration/... "$@"
fi

step "all tests passed"
