#!/usr/bin/env bash
# Benchmarks scaling on a local cluster (test/bench/autoscaling): cold
# starts (a request for a Revision at zero → its first byte) and load
# steps (50 clients on an idle Revision → the first scale decision, and
# → a new pod ready).
#
#   hack/bench-autoscaling.sh                              # what docs/benchmarks.md reports
#   hack/bench-autoscaling.sh --cold-starts 3 --steps 1    # a quicker look
#   hack/bench-autoscaling.sh --steps 0 --cold-registry-image
#       # cold starts of the sample app pulled from a registry image
#
# Arguments go to `autoscaling run` (see `go run ./test/bench/autoscaling
# run -h`). Needs root and no other local cluster on the host (`fw local
# up`, the e2e tests). Results and the components' logs land in
# $BENCH_OUT (a new temporary directory by default).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ((EUID != 0)); then
	echo "hack/bench-autoscaling.sh: the process node needs root; run it as root" >&2
	exit 1
fi

controlplane_bin=${FLYWHEEL_CONTROLPLANE_BIN:-$(hack/build-controlplane.sh | tail -n 1)}

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
out=${BENCH_OUT:-$(mktemp -d -t bench-autoscaling-XXXXXX)}
mkdir -p "$out"

go build -o "$bin/bench" ./test/bench/autoscaling
# local.Up and the node build the components and the apps from the
# repository: the harness runs from its root.
"$bin/bench" run --controlplane-bin "$controlplane_bin" --out "$out" "$@"
