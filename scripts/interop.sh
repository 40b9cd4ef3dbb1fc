#!/usr/bin/env bash
# Interop checks: the tidytcp examples on a TAP device in the `tidytcp` namespace, against
# Linux's own TCP (nc/python sockets, socat, curl, iperf3). One line per check; exits 1
# if any check failed. Needs root and /dev/net/tun, otherwise it says so and succeeds.
#
#   scripts/interop.sh            # everything (a few minutes)
#   KEEP=1 scripts/interop.sh     # keep the logs and captures (printed at the end)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
    echo "skipping interop: needs root and /dev/net/tun"
    exit 0
fi

NS=tidytcp
US=10.7.0.2
LINUX=10.7.0.1
OUR_MAC=02:00:0a:07:00:02
BIN=target/release/examples
WORK=$(mktemp -d /tmp/tidytcp-interop.XXXXXX)
FAILED=0
PASSED=0
PIDS=()

# (Background jobs call `ip netns exec` directly, so that $! is the program itself and
# not a subshell that a kill would leave it running behind.)
in_ns() { ip netns exec "$NS" "$@"; }
client() { in_ns timeout 300 python3 scripts/interop_client.py "$@"; }

. scripts/interop-common.sh

# start NAME LOG ARGS...: runs example NAME in the namespace, waits for its "ready" line.
start() {
    local name=$1 log=$2
    shift 2
    : >"$log"
    local bin="$BIN/$name"
    [[ $name == */* ]] && bin=$name
    ip netns exec "$NS" "$bin" --tap tap0 --ip "$US/24" "$@" >"$log" 2>&1 &
    CURRENT=$!
    PIDS+=("$CURRENT")
    for _ in $(seq 100); do
        grep -q '^ready:' "$log" && return 0
        kill -0 "$CURRENT" 2>/dev/null || break
        sleep 0.1
    done
    bad "$name did not start: $(tail -3 "$log" | tr '\n' ' ')"
    return 1
}

# stop: asks the running example to quit through its status port, waits for it.
stop() {
    echo quit | in_ns timeout 5 nc -N "$US" 7777 >/dev/null 2>&1
    # It lingers (10 s at most) until its last FINs are acknowledged.
    for _ in $(seq 120); do
        kill -0 "$CURRENT" 2>/dev/null || break
        sleep 0.1
    done
    kill "$CURRENT" 2>/dev/null
    wait "$CURRENT" 2>/dev/null
}

status() { in_ns timeout 5 nc -N "$US" 7777 </dev/null 2>/dev/null; }

# no_slot_left WHAT: within 15 s the stack reports no connection slot in use (the
# examples run with a short MSL, so TIME-WAIT ends quickly).
no_slot_left() {
    local s
    for _ in $(seq 150); do
        s=$(status)
        if grep -q '^in_use=0 ' <<<"$s"; then
            ok "$1: no slot left behind (in_use=0)"
            return
        fi
        sleep 0.1
    done
    bad "$1: slots still in use: $(grep -E '^(in_use|  tcp S)' <<<"$s" | tr '\n' ';')"
}

# eventually CMD...: true once CMD succeeds, trying for 5 s (a FIN or RST lost to the
# fault injector takes a retransmission timeout or a keep-alive probe to recover).
eventually() {
    for _ in $(seq 50); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# expect_log LOG REGEX WHAT
expect_log() {
    if eventually grep -qE "$2" "$1"; then
        ok "$3"
    else
        bad "$3 (no line matching /$2/ in $(basename "$1"))"
    fi
}

# Linux's socket from local port $1 to our port $2. Both ports: Linux may give the same
# local port to connections to two of our ports, and an earlier one may linger.
linux_time_wait() { in_ns ss -Htan state time-wait "sport = :$1 and dport = :$2" | grep -q .; }
linux_socket() { in_ns ss -Htan "sport = :$1 and dport = :$2" | grep -q .; }

# run_client WHAT ARGS...: runs the python client, passes its ok line through.
run_client() {
    local what=$1 out
    shift
    if out=$(client "$@" 2>&1); then
        ok "$what: $(head -1 <<<"$out" | sed 's/^ok //')"
    else
        bad "$what: $(grep -m1 FAIL <<<"$out" || tail -1 <<<"$out")"
    fi
    LAST_OUT=$out
}

# The inetd transfers, lossless or through faults. $1: label, $2: bulk size, $3: log.
inetd_transfers() {
    local tag=$1 bulk=$2 log=$3 total port
    run_client "$tag echo 16 MiB" echo "$US" 7 16777216
    run_client "$tag discard $((bulk >> 20)) MiB" discard "$US" 9 "$bulk"
    expect_log "$log" "^discard .*: in $bulk out 0 bytes, peer closed first, closed" \
        "$tag discard: tidytcp counted exactly $bulk bytes, orderly close"
    run_client "$tag chargen $((bulk >> 20)) MiB" chargen "$US" 19 "$bulk"
    total=$(sed -n 's/^chargen_total=//p' <<<"$LAST_OUT")
    expect_log "$log" "^chargen .*: in 0 out ${total:-x} bytes, peer closed first, closed" \
        "$tag chargen: Linux read exactly the ${total:-?} bytes tidytcp sent, orderly close"
    run_client "$tag 200 concurrent echo connections" concurrent "$US" 7 200 "$4"
    run_client "$tag Linux half-closes and keeps reading" half-close "$US" 7 1000000
    run_client "$tag Linux closes first" linux-closes-first "$US" 7
    port=$(sed -n 's/^local_port=//p' <<<"$LAST_OUT")
    expect_log "$log" "^echo $LINUX:$port: in 8 out 8 bytes, peer closed first, closed" \
        "$tag Linux closes first: tidytcp saw the FIN, answered with its own"
    if eventually linux_time_wait "$port" 7; then
        ok "$tag Linux closes first: Linux's side is in TIME-WAIT"
    elif [ "$tag" = faults ] && ! linux_socket "$port" 7; then
        # Seen in 2 of 22 runs through faults, not caught in a capture since. The likely
        # cause: a duplicated or delayed copy of Linux's FIN reaches tidytcp after it
        # freed the connection and draws a RST (no such connection), and Linux, with
        # net.ipv4.tcp_rfc1337 = 0 (its default), ends TIME-WAIT on a RST. What matters
        # here holds: Linux's socket is gone, not stuck in FIN-WAIT-2 or CLOSING.
        ok "$tag Linux closes first: Linux's side closed (TIME-WAIT already over, see interop.sh)"
    else
        bad "$tag Linux closes first: Linux's side is not in TIME-WAIT: $(in_ns ss -Htan "sport = :$port and dport = :7")"
    fi
    run_client "$tag tidytcp closes first" tidytcp-closes-first "$US" 13
    port=$(sed -n 's/^local_port=//p' <<<"$LAST_OUT")
    expect_log "$log" "^daytime $LINUX:$port: in 0 out [0-9]+ bytes, closed first" \
        "$tag tidytcp closes first: daytime sent its line and FIN first"
    if linux_time_wait "$port" 13; then
        bad "$tag tidytcp closes first: Linux's side is in TIME-WAIT, it should not be: $(in_ns ss -Htan "sport = :$port")"
    else
        ok "$tag tidytcp closes first: Linux's side closed without TIME-WAIT (tidytcp holds it)"
    fi
    run_client "$tag Linux resets mid-transfer (discard)" reset "$US" 9 4000000
    expect_log "$log" "^discard .*failed: connection reset by peer" \
        "$tag Linux resets mid-transfer: tidytcp reports the reset"
    run_client "$tag Linux resets while reading (chargen)" reset-reading "$US" 19 4000000
    expect_log "$log" "^chargen .*failed: connection reset by peer" \
        "$tag Linux resets while reading: tidytcp reports the reset"
    no_slot_left "$tag inetd"
}

echo "interop: building the examples (release)"
if ! cargo build --release --quiet --example inetd --example daytime --example http \
    --example iperf3; then
    bad "cargo build of the examples"
    exit 1
fi
scripts/netns.sh down
if ! scripts/netns.sh up; then
    bad "scripts/netns.sh up"
    exit 1
fi
TAP_MAC=$(in_ns cat /sys/class/net/tap0/address)
SECONDS=0

# ---------------------------------------------------------------- inetd, lossless
start inetd "$WORK/inetd.log" --msl 0.5 && {
    if in_ns ping -c 3 -i 0.2 -W 2 "$US" | grep -q ' 3 received'; then
        ok "ping -c 3 $US: 3 replies"
    else
        bad "ping -c 3 $US"
    fi
    if in_ns ip neigh show "$US" dev tap0 | grep -qi "lladdr $OUR_MAC"; then
        ok "Linux's ARP entry for $US is $OUR_MAC"
    else
        bad "Linux's ARP entry for $US: $(in_ns ip neigh show "$US" dev tap0)"
    fi
    if status | grep -qi "^arp $LINUX $TAP_MAC reachable"; then
        ok "tidytcp's ARP entry for $LINUX is $TAP_MAC (tap0)"
    else
        bad "tidytcp's ARP cache: $(status | grep '^arp' | tr '\n' ';')"
    fi
    inetd_transfers lossless $((256 << 20)) "$WORK/inetd.log" 65536
    stop
}

# ---------------------------------------------------------------- daytime client
ip netns exec "$NS" socat TCP-LISTEN:13,bind=$LINUX,fork,reuseaddr SYSTEM:date >/dev/null 2>&1 &
SOCAT=$!
PIDS+=("$SOCAT")
sleep 0.3
# daytime_checks TAG [OPTIONS...]: our daytime client against Linux's daytime server.
daytime_checks() {
    local tag=$1 line log="$WORK/daytime-$1.log"
    shift
    if in_ns timeout 60 "$BIN/daytime" --tap tap0 --ip "$US/24" --status 0 "$@" >"$log" 2>&1; then
        line=$(sed -n 's/^daytime: //p' "$log")
        if [ -n "$line" ] && [ "$(date -d "$line" 2>/dev/null)" = "$line" ]; then
            ok "$tag daytime client: got Linux's date line exactly: '$line'"
        else
            bad "$tag daytime client: got '$line'"
        fi
        expect_log "$log" 'received [0-9]+ bytes: ".*\\n"$' "$tag daytime client: read to the end of stream"
        expect_log "$log" "CLOSE-WAIT +CONNECTED \| CANT_RECV_MORE$" \
            "$tag daytime client: the server's FIN shows as CLOSE-WAIT, CANT_RECV_MORE"
        expect_log "$log" "^socket table once the protocol is done too \(slot freed\): 0 connection" \
            "$tag daytime client: closed tidily, slot freed"
    else
        bad "$tag daytime client exited with an error: $(tail -2 "$log" | tr '\n' ' ')"
    fi
}
daytime_checks lossless
daytime_checks faults --faults "loss=5%,dup=5%,reorder=5%,delay=1ms,seed=3"
kill "$SOCAT" 2>/dev/null

# ---------------------------------------------------------------- http
mkdir -p "$WORK/site"
head -c $((8 << 20)) /dev/urandom >"$WORK/site/big.bin"
echo '<!doctype html><p>tidytcp interop' >"$WORK/site/index.html"
http_checks() {
    local tag=$1 out want got
    want=$(sha256sum <"$WORK/site/big.bin" | cut -d' ' -f1)
    out=$(in_ns curl -sS --max-time 120 -o "$WORK/got.bin" -o "$WORK/got.html" \
        -w '%{http_code} %{size_download} %{num_connects}\n' \
        "http://$US/big.bin" "http://$US/")
    got=$(sha256sum <"$WORK/got.bin" | cut -d' ' -f1)
    if [ "$want" = "$got" ] && [ "$(sed -n 1p <<<"$out")" = "200 $((8 << 20)) 1" ]; then
        ok "$tag http: curl fetched 8 MiB, sha256 equal"
    else
        bad "$tag http: 8 MiB fetch: $out sha256 $got vs $want"
    fi
    if [ "$(sed -n 2p <<<"$out")" = "200 $(stat -c %s "$WORK/site/index.html") 0" ] && cmp -s "$WORK/got.html" "$WORK/site/index.html"; then
        ok "$tag http: second request on the same connection (keep-alive), right body"
    else
        bad "$tag http: keep-alive request: $(sed -n 2p <<<"$out")"
    fi
    # HTTP/1.0 keep-alive (RFC 9112 §9.3), as load generators use it: ApacheBench -k
    # reuses a connection only if the response says `Connection: keep-alive`, and
    # otherwise waits for a close that a persistent server never sends.
    out=$(in_ns timeout 60 ab -k -n 200 -c 10 -s 20 "http://$US/" 2>&1)
    if grep -q '^Complete requests: *200$' <<<"$out" && grep -q '^Failed requests: *0$' <<<"$out" &&
        grep -q '^Keep-Alive requests: *200$' <<<"$out"; then
        ok "$tag http: ab -k (HTTP/1.0 keep-alive): 200 requests on persistent connections"
    else
        bad "$tag http: ab -k: $(grep -E '^(Complete|Failed|Keep-Alive) requests|apr_' <<<"$out" | tr '\n' ' ')"
    fi
    out=$(in_ns curl -sS --max-time 60 "http://$US/bytes/3000000" | wc -c)
    [ "$out" = 3000000 ] && ok "$tag http: /bytes/3000000 has Content-Length framing right" ||
        bad "$tag http: /bytes/3000000 gave $out bytes"
    no_slot_left "$tag http"
}
start http "$WORK/http.log" --msl 0.5 --root "$WORK/site" && {
    http_checks lossless
    stop
}

# ---------------------------------------------------------------- iperf3 server
# iperf3_ok WHAT JSONFILE: exit status was 0, no error, receiver throughput > 0.
iperf3_ok() {
    local bps
    bps=$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
if j.get("error"): print("error:", j["error"]); sys.exit(1)
print(int(j["end"]["sum_received"]["bits_per_second"]))' "$2" 2>&1)
    if [ $? -eq 0 ] && [ "$bps" -gt 0 ] 2>/dev/null; then
        ok "$1: $((bps / 1000000)) Mbit/s"
    else
        bad "$1: $bps"
    fi
}
# iperf3_bad WHAT LOG: a Linux iperf3 client run against the tidytcp server failed;
# says so with the server's socket table and the end of its log LOG (a stalled
# connection and a refused one look different there).
iperf3_bad() {
    bad "$1: $(grep -m1 error "$WORK/iperf3.json")"
    status | sed 's/^/     status: /'
    tail -n 5 "$2" | sed 's/^/     log: /'
}
iperf3_server_checks() {
    local tag=$1 log=$2 args
    for args in "-t 2" "-t 2 -R" "-t 2 -P 4" "-t 2 -P 4 -R" "-n 64M" "-n 64M -R"; do
        # shellcheck disable=SC2086
        if in_ns timeout 60 iperf3 -c "$US" $args -J >"$WORK/iperf3.json" 2>&1; then
            iperf3_ok "$tag Linux iperf3 -c $args against tidytcp" "$WORK/iperf3.json"
        else
            iperf3_bad "$tag Linux iperf3 -c $args against tidytcp" "$log"
        fi
    done
}
start iperf3 "$WORK/iperf3-server.log" --msl 0.5 -s && {
    iperf3_server_checks lossless "$WORK/iperf3-server.log"
    stop
}

# ---------------------------------------------------------------- iperf3 client
iperf3_client_checks() {
    local tag=$1 args log lp rate
    for args in "-t 2" "-t 2 -R" "-t 2 -P 4" "-t 2 -P 4 -R"; do
        log="$WORK/iperf3-client-$tag${args// /}.log"
        ip netns exec "$NS" timeout 60 iperf3 -s -1 -B "$LINUX" >"$WORK/linux-iperf3-$tag${args// /}.log" 2>&1 &
        lp=$!
        PIDS+=("$lp")
        sleep 0.3
        # shellcheck disable=SC2086
        if in_ns timeout 60 "$BIN/iperf3" --tap tap0 --ip "$US/24" --status 0 ${2:-} -c "$LINUX" $args >"$log" 2>&1; then
            rate=$(grep -E '^\[SUM\] +0\.00-.*(receiver)' "$log" | head -1 | awk '{print $(NF-3), $(NF-2)}')
            if wait "$lp" && ! grep -qi error "$WORK/linux-iperf3-$tag${args// /}.log" && [ -n "$rate" ] &&
                ! grep -qE '^\[SUM\] +0\.00-.* 0\.0 Mbits/sec +receiver' "$log"; then
                ok "$tag tidytcp iperf3 -c $args against Linux iperf3 -s: $rate"
            else
                bad "$tag tidytcp iperf3 -c $args: Linux server: $(tail -1 "$WORK/linux-iperf3-$tag${args// /}.log")"
            fi
        else
            bad "$tag tidytcp iperf3 -c $args failed: $(tail -2 "$log" | tr '\n' ' ')"
            kill "$lp" 2>/dev/null
        fi
        wait "$lp" 2>/dev/null
    done
}
iperf3_client_checks lossless

# ---------------------------------------------------------------- through faults
FAULTS="loss=5%,dup=5%,reorder=5%,delay=1ms,seed=7"
iperf3_client_checks faults "--faults $FAULTS"
# Keep-alive finds connections whose peer's RST was lost (only a probe would tell).
start inetd "$WORK/inetd-faults.log" --msl 0.5 --keepalive 1 --faults "$FAULTS" && {
    inetd_transfers "faults" $((32 << 20)) "$WORK/inetd-faults.log" 16384
    stop
    grep -E '^faults' "$WORK/inetd-faults.log" | sed 's/^/     /'
}
start http "$WORK/http-faults.log" --msl 0.5 --root "$WORK/site" --faults "$FAULTS" && {
    http_checks faults
    stop
}
start iperf3 "$WORK/iperf3-faults.log" --msl 0.5 --faults "$FAULTS" -s && {
    for args in "-t 2" "-t 2 -R"; do
        # shellcheck disable=SC2086
        if in_ns timeout 60 iperf3 -c "$US" $args -J >"$WORK/iperf3.json" 2>&1; then
            iperf3_ok "faults Linux iperf3 -c $args against tidytcp" "$WORK/iperf3.json"
        else
            iperf3_bad "faults Linux iperf3 -c $args against tidytcp" "$WORK/iperf3-faults.log"
        fi
    done
    stop
}

# ---------------------------------------------------------------- embassy-net-driver bridge
# The same services through drivers::EmbassyDevice over embassy-net-tuntap (a driver
# nobody here wrote), the stack run by its async runner under a real executor.
EMB=examples/embassy-tuntap/target/release/embassy-tuntap
if (cd examples/embassy-tuntap && cargo build --release --quiet); then
    start "$EMB" "$WORK/embassy.log" && {
        if in_ns ping -c 3 -i 0.2 -W 2 "$US" | grep -q ' 3 received'; then
            ok "bridge: ping -c 3 $US: 3 replies"
        else
            bad "bridge: ping -c 3 $US"
        fi
        run_client "bridge: echo 16 MiB" echo "$US" 7 16777216
        run_client "bridge: discard 64 MiB" discard "$US" 9 67108864
        expect_log "$WORK/embassy.log" "^discard .*: in 67108864 out 0 bytes, peer closed first, closed" \
            "bridge: discard: tidytcp counted exactly 67108864 bytes, orderly close"
        run_client "bridge: chargen 64 MiB" chargen "$US" 19 67108864
        total=$(sed -n 's/^chargen_total=//p' <<<"$LAST_OUT")
        expect_log "$WORK/embassy.log" "^chargen .*: in 0 out ${total:-x} bytes, peer closed first, closed" \
            "bridge: chargen: Linux read exactly the ${total:-?} bytes tidytcp sent, orderly close"
        run_client "bridge: 50 concurrent echo connections" concurrent "$US" 7 50 65536
        for args in "-t 2" "-t 2 -R"; do
            # shellcheck disable=SC2086
            if in_ns timeout 60 iperf3 -c "$US" $args -J >"$WORK/iperf3.json" 2>&1; then
                iperf3_ok "bridge: Linux iperf3 -c $args against tidytcp" "$WORK/iperf3.json"
            else
                iperf3_bad "bridge: Linux iperf3 -c $args against tidytcp" "$WORK/embassy.log"
            fi
        done
        stop
    }
    # reqwless, an embedded-nal-async HTTP client, through TcpClient and the same bridge,
    # from Linux's python3 -m http.server.
    (cd "$WORK/site" && exec ip netns exec "$NS" python3 -m http.server 8000 --bind "$LINUX" \
        >"$WORK/pyhttp.log" 2>&1) &
    PYHTTP=$!
    PIDS+=("$PYHTTP")
    eventually in_ns bash -c "echo >/dev/tcp/$LINUX/8000" 2>/dev/null
    # The host name goes through reqwless's Dns, which is tidytcp's resolver, to dnsmasq.
    ip netns exec "$NS" dnsmasq --keep-in-foreground --port=53 --listen-address="$LINUX" \
        --bind-interfaces --no-resolv --no-hosts --address="/files.test/$LINUX" \
        >"$WORK/dnsmasq-bridge.log" 2>&1 &
    DNSMASQ=$!
    PIDS+=("$DNSMASQ")
    want=$(sha256sum <"$WORK/site/big.bin" | cut -d' ' -f1)
    if out=$(in_ns timeout 120 examples/embassy-tuntap/target/release/fetch --tap tap0 --ip "$US/24" \
        --dns "$LINUX" "http://files.test:8000/big.bin" "$WORK/reqwless.bin" 2>&1) &&
        [ "$(sha256sum <"$WORK/reqwless.bin" | cut -d' ' -f1)" = "$want" ]; then
        ok "bridge: reqwless fetched http://files.test:8000/ (8 MiB, name resolved by tidytcp through dnsmasq), sha256 equal ($out)"
    else
        bad "bridge: reqwless fetch: $out"
    fi
    kill "$PYHTTP" "$DNSMASQ" 2>/dev/null
else
    bad "cargo build of examples/embassy-tuntap"
fi

# ---------------------------------------------------------------- capture of a clean run
start inetd "$WORK/inetd-pcap.log" --msl 0.5 --pcap "$WORK/clean.pcap" && {
    client echo "$US" 7 1048576 >/dev/null
    client discard "$US" 9 4194304 >/dev/null
    client chargen "$US" 19 4194304 >/dev/null
    client concurrent "$US" 7 20 16384 >/dev/null
    client half-close "$US" 7 100000 >/dev/null
    client tidytcp-closes-first "$US" 13 >/dev/null
    client linux-closes-first "$US" 7 >/dev/null
    stop
    expert=$(tshark -r "$WORK/clean.pcap" -q -z expert 2>/dev/null)
    frames=$(tshark -r "$WORK/clean.pcap" 2>/dev/null | wc -l)
    anomalies=$(grep -iE 'malformed|unseen segment|not captured' <<<"$expert")
    if [ "$frames" -gt 1000 ] && [ -z "$anomalies" ]; then
        ok "pcap of a clean run: $frames frames, tshark finds nothing malformed, no unseen or missing segments"
    else
        bad "pcap of a clean run ($frames frames): $anomalies"
    fi
}

# ---------------------------------------------------------------- IPv6 (issue 20)
# Its own namespace (tt-ipv6): ping -6 to the link-local, static and SLAAC addresses, DAD.
if scripts/interop-ipv6.sh | sed 's/^/ipv6: /'; then
    ok "IPv6 checks (scripts/interop-ipv6.sh)"
else
    bad "IPv6 checks (scripts/interop-ipv6.sh)"
fi

# ---------------------------------------------------------------- 20 % loss, tidytcp sending
# Through the seeded fault relay (scripts/relay.sh, its own namespaces): chargen and
# echo with 20 % loss both ways must complete, echo byte for byte. No timing here; the
# figures are `scripts/relay.sh bench` (BENCHMARKS.md).
if cargo build --release --quiet --example relay; then
    while read -r line; do
        case $line in
            ok*) ok "${line#ok   }" ;;
            FAIL*) bad "${line#FAIL }" ;;
        esac
    done < <(SIZE=1048576 LIMIT=300 scripts/relay.sh check "1 2" 2>&1)
    scripts/relay.sh down
else
    bad "cargo build of the relay example"
fi

echo "interop: $PASSED passed, $FAILED failed in ${SECONDS}s"
[ "$FAILED" -eq 0 ]
