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

# A test binary that dies (panic, timeout) cannot remove its network
# sandboxes, pods and processes itself; sweep whatever it left. A failure
# also ends the background builds (below).
background_builds= background_log= test_binaries=
cleanup() {
	if [[ -n "$background_builds" ]]; then
		# Only while it runs: once it has ended, its id may be another
		# process's.
		if jobs -rp | grep -qx "$background_builds"; then
			kill -- -"$background_builds" 2>/dev/null || true
		fi
		rm -f "$background_log"
	fi
	rm -rf "$test_binaries"
	if [[ " $layers " == *" integration "* || " $layers " == *" e2e "* ]]; then
		go run ./hack/sweep "${TMPDIR:-/tmp}/flywheel-e2e/node" "${TMPDIR:-/tmp}/flywheel-e2e-release/node"
	fi
}
trap cleanup EXIT

if [[ " $layers " == *" integration "* || " $layers " == *" e2e "* ]]; then
	# The programs the later layers run, built from their pinned modules
	# (hack/build-controlplane.sh): on a machine that has not built them
	# yet, 14.5 minutes for the control plane and its cluster add-ons,
	# about 2 for the stock kn (hack/tool.sh, TestStockKnWorksUnchanged)
	# and 8.5 more for Traefik (TestRoutesThroughTraefik, the last test
	# of test/e2e) and Jaeger (the lifecycle tests' fw local up
	# --tracing). They build in the background from the start, at idle
	# priority (SCHED_IDLE: they run only on a core no test wants): the
	# unit tests leave a third of the CPU idle while they link and wait,
	# the end-to-end tests two thirds, waiting on their clusters. Each
	# layer then waits for what it needs alone: the integration tests for
	# the control plane, TestStockKnWorksUnchanged for kn and
	# TestRoutesThroughTraefik for Traefik (each through its build
	# script's lock), the lifecycle tests for Jaeger. With everything
	# cached, there is nothing to wait for.
	step "the programs the later layers run, building in the background"
	background_log=$(mktemp "${TMPDIR:-/tmp}/flywheel-test-builds.XXXXXX")
	idle=(nice -n 19)
	if chrt --idle 0 true 2>/dev/null; then
		idle=(chrt --idle 0)
	fi
	builds='"$1/hack/build-controlplane.sh" >/dev/null'
	if [[ " $layers " == *" e2e "* ]]; then
		# One run each, so that each is in place for its test before the
		# next build ends: the stock kn, Traefik, then Jaeger.
		builds+=' && "$1/hack/tool.sh" kn >/dev/null'
		builds+=' && FLYWHEEL_BUILD_TRAEFIK=1 "$1/hack/build-controlplane.sh" >/dev/null'
		builds+=' && FLYWHEEL_BUILD_JAEGER=1 "$1/hack/build-controlplane.sh" >/dev/null'
	fi
	# Its own session, so that cleanup can end the whole build. The
	# control plane comes first: the integration tests need it next.
	setsid "${idle[@]}" bash -c "$builds" _ "$root" >"$background_log" 2>&1 &
	background_builds=$!
fi

if [[ " $layers " == *" unit "* ]]; then
	step "unit tests"
	# -w: no DWARF in the 116 test binaries, which nobody debugs from here
	# (stack traces and race reports do not need it); linking them all
	# takes 223 s instead of 316 (docs/benchmarks.md).
	go test -race -ldflags=-w -timeout 5m ./... "$@"
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
	step "control-plane binaries (waiting for the background build)"
	FLYWHEEL_CONTROLPLANE_BIN=$("$root/hack/build-controlplane.sh")
	export FLYWHEEL_CONTROLPLANE_BIN
	# The release tests (test/integration/release_test.go,
	# test/e2e/release) run hack/release.sh, which builds its images
	# with ko: ko is built here, once per version (cached beside the
	# other tools), so that its first build (minutes) does not count
	# against a test's timeout.
	step "ko, for the release tests"
	"$root/hack/tool.sh" ko >/dev/null
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
	# The test packages too: go test -p 1 below would compile them one
	# package at a time, leaving a core to the background builds while
	# the tests wait for their binaries.
	test_binaries=$(mktemp -d)
	go test -tags e2e -c -o "$test_binaries" ./test/e2e/...
	rm -rf "$test_binaries"
	# One package at a time: each runs a local cluster of its own, and two
	# cannot share a host (the node address and the pod range). The
	# lifecycle tests come last, after Jaeger's build.
	mapfile -t e2e_packages < <(go list -tags e2e ./test/e2e/... | grep -v '/lifecycle$')
	go test -tags e2e -p 1 -count=1 -timeout 25m "${e2e_packages[@]}" "$@"
	step "waiting for the background builds"
	if ! wait "$background_builds"; then
		cat "$background_log" >&2
		echo "hack/test.sh: a background build (the control plane, kn, Traefik or Jaeger) failed (above)" >&2
		exit 1
	fi
	background_builds=
	rm -f "$background_log"
	go test -tags e2e -p 1 -count=1 -timeout 20m ./test/e2e/lifecycle "$@"
fi

step "all tests passed"
