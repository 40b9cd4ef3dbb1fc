#!/usr/bin/env bash
# End-to-end test of the Orange Pi PC firmwares under QEMU, against Linux's own TCP:
# inetd (ping, echo of 16 MiB checked by sha256 both ways, discard, daytime, chargen)
# and iperf3 (`iperf3 -c` both ways), then the smoltcp build of iperf3 for comparison.
# Skips with one line when not root, without /dev/net/tun or without qemu-system-arm.
#
# Usage: scripts/test-orangepi.sh [--bench]   (--bench: 10-second runs, BENCHMARKS.md figures)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then echo "orangepi-pc QEMU test: skipped (not root)"; exit 0; fi
if [[ ! -c /dev/net/tun ]]; then echo "orangepi-pc QEMU test: skipped (no /dev/net/tun)"; exit 0; fi
if ! command -v qemu-system-arm >/dev/null; then
    echo "orangepi-pc QEMU test: skipped (no qemu-system-arm)"; exit 0
fi

Q=scripts/qemu-orangepi.sh
NS=${NS:-tidytcp-qemu}
FW_IP=10.8.0.2
SECS=5
[[ ${1:-} == --bench ]] && SECS=10
WORK=$(mktemp -d)
QPID=
pass=0
fail=0

in_ns() { ip netns exec "$NS" "$@"; }
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAILED: $*"; fail=$((fail + 1)); }

cleanup() {
    [[ -n $QPID ]] && kill "$QPID" 2>/dev/null || true
    "$Q" teardown
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts firmware $1 and waits for its banner.
start() {
    local fw=$1
    "$Q" setup
    rm -f "$WORK/in"
    mkfifo "$WORK/in"
    exec 3<>"$WORK/in"
    in_ns qemu-system-arm -M orangepi-pc -display none -monitor none -serial stdio \
        -semihosting -kernel "boards/orangepi-pc/target/armv7a-none-eabi/release/$fw" \
        -nic "tap,ifname=qtap0,script=no,downscript=no,mac=02:00:0a:08:00:02" \
        <&3 >"$WORK/$fw.log" 2>&1 &
    QPID=$!
    for _ in $(seq 100); do
        grep -q "^ip $FW_IP" "$WORK/$fw.log" 2>/dev/null && break
        kill -0 "$QPID" 2>/dev/null || break
        sleep 0.2
    done
    if grep -q "^ip $FW_IP" "$WORK/$fw.log"; then
        ok "$fw boots: $(grep "^ip " "$WORK/$fw.log" | tr -d '\r')"
    else
        bad "$fw did not boot"; cat "$WORK/$fw.log"; return 1
    fi
}

# Asks firmware $1 to print its counters and quit; it must exit with code 0.
stop() {
    local fw=$1 rc=0
    echo q >&3
    for _ in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.2; done
    wait "$QPID" || rc=$?
    QPID=
    exec 3>&-
    if [[ $rc == 0 ]]; then ok "$fw ended cleanly"; else bad "$fw exit code $rc"; fi
    grep -E "^(emac|tcp) " "$WORK/$fw.log" | tr -d '\r' | cut -c1-400 | sed 's/^/    /'
}

# iperf3 -c against the firmware, $1 = "" or "-R"; prints "KBITS BYTES" as the receiver
# counted them, or "ERROR ...".
iperf() {
    local out
    out=$(timeout $((SECS + 20)) ip netns exec "$NS" iperf3 -c "$FW_IP" -t "$SECS" $1 -f k 2>&1) || true
    if grep -q "error" <<<"$out" || ! grep -q "receiver" <<<"$out"; then
        echo "ERROR $(tail -3 <<<"$out" | tr '\n' ' ')"
        return
    fi
    # "[  5]   0.00-5.04  sec   231 MBytes  384123 Kbits/sec   receiver"
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Kbits/sec") k = $(i - 1);
                      for (i = 1; i <= NF; i++) if ($i ~ /Bytes$/) { b = $(i - 1); u = $i } }
         END { m = (u == "KBytes") ? 1024 : (u == "MBytes") ? 1048576 : (u == "GBytes") ? 1073741824 : 1;
               printf "%d %d\n", k, b * m }' <<<"$out"
}

