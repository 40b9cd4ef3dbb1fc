#!/usr/bin/env bash
# IPv6 interop checks (issue 20): the inetd example on a TAP device in its own namespace
# (`tt-ipv6`, TAP `ttv6`, so it cannot collide with scripts/netns.sh's `tidytcp`/`tap0`)
# against Linux's IPv6: ping -6 to its link-local and static addresses (Linux resolves
# them by Neighbor Discovery), a SLAAC address from radvd's advertised prefix, and an
# address Linux already holds (DAD fails, the example reports it and does not use it).
# One line per check; exits 1 if any check failed. Needs root and /dev/net/tun
# (and radvd for the SLAAC check), otherwise it says so and succeeds.
#
#   scripts/interop-ipv6.sh
#   KEEP=1 scripts/interop-ipv6.sh     # keep the logs (printed at the end)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
    echo "skipping IPv6 interop: needs root and /dev/net/tun"
    exit 0
fi

export TIDYTCP_NS=tt-ipv6 TIDYTCP_TAP=ttv6 TIDYTCP_ADDR=10.10.0.1/24
NS=$TIDYTCP_NS
TAP=$TIDYTCP_TAP
US=10.10.0.2
LINUX6=fd00:7::1
STATIC6=fd00:7::2
TAKEN6=fd00:7::5
PREFIX=fd00:77::
BIN=${CARGO_TARGET_DIR:-target}/release/examples
WORK=$(mktemp -d /tmp/tidytcp-ipv6.XXXXXX)
FAILED=0
PASSED=0
PIDS=()
CURRENT=

in_ns() { ip netns exec "$NS" "$@"; }

. scripts/interop-common.sh

# start LOG ARGS...: runs inetd in the namespace, waits for its "ready" line.
start() {
    local log=$1
    shift
    : >"$log"
    ip netns exec "$NS" "$BIN/inetd" --tap "$TAP" --ip "$US/24" --status 0 "$@" >"$log" 2>&1 &
    CURRENT=$!
    PIDS+=("$CURRENT")
    wait_for '^ready:' "$log" 10 && return 0
    bad "inetd did not start: $(tail -3 "$log" | tr '\n' ' ')"
    return 1
}

stop() {
    kill "$CURRENT" 2>/dev/null
    wait "$CURRENT" 2>/dev/null
}

# ping6 WHAT ADDR: three echo requests from Linux, all answered.
ping6() {
    local out
    if out=$(in_ns ping -6 -c 3 -i 0.2 -W 2 "$2" 2>&1) && grep -q ' 0% packet loss' <<<"$out"; then
        ok "$1: ping -6 $2: 3 of 3 answered"
    else
        bad "$1: ping -6 $2: $(tail -2 <<<"$out" | tr '\n' ' ')"
    fi
}

if ! cargo build --release --quiet --example inetd; then
    bad "cargo build of the inetd example"
    exit 1
fi
if ! scripts/netns.sh up; then
    bad "scripts/netns.sh up"
    exit 1
fi
# netns.sh turns IPv6 off on its TAP; here it is the point.
in_ns sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=0"
in_ns sysctl -qw "net.ipv6.conf.$TAP.accept_ra=0"
in_ns ip -6 addr add "$LINUX6/64" dev "$TAP" nodad
in_ns ip -6 addr add "$TAKEN6/64" dev "$TAP" nodad

