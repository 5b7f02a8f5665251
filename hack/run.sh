#!/usr/bin/env bash
# The README's run command: brings Flywheel up on this machine and runs
# the sample. Builds the pinned control-plane binaries on first use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/hack/ensure-host.sh"
FLYWHEEL_CONTROLPLANE_BIN=$("$root/hack/build-controlplane.sh")
export FLYWHEEL_CONTROLPLANE_BIN
go build -o "$root/bin/fw" ./cmd/fw
exec "$root/bin/fw" local up "$@"
