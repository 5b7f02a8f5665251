#!/usr/bin/env bash
# `make verify`: what a reviewer would otherwise check by hand. Runs every
# check, even after one fails, so one run lists everything to fix, and
# exits non-zero if any failed.
#   gofmt     every hand-written Go file is formatted;
#   vet       go vet, with the integration and end-to-end tests' build tags;
#   codegen   generated files match the types (hack/verify-codegen.sh);
#   tools     hack/tools/go.mod is tidy;
#   lint      golangci-lint with .golangci.yaml, at the pinned version.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

failed=()
check() {
	local name=$1
	shift
	printf '\n=== %s\n' "$name" >&2
	if ! "$@"; then
		failed+=("$name")
	fi
}

# Generated code is left out: hack/verify-codegen.sh already holds it to
# exactly what the generators (and the gofmt in update-codegen.sh) write.
# third_party is other people's code, vendored as modules of its own.
gofmt_clean() {
	local files
	files=$(find . \( -path ./third_party -o -path ./pkg/client -o -path ./.git -o -path ./bin \) -prune \
		-o -name '*.go' ! -name 'zz_generated.*' -print | xargs gofmt -l)
	if [[ -n $files ]]; then
		echo "not gofmt-ed (run gofmt -w on them):" >&2
		echo "$files" >&2
		return 1
	fi
}

tools_tidy() {
	(cd hack/tools && GOWORK=off go mod tidy -diff)
}

lint() {
	local golangci_lint
	golangci_lint=$(hack/tool.sh golangci-lint) || return 1
	"$golangci_lint" run ./...
}

check gofmt gofmt_clean
check vet go vet -tags integration,e2e ./...
check codegen hack/verify-codegen.sh
check tools tools_tidy
check lint lint

if ((${#failed[@]})); then
	printf '\nverify failed: %s\n' "${failed[*]}" >&2
	exit 1
fi
printf '\nverify passed\n' >&2
