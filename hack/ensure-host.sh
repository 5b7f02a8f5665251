#!/usr/bin/env bash
# Checks, and where it can fixes, what the tests and `fw local` need from
# the host, so that a fresh machine needs no manual step: root, and the
# Debian packages listed below.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "Flywheel's integration tests and local mode need root: they create network namespaces." >&2
	exit 1
fi

# Debian packages, by the command each provides. The network setup goes
# through netlink from Go; the queue-proxy's transparent mode runs the
# iptables binary, as its init container does in a pod; local mode's
# kube-proxy programs the host with nft (nftables mode), as on a node.
declare -A packages=([iptables]=iptables [nft]=nftables)

missing=()
for cmd in "${!packages[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
if ((${#missing[@]})); then
	echo "installing Debian packages: ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
