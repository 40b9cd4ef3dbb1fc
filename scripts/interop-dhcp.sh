#!/usr/bin/env bash
# Interop checks of the DHCPv4 client against dnsmasq: the inetd example started with
# --dhcp on a TAP device in its own namespace (`tt-dhcp`, TAP `ttdhcp0`, so it cannot
# collide with scripts/netns.sh's `tidytcp`/`tap0`), dnsmasq on the Linux side as DHCP
# server. One line per check; exits 1 if any check failed. Needs root, /dev/net/tun and
# dnsmasq, otherwise it says so and succeeds. Takes about four minutes (a 2-minute
# lease is dnsmasq's shortest: it is renewed at T1, then left to expire).
#
#   scripts/interop-dhcp.sh
#   KEEP=1 scripts/interop-dhcp.sh     # keep the logs and capture (printed at the end)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
    echo "skipping DHCP interop: needs root and /dev/net/tun"
    exit 0
fi
if ! command -v dnsmasq >/dev/null; then
    echo "skipping DHCP interop: needs dnsmasq (apt-get install -y dnsmasq)"
    exit 0
fi

export TIDYTCP_NS=tt-dhcp TIDYTCP_TAP=ttdhcp0 TIDYTCP_ADDR=10.8.0.1/24
NS=$TIDYTCP_NS
TAP=$TIDYTCP_TAP
LINUX=10.8.0.1
STATUS=7778
BIN=target/release/examples
WORK=$(mktemp -d /tmp/tidytcp-dhcp.XXXXXX)
FAILED=0
PASSED=0
PIDS=()
DNSMASQ=

in_ns() { ip netns exec "$NS" "$@"; }

. scripts/interop-common.sh

# 40 addresses for big.test: more than a 512-byte UDP answer holds (TC set).
BIG=()
for i in $(seq 1 40); do BIG+=("--host-record=big.test,10.9.0.$i"); done

start_dnsmasq() {
    ip netns exec "$NS" dnsmasq --no-daemon --conf-file=/dev/null --user=root \
        --interface="$TAP" --bind-interfaces --no-resolv --no-hosts \
        --dhcp-range=10.8.0.100,10.8.0.150,255.255.255.0,2m \
        --dhcp-option=option:router,$LINUX --dhcp-option=option:dns-server,$LINUX \
        --address=/daytime.test/$LINUX --local=/test/ "${BIG[@]}" --log-queries \
        --dhcp-leasefile="$WORK/leases" --log-dhcp --log-facility="$WORK/dnsmasq.log" \
        >>"$WORK/dnsmasq.out" 2>&1 &
    DNSMASQ=$!
    sleep 0.5
}

if ! cargo build --release --quiet --example inetd --example daytime; then
    bad "cargo build of the examples"
    exit 1
fi
scripts/netns.sh down
scripts/netns.sh up
# (Background jobs call `ip netns exec` directly, so that $! is the program itself and
# not a subshell that a kill would leave it running behind.)
ip netns exec "$NS" tcpdump -i "$TAP" -n -U -w "$WORK/dhcp.pcap" udp port 67 or udp port 68 or port 53 \
    >/dev/null 2>&1 &
PIDS+=($!)
start_dnsmasq

LOG=$WORK/inetd.log
: >"$LOG"
ip netns exec "$NS" "$BIN/inetd" --tap "$TAP" --dhcp --mac 02:00:0a:08:00:99 \
    --status $STATUS >"$LOG" 2>&1 &
INETD=$!
PIDS+=("$INETD")

# 1. A lease from dnsmasq's range.
if wait_for '^dhcp: bound 10\.8\.0\.(1[0-4][0-9]|150)/24 gateway 10\.8\.0\.1 dns 10\.8\.0\.1' "$LOG" 20; then
    US=$(grep -m1 '^dhcp: bound' "$LOG" | sed -E 's/^dhcp: bound ([0-9.]+)\/.*/\1/')
    ok "inetd --dhcp bound $US from dnsmasq's range, with gateway and DNS server"
else
    bad "no lease: $(tail -3 "$LOG" | tr '\n' ' ')"
    exit 1
fi
BOUND_AT=$(date +%s)

# 2. It answers ping and carries 16 MiB of echo at that address.
if in_ns ping -c 3 -i 0.2 -W 2 "$US" | grep -q ' 3 received'; then
    ok "ping -c 3 $US: 3 replies"
else
    bad "ping -c 3 $US"
fi
if out=$(in_ns timeout 300 python3 scripts/interop_client.py echo "$US" 7 16777216); then
    ok "echo 16 MiB at $US: $out"
else
    bad "echo 16 MiB at $US: $out"
fi

