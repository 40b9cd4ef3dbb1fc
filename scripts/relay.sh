#!/usr/bin/env bash
# The loss benchmark: Linux's TCP against tidytcp and against Linux's own TCP, through
# the same seeded fault relay (examples/relay.rs). Needs root and /dev/net/tun.
#
#   scripts/relay.sh up          # namespaces, bridges and TAPs (idempotent)
#   scripts/relay.sh down        # removes them
#   scripts/relay.sh check [SEEDS]   # correctness at 20 % loss (scripts/interop.sh):
#       # chargen and echo from tidytcp complete, echo byte for byte; "ok"/"FAIL" lines
#   scripts/relay.sh bench [SEEDS] [SETTING...]
#       # e.g. scripts/relay.sh bench "1 2 3 4 5" loss=20% loss=5%,reorder=2%,dup=1%
#       # one line per transfer: setting seed service stack seconds bytes
#
#   tt-loss-c  Linux client 10.78.0.1 ── veth ── [tt-loss-r: bridge ttl-bra ── TAP ttl-a]
#                                                          relay (faults)
#   [tt-loss-r: TAP ttl-b ── bridge ttl-brb ──┬── TAP ttl-t: tidytcp inetd 10.78.0.2
#                                              └── veth ── tt-loss-s: Linux 10.78.0.3
#
# Linux's server side is socat with the same 64 KiB buffers as tidytcp's (chargen: an
# endless stream, echo: cat). Every transfer restarts the relay with its seed, so both
# stacks meet the same sequence of faults. Names do not collide with scripts/netns.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

NR=tt-loss-r
NC=tt-loss-c
NS=tt-loss-s
CLIENT=10.78.0.1
TIDY=10.78.0.2
LINUX=10.78.0.3
BIN=${BIN:-target/release/examples}
SIZE=${SIZE:-4194304}
LIMIT=${LIMIT:-60}
WORK=${WORK:-/tmp/tt-loss}
# Linux's congestion control on the benchmark's sockets (both ends): the host's default
# unless set. Namespaces inherit the host's (here BBR, which does not back off on random
# loss): LINUX_CC=cubic or reno compares loss recovery with a loss-based sender like
# tidytcp's. Set per socket (TCP_CONGESTION), as a namespace's sysctl may be read-only.
LINUX_CC=${LINUX_CC:-}
CC=${LINUX_CC:+,setsockopt-string=6:13:$LINUX_CC}
# tidytcp's congestion control (inetd --cc): newreno (the default), cubic or bbr.
TIDY_CC=${TIDY_CC:-}
# Which stacks serve, and which services run (e.g. STACKS=tidytcp for a quick look).
STACKS=${STACKS:-linux tidytcp}
SERVICES=${SERVICES:-chargen echo}

r() { ip netns exec "$NR" "$@"; }
exists() { ip netns list | awk '{print $1}' | grep -qxF "$1"; }

ns_up() {
    exists "$1" || ip netns add "$1"
    ip netns exec "$1" ip link set lo up
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

# veth NAME PEER_NS ADDR BRIDGE: a veth from the relay namespace's bridge to PEER_NS.
veth() {
    r ip link show "$1" >/dev/null 2>&1 && return 0
    r ip link add "$1" type veth peer name "$1p"
    r ip link set "$1p" netns "$2"
    ip netns exec "$2" ip addr add "$3/24" dev "$1p"
    ip netns exec "$2" ip link set "$1p" up
    r ip link set "$1" master "$4" up
}

up() {
    ns_up "$NR"
    ns_up "$NC"
    ns_up "$NS"
    for br in ttl-bra ttl-brb; do
        r ip link show "$br" >/dev/null 2>&1 ||
            r ip link add "$br" type bridge stp_state 0 forward_delay 0
        r ip link set "$br" up
    done
    for t in ttl-a ttl-b ttl-t; do
        r ip link show "$t" >/dev/null 2>&1 || r ip tuntap add dev "$t" mode tap
        r ip link set "$t" up
    done
    r ip link set ttl-a master ttl-bra
    r ip link set ttl-b master ttl-brb
    r ip link set ttl-t master ttl-brb
    veth ttl-c "$NC" "$CLIENT" ttl-bra
    veth ttl-s "$NS" "$LINUX" ttl-brb
    # No cached ssthresh/RTT from one run to the next.
    for n in "$NC" "$NS"; do
        ip netns exec "$n" sysctl -qw net.ipv4.tcp_no_metrics_save=1
    done
}

down() {
    for n in "$NR" "$NC" "$NS"; do
        if exists "$n"; then ip netns delete "$n"; fi
    done
}

PIDS=()
RELAY=
stop_all() {
    [ -z "$RELAY" ] || kill "$RELAY" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# wait_ready LOG PID: until LOG has a "ready" line.
wait_ready() {
    for _ in $(seq 100); do
        grep -q 'ready' "$1" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "not ready: $(tail -2 "$1")" >&2
    return 1
}

servers() {
    mkdir -p "$WORK"
    ip netns exec "$NR" "$BIN/inetd" --tap ttl-t --ip "$TIDY/24" --buf 65536 --quiet \
        ${TIDY_CC:+--cc "$TIDY_CC"} --msl 0.5 >"$WORK/inetd.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$WORK/inetd.log" $!
    ip netns exec "$NS" socat "TCP-LISTEN:19,fork,reuseaddr,sndbuf=65536,rcvbuf=65536$CC" \
        SYSTEM:'cat /dev/zero' >/dev/null 2>&1 &
    PIDS+=($!)
    ip netns exec "$NS" socat "TCP-LISTEN:7,fork,reuseaddr,sndbuf=65536,rcvbuf=65536$CC" \
        EXEC:cat >/dev/null 2>&1 &
    PIDS+=($!)
    head -c "$SIZE" /dev/urandom >"$WORK/echo.in"
}

# transfer SERVICE HOST: prints "seconds bytes" of one transfer from the client.
transfer() {
    local t0 n
    t0=$(date +%s.%N)
    case $1 in
        chargen)
            n=$(ip netns exec "$NC" timeout "$LIMIT" socat -u \
                "TCP:$2:19,rcvbuf=65536$CC" STDOUT 2>/dev/null | head -c "$SIZE" | wc -c) ;;
        echo)
            n=$(ip netns exec "$NC" timeout "$LIMIT" socat -t "$LIMIT" \
                "TCP:$2:7,sndbuf=65536,rcvbuf=65536$CC" STDIO <"$WORK/echo.in" 2>/dev/null |
                wc -c) ;;
    esac
    echo "$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f') $n"
}

