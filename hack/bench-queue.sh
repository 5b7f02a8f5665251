#!/usr/bin/env bash
# Benchmarks the queue-proxy sidecar against the app served directly and a
# baseline reverse proxy, in one run on this machine (test/bench/queue).
#
#   hack/bench-queue.sh --runs 3           # what docs/benchmarks.md reports
#   hack/bench-queue.sh --duration 2s      # a quicker look
#
# Arguments go to `queue run` (see `go run ./test/bench/queue run -h`).
# The app and the proxy share one core and the load generator gets
# another, so the machine needs two. Results, CPU profiles and every
# process's log land in $BENCH_OUT (a new temporary directory by default);
# the profiles' top functions are printed at the end.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! command -v taskset >/dev/null 2>&1; then
	echo "hack/bench-queue.sh: taskset not found; it comes with util-linux (apt-get install util-linux)" >&2
	exit 1
fi
cpus=$(nproc --all)
if ((cpus < 2)); then
	echo "hack/bench-queue.sh: needs 2 CPUs (one for the pod, one for the load), this machine has $cpus" >&2
	exit 1
fi

bin=$(mktemp -d)
# The transparent variant runs the sidecar as its own uid, as in a pod.
chmod 755 "$bin"
trap 'rm -rf "$bin"' EXIT
out=${BENCH_OUT:-$(mktemp -d -t bench-queue-XXXXXX)}
mkdir -p "$out"

# The sidecar is built as its image is (ko: static, trimmed paths), so
# that its memory figures are those of what ships: a cgo build maps libc
# too (about 1.4 MiB of RSS).
CGO_ENABLED=0 go build -trimpath -o "$bin/queue" ./cmd/queue
go build -o "$bin/bench" ./test/bench/queue

# The harness runs on the load generator's core (1), so that its own
# bookkeeping never takes CPU from the pod's core (0).
taskset -c 1 "$bin/bench" run --queue "$bin/queue" --out "$out" --pod-cpu 0 --load-cpu 1 "$@"

shopt -s nullglob
for profile in "$out"/cpu-*.pprof; do
	printf '\n### %s\n\n' "$(basename "$profile")"
	go tool pprof -top -nodecount=15 "$profile" 2>/dev/null | sed -n '1,22p'
done