# 3. A connection opened before T1 still works after the renewal, and the renewal
#    went to the server by unicast (RENEWING, RFC 2131 §4.4.5).
ip netns exec "$NS" timeout 150 python3 - "$US" >"$WORK/held.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=20)
def echo(b):
    s.sendall(b)
    got = b""
    while len(got) < len(b):
        got += s.recv(100)
    assert got == b, got
echo(b"before renewal\n")
time.sleep(75)
echo(b"after renewal\n")
print("held connection echoed before and after the renewal")
EOF
HELD=$!
if wait_for '^dhcp: renewed' "$LOG" 90; then
    RENEWED_AT=$(date +%s)
    ok "lease renewed after $((RENEWED_AT - BOUND_AT)) s (T1 is 60 s): $(grep -m1 '^dhcp: renewed' "$LOG")"
else
    bad "no renewal: $(tail -3 "$LOG" | tr '\n' ' ')"
fi
if wait "$HELD"; then
    ok "$(cat "$WORK/held.out")"
else
    bad "connection across the renewal: $(tail -2 "$WORK/held.out" | tr '\n' ' ')"
fi
sleep 1
unicast=$(tcpdump -r "$WORK/dhcp.pcap" -n "src host $US and dst host $LINUX and udp dst port 67" 2>/dev/null | wc -l)
if [ "$unicast" -ge 1 ]; then
    ok "renewal REQUEST sent by unicast from $US to the server ($unicast)"
else
    bad "no unicast REQUEST from $US to $LINUX"
fi

# 4. Server gone: REBINDING broadcasts from T2, the address goes at expiry.
kill "$DNSMASQ"
wait "$DNSMASQ" 2>/dev/null
DNSMASQ=
if wait_for '^dhcp: lost the address' "$LOG" 140; then
    LOST_AT=$(date +%s)
    ok "address dropped $((LOST_AT - RENEWED_AT)) s after the renewal (lease 120 s)"
else
    bad "address not dropped: $(tail -3 "$LOG" | tr '\n' ' ')"
fi
rebind=$(tcpdump -r "$WORK/dhcp.pcap" -n "src host $US and dst host 255.255.255.255 and udp dst port 67" 2>/dev/null | wc -l)
if [ "$rebind" -ge 1 ]; then
    ok "REBINDING: $rebind broadcast REQUESTs from $US after the server stopped"
else
    bad "no broadcast REQUEST from $US while rebinding"
fi
if ! command -v ping >/dev/null; then
    bad "ping is not installed (iputils-ping)"
elif in_ns ping -c 1 -W 1 "$US" | grep -q ' 1 received'; then
    bad "$US still answers after the lease expired"
else
    ok "$US no longer answers after the lease expired"
fi

# 5. DNS through the lease's server (dnsmasq again, inetd gone): daytime resolves a
#    name dnsmasq serves and connects; an unknown name says so.
kill "$INETD" 2>/dev/null
wait "$INETD" 2>/dev/null
start_dnsmasq
ip netns exec "$NS" socat TCP-LISTEN:13,bind=$LINUX,fork,reuseaddr SYSTEM:'echo tidytcp-daytime-check' \
    >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
DLOG=$WORK/daytime.log
in_ns timeout 40 "$BIN/daytime" --tap "$TAP" --dhcp --mac 02:00:0a:08:00:98 --status 0 \
    --server daytime.test >"$DLOG" 2>&1
if grep -q '^resolved daytime.test to 10.8.0.1' "$DLOG" && grep -q '^daytime: tidytcp-daytime-check' "$DLOG"; then
    ok "daytime --server daytime.test: resolved through dnsmasq and connected"
else
    bad "daytime --server daytime.test: $(tail -4 "$DLOG" | tr '\n' ' ')"
fi
in_ns timeout 40 "$BIN/daytime" --tap "$TAP" --dhcp --mac 02:00:0a:08:00:98 --status 0 \
    --server nosuch.test >"$DLOG" 2>&1
if grep -q 'resolve nosuch.test: no such name' "$DLOG"; then
    ok "daytime --server nosuch.test: \"no such name\""
else
    bad "daytime --server nosuch.test: $(tail -4 "$DLOG" | tr '\n' ' ')"
fi

# A truncated answer is asked again over TCP (only the name is checked: the
# addresses do not exist).
in_ns timeout 10 "$BIN/daytime" --tap "$TAP" --dhcp --mac 02:00:0a:08:00:98 --status 0 \
    --server big.test >"$DLOG" 2>&1
tcp53=$(tcpdump -r "$WORK/dhcp.pcap" -n "tcp dst port 53 and dst host $LINUX" 2>/dev/null | wc -l)
if grep -q '^resolved big.test to 10\.9\.0\.' "$DLOG" && [ "$tcp53" -ge 1 ]; then
    ok "big.test: truncated UDP answer, asked again over TCP ($tcp53 segments to port 53)"
else
    bad "big.test over TCP ($tcp53 segments): $(tail -3 "$DLOG" | tr '\n' ' ')"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
