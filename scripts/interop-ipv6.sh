#!/usr/bin/env bash
# IPv6 interop checks (issue 20): the inetd example on a TAP device in its own namespace
# (`tt-ipv6`, TAP `ttv6`, so it cannot collide with scripts/netns.sh's `tidytcp`/`tap0`)
# against Linux's IPv6: ping -6 to its link-local and static addresses (Linux resolves
# them by Neighbor Discovery), TCP over IPv6 with Linux's TCP (echo with sha256 to the
# static and the link-local address, discard and chargen exact counts, a reset for a port
# with no listener; `curl -6` against the http example; `iperf3 -6` both ways against the
# iperf3 example), the daytime example configured for IPv6 only resolving a name to an
# AAAA record through dnsmasq over IPv6 and reading Linux's daytime service (socat) there,
# a SLAAC address from radvd's advertised prefix, an address Linux already holds (DAD
# fails, the example reports it and does not use it), the DNS server radvd advertises
# (RDNSS) used by the daytime example configured by SLAAC only, and Path MTU Discovery through
# Linux routing to a second namespace over a 1280-byte link (its Packet Too Big lowers
# the segment size of the connection, the echo stays intact).
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
start() { start_example inetd "$@"; }

# start_example NAME LOG ARGS...: runs example NAME in the namespace, waits for "ready".
start_example() {
    local name=$1 log=$2
    shift 2
    : >"$log"
    ip netns exec "$NS" "$BIN/$name" --tap "$TAP" --ip "$US/24" --status 0 "$@" >"$log" 2>&1 &
    CURRENT=$!
    PIDS+=("$CURRENT")
    wait_for '^ready:' "$log" 10 && return 0
    bad "$name did not start: $(tail -3 "$log" | tr '\n' ' ')"
    return 1
}

# run_client WHAT ARGS...: Linux's side of a TCP check (scripts/interop_client.py).
run_client() { run_client_in "$NS" "$@"; }

