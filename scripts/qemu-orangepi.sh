#!/usr/bin/env bash
# Builds an Orange Pi PC firmware and runs it under QEMU (`-M orangepi-pc`), its EMAC
# attached to a TAP device inside the network namespace `tidytcp-qemu`:
#
#   Linux  qtap0 10.8.0.1/24  <--TAP-->  QEMU EMAC  firmware 10.8.0.2/24
#
# Usage (as root):
#   scripts/qemu-orangepi.sh setup             create the namespace and the TAP (idempotent)
#   scripts/qemu-orangepi.sh build FIRMWARE    build inetd | iperf3 | iperf3-smoltcp
#   scripts/qemu-orangepi.sh run FIRMWARE      build, set up, run QEMU in the foreground
#                                              (console on stdin/stdout: s = stats, q = quit)
#   scripts/qemu-orangepi.sh teardown          delete the namespace
#   scripts/qemu-orangepi.sh size FIRMWARE     print the ELF's section sizes (arm-none-eabi-size -A)
#
# Talk to the firmware from the namespace: ip netns exec tidytcp-qemu ping 10.8.0.2
# Environment: NS, TAP, HOST_IP, MAC override the defaults below.
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${NS:-tidytcp-qemu}
TAP=${TAP:-qtap0}
HOST_IP=${HOST_IP:-10.8.0.1/24}
MAC=${MAC:-02:00:0a:08:00:02}
BOARD=boards/orangepi-pc

elf() { echo "$BOARD/target/armv7a-none-eabi/release/$1"; }

build() {
    local fw=$1 features=()
    [[ $fw == *smoltcp* ]] && features=(--features smoltcp)
    rustup target add armv7a-none-eabi >/dev/null 2>&1 || true
    (cd "$BOARD" && cargo build --release --quiet --bin "$fw" "${features[@]}")
}

setup() {
    ip netns list | grep -qw "^$NS" || ip netns add "$NS"
    ip -n "$NS" link set lo up
    if ! ip -n "$NS" link show "$TAP" >/dev/null 2>&1; then
        ip -n "$NS" tuntap add dev "$TAP" mode tap
    fi
    ip -n "$NS" addr flush dev "$TAP"
    ip -n "$NS" addr add "$HOST_IP" dev "$TAP"
    ip -n "$NS" link set "$TAP" up
}

teardown() {
    ip netns del "$NS" 2>/dev/null || true
}

run() {
    local fw=$1
    build "$fw"
    setup
    exec ip netns exec "$NS" qemu-system-arm -M orangepi-pc -display none -monitor none \
        -serial stdio -semihosting -kernel "$(elf "$fw")" \
        -nic "tap,ifname=$TAP,script=no,downscript=no,mac=$MAC"
}

size() {
    local f
    f=$(elf "$1")
    if command -v arm-none-eabi-size >/dev/null; then arm-none-eabi-size -A "$f"; else llvm-size -A "$f"; fi
}

case "${1:-}" in
    setup) setup ;;
    teardown) teardown ;;
    build) build "${2:?firmware}" ;;
    run) run "${2:?firmware}" ;;
    size) size "${2:?firmware}" ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
esac