iperf_checks() {
    local fw=$1 dir r bps
    for dir in "" "-R"; do
        r=$(iperf "$dir")
        if [[ $r == ERROR* ]]; then bad "$fw iperf3 -c $dir: $r"; continue; fi
        kbps=${r%% *}
        if [[ $kbps -gt 0 ]]; then
            ok "$fw iperf3 -c $FW_IP -t $SECS $dir: $kbps kbit/s received (about ${r##* } bytes)"
            echo "$fw ${dir:-fwd} $kbps" >>"$WORK/figures"
        else
            bad "$fw iperf3 $dir: no throughput ($r)"
        fi
    done
}

echo "== build (sizes: flash = .text+.rodata+.data, RAM = .data+.bss; the 256 KiB stack is apart)"
for fw in inetd iperf3 iperf3-smoltcp; do
    "$Q" build "$fw"
    "$Q" size "$fw" | awk -v fw="$fw" '
        $1 == ".text" || $1 == ".rodata" || $1 == ".ARM.exidx" { flash += $2 }
        $1 == ".data" { flash += $2; ram += $2 }
        $1 == ".bss" { ram += $2 }
        END { printf "%s: flash %d bytes, RAM %d bytes\n", fw, flash, ram }'
done

echo "== inetd"
start inetd
if in_ns ping -c 3 -W 2 "$FW_IP" >/dev/null; then ok "ping answered"; else bad "ping"; fi
head -c 16777216 /dev/urandom >"$WORK/blob"
if timeout 120 ip netns exec "$NS" nc -N -w 30 "$FW_IP" 7 <"$WORK/blob" >"$WORK/echo"; then :; fi
a=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
b=$(sha256sum <"$WORK/echo" | cut -d' ' -f1)
if [[ $a == "$b" ]]; then ok "echo: 16 MiB came back, sha256 $a"; else bad "echo: sha256 $a sent, $b back ($(stat -c %s "$WORK/echo") bytes)"; fi
if timeout 120 ip netns exec "$NS" nc -N -w 30 "$FW_IP" 9 <"$WORK/blob"; then ok "discard took 16 MiB"; else bad "discard"; fi
day=$(timeout 10 ip netns exec "$NS" nc -w 5 "$FW_IP" 13 | tr -d '\r')
want=$(date -u '+%A, %B %-d, %Y')
if [[ $day == "$want "* ]]; then ok "daytime: $day"; else bad "daytime: '$day', expected '$want ...'"; fi
cg=$(timeout 10 ip netns exec "$NS" nc -w 5 "$FW_IP" 19 </dev/null | head -c 148 || true)
if [[ ${cg:0:72} == ' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg' ]]; then
    ok "chargen: first line right"
else
    bad "chargen: '${cg:0:80}'"
fi
stop inetd

for fw in iperf3 iperf3-smoltcp; do
    echo "== $fw"
    start "$fw"
    iperf_checks "$fw"
    stop "$fw"
done

if [[ -f $WORK/figures ]]; then
    echo "== figures (iperf3 -t $SECS, kbit/s as the receiver counted them)"
    cat "$WORK/figures"
    awk '{ f[$1 " " $2] = $3 }
         END {
               split("fwd -R", ds, " ");
               for (k = 1; k <= 2; k++) { d = ds[k]; a = f["iperf3 " d]; b = f["iperf3-smoltcp " d];
                   if (a > 0 && b > 0) printf "%s: tidytcp %.1f Mbit/s, smoltcp %.1f Mbit/s, ratio %.2f\n", d, a / 1000, b / 1000, a / b } }' "$WORK/figures"
fi
echo "orangepi-pc: $pass passed, $fail failed"
[[ $fail == 0 ]]
