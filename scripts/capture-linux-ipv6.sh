#!/usr/bin/env bash
# Captures Linux's and radvd's IPv6 control traffic on a veth pair between two private
# namespaces: MLDv2 reports, Duplicate Address Detection, Router Solicitation, radvd's
# Router Advertisements (prefix 2001:db8:1::/64, MTU 1480), SLAAC, address resolution
# and echo. The capture is the test vector of tests/wire_ipv6_linux.rs.
#
# Usage: scripts/capture-linux-ipv6.sh OUT.pcap   (root; needs iproute2, tcpdump, radvd,
#                                                  ping; takes about 15 s)
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUT.pcap}")
if [ "$(id -u)" != 0 ]; then echo "capture-linux-ipv6: needs root, skipped"; exit 0; fi
a=tt6a.$$ b=tt6b.$$ tmp=$(mktemp -d)
cleanup() {
    [ -f "$tmp/radvd.pid" ] && kill "$(cat "$tmp/radvd.pid")" 2>/dev/null || true
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add tt6va type veth peer name tt6vb
ip link set tt6va netns "$a"
ip link set tt6vb netns "$b"
ip netns exec "$a" sysctl -qw net.ipv6.conf.tt6va.disable_ipv6=0
ip netns exec "$b" sysctl -qw net.ipv6.conf.tt6vb.disable_ipv6=0 net.ipv6.conf.all.forwarding=1
ip -n "$a" link set tt6va address 02:00:00:00:00:0a
ip -n "$b" link set tt6vb address 02:00:00:00:00:0b
ip -n "$b" link set tt6vb up
ip -n "$b" addr add 2001:db8:1::b/64 dev tt6vb nodad
cat >"$tmp/radvd.conf" <<CONF
interface tt6vb {
  AdvSendAdvert on;
  MinRtrAdvInterval 3; MaxRtrAdvInterval 4;
  AdvLinkMTU 1480;
  AdvReachableTime 30000;
  prefix 2001:db8:1::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 86400; AdvPreferredLifetime 14400; };
};
CONF
ip netns exec "$b" timeout 20 tcpdump -i tt6vb -w "$out" -U ip6 >"$tmp/tcpdump.log" 2>&1 &
dump=$!
sleep 1.5
ip netns exec "$b" radvd -C "$tmp/radvd.conf" -p "$tmp/radvd.pid" -u root >"$tmp/radvd.log" 2>&1
sleep 0.5
ip -n "$a" link set tt6va up
ip -n "$a" addr add 2001:db8:1::a/64 dev tt6va
# Until the address SLAAC forms from radvd's prefix has passed DAD (an RA every 3-4 s,
# DAD 1 s), then ping from it, so that the capture holds a packet from that address
# whatever Linux's source-address choice.
slaac=2001:db8:1::ff:fe00:a
for _ in $(seq 100); do
    ip -n "$a" -6 addr show dev tt6va | grep "$slaac/" | grep -qv tentative && break
    sleep 0.1
done
ip netns exec "$a" ping -6 -c 2 -s 20 -i 0.3 fe80::ff:fe00:b%tt6va >/dev/null
ip netns exec "$a" ping -6 -c 2 -s 20 -i 0.3 -I "$slaac" 2001:db8:1::b >/dev/null
wait "$dump" || true
echo "capture-linux-ipv6: $(grep -o '^[0-9]* packets captured' "$tmp/tcpdump.log" || echo '?') in $out"
