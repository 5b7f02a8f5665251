#!/usr/bin/env bash
# Fails when a generated file is out of date: deep copies, pkg/client, the
# CRDs in config/core/crds and the CLI reference in docs/cmd.
#
# It regenerates into a copy of the repository and compares, instead of
# regenerating in place and asking git: the working tree is never touched
# (nothing to restore, nothing half-written if it is interrupted, no race
# with an editor or a build running beside it), and it works in a tree
# with no commits or with uncommitted work.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work="$tmp/tree"
log="$tmp/update-codegen.log"
mkdir "$work"

# Everything but VCS data and build output: the generators read the whole
# module (sources, go.mod, hack/), and a file missing from the copy would
# show up as drift.
shopt -s dotglob nullglob
for entry in "$root"/*; do
	case "$(basename "$entry")" in
	.git | bin) ;;
	*) cp -a "$entry" "$work/" ;;
	esac
done
shopt -u dotglob

echo "regenerating into a copy of the tree" >&2
if ! (cd "$work" && hack/update-codegen.sh) >"$log" 2>&1; then
	cat "$log" >&2
	echo "verify-codegen: hack/update-codegen.sh failed" >&2
	exit 1
fi

# The generated outputs, as paths relative to the root. Deep copies sit
# beside the types, so they are found by name in both trees: a deleted or
# a new one counts as drift too.
generated_paths() {
	(
		cd "$1"
		for d in pkg/client config/core/crds docs/cmd; do
			[[ -e $d ]] && find "$d" -type f
		done
		find pkg -name 'zz_generated.*' -type f
	) | LC_ALL=C sort -u
}

drift=0
while IFS= read -r path; do
	if [[ ! -e "$root/$path" ]]; then
		echo "missing: $path (hack/update-codegen.sh creates it)"
		drift=1
	elif [[ ! -e "$work/$path" ]]; then
		echo "stale: $path (hack/update-codegen.sh no longer creates it)"
		drift=1
	elif ! cmp -s "$root/$path" "$work/$path"; then
		echo "out of date: $path"
		diff -u "$root/$path" "$work/$path" | head -n 40 || true
		drift=1
	fi
done < <({
	generated_paths "$root"
	generated_paths "$work"
} | LC_ALL=C sort -u)

if ((drift)); then
	echo "generated files are out of date: run hack/update-codegen.sh (make generate)" >&2
	exit 1
fi
echo "generated files are up to date" >&2
