#!/usr/bin/env bash
# Benchmarks local mode's start-up and the process node
# (test/bench/node): `fw local up` until every component is ready, and
# pod create → Ready for a prebuilt binary, with the node's share split
# out.
#
#   hack/bench-node.sh                          # what docs/benchmarks.md reports
#   hack/bench-node.sh --up-runs 1 --pods 5     # a quicker look
#
# Arguments go to `node run` (see `go run ./test/bench/node run -h`).
# Needs root (the node makes network namespaces, veths and routes) and no
# other local cluster on the host (`fw local up`, the e2e tests): their
# node would hold the same address. Results and every component's log
# land in $BENCH_OUT (a new temporary directory by default).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ((EUID != 0)); then
	echo "hack/bench-node.sh: the process node needs root; run it as root" >&2
	exit 1
fi

# Built once, cached after; progress goes to stderr.
controlplane_bin=${FLYWHEEL_CONTROLPLANE_BIN:-$(hack/build-controlplane.sh | tail -n 1)}

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
out=${BENCH_OUT:-$(mktemp -d -t bench-node-XXXXXX)}
mkdir -p "$out"

go build -o "$bin/bench" ./test/bench/node
# The harness builds the components and the pods' app with go from the
# repository, as local.Up does: it runs from the repository's root.
"$bin/bench" run --controlplane-bin "$controlplane_bin" --out "$out" "$@"
