#!/usr/bin/env bash
# Benchmarks the built-in gateway against the app served directly and the
# sidecar benchmark's baseline reverse proxy, in one run on this machine
# (test/bench/gateway).
#
#   hack/bench-gateway.sh --runs 3           # what docs/benchmarks.md reports
#   hack/bench-gateway.sh --duration 2s      # a quicker look
#
# Arguments go to `gateway run` (see `go run ./test/bench/gateway run -h`).
# The app and the proxies in front of it share one core and the load
# generator gets another, so the machine needs two. Results, CPU profiles
# and every process's log land in $BENCH_OUT (a new temporary directory by
# default); the profiles' top functions are printed at the end.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! command -v taskset >/dev/null 2>&1; then
	echo "hack/bench-gateway.sh: taskset not found; it comes with util-linux (apt-get install util-linux)" >&2
	exit 1
fi
cpus=$(nproc --all)
if ((cpus < 2)); then
	echo "hack/bench-gateway.sh: needs 2 CPUs (one for the pod, one for the load), this machine has $cpus" >&2
	exit 1
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
out=${BENCH_OUT:-$(mktemp -d -t bench-gateway-XXXXXX)}
mkdir -p "$out"

# One binary is the app, the baseline and the load generator; the gateway,
# on fake clientsets, is another.
go build -o "$bin/bench" ./test/bench/gateway
go build -o "$bin/fakegateway" ./test/bench/gateway/fakegateway

# The harness runs on the load generator's core (1), so that its own
# bookkeeping never takes CPU from the pod's core (0).
taskset -c 1 "$bin/bench" run --gateway "$bin/fakegateway" --out "$out" --pod-cpu 0 --load-cpu 1 "$@"

shopt -s nullglob
for profile in "$out"/cpu-*.pprof; do
	printf '\n### %s\n\n' "$(basename "$profile")"
	go tool pprof -top -nodecount=15 "$profile" 2>/dev/null | sed -n '1,22p'
done
