#!/usr/bin/env bash
# Where the bytes of one connection go on a Cortex-M4F (thumbv7em-none-eabihf): the
# field layout of `socket::Slot` and of the engine types inside it, as rustc lays them
# out (`-Zprint-type-sizes`, through RUSTC_BOOTSTRAP on the stable toolchain). Prints a
# Markdown table per type (BENCHMARKS.md, "What each byte of a connection pays for").
#
# Usage: scripts/slot-bytes.sh [FEATURES]
#   FEATURES: comma-separated tidytcp features on top of --no-default-features;
#   default: the default protocol set (cubic,sack,timestamps,window-scaling,syncookies).
#   "" gives the minimal set. Without proto-ipv4 or proto-ipv6 among them, proto-ipv4 is
#   added (a build needs an IP family).
set -euo pipefail
cd "$(dirname "$0")/.."
feats=${1-cubic,sack,timestamps,window-scaling,syncookies}
case ",$feats," in
*,proto-ipv4,* | *,proto-ipv6,*) ;;
*) feats=proto-ipv4${feats:+,$feats} ;;
esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# The type sizes are printed while compiling; a touched lib.rs makes sure it recompiles.
touch src/lib.rs
RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/slot-bytes cargo rustc -q --lib --release \
    --no-default-features --features "$feats" --target thumbv7em-none-eabihf \
    -- -Zprint-type-sizes >"$out" 2>&1

types=(
    socket::table::Slot
    tcp::conn::Connection
    tcp::conn::Recovery
    tcp::rack::RackMarks
    tcp::rtxlog::RtxLog
    tcp::sack::SackState
    tcp::sack::Scoreboard
    buf::recv::RecvState
    tcp::cc::Controller
    tcp::timer::TimerTable
    tcp::conn::SendSeq
    tcp::conn::RecvSeq
    tcp::conn::Timestamps
)
echo "Features: ${feats:-(minimal)}"
for t in "${types[@]}"; do
    awk -v t="$t" '
        /^print-type-size type: / {
            inside = (index($0, "type: `" t "`:") > 0)
            if (inside) {
                size = $0; sub(/.*`: /, "", size); sub(/,.*/, "", size)
                printf "\n`%s` (%s)\n\n| field | bytes |\n|---|---|\n", t, size
            }
            next
        }
        inside && /field `|end padding|padding:|discriminant:|variant `/ {
            line = $0; sub(/^print-type-size +/, "", line)
            n = line; sub(/.*: /, "", n); sub(/ bytes.*/, "", n)
            name = line; sub(/: [0-9]+ bytes.*/, "", name); sub(/^field /, "", name)
            printf "| %s | %s |\n", name, n
        }
    ' "$out"
done
