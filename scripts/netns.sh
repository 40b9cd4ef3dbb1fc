#!/usr/bin/env bash
# Network namespace for the Linux interop examples and tests.
#
#   scripts/netns.sh up     # namespace `tidytcp` with TAP `tap0`, kernel side 10.7.0.1/24
#   scripts/netns.sh down   # removes the namespace and everything in it
#
# The stack runs inside the namespace (`ip netns exec tidytcp cargo run --example ...`),
# opens `tap0` and takes 10.7.0.2. Both commands are idempotent. Needs root.
set -euo pipefail

NS=${TIDYTCP_NS:-tidytcp}
TAP=${TIDYTCP_TAP:-tap0}
ADDR=${TIDYTCP_ADDR:-10.7.0.1/24}

in_ns() { ip netns exec "$NS" "$@"; }
exists() { ip netns list | awk '{print $1}' | grep -qxF "$NS"; }

up() {
    if ! exists; then
        ip netns add "$NS"
    fi
    in_ns ip link set lo up
    if ! in_ns ip link show "$TAP" >/dev/null 2>&1; then
        # Persistent TAP: the example attaches to it with TUNSETIFF.
        in_ns ip tuntap add dev "$TAP" mode tap
    fi
    if ! in_ns ip -4 addr show dev "$TAP" | grep -q "inet ${ADDR%/*}/"; then
        in_ns ip addr add "$ADDR" dev "$TAP"
    fi
    in_ns ip link set "$TAP" up
    # No IPv6 chatter (router solicitations, MLD) on the TAP: the stack is IPv4 only.
    in_ns sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1" 2>/dev/null || true
}

down() {
    if exists; then
        ip netns delete "$NS"
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *)
        echo "usage: $0 up|down" >&2
        exit 2
        ;;
esac