# relay SETTING SEED: (re)starts the relay.
relay() {
    if [ -n "$RELAY" ]; then
        kill "$RELAY" 2>/dev/null || true
        wait "$RELAY" 2>/dev/null || true
    fi
    ip netns exec "$NR" "$BIN/relay" --a ttl-a --b ttl-b --faults "$1,seed=$2" \
        >"$WORK/relay.log" 2>&1 &
    RELAY=$!
    wait_ready "$WORK/relay.log" "$RELAY"
}

bench() {
    local seeds=${1:-1 2 3 4 5}
    shift || true
    local settings=("$@")
    [ ${#settings[@]} -gt 0 ] || settings=("loss=20%" "loss=5%,reorder=2%,dup=1%")
    up
    trap stop_all EXIT
    servers
    echo "# setting seed service stack seconds bytes (limit ${LIMIT}s, $SIZE bytes," \
        "Linux congestion control: ${LINUX_CC:-$(ip netns exec "$NS" sysctl -n net.ipv4.tcp_congestion_control)})"
    for s in "${settings[@]}"; do
        for seed in $seeds; do
            for svc in $SERVICES; do
                for stack in $STACKS; do
                    host=$LINUX
                    [ $stack = tidytcp ] && host=$TIDY
                    relay "$s" "$seed"
                    echo "$s $seed $svc $stack $(transfer $svc $host)"
                done
            done
        done
    done
}

# check [SEEDS]: tidytcp as the sender at 20 % loss both ways must finish each transfer
# (no timing). Exit status 1 if any failed.
check() {
    local seeds=${1:-1 2} fail=0 n want got
    up
    trap stop_all EXIT
    servers
    want=$(sha256sum <"$WORK/echo.in" | cut -d' ' -f1)
    for seed in $seeds; do
        relay loss=20% "$seed"
        n=$(ip netns exec "$NC" timeout "$LIMIT" socat -u "TCP:$TIDY:19,rcvbuf=65536" STDOUT \
            2>/dev/null | head -c "$SIZE" | wc -c || true)
        if [ "$n" = "$SIZE" ]; then
            echo "ok   relay loss=20% seed $seed: chargen from tidytcp, $n bytes"
        else
            echo "FAIL relay loss=20% seed $seed: chargen from tidytcp, $n of $SIZE bytes"
            fail=1
        fi
        relay loss=20% "$seed"
        got=$(ip netns exec "$NC" timeout "$LIMIT" socat -t "$LIMIT" \
            "TCP:$TIDY:7,sndbuf=65536,rcvbuf=65536" STDIO <"$WORK/echo.in" 2>/dev/null |
            sha256sum | cut -d' ' -f1 || true)
        if [ "$got" = "$want" ]; then
            echo "ok   relay loss=20% seed $seed: echo through tidytcp, $SIZE bytes, sha256 equal"
        else
            echo "FAIL relay loss=20% seed $seed: echo through tidytcp, sha256 differs"
            fail=1
        fi
    done
    return $fail
}

case "${1:-}" in
    up) up ;;
    check)
        shift
        check "$@"
        ;;
    down) down ;;
    bench)
        shift
        bench "$@"
        ;;
    *)
        echo "usage: $0 up|down|check [SEEDS]|bench [SEEDS] [SETTING...]" >&2
        exit 2
        ;;
esac
