#!/usr/bin/env bash
# Benchmarks the autoscaler's data path at scale (test/bench/autoscaler):
# the CPU and memory of scraping and deciding for 1,000 Revisions whose
# pods' sidecars are simulated, each on an address of its own in
# 127.100.0.0/16 (lo answers for all of 127.0.0.0/8).
#
#   hack/bench-autoscaler.sh                                  # what docs/benchmarks.md reports
#   hack/bench-autoscaler.sh --revisions 100 --duration 10s   # a quicker look
#   hack/bench-autoscaler.sh --pods 10 --profile              # bigger Revisions, with CPU and heap profiles
#
# Arguments go to `autoscaler run` (see `go run ./test/bench/autoscaler
# run -h`). No root needed; the sidecars' process opens a listener per
# simulated pod, so the hard limit of open files must allow that many
# (the harness raises its soft limit). Results, profiles and both
# processes' logs land in $BENCH_OUT (a new temporary directory by
# default).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
out=${BENCH_OUT:-$(mktemp -d -t bench-autoscaler-XXXXXX)}
mkdir -p "$out"

go build -o "$bin/bench" ./test/bench/autoscaler
"$bin/bench" run --out "$out" "$@"
