#!/usr/bin/env bash
# What each cargo feature costs on a Cortex-M4F (thumbv7em-none-eabihf): flash and RAM of
# `examples/firmware-echo` (opt-level s, LTO), and the sizes of one connection's
# `socket::Slot` and of the `Stack`, for the minimal feature set (IPv4 only, NewReno)
# plus one feature at a time, for the two families (dual stack, IPv6 only), and for the
# default protocol set over each family. Prints a Markdown table (BENCHMARKS.md, "What
# each feature costs").
#
# Usage: scripts/feature-cost.sh   (from anywhere; needs the thumbv7em-none-eabihf target
#                                   and arm-none-eabi-size)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fw=examples/firmware-echo
elf=$fw/target/thumbv7em-none-eabihf/release/firmware-echo

# The sizes of `Slot` and `Stack` come from compile errors in a scratch crate:
# `[(); 0] = [(); N]` fails with "expected an array with a size of 0, found one with a
# size of N". `Stack` lives in `main`'s frame in the firmware, so `.bss` does not show it.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/src"
cat >"$scratch/src/lib.rs" <<'EOF'
#![no_std]
const _: [(); 0] = [(); core::mem::size_of::<tidytcp::socket::Slot>()];
const _: [(); 0] = [(); core::mem::size_of::<tidytcp::stack::Stack<'static>>()];
EOF

quote() { echo "$1" | sed "s|[^,][^,]*|$2&$3|g"; }

sizes() { # comma-separated tidytcp features -> "slot stack"
    cat >"$scratch/Cargo.toml" <<EOF
[package]
name = "slot-size"
version = "0.0.0"
edition = "2024"
publish = false
[workspace]
[dependencies]
tidytcp = { path = "$root", default-features = false, features = [$(quote "$1" '"' '"')] }
EOF
    (cd "$scratch" && CARGO_TARGET_DIR="$root/target/feature-cost" \
        cargo check -q --target thumbv7em-none-eabihf 2>&1 || true) |
        sed -n 's/.*found one with a size of \([0-9]*\).*/\1/p' | head -2 | xargs
}

firmware() { # comma-separated tidytcp features -> "flash ram"
    local feats=()
    # proto-ipv4 is the firmware's own feature too: with it, it configures an IPv4 address.
    [ -n "$1" ] && feats=(--features "$(quote "$1" tidytcp/ '' | sed 's|tidytcp/proto-ipv4|proto-ipv4|')")
    (cd "$fw" && cargo build -q --release --no-default-features "${feats[@]}")
    arm-none-eabi-size -A "$elf" | awk '
        $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" || $1 == ".bss" { ram += $2 }
        END { print flash, ram }'
}

# Every row names its IP family: a build needs one (proto-ipv4, proto-ipv6, or both).
v4=proto-ipv4
dflt=cubic,bbr,sack,timestamps,window-scaling,syncookies
rows=(
    "minimal (proto-ipv4)|$v4"
    "+ cubic|$v4,cubic"
    "+ bbr|$v4,bbr"
    "+ sack|$v4,sack"
    "+ timestamps|$v4,timestamps"
    "+ window-scaling|$v4,window-scaling"
    "+ syncookies|$v4,syncookies"
    "+ dhcpv4|$v4,dhcpv4"
    "+ dns|$v4,dns"
    "+ log|$v4,log"
    "+ proto-ipv6 (dual stack)|$v4,proto-ipv6"
    "IPv6-only (proto-ipv6, no proto-ipv4)|proto-ipv6"
    "+ dhcpv4 + dns|$v4,dhcpv4,dns"
    "default protocol set (IPv4-only)|$v4,$dflt"
    "default protocol set, dual stack|$v4,proto-ipv6,$dflt"
    "default protocol set, IPv6-only|proto-ipv6,$dflt"
    "default protocol set + dhcpv4 + dns|$v4,$dflt,dhcpv4,dns"
)

echo "| features | flash | Δ flash | RAM (.data+.bss) | Δ RAM | \`Slot\` | Δ \`Slot\` | \`Stack\` | Δ \`Stack\` |"
echo "|---|---|---|---|---|---|---|---|---|"
base=''
for row in "${rows[@]}"; do
    label=${row%%|*} feats=${row#*|}
    read -r f r < <(firmware "$feats")
    read -r s k < <(sizes "$feats")
    [ -z "${k:-}" ] && { echo "feature-cost: no Slot/Stack size for '$feats'" >&2; exit 1; }
    [ -z "$base" ] && { base=1 bf=$f br=$r bs=$s bk=$k; }
    printf '| %s | %d B | %+d B | %d B | %+d B | %d B | %+d B | %d B | %+d B |\n' \
        "$label" "$f" $((f - bf)) "$r" $((r - br)) "$s" $((s - bs)) "$k" $((k - bk))
done