# ---------------------------------------------------------------- link-local and static
LOG=$WORK/static.log
start "$LOG" --ip6 "$STATIC6/64" --pcap "$WORK/static.pcap" && {
    if wait_for "^ipv6: usable $STATIC6/64" "$LOG" 5 && wait_for '^ipv6: usable fe80:' "$LOG" 5; then
        ok "static: link-local and $STATIC6 passed DAD ($(grep -c '^ipv6: usable' "$LOG") usable)"
    else
        bad "static: no 'usable' lines: $(grep '^ipv6' "$LOG" | tr '\n' ' ')"
    fi
    LL=$(sed -n 's/^ipv6: usable \(fe80:[^/]*\)\/64.*/\1/p' "$LOG" | head -1)
    ping6 static "$LL%$TAP"
    ping6 static "$STATIC6"
    out=$(in_ns ping -6 -c 2 -i 0.2 -W 2 -s 1400 "$STATIC6" 2>&1)
    if grep -q ' 0% packet loss' <<<"$out" && grep -q '^1408 bytes from' <<<"$out"; then
        ok "static: ping -6 -s 1400 $STATIC6: 1400-byte payloads echoed"
    else
        bad "static: ping -6 -s 1400: $(tail -2 <<<"$out" | tr '\n' ' ')"
    fi
    # RFC 4443 4.2: an echo to all-nodes is answered from a unicast address of ours.
    out=$(in_ns ping -6 -c 3 -i 0.3 -W 2 "ff02::1%$TAP" 2>&1)
    if grep -q "from $LL" <<<"$out"; then
        ok "static: ping -6 ff02::1%$TAP answered from $LL"
    else
        bad "static: ping -6 ff02::1: no answer from $LL: $(head -4 <<<"$out" | tr '\n' ' ')"
    fi
    neigh=$(in_ns ip -6 neigh show dev "$TAP" "$STATIC6")
    if grep -qE 'lladdr 02:00:0a:0a:00:02 (REACHABLE|STALE|DELAY|PROBE)' <<<"$neigh"; then
        ok "static: Linux resolved $STATIC6 by Neighbor Discovery ($neigh)"
    else
        bad "static: Linux's neighbour entry for $STATIC6: $neigh"
    fi
    # TCP does not run over IPv6 yet: Linux's connect is refused at once (a reset).
    refused=$(in_ns timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6)
s.settimeout(3)
try:
    s.connect((sys.argv[1], 7))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print(e)
' "$STATIC6")
    if [ "$refused" = refused ]; then
        ok "static: Linux's TCP connect to [$STATIC6]:7 refused by a reset (TCP over IPv6 not yet)"
    else
        bad "static: Linux's TCP connect to [$STATIC6]:7: $refused"
    fi
    stop
    if command -v tshark >/dev/null; then
        v6=$(tshark -r "$WORK/static.pcap" -Y ipv6 2>/dev/null | wc -l)
        kinds=$(tshark -r "$WORK/static.pcap" -Y 'eth.src == 02:00:0a:0a:00:02 && icmpv6' \
            -T fields -e icmpv6.type 2>/dev/null | sort -un | tr '\n' ' ')
        bad_frames=$(tshark -r "$WORK/static.pcap" -q -z expert 2>/dev/null | grep -iE 'malformed|bad checksum|incorrect')
        if [ "$v6" -gt 0 ] && [ -z "$bad_frames" ]; then
            ok "static: tshark reads the example's $v6 IPv6 frames (ICMPv6 types sent: $kinds), nothing malformed"
        else
            bad "static: tshark on the capture ($v6 IPv6 frames): $bad_frames"
        fi
    fi
}

# ---------------------------------------------------------------- duplicate address
LOG=$WORK/dad.log
start "$LOG" --ip6 "$TAKEN6/64" && {
    if wait_for "^ipv6: duplicate $TAKEN6" "$LOG" 5 && ! grep -q "^ipv6: usable $TAKEN6" "$LOG"; then
        ok "dad: $TAKEN6 (Linux's) found duplicate, reported, not used"
    else
        bad "dad: $(grep '^ipv6' "$LOG" | tr '\n' ' ')"
    fi
    stop
}

# ---------------------------------------------------------------- SLAAC from radvd
if command -v radvd >/dev/null; then
    cat >"$WORK/radvd.conf" <<CONF
interface $TAP {
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    prefix $PREFIX/64 {
        AdvOnLink on;
        AdvAutonomous on;
    };
};
CONF
    in_ns sysctl -qw net.ipv6.conf.all.forwarding=1
    # The router's own address in the prefix: Linux's route to it for the ping.
    in_ns ip -6 addr add "${PREFIX}1/64" dev "$TAP" nodad
    ip netns exec "$NS" radvd --nodaemon --config "$WORK/radvd.conf" \
        --pidfile "$WORK/radvd.pid" --logmethod stderr >"$WORK/radvd.log" 2>&1 &
    PIDS+=("$!")
    LOG=$WORK/slaac.log
    start "$LOG" --slaac && {
        if wait_for "^ipv6: usable ${PREFIX%::}:" "$LOG" 15; then
            A=$(sed -n "s/^ipv6: usable \(${PREFIX%::}:[^/]*\)\/64.*/\1/p" "$LOG" | head -1)
            ok "slaac: $A from radvd's prefix $PREFIX/64 ($(grep -c '^ipv6: router' "$LOG") router line)"
            ping6 slaac "$A"
        else
            bad "slaac: no address from $PREFIX/64: $(grep '^ipv6' "$LOG" | tr '\n' ' ')"
        fi
        stop
    }
else
    echo "skipping the SLAAC check: needs radvd (apt-get install -y radvd)"
fi

echo "interop-ipv6: $PASSED passed, $FAILED failed in ${SECONDS}s"
[ "$FAILED" -eq 0 ]