# run_client_in NAMESPACE WHAT ARGS...: the same from another namespace.
run_client_in() {
    local ns=$1 what=$2 out
    shift 2
    if out=$(ip netns exec "$ns" timeout 300 python3 scripts/interop_client.py "$@" 2>&1); then
        ok "$what: $(head -1 <<<"$out" | sed 's/^ok //')"
    else
        bad "$what: $(grep -m1 FAIL <<<"$out" || tail -1 <<<"$out")"
    fi
    LAST_OUT=$out
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

if ! cargo build --release --quiet --example inetd --example http --example iperf3 --example daytime; then
    bad "cargo build of the inetd, http, iperf3 and daytime examples"
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
    # TCP over IPv6 with Linux's TCP: bulk both ways, exact counts, orderly closes.
    run_client "tcp6: echo 16 MiB to [$STATIC6]:7" echo "$STATIC6" 7 16777216
    run_client "tcp6: echo 1 MiB to [$LL%$TAP]:7 (link-local)" echo "$LL%$TAP" 7 1048576
    run_client "tcp6: discard 8 MiB" discard "$STATIC6" 9 8388608
    if wait_for "^discard \[fd00:7::[0-9a-f]+\]:[0-9]+: in 8388608 out 0 bytes, peer closed first, closed" "$LOG" 5; then
        ok "tcp6: discard: tidytcp counted exactly 8388608 bytes, orderly close"
    else
        bad "tcp6: discard: $(grep '^discard' "$LOG" | tail -1)"
    fi
    run_client "tcp6: chargen 8 MiB" chargen "$STATIC6" 19 8388608
    total=$(sed -n 's/^chargen_total=//p' <<<"$LAST_OUT")
    if wait_for "^chargen \[fd00:7::[0-9a-f]+\]:[0-9]+: in 0 out ${total:-x} bytes, peer closed first, closed" "$LOG" 5; then
        ok "tcp6: chargen: Linux read exactly the $total bytes tidytcp sent, orderly close"
    else
        bad "tcp6: chargen: $(grep '^chargen' "$LOG" | tail -1) (Linux read ${total:-?})"
    fi
    # A port with no listener: Linux's connect is refused at once (a reset).
    refused=$(in_ns timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6)
s.settimeout(3)
try:
    s.connect((sys.argv[1], 8))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print(e)
' "$STATIC6")
    if [ "$refused" = refused ]; then
        ok "tcp6: Linux's connect to [$STATIC6]:8 (no listener) refused by a reset"
    else
        bad "tcp6: Linux's connect to [$STATIC6]:8: $refused"
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

# ---------------------------------------------------------------- http and iperf3 over IPv6
mkdir -p "$WORK/site"
head -c $((4 << 20)) /dev/urandom >"$WORK/site/big.bin"
LOG=$WORK/http.log
start_example http "$LOG" --ip6 "$STATIC6/64" --msl 0.5 --root "$WORK/site" && {
    wait_for "^ipv6: usable $STATIC6/64" "$LOG" 5
    want=$(sha256sum <"$WORK/site/big.bin" | cut -d' ' -f1)
    out=$(in_ns curl -6 -sS --max-time 60 -o "$WORK/got.bin" -w '%{http_code} %{size_download}' \
        "http://[$STATIC6]/big.bin" 2>&1)
    got=$(sha256sum <"$WORK/got.bin" 2>/dev/null | cut -d' ' -f1)
    if [ "$out" = "200 $((4 << 20))" ] && [ "$want" = "$got" ]; then
        ok "http6: curl -6 fetched 4 MiB from [$STATIC6], sha256 equal"
    else
        bad "http6: curl -6: $out sha256 ${got:-none} vs $want"
    fi
    stop
}
if command -v iperf3 >/dev/null; then
    LOG=$WORK/iperf3.log
    start_example iperf3 "$LOG" --ip6 "$STATIC6/64" --msl 0.5 -s && {
        wait_for "^ipv6: usable $STATIC6/64" "$LOG" 5
        for args in "-t 2" "-t 2 -R"; do
            # shellcheck disable=SC2086
            if in_ns timeout 60 iperf3 -6 -c "$STATIC6" $args -J >"$WORK/iperf3.json" 2>&1 &&
                rate=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%.0f Mbit/s" % (e["sum_received"]["bits_per_second"]/1e6))' "$WORK/iperf3.json" 2>/dev/null); then
                ok "iperf3 -6 -c [$STATIC6] $args against tidytcp: $rate"
            else
                bad "iperf3 -6 -c $args: $(grep -m1 error "$WORK/iperf3.json")"
            fi
        done
        stop
    }
fi

# ---------------------------------------------------------------- daytime by name over IPv6
# No IPv4 address at all: the DNS server is Linux's IPv6 address, the answer an AAAA record.
if command -v dnsmasq >/dev/null && command -v socat >/dev/null; then
    DAY6=fd00:7::3
    ip netns exec "$NS" dnsmasq --no-daemon --conf-file=/dev/null --user=root --no-resolv \
        --no-hosts --bind-interfaces --listen-address="$LINUX6" --address="/daytime6.test/$LINUX6" \
        --log-queries --log-facility="$WORK/dnsmasq6.log" >"$WORK/dnsmasq6.out" 2>&1 &
    PIDS+=("$!")
    ip netns exec "$NS" socat "TCP6-LISTEN:13,bind=[$LINUX6],fork,reuseaddr" \
        SYSTEM:'echo tidytcp-daytime6-check' >/dev/null 2>&1 &
    PIDS+=("$!")
    sleep 0.3
    DLOG=$WORK/daytime6.log
    in_ns timeout 40 "$BIN/daytime" --tap "$TAP" --ip 0.0.0.0/0 --mac 02:00:0a:0a:00:03 --status 0 \
        --ip6 "$DAY6/64" --dns "$LINUX6" --family 6 --server daytime6.test >"$DLOG" 2>&1
    if grep -q "^resolved daytime6.test to $LINUX6\$" "$DLOG" &&
        grep -q '^daytime: tidytcp-daytime6-check' "$DLOG" &&
        grep -q "query\[AAAA\] daytime6.test from $DAY6" "$WORK/dnsmasq6.log"; then
        ok "daytime6: IPv6-only daytime resolved daytime6.test by AAAA from dnsmasq at [$LINUX6] and read Linux's daytime over IPv6"
    else
        bad "daytime6: $(tail -4 "$DLOG" | tr '\n' ' ') dnsmasq: $(grep -m2 'query' "$WORK/dnsmasq6.log" | tr '\n' ' ')"
    fi
else
    echo "skipping the daytime6 check: needs dnsmasq and socat"
fi

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

# ---------------------------------------------------------------- DNS server from radvd
# RFC 8106: daytime configured by SLAAC alone, no --dns, finds dnsmasq (still running
# from the daytime6 check) through radvd's RDNSS option.
rdnss_check() {
    if ! command -v dnsmasq >/dev/null || ! command -v socat >/dev/null; then
        return
    fi
    local log=$WORK/rdnss.log
    in_ns timeout 40 "$BIN/daytime" --tap "$TAP" --ip 0.0.0.0/0 --mac 02:00:0a:0a:00:04 --status 0 \
        --slaac --family 6 --server daytime6.test >"$log" 2>&1
    if grep -q "^resolved daytime6.test to $LINUX6\$" "$log" &&
        grep -q '^daytime: tidytcp-daytime6-check' "$log"; then
        ok "rdnss: daytime with SLAAC only took radvd's RDNSS server [$LINUX6], resolved daytime6.test and read the daytime"
    else
        bad "rdnss: $(tail -4 "$log" | tr '\n' ' ')"
    fi
}

# ---------------------------------------------------------------- PMTU through a router
# Linux in $NS routes (it is radvd's default router) between the TAP and namespace $FAR
# over a veth of MTU 1280. The far host's route back says MSS 1440 (advmss), so tidytcp's
# full segments do not fit the veth: the router drops them with a Packet Too Big
# (RFC 8201). The echo must come back intact, and in the example's own capture every
# frame it sends after it received the first Packet Too Big must fit in 1280 bytes.
FAR=tt-ipv6-far
FAR6=fd00:78::2
pmtu_check() {
    EXTRA_NS="$FAR"
    ip netns delete "$FAR" 2>/dev/null
    ip netns add "$FAR" &&
        ip link add ttv6r type veth peer name ttv6f &&
        ip link set ttv6r netns "$NS" && ip link set ttv6f netns "$FAR" &&
        in_ns ip link set ttv6r mtu 1280 up &&
        in_ns ip -6 addr add fd00:78::1/64 dev ttv6r nodad &&
        ip netns exec "$FAR" ip link set lo up &&
        ip netns exec "$FAR" ip link set ttv6f mtu 1280 up &&
        ip netns exec "$FAR" ip -6 addr add "$FAR6/64" dev ttv6f nodad &&
        ip netns exec "$FAR" ip -6 route add fd00:7::/64 via fd00:78::1 advmss 1440 || {
        bad "pmtu: could not set up the router and $FAR"
        return
    }
    LOG=$WORK/pmtu.log
    start "$LOG" --slaac --ip6 "$STATIC6/64" --pcap "$WORK/pmtu.pcap" || return
    if ! wait_for "^ipv6: usable $STATIC6/64" "$LOG" 5 || ! wait_for '^ipv6: router' "$LOG" 10; then
        bad "pmtu: no address or no router: $(grep '^ipv6' "$LOG" | tr '\n' ' ')"
        stop
        return
    fi
    run_client_in "$FAR" "pmtu: echo 4 MiB from [$FAR6] through the router to [$STATIC6]:7" \
        echo "$STATIC6" 7 4194304
    stop
    # Frame order in the example's capture is the stack's: what it sent after it took the
    # first Packet Too Big in.
    tshark -r "$WORK/pmtu.pcap" -T fields -e eth.src -e ipv6.plen -e icmpv6.type -e icmpv6.mtu \
        2>/dev/null | awk -v us=02:00:0a:0a:00:02 '
        $1 != us && $3 == 2 && !ptb { ptb = 1; mtu = $4; next }
        $1 == us && $2 != "" { if (ptb) { after++; if ($2 + 40 > max) max = $2 + 40 } else if ($2 + 40 > 1280) big++ }
        $1 != us && $3 == 2 { ptbs++ }
        END { printf "%d %d %d %d %d\n", ptb ? ptbs + 1 : 0, mtu, big, after, max }' >"$WORK/pmtu.txt"
    read -r ptbs mtu big after max <"$WORK/pmtu.txt"
    if [ "$ptbs" -ge 1 ] && [ "$mtu" = 1280 ] && [ "$after" -gt 100 ] && [ "$max" -le 1280 ]; then
        ok "pmtu: $ptbs Packet Too Big (MTU $mtu) from Linux's router for $big too-big frames; the $after frames tidytcp sent after the first are <= $max bytes"
    else
        bad "pmtu: Packet Too Big $ptbs (MTU ${mtu:-?}), $big too big before, $after frames after it, largest $max"
    fi
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
    RDNSS $LINUX6 {
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
    rdnss_check
    pmtu_check
else
    echo "skipping the SLAAC and PMTU checks: need radvd (apt-get install -y radvd)"
fi

echo "interop-ipv6: $PASSED passed, $FAILED failed in ${SECONDS}s"
[ "$FAILED" -eq 0 ]
