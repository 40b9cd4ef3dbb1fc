# Sourced by scripts/interop.sh, interop-dhcp.sh and interop-ipv6.sh after they set WORK
# (their log directory) and PIDS (an array of the background programs they start; a
# DNSMASQ variable is killed too): the check counters with `ok` and `bad`, the cleanup
# on exit (programs stopped, scripts/netns.sh's namespace down, the namespaces named in
# EXTRA_NS deleted, WORK removed unless KEEP is set), and `wait_for`.
PASSED=0
FAILED=0

ok() {
    echo "ok   $*"
    PASSED=$((PASSED + 1))
}

bad() {
    echo "FAIL $*"
    FAILED=$((FAILED + 1))
}

cleanup() {
    for p in "${PIDS[@]}" ${DNSMASQ:-}; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    scripts/netns.sh down
    for n in ${EXTRA_NS:-}; do
        ip netns delete "$n" 2>/dev/null
    done
    if [ -n "${KEEP:-}" ]; then
        echo "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# wait_for PATTERN FILE SECONDS: waits until FILE has a line matching PATTERN.
wait_for() {
    for _ in $(seq $(($3 * 10))); do
        grep -qE "$1" "$2" && return 0
        sleep 0.1
    done
    return 1
}
