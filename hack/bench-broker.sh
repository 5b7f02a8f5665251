#!/usr/bin/env bash
# Measures the CPU (and, with --strace, the system calls) per event of each
# process a Broker's events cross: the ingress, the dispatcher and NATS,
# run apart on loopback by test/bench/broker, with the e2e benchmark's sink
# as the subscriber.
#
#   hack/bench-broker.sh                    # 1,000 events/s for 8 s
#   hack/bench-broker.sh --rate 2000        # another rate
#   hack/bench-broker.sh --strace           # system calls per event (strace slows every process)
#   hack/bench-broker.sh --godebug ''       # without the manifests' GODEBUG
#
# Every process runs with GOMAXPROCS=1 and the GODEBUG of
# config/eventing's manifests; the sender gets two processors.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rate=1000
duration=8
trace=false
godebug=$(sed -n 's/^ *value: \(schedtrace=[0-9]*\)$/\1/p' config/eventing/500-broker-ingress.yaml)
while (($#)); do
	case $1 in
	--rate) rate=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--strace) trace=true; shift ;;
	--godebug) godebug=$2; shift 2 ;;
	*) echo "hack/bench-broker.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

out=$(mktemp -d)
go build -o "$out/broker" ./test/bench/broker
go build -o "$out/sink" ./test/e2e/testdata/eventsink

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$out"
}
trap cleanup EXIT

start() {
	local name=$1; shift
	GOMAXPROCS=1 GODEBUG=$godebug "$@" >"$out/$name.log" 2>&1 &
	pids+=($!)
	eval "pid_$name=$!"
}
start sink env -u GODEBUG PORT=18090 "$out/sink"
start nats "$out/broker" nats -store "$out/store"
sleep 1
start dispatcher "$out/broker" dispatcher
sleep 0.5
start ingress "$out/broker" ingress
sleep 1
# Warm the connections up.
"$out/broker" send -rate 500 -duration 2s >/dev/null
curl -fsS "http://127.0.0.1:18090/stats?reset=1" >/dev/null

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
parts=(ingress dispatcher nats sink)
declare -A before
for p in "${parts[@]}"; do
	pid="pid_$p"
	before[$p]=$(ticks "${!pid}")
done
if $trace; then
	for p in ingress dispatcher nats; do
		pid="pid_$p"
		timeout $((duration + 2)) strace -c -f -p "${!pid}" -o "$out/strace.$p" 2>/dev/null &
	done
	sleep 0.5
fi
result=$(GOMAXPROCS=2 "$out/broker" send -rate "$rate" -duration "${duration}s")
accepted=$(awk '{print $2}' <<<"$result")
echo "$rate events/s for ${duration}s: $result; load average $(cut -d' ' -f1-3 /proc/loadavg)"
hz=$(getconf CLK_TCK)
for p in "${parts[@]}"; do
	pid="pid_$p"
	after=$(ticks "${!pid}")
	echo "  $p: $(((after - before[$p]) * 1000000 / hz / accepted)) µs of CPU per event"
done
echo "  sink latency: $(curl -fsS http://127.0.0.1:18090/stats)"
if $trace; then
	sleep 3
	for p in ingress dispatcher nats; do
		awk -v n="$accepted" -v p="$p" '/ total$/ {total = $4 / n; next} /^ +[0-9]/ && $4 / n >= 0.05 {calls = calls sprintf(" %s %.2f", $NF, $4 / n)} END {printf "  %s: %.1f system calls per event:%s\n", p, total, calls}' "$out/strace.$p"
	done
fi
