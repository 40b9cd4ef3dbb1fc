//! The IPv4 side of an [`Interface`] (feature `proto-ipv4`): ARP (RFC 826) with its
//! cache and waiting queues, RFC 5227 announcements and conflict watch, IPv4 input and
//! output, ICMPv4 echo and errors.

use core::net::Ipv4Addr;

use super::Interface;
use crate::ip::arp_cache::{ArpCache, Lookup};
use crate::ip::{
    DropReason, IPV4_PAYLOAD_OFFSET, IcmpError, IcmpErrorKind, IfaceConfig, NeighborStatus,
    Received, Reply, bump,
};
use crate::log::net_log;
use crate::time::Instant;
use crate::wire::WireError;
use crate::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use crate::wire::ethernet::{self, EtherType, EthernetAddress, EthernetRepr};
use crate::wire::icmpv4::{DstUnreachableCode, Icmpv4Packet, Icmpv4Repr, QUOTED_PAYLOAD_LEN};
use crate::wire::ipv4::{self, IpProtocol, Ipv4Packet, Ipv4Repr};

/// Where a datagram goes on the link.
enum Hop {
    /// A fixed Ethernet address (broadcast, multicast): no ARP needed.
    Direct(EthernetAddress),
    /// A neighbour to resolve: the destination itself or the gateway.
    Neighbor(Ipv4Addr),
}

/// The IPv4 state of an interface.
#[derive(Clone, Debug)]
pub(crate) struct V4<const N: usize> {
    cache: ArpCache<N>,
    ident: u16,
    /// Gratuitous ARPs still to send, and when the next is due.
    announce_left: u8,
    announce_at: Instant,
    /// The last destination routed to a neighbour, that neighbour, and the cache slot it
    /// was found in (checked before use: the slot may have been reused since). Saves the
    /// route and the cache scan for the next segment to the same peer.
    memo: Option<(Ipv4Addr, Ipv4Addr, usize)>,
    /// An address being probed before use (RFC 5227), and whether ARP showed it taken.
    watch: Option<Ipv4Addr>,
    conflict: bool,
}

impl<const N: usize> V4<N> {
    pub(crate) fn new(config: &IfaceConfig) -> Self {
        let m = config.mac.0;
        V4 {
            cache: ArpCache::new(),
            // Any start will do for datagrams that are never fragmented (RFC 6864 §4.1);
            // the MAC's low bytes keep neighbours from all counting from zero.
            ident: u16::from_be_bytes([m[4], m[5]]),
            announce_left: config.arp.announcements,
            announce_at: Instant::ZERO,
            memo: None,
            watch: None,
            conflict: false,
        }
    }
}

impl<const N: usize> Interface<N> {
    /// A new configuration replaced `old`: a new Ethernet or IPv4 address flushes the
    /// ARP cache (entries with waiters stay) and announces the new address again.
    pub(super) fn reconfigure_v4(&mut self, now: Instant, old: &IfaceConfig) {
        self.v4.memo = None;
        if old.mac != self.config.mac || old.addr != self.config.addr {
            self.v4.cache.flush();
            self.announce(now);
        }
    }

    /// Writes an IPv4 reply (ARP or ICMPv4) to `buf`, sized by [`Reply::frame_len`].
    pub(super) fn emit_reply_v4(
        &mut self,
        reply: &Reply<'_>,
        buf: &mut [u8],
    ) -> Result<(), WireError> {
        let (mac, our) = (self.config.mac, self.address());
        match *reply {
            Reply::ArpReply { dst_mac, dst_ip } => {
                let arp = ArpRepr {
                    operation: ArpOperation::Reply,
                    source_hw: mac,
                    source_ip: our,
                    target_hw: dst_mac,
                    target_ip: dst_ip,
                };
                self.write_arp(buf, dst_mac, &arp)?;
                bump(&mut self.stats.arp_replies_sent);
            }
            Reply::ArpRequest { target, dst_mac } => {
                let arp = ArpRepr::request(mac, our, target);
                self.write_arp(buf, dst_mac, &arp)?;
                bump(&mut self.stats.arp_requests_sent);
            }
            Reply::ArpProbe { target } => {
                let arp = ArpRepr::request(mac, Ipv4Addr::UNSPECIFIED, target);
                self.write_arp(buf, EthernetAddress::BROADCAST, &arp)?;
                bump(&mut self.stats.arp_requests_sent);
            }
            Reply::GratuitousArp => {
                let arp = ArpRepr::request(mac, our, our);
                self.write_arp(buf, EthernetAddress::BROADCAST, &arp)?;
                bump(&mut self.stats.arp_announcements_sent);
            }
            Reply::EchoReply {
                dst_mac,
                dst_ip,
                ident,
                seq_no,
                data,
            } => {
                let icmp = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let at =
                    self.write_ipv4(buf, dst_mac, dst_ip, IpProtocol::Icmp, icmp.buffer_len())?;
                icmp.emit(buf.get_mut(at..).ok_or(WireError::Truncated)?)?;
                bump(&mut self.stats.echo_replies_sent);
            }
            #[cfg(feature = "proto-ipv6")]
            _ => return Err(WireError::Unsupported),
        }
        Ok(())
    }

    /// A token whose ARP neighbour has been resolved.
    pub(super) fn pop_resolved_v4(&mut self) -> Option<u32> {
        self.v4.cache.pop_resolved()
    }

    /// A token whose ARP neighbour could not be resolved by `now`.
    pub(super) fn pop_failed_v4(&mut self, now: Instant) -> Option<u32> {
        self.advance(now);
        self.v4.cache.pop_failed()
    }

    /// Every ARP neighbour resolved and no token waiting.
    #[inline]
    pub(super) fn v4_settled(&self) -> bool {
        self.v4.cache.is_calm()
    }

    /// Our IPv4 address.
    pub fn address(&self) -> Ipv4Addr {
        self.config.addr.address()
    }

    /// The ARP cache, for diagnostics.
    pub fn arp_cache(&self) -> &ArpCache<N> {
        &self.v4.cache
    }

    /// Watches ARP for `address` (RFC 5227 §2.1.1): a packet from it, or a probe for it
    /// from another host, is a conflict that [`Interface::take_conflict`] reports. `None`
    /// stops watching.
    pub fn watch_address(&mut self, address: Option<Ipv4Addr>) {
        if self.v4.watch != address {
            self.v4.watch = address;
            self.v4.conflict = false;
        }
    }

    /// Whether ARP showed the watched address in use since the last call.
    pub fn take_conflict(&mut self) -> bool {
        core::mem::take(&mut self.v4.conflict)
    }

    /// Schedules the gratuitous ARP announcements from `now`.
    pub(super) fn announce(&mut self, now: Instant) {
        self.v4.announce_left = self.config.arp.announcements;
        self.v4.announce_at = now;
    }

    /// What an ARP packet teaches about its sender, with Linux's states: a reply to us
    /// answers our request, so the path works (REACHABLE for the cache lifetime); a
    /// request or an announcement does not show that (its sender address may even be
    /// damaged on a link that passes bad frames), so a new address is used STALE and
    /// re-confirmed after the probe delay, as RFC 4861 §7.2.3 has it for NDP. Returns
    /// false when the table had no room.
    fn learn_arp(
        &mut self,
        now: Instant,
        answer: bool,
        ip: Ipv4Addr,
        mac: EthernetAddress,
    ) -> bool {
        if answer {
            let ttl = self.config.arp.cache_ttl;
            self.v4.cache.insert(now, ip, mac, ttl)
        } else {
            self.v4.cache.learn_stale(now, ip, mac)
        }
    }

    /// RFC 826, "Packet Reception".
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    pub(super) fn receive_arp<'f>(&mut self, now: Instant, payload: &'f [u8]) -> Received<'f> {
        bump(&mut self.stats.arp_in);
        let arp = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(arp) => arp,
            Err(WireError::Truncated) => return self.drop(DropReason::Truncated),
            Err(_) => return self.drop(DropReason::ArpUnsupported),
        };
        let sip = arp.source_ip;
        if let Some(w) = self.v4.watch {
            // RFC 5227 §2.1.1: the address is in use, or another host probes for it.
            let other = arp.source_hw != self.config.mac;
            if other && (sip == w || (sip.is_unspecified() && arp.target_ip == w)) {
                self.v4.conflict = true;
                bump(&mut self.stats.probe_conflicts);
            }
        }
        if !arp.source_hw.is_unicast() || sip.is_multicast() || self.is_broadcast_addr(sip) {
            return self.drop(DropReason::ArpBadSender);
        }
        let our = self.address();
        if sip == our {
            return self.drop(DropReason::ArpConflict);
        }
        // Merge: if the sender is in the table, update its address.
        let learnable = self.is_neighbor_addr(sip);
        let answer = arp.operation == ArpOperation::Reply && arp.target_ip == our;
        let known = learnable && self.v4.cache.get(sip).is_some();
        if known {
            self.learn_arp(now, answer, sip, arp.source_hw);
        }
        // Am I the target?
        if arp.target_ip != our {
            return Received::Handled;
        }
        if learnable && !known && !self.learn_arp(now, answer, sip, arp.source_hw) {
            bump(&mut self.stats.arp_cache_full);
        }
        match arp.operation {
            ArpOperation::Request => {
                bump(&mut self.stats.arp_requests_for_us);
                Received::Reply(Reply::ArpReply {
                    dst_mac: arp.source_hw,
                    dst_ip: sip,
                })
            }
            ArpOperation::Reply => Received::Handled,
        }
    }

    pub(super) fn receive_ipv4<'f>(
        &mut self,
        src_mac: EthernetAddress,
        payload: &'f [u8],
    ) -> Received<'f> {
        bump(&mut self.stats.ipv4_in);
        let packet = match Ipv4Packet::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.drop(ipv4_drop_reason(e, payload)),
        };
        if !self.config.checksum.rx_verified && !packet.checksum_valid() {
            return self.drop(DropReason::BadChecksum);
        }
        let dst = packet.dst_addr();
        let broadcast = self.is_broadcast_addr(dst);
        if dst != self.address() && !broadcast {
            return self.drop(DropReason::NotOurAddress);
        }
        let src = packet.src_addr();
        let from_self = src_mac == self.config.mac && src == self.address();
        if !from_self && !self.is_valid_source(src) {
            return self.drop(DropReason::BadSrcAddr);
        }
        if packet.is_fragment() {
            return self.drop(DropReason::Fragment);
        }
        match packet.protocol() {
            IpProtocol::Tcp if broadcast => self.drop(DropReason::TcpNotUnicast),
            IpProtocol::Tcp => {
                bump(&mut self.stats.tcp_in);
                Received::Tcp {
                    src,
                    dst,
                    payload: packet.payload(),
                }
            }
            IpProtocol::Icmp => self.receive_icmp(src_mac, src, broadcast, packet.payload()),
            #[cfg(any(feature = "dhcpv4", feature = "dns"))]
            IpProtocol::Udp => {
                bump(&mut self.stats.udp_in);
                Received::Udp {
                    src_mac,
                    src,
                    dst,
                    payload: packet.payload(),
                }
            }
            _ => self.drop(DropReason::UnknownProtocol),
        }
    }

    fn receive_icmp<'f>(
        &mut self,
        src_mac: EthernetAddress,
        src: Ipv4Addr,
        broadcast: bool,
        payload: &'f [u8],
    ) -> Received<'f> {
        bump(&mut self.stats.icmp_in);
        let repr = match Icmpv4Packet::new_checked(payload).and_then(|p| Icmpv4Repr::parse(&p)) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => return self.drop(DropReason::IcmpBadChecksum),
            Err(_) => return self.drop(DropReason::IcmpMalformed),
        };
        let kind = match repr {
            // RFC 1122 §3.2.2.6: reply with the same data.
            Icmpv4Repr::EchoRequest { .. } if broadcast => {
                return self.drop(DropReason::EchoBroadcast);
            }
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                bump(&mut self.stats.echo_requests_in);
                return Received::Reply(Reply::EchoReply {
                    dst_mac: src_mac,
                    dst_ip: src,
                    ident,
                    seq_no,
                    data,
                });
            }
            Icmpv4Repr::DstUnreachable { code, .. } => IcmpErrorKind::DstUnreachable(code),
            Icmpv4Repr::TimeExceeded { code, .. } => IcmpErrorKind::TimeExceeded(code),
            Icmpv4Repr::ParamProblem { pointer, .. } => IcmpErrorKind::ParamProblem(pointer),
            Icmpv4Repr::EchoReply { .. } | Icmpv4Repr::Other { .. } => {
                return self.drop(DropReason::IcmpIgnored);
            }
        };
        let next_hop_mtu = match repr {
            Icmpv4Repr::DstUnreachable {
                code: DstUnreachableCode::FragNeeded,
                next_hop_mtu,
                ..
            } => next_hop_mtu,
            _ => 0,
        };
        // RFC 1122 §3.2.2: pass the error to the transport protocol of the quoted
        // datagram, which must be one we sent.
        let Some((quoted, rest)) = repr.quoted() else {
            return self.drop(DropReason::IcmpMalformed);
        };
        if broadcast || quoted.src != self.address() {
            return self.drop(DropReason::IcmpErrorNotOurs);
        }
        let Some(payload_head) = rest
            .get(..QUOTED_PAYLOAD_LEN)
            .and_then(|h| <[u8; 8]>::try_from(h).ok())
        else {
            return self.drop(DropReason::IcmpMalformed);
        };
        bump(&mut self.stats.icmp_errors_in);
        Received::IcmpError(IcmpError {
            kind,
            next_hop_mtu,
            reporter: src,
            src: quoted.src,
            dst: quoted.dst,
            protocol: quoted.protocol,
            payload_head,
        })
    }

    /// Limited broadcast or our subnet's directed broadcast.
    fn is_broadcast_addr(&self, ip: Ipv4Addr) -> bool {
        ip.is_broadcast() || self.config.addr.broadcast() == Some(ip)
    }

    /// A source a datagram may come from (RFC 1122 §3.2.1.3).
    fn is_valid_source(&self, ip: Ipv4Addr) -> bool {
        !(ip.is_unspecified()
            || ip.is_multicast()
            || ip.is_loopback()
            || self.is_broadcast_addr(ip)
            || ip == self.address())
    }

    /// An address whose ARP mapping we keep: a valid source on our subnet, or the
    /// gateway.
    fn is_neighbor_addr(&self, ip: Ipv4Addr) -> bool {
        self.is_valid_source(ip)
            && (self.config.addr.contains(ip) || self.config.gateway == Some(ip))
    }

    fn write_arp(
        &self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        arp: &ArpRepr,
    ) -> Result<(), WireError> {
        let eth = EthernetRepr {
            src: self.config.mac,
            dst: dst_mac,
            ethertype: EtherType::Arp,
        };
        let at = eth.emit(buf)?;
        arp.emit(buf.get_mut(at..).ok_or(WireError::Truncated)?)?;
        Ok(())
    }

    pub(super) fn poll_transmit_v4(&mut self, now: Instant) -> Option<Reply<'static>> {
        if self.v4.announce_left == 0 && self.v4.cache.is_calm() {
            return None;
        }
        self.advance(now);
        let arp = self.config.arp;
        if self.v4.announce_left > 0 && self.v4.announce_at <= now {
            self.v4.announce_left -= 1;
            self.v4.announce_at = now + arp.request_interval;
            if !self.address().is_unspecified() {
                return Some(Reply::GratuitousArp);
            }
        }
        self.v4
            .cache
            .due_request(now, arp.request_interval, arp.max_retries)
            .map(|(target, dst_mac)| Reply::ArpRequest { target, dst_mac })
    }

    fn next_hop(&self, dst: Ipv4Addr) -> Result<Hop, NeighborStatus> {
        let cidr = self.config.addr;
        if dst == cidr.address() && !dst.is_unspecified() {
            // To ourselves: only a loopback device carries it back.
            return Ok(Hop::Direct(self.config.mac));
        }
        if dst.is_unspecified() || dst.is_loopback() {
            return Err(NeighborStatus::NoRoute);
        }
        if self.is_broadcast_addr(dst) {
            return Ok(Hop::Direct(EthernetAddress::BROADCAST));
        }
        if dst.is_multicast() {
            // RFC 1112 §6.4: 01:00:5e and the low 23 bits of the group.
            let o = dst.octets();
            return Ok(Hop::Direct(EthernetAddress([
                0x01,
                0x00,
                0x5e,
                o[1] & 0x7f,
                o[2],
                o[3],
            ])));
        }
        if cidr.contains(dst) {
            return Ok(Hop::Neighbor(dst));
        }
        self.config
            .gateway
            .map(Hop::Neighbor)
            .ok_or(NeighborStatus::NoRoute)
    }

    /// The Ethernet address to send a datagram for `dst` to: that of `dst` on the local
    /// subnet, otherwise that of the gateway. Broadcast and multicast destinations map
    /// directly.
    ///
    /// On a cache miss this starts resolution (the first ARP request becomes due at once,
    /// see [`Interface::poll_transmit`]) and returns [`NeighborStatus::Pending`]; queue a
    /// token with [`Interface::wait_for`] to be told when to retry. A stale entry is
    /// still returned while it is re-requested.
    pub fn lookup(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
    ) -> Result<EthernetAddress, NeighborStatus> {
        // The destination of the last lookup, still fresh in its slot: when every entry
        // is resolved (`advance` has nothing to expire) that is the answer below.
        if let Some((d, ip, at)) = self.v4.memo {
            if d == dst && self.v4.cache.is_calm() {
                if let Some(mac) = self.v4.cache.fresh_at(now, ip, at) {
                    bump(&mut self.stats.arp_hits);
                    return Ok(mac);
                }
            }
        }
        self.advance(now);
        let (ip, hint) = match self.neighbor_hop(dst) {
            Ok(Ok(hop)) => hop,
            Ok(Err(mac)) => return Ok(mac),
            Err(e) => {
                bump(&mut self.stats.no_route);
                return Err(e);
            }
        };
        let delay = self.config.arp.probe_delay;
        let (found, at) = self.v4.cache.lookup_hinted(now, ip, hint, delay);
        if let Some(at) = at {
            self.v4.memo = Some((dst, ip, at));
        }
        match found {
            Lookup::Found(mac) => {
                bump(&mut self.stats.arp_hits);
                Ok(mac)
            }
            Lookup::Pending => {
                bump(&mut self.stats.arp_misses);
                Err(NeighborStatus::Pending)
            }
            Lookup::Failed => {
                bump(&mut self.stats.arp_misses);
                Err(NeighborStatus::Failed)
            }
            Lookup::Missing => {
                bump(&mut self.stats.arp_misses);
                if !self.v4.cache.start(now, ip) {
                    bump(&mut self.stats.arp_cache_full);
                }
                Err(NeighborStatus::Pending)
            }
        }
    }

    /// Higher-layer advice (RFC 1122 §2.3.2.1): traffic from `peer` shows the path works,
    /// so the next hop's entry is kept fresh without re-probing it. TCP calls this when a
    /// peer acknowledges new data.
    pub fn confirm_reachable(&mut self, now: Instant, peer: Ipv4Addr) {
        if let Ok(Ok((ip, hint))) = self.neighbor_hop(peer) {
            let ttl = self.config.arp.cache_ttl;
            self.v4.cache.confirm_hinted(now, ip, ttl, hint);
        }
    }

    /// The neighbour to resolve for `dst` and the cache slot it was last found in
    /// (`Ok(Ok(..))`), or the fixed address that needs no ARP (`Ok(Err(mac))`).
    #[inline]
    fn neighbor_hop(
        &self,
        dst: Ipv4Addr,
    ) -> Result<Result<(Ipv4Addr, Option<usize>), EthernetAddress>, NeighborStatus> {
        if let Some((d, hop, at)) = self.v4.memo {
            if d == dst {
                return Ok(Ok((hop, Some(at))));
            }
        }
        match self.next_hop(dst)? {
            Hop::Neighbor(ip) => Ok(Ok((ip, None))),
            Hop::Direct(mac) => Ok(Err(mac)),
        }
    }

    /// Queues `token` until the next hop for `dst` is resolved
    /// ([`Interface::poll_resolved`]) or fails ([`Interface::poll_failed`]), starting
    /// resolution if needed; if the neighbour is already resolved (or failed) the token
    /// comes back at the next poll. Returns false, and queues nothing, when there is no route,
    /// no ARP is needed, the cache has no room, or the neighbour already holds
    /// [`MAX_WAITERS`](crate::ip::MAX_WAITERS) tokens (counted in `queue_full`). A token
    /// already queued for the neighbour is not queued twice.
    pub fn wait_for(&mut self, now: Instant, dst: Ipv4Addr, token: u32) -> bool {
        self.advance(now);
        let Ok(Hop::Neighbor(ip)) = self.next_hop(dst) else {
            return false;
        };
        if !self.v4.cache.start(now, ip) {
            bump(&mut self.stats.arp_cache_full);
            return false;
        }
        if self.v4.cache.add_waiter(ip, token).is_err() {
            bump(&mut self.stats.queue_full);
            return false;
        }
        true
    }

    /// Nothing for [`Interface::poll_transmit`] to send: no announcement left and every
    /// neighbour resolved. O(1), for the poll loop.
    #[inline]
    pub fn transmit_idle(&self) -> bool {
        self.v4.announce_left == 0 && self.v4.cache.is_calm()
    }

    pub(super) fn poll_at_v4(&self) -> Option<Instant> {
        if self.v4.announce_left == 0 && self.v4.cache.is_calm() {
            return None;
        }
        if self.v4.cache.has_ready_waiters() {
            return Some(Instant::ZERO);
        }
        let announce = (self.v4.announce_left > 0).then_some(self.v4.announce_at);
        match (announce, self.v4.cache.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Marks unanswered neighbours failed.
    fn advance(&mut self, now: Instant) {
        let arp = self.config.arp;
        let failed = self.v4.cache.expire(now, arp.max_retries, arp.failed_hold);
        if failed > 0 {
            net_log!(
                warn,
                "ARP: {} neighbour(s) did not answer; waiting packets dropped",
                failed
            );
        }
        self.stats.resolution_failures = self.stats.resolution_failures.wrapping_add(failed);
    }

    /// Writes the Ethernet header (to `dst_mac`) and a 20-byte IPv4 header (from our
    /// address to `dst`; TTL from the configuration; a fresh identification; DF set; the
    /// checksum unless the device computes it) to the front of `buf`, and returns the
    /// offset of the payload, [`IPV4_PAYLOAD_OFFSET`]. `buf` must hold the whole frame,
    /// [`ipv4_frame_len(payload_len)`](crate::ip::ipv4_frame_len) bytes; the caller writes
    /// the `payload_len` bytes of payload after the headers.
    pub fn emit_ipv4(
        &mut self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
    ) -> Result<usize, WireError> {
        let at = self.write_ipv4(buf, dst_mac, dst, protocol, payload_len)?;
        bump(&mut self.stats.frames_out);
        Ok(at)
    }

    fn write_ipv4(
        &mut self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
    ) -> Result<usize, WireError> {
        if payload_len > ipv4::MAX_PACKET_LEN - ipv4::HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if buf.len() < IPV4_PAYLOAD_OFFSET + payload_len {
            return Err(WireError::Truncated);
        }
        let eth = EthernetRepr {
            src: self.config.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        };
        eth.emit(buf)?;
        let ip = Ipv4Repr {
            src: self.address(),
            dst,
            protocol,
            payload_len,
            ttl: self.config.ttl,
            ident: self.v4.ident,
            dont_frag: true,
        };
        let out = buf
            .get_mut(ethernet::HEADER_LEN..)
            .ok_or(WireError::Truncated)?;
        if self.config.checksum.tx_ipv4 {
            ip.emit_no_checksum(out)?;
        } else {
            ip.emit(out)?;
        }
        self.v4.ident = self.v4.ident.wrapping_add(1);
        Ok(IPV4_PAYLOAD_OFFSET)
    }
}

/// Maps an IPv4 view error to the counter it belongs to, as 4.4BSD's `ip_input` does.
fn ipv4_drop_reason(e: WireError, buf: &[u8]) -> DropReason {
    let header_len = buf.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    match e {
        WireError::Unsupported => DropReason::BadVersion,
        WireError::Malformed if header_len < ipv4::HEADER_LEN => DropReason::BadHeaderLen,
        WireError::Malformed => DropReason::BadTotalLen,
        WireError::Truncated if buf.len() >= ipv4::HEADER_LEN && header_len > buf.len() => {
            DropReason::BadHeaderLen
        }
        WireError::Truncated => DropReason::Truncated,
        WireError::BadChecksum => DropReason::BadChecksum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::{ArpConfig, IpStats, NeighborState};
    use crate::time::Duration;
    use crate::wire::checksum::checksum;
    use crate::wire::ethernet::EthernetFrame;
    use crate::wire::icmpv4::{Icmpv4Packet, QuotedIpv4, vectors};
    use proptest::prelude::*;
    use std::vec::Vec;

    const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
    const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);
    const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
    const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
    const GW_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 254);
    const FAR_IP: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);
    const SUBNET_BCAST: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 255);

    /// IPv4 only: these tests count its frames (IPv6 has tests of its own).
    fn config() -> IfaceConfig {
        #[allow(unused_mut)]
        let mut c = IfaceConfig::new(OUR_MAC, "10.7.0.2/24".parse().unwrap()).with_gateway(GW_IP);
        #[cfg(feature = "proto-ipv6")]
        {
            c.ipv6.enabled = false;
        }
        c
    }

    fn iface() -> Interface<4> {
        Interface::new(config())
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn eth(
        dst: EthernetAddress,
        src: EthernetAddress,
        ethertype: EtherType,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut f = std::vec![0u8; 14];
        EthernetRepr {
            src,
            dst,
            ethertype,
        }
        .emit(&mut f)
        .unwrap();
        f.extend_from_slice(payload);
        f
    }

    fn arp_frame(op: ArpOperation, sha: EthernetAddress, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        let arp = ArpRepr {
            operation: op,
            source_hw: sha,
            source_ip: spa,
            target_hw: if op == ArpOperation::Reply {
                OUR_MAC
            } else {
                EthernetAddress::ZERO
            },
            target_ip: tpa,
        };
        let mut p = [0u8; 28];
        arp.emit(&mut p).unwrap();
        let dst = if op == ArpOperation::Reply {
            OUR_MAC
        } else {
            EthernetAddress::BROADCAST
        };
        eth(dst, sha, EtherType::Arp, &p)
    }

    fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src,
            dst,
            protocol,
            payload_len: payload.len(),
            ttl: 64,
            ident: 1,
            dont_frag: true,
        };
        let mut p = std::vec![0u8; 20];
        repr.emit(&mut p).unwrap();
        p.extend_from_slice(payload);
        p
    }

    fn ip_frame(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
        let eth_dst = if dst == OUR_IP {
            OUR_MAC
        } else {
            EthernetAddress::BROADCAST
        };
        eth(
            eth_dst,
            PEER_MAC,
            EtherType::Ipv4,
            &ip_packet(src, dst, protocol, payload),
        )
    }

    fn icmp_frame(src: Ipv4Addr, dst: Ipv4Addr, icmp: &Icmpv4Repr<'_>) -> Vec<u8> {
        let mut p = std::vec![0u8; icmp.buffer_len()];
        icmp.emit(&mut p).unwrap();
        ip_frame(src, dst, IpProtocol::Icmp, &p)
    }

    /// Re-computes the IPv4 header checksum of a frame after a test edited the header.
    fn fix_ip_checksum(f: &mut [u8]) {
        let hlen = usize::from(f[14] & 0x0f) * 4;
        f[24] = 0;
        f[25] = 0;
        let c = checksum(&f[14..14 + hlen]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }

    fn emit(iface: &mut Interface<4>, reply: &Reply<'_>) -> Vec<u8> {
        let mut buf = std::vec![0u8; reply.frame_len()];
        assert_eq!(iface.emit_reply(reply, &mut buf), Ok(buf.len()));
        buf
    }

    fn resolve_peer(iface: &mut Interface<4>, now: Instant) {
        let f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        assert!(matches!(iface.receive(now, &f), Received::Reply(_)));
    }

    // ----- ARP ---------------------------------------------------------------------

    #[test]
    fn arp_request_for_us_is_answered_and_learnt() {
        let mut i = iface();
        let f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        let r = i.receive(t(0), &f);
        let Received::Reply(reply) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            reply,
            Reply::ArpReply {
                dst_mac: PEER_MAC,
                dst_ip: PEER_IP
            }
        );
        let out = emit(&mut i, &reply);
        assert_eq!(out.len(), 42);
        let e = EthernetFrame::new_checked(&out).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.ethertype()),
            (PEER_MAC, OUR_MAC, EtherType::Arp)
        );
        let arp = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
        assert_eq!(
            arp,
            ArpRepr {
                operation: ArpOperation::Reply,
                source_hw: OUR_MAC,
                source_ip: OUR_IP,
                target_hw: PEER_MAC,
                target_ip: PEER_IP,
            }
        );
        // RFC 826: the requester was added because we were the target.
        assert_eq!(i.lookup(t(1), PEER_IP), Ok(PEER_MAC));
        let s = i.stats();
        assert_eq!(
            (
                s.arp_in,
                s.arp_requests_for_us,
                s.arp_replies_sent,
                s.arp_hits
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn arp_for_others_only_updates_known_senders() {
        let mut i = iface();
        let other = Ipv4Addr::new(10, 7, 0, 9);
        let f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, other);
        assert_eq!(i.receive(t(0), &f), Received::Handled);
        assert!(i.arp_cache().is_empty());
        // Known sender: the merge step updates it even though we are not the target.
        resolve_peer(&mut i, t(0));
        let moved = EthernetAddress([0x02, 0, 0, 0, 0, 0x22]);
        let f = arp_frame(ArpOperation::Request, moved, PEER_IP, other);
        assert_eq!(i.receive(t(1), &f), Received::Handled);
        assert_eq!(i.lookup(t(1), PEER_IP), Ok(moved));
    }

    /// Linux's states for what ARP teaches: a request's sender address is used STALE
    /// (re-confirmed before long), a reply to us is REACHABLE for the cache lifetime.
    #[test]
    fn arp_requests_teach_stale_addresses_replies_fresh_ones() {
        let mut i = iface();
        resolve_peer(&mut i, t(0));
        assert!(matches!(
            i.arp_cache().get(PEER_IP),
            Some(NeighborState::Reachable { expires_at, .. }) if expires_at == t(0)
        ));
        let f = arp_frame(ArpOperation::Reply, PEER_MAC, PEER_IP, OUR_IP);
        assert_eq!(i.receive(t(1), &f), Received::Handled);
        assert!(matches!(
            i.arp_cache().get(PEER_IP),
            Some(NeighborState::Reachable { expires_at, .. }) if expires_at > t(1)
        ));
        // A request from a new address (moved, or damaged on the way): used, but not
        // made fresh by TCP's advice about frames sent to the old one.
        let moved = EthernetAddress([0x02, 0, 0, 0, 0, 0x22]);
        let f = arp_frame(ArpOperation::Request, moved, PEER_IP, OUR_IP);
        assert!(matches!(i.receive(t(2), &f), Received::Reply(_)));
        i.confirm_reachable(t(2), PEER_IP);
        assert_eq!(i.lookup(t(2), PEER_IP), Ok(moved));
        assert!(matches!(
            i.arp_cache().get(PEER_IP),
            Some(NeighborState::Probing { mac, .. }) if mac == moved
        ));
    }

    #[test]
    fn arp_bad_senders_and_conflicts() {
        let mut i = iface();
        let f = arp_frame(ArpOperation::Request, PEER_MAC, OUR_IP, OUR_IP);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::ArpConflict)
        );
        let f = arp_frame(ArpOperation::Request, PEER_MAC, SUBNET_BCAST, OUR_IP);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::ArpBadSender)
        );
        let mut f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        f[22] = 0x01; // sender hardware address multicast
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::ArpBadSender)
        );
        let mut f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        f[16] = 0x86; // protocol type IPv6
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::ArpUnsupported)
        );
        let f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        assert_eq!(
            i.receive(t(0), &f[..41]),
            Received::Dropped(DropReason::Truncated)
        );
        // An RFC 5227 probe (sender 0.0.0.0) for our address is answered, not learnt.
        let f = arp_frame(
            ArpOperation::Request,
            PEER_MAC,
            Ipv4Addr::UNSPECIFIED,
            OUR_IP,
        );
        assert_eq!(
            i.receive(t(0), &f),
            Received::Reply(Reply::ArpReply {
                dst_mac: PEER_MAC,
                dst_ip: Ipv4Addr::UNSPECIFIED
            })
        );
        assert!(i.arp_cache().is_empty());
        let s = i.stats();
        assert_eq!(
            (
                s.arp_conflict,
                s.arp_bad_sender,
                s.arp_unsupported,
                s.truncated
            ),
            (1, 2, 1, 1)
        );
    }

    #[test]
    fn announces_then_requests_at_the_configured_rate() {
        let mut i = iface();
        assert_eq!(i.poll_at(), Some(Instant::ZERO));
        assert_eq!(i.lookup(t(0), PEER_IP), Err(NeighborStatus::Pending));
        assert!(i.wait_for(t(0), PEER_IP, 7));
        // Two announcements a second apart; the first request at once.
        assert_eq!(i.poll_transmit(t(0)), Some(Reply::GratuitousArp));
        assert_eq!(
            i.poll_transmit(t(0)),
            Some(Reply::ArpRequest {
                target: PEER_IP,
                dst_mac: EthernetAddress::BROADCAST
            })
        );
        assert_eq!(i.poll_transmit(t(0)), None);
        assert_eq!(i.poll_at(), Some(t(1000)));
        assert_eq!(i.poll_transmit(t(999)), None);
        assert_eq!(i.lookup(t(500), PEER_IP), Err(NeighborStatus::Pending));
        assert_eq!(i.poll_transmit(t(500)), None); // no second request within the interval
        assert_eq!(i.poll_transmit(t(1000)), Some(Reply::GratuitousArp));
        assert_eq!(
            i.poll_transmit(t(1000)),
            Some(Reply::ArpRequest {
                target: PEER_IP,
                dst_mac: EthernetAddress::BROADCAST
            })
        );
        assert_eq!(
            i.poll_transmit(t(2000)),
            Some(Reply::ArpRequest {
                target: PEER_IP,
                dst_mac: EthernetAddress::BROADCAST
            })
        );
        assert_eq!(i.poll_transmit(t(2500)), None);
        assert_eq!(i.poll_failed(t(2999)), None);
        // No answer to the third: failed, and the waiter is told.
        assert_eq!(i.poll_at(), Some(t(3000)));
        assert_eq!(i.poll_failed(t(3000)), Some(7));
        assert_eq!(i.poll_failed(t(3000)), None);
        assert_eq!(i.poll_resolved(), None);
        assert_eq!(i.stats().resolution_failures, 1);
        assert_eq!(i.poll_at(), None);
        // Failed neighbours fail fast, without requests, for the hold time.
        assert_eq!(i.lookup(t(4000), PEER_IP), Err(NeighborStatus::Failed));
        assert_eq!(i.poll_transmit(t(4000)), None);
        assert!(i.wait_for(t(4000), PEER_IP, 8));
        assert_eq!(i.poll_at(), Some(Instant::ZERO));
        assert_eq!(i.poll_failed(t(4000)), Some(8));
        // Then resolution starts over.
        assert_eq!(i.lookup(t(23_000), PEER_IP), Err(NeighborStatus::Pending));
        assert_eq!(
            i.poll_transmit(t(23_000)),
            Some(Reply::ArpRequest {
                target: PEER_IP,
                dst_mac: EthernetAddress::BROADCAST
            })
        );
        // The emitted request is a broadcast who-has from us.
        let out = emit(
            &mut i,
            &Reply::ArpRequest {
                target: PEER_IP,
                dst_mac: EthernetAddress::BROADCAST,
            },
        );
        let e = EthernetFrame::new_checked(&out).unwrap();
        assert_eq!(e.dst(), EthernetAddress::BROADCAST);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
        assert_eq!(arp, ArpRepr::request(OUR_MAC, OUR_IP, PEER_IP));
        let out = emit(&mut i, &Reply::GratuitousArp);
        let e = EthernetFrame::new_checked(&out).unwrap();
        let arp = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
        assert_eq!(arp, ArpRepr::request(OUR_MAC, OUR_IP, OUR_IP));
        assert_eq!(i.stats().arp_requests_sent, 1);
        assert_eq!(i.stats().arp_announcements_sent, 1);
    }

    #[test]
    fn up_announces_again() {
        let mut i = iface();
        i.config.arp = ArpConfig {
            announcements: 1,
            ..ArpConfig::new()
        };
        i.up(t(0));
        assert_eq!(i.poll_transmit(t(0)), Some(Reply::GratuitousArp));
        assert_eq!(i.poll_transmit(t(5000)), None);
        i.up(t(6000));
        assert_eq!(i.poll_at(), Some(t(6000)));
        assert_eq!(i.poll_transmit(t(6000)), Some(Reply::GratuitousArp));
    }

    #[test]
    fn waiters_bounded_and_released_by_reply() {
        let mut i = iface();
        assert_eq!(i.lookup(t(0), PEER_IP), Err(NeighborStatus::Pending));
        for tok in 0..4 {
            assert!(i.wait_for(t(0), PEER_IP, tok));
        }
        assert!(i.wait_for(t(0), PEER_IP, 2)); // already queued
        assert!(!i.wait_for(t(0), PEER_IP, 4));
        assert_eq!(i.stats().queue_full, 1);
        assert_eq!(i.poll_resolved(), None);
        let f = arp_frame(ArpOperation::Reply, PEER_MAC, PEER_IP, OUR_IP);
        assert_eq!(i.receive(t(100), &f), Received::Handled);
        assert_eq!(i.poll_at(), Some(Instant::ZERO));
        let got: Vec<u32> = core::iter::from_fn(|| i.poll_resolved()).collect();
        assert_eq!(got, [0, 1, 2, 3]);
        assert_eq!(i.lookup(t(100), PEER_IP), Ok(PEER_MAC));
        assert_eq!(i.poll_failed(t(10_000)), None);
        // Nothing to route to: no queueing.
        assert!(!i.wait_for(t(0), OUR_IP, 1));
        assert!(!i.wait_for(t(0), Ipv4Addr::BROADCAST, 1));
    }

    #[test]
    fn stale_entries_are_used_while_re_requested() {
        let mut i = iface();
        resolve_peer(&mut i, t(0));
        // The two announcements.
        assert_eq!(i.poll_transmit(t(0)), Some(Reply::GratuitousArp));
        assert_eq!(i.poll_transmit(t(1000)), Some(Reply::GratuitousArp));
        // Stale: still used, and re-requested once the probe delay has passed without
        // advice, from the address last learnt.
        assert_eq!(i.lookup(t(60_000), PEER_IP), Ok(PEER_MAC));
        assert_eq!(i.poll_transmit(t(60_000)), None);
        assert_eq!(i.poll_at(), Some(t(65_000)));
        let probe = Reply::ArpRequest {
            target: PEER_IP,
            dst_mac: PEER_MAC,
        };
        assert_eq!(i.poll_transmit(t(65_000)), Some(probe));
        let out = emit(&mut i, &probe);
        let e = EthernetFrame::new_checked(&out).unwrap();
        assert_eq!(e.dst(), PEER_MAC);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
        assert_eq!(arp, ArpRepr::request(OUR_MAC, OUR_IP, PEER_IP));
        let f = arp_frame(ArpOperation::Reply, PEER_MAC, PEER_IP, OUR_IP);
        i.receive(t(65_100), &f);
        assert!(matches!(
            i.arp_cache().get(PEER_IP),
            Some(NeighborState::Reachable { .. })
        ));
        assert_eq!(i.poll_transmit(t(66_000)), None);
        // Stale again; TCP's advice within the delay makes it fresh with no request.
        assert_eq!(i.lookup(t(130_000), PEER_IP), Ok(PEER_MAC));
        i.confirm_reachable(t(130_010), PEER_IP);
        assert!(matches!(
            i.arp_cache().get(PEER_IP),
            Some(NeighborState::Reachable { .. })
        ));
        assert_eq!(i.poll_at(), None);
        assert_eq!(i.poll_transmit(t(135_000)), None);
    }

    #[test]
    fn routes_via_gateway() {
        let mut i = iface();
        assert_eq!(i.lookup(t(0), FAR_IP), Err(NeighborStatus::Pending));
        assert!(i.wait_for(t(0), FAR_IP, 1));
        i.poll_transmit(t(0)); // announcement
        assert_eq!(
            i.poll_transmit(t(0)),
            Some(Reply::ArpRequest {
                target: GW_IP,
                dst_mac: EthernetAddress::BROADCAST
            })
        );
        let f = arp_frame(ArpOperation::Reply, GW_MAC, GW_IP, OUR_IP);
        i.receive(t(1), &f);
        assert_eq!(i.poll_resolved(), Some(1));
        assert_eq!(i.lookup(t(2), FAR_IP), Ok(GW_MAC));
        assert_eq!(i.lookup(t(2), GW_IP), Ok(GW_MAC));
        // Broadcast and multicast need no ARP; our own and odd addresses have no route.
        assert_eq!(i.lookup(t(2), SUBNET_BCAST), Ok(EthernetAddress::BROADCAST));
        assert_eq!(
            i.lookup(t(2), Ipv4Addr::BROADCAST),
            Ok(EthernetAddress::BROADCAST)
        );
        assert_eq!(
            i.lookup(t(2), Ipv4Addr::new(224, 129, 2, 3)),
            Ok(EthernetAddress([1, 0, 0x5e, 1, 2, 3]))
        );
        // To ourselves: our own MAC (only a loopback device carries it back).
        assert_eq!(i.lookup(t(2), OUR_IP), Ok(OUR_MAC));
        for ip in [Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST] {
            assert_eq!(i.lookup(t(2), ip), Err(NeighborStatus::NoRoute));
        }
        let mut i = Interface::<4>::new(IfaceConfig::new(OUR_MAC, "10.7.0.2/24".parse().unwrap()));
        assert_eq!(i.lookup(t(0), FAR_IP), Err(NeighborStatus::NoRoute));
        assert_eq!(i.stats().no_route, 1);
    }

    #[test]
    fn cache_full_of_waiting_neighbors() {
        let mut i = iface();
        for n in 0..4u8 {
            let ip = Ipv4Addr::new(10, 7, 0, 10 + n);
            assert_eq!(i.lookup(t(0), ip), Err(NeighborStatus::Pending));
            assert!(i.wait_for(t(0), ip, u32::from(n)));
        }
        let ip = Ipv4Addr::new(10, 7, 0, 20);
        assert_eq!(i.lookup(t(0), ip), Err(NeighborStatus::Pending));
        assert!(!i.wait_for(t(0), ip, 9));
        assert_eq!(i.stats().arp_cache_full, 2);
        // A request from a fifth host for us is still answered.
        let f = arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP);
        assert!(matches!(i.receive(t(0), &f), Received::Reply(_)));
    }

    // ----- IPv4 validation -------------------------------------------------------

    fn tcp_frame() -> Vec<u8> {
        ip_frame(PEER_IP, OUR_IP, IpProtocol::Tcp, &[0x55; 20])
    }

    #[test]
    fn tcp_is_delivered_and_padding_ignored() {
        let mut i = iface();
        let mut f = tcp_frame();
        f.resize(60 + 14, 0); // padding past the total length
        let r = i.receive(t(0), &f);
        assert_eq!(
            r,
            Received::Tcp {
                src: PEER_IP,
                dst: OUR_IP,
                payload: &[0x55; 20]
            }
        );
        assert_eq!(i.stats().tcp_in, 1);
    }

    #[test]
    fn every_drop_reason_is_counted() {
        let mut cases: Vec<(Vec<u8>, DropReason)> = Vec::new();
        let good = tcp_frame();
        cases.push((good[..13].to_vec(), DropReason::Truncated));
        let mut f = good.clone();
        f[0] = 0x04;
        cases.push((f, DropReason::NotForUs));
        let mut f = good.clone();
        f[6] = 0x01;
        cases.push((f, DropReason::BadSrcMac));
        // Our own broadcast coming back is a loop; a unicast to ourselves is loopback.
        let mut f = good.clone();
        f[0..6].copy_from_slice(&EthernetAddress::BROADCAST.0);
        f[6..12].copy_from_slice(&OUR_MAC.0);
        cases.push((f, DropReason::BadSrcMac));
        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        cases.push((f, DropReason::UnknownEthertype));
        cases.push((good[..14 + 19].to_vec(), DropReason::Truncated));
        cases.push((good[..good.len() - 1].to_vec(), DropReason::Truncated));
        let mut f = good.clone();
        f[14] = 0x65;
        fix_ip_checksum(&mut f);
        cases.push((f, DropReason::BadVersion));
        let mut f = good.clone();
        f[14] = 0x44;
        cases.push((f, DropReason::BadHeaderLen));
        let mut f = good.clone();
        f[14] = 0x4f; // 60-byte header, 40-byte packet
        cases.push((f, DropReason::BadHeaderLen));
        let mut f = good.clone();
        f[16..18].copy_from_slice(&19u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        cases.push((f, DropReason::BadTotalLen));
        let mut f = good.clone();
        f[22] ^= 0x10; // TTL changed, checksum not
        cases.push((f, DropReason::BadChecksum));
        cases.push((
            ip_frame(
                PEER_IP,
                Ipv4Addr::new(10, 7, 0, 3),
                IpProtocol::Tcp,
                &[0; 20],
            ),
            DropReason::NotOurAddress,
        ));
        for src in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            SUBNET_BCAST,
            Ipv4Addr::new(224, 0, 0, 1),
            Ipv4Addr::LOCALHOST,
            OUR_IP,
        ] {
            cases.push((
                ip_frame(src, OUR_IP, IpProtocol::Tcp, &[0; 20]),
                DropReason::BadSrcAddr,
            ));
        }
        for frag in [0x2000u16, 0x0001, 0x4001] {
            let mut f = good.clone();
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            fix_ip_checksum(&mut f);
            cases.push((f, DropReason::Fragment));
        }
        #[cfg(not(any(feature = "dhcpv4", feature = "dns")))]
        cases.push((
            ip_frame(PEER_IP, OUR_IP, IpProtocol::Udp, &[0; 8]),
            DropReason::UnknownProtocol,
        ));
        cases.push((
            ip_frame(PEER_IP, OUR_IP, IpProtocol::Unknown(89), &[0; 8]),
            DropReason::UnknownProtocol,
        ));
        cases.push((
            ip_frame(PEER_IP, SUBNET_BCAST, IpProtocol::Tcp, &[0; 20]),
            DropReason::TcpNotUnicast,
        ));

        let mut i = iface();
        let mut expected = IpStats::default();
        for (n, (frame, reason)) in cases.iter().enumerate() {
            assert_eq!(
                i.receive(t(0), frame),
                Received::Dropped(*reason),
                "case {n}"
            );
            bump(reason.counter(&mut expected));
        }
        let s = i.stats();
        assert_eq!(s.frames_in as usize, cases.len());
        assert_eq!(s.fragment, 3);
        assert_eq!(s.bad_src_addr, 6);
        // Each reason's counter, and nothing else among the drop counters.
        let drops = |s: &IpStats| {
            [
                s.truncated,
                s.not_for_us,
                s.bad_src_mac,
                s.unknown_ethertype,
                s.bad_version,
                s.bad_header_len,
                s.bad_total_len,
                s.bad_checksum,
                s.not_our_address,
                s.bad_src_addr,
                s.fragment,
                s.unknown_protocol,
                s.tcp_not_unicast,
            ]
        };
        assert_eq!(drops(s), drops(&expected));
        assert_eq!(s.tcp_in, 0);
    }

    #[test]
    fn broadcast_destinations_are_accepted() {
        let mut i = iface();
        // Past the address check: dropped later, for their protocol, not as "not ours".
        for dst in [Ipv4Addr::BROADCAST, SUBNET_BCAST] {
            let f = ip_frame(PEER_IP, dst, IpProtocol::Unknown(89), &[0; 8]);
            assert_eq!(
                i.receive(t(0), &f),
                Received::Dropped(DropReason::UnknownProtocol)
            );
            #[cfg(any(feature = "dhcpv4", feature = "dns"))]
            {
                let f = ip_frame(PEER_IP, dst, IpProtocol::Udp, &[0; 8]);
                assert!(matches!(i.receive(t(0), &f), Received::Udp { .. }));
            }
            let echo = Icmpv4Repr::EchoRequest {
                ident: 1,
                seq_no: 1,
                data: b"hi",
            };
            let f = icmp_frame(PEER_IP, dst, &echo);
            assert_eq!(
                i.receive(t(0), &f),
                Received::Dropped(DropReason::EchoBroadcast)
            );
        }
        assert_eq!(i.stats().not_our_address, 0);
        assert_eq!(i.stats().icmp_in, 2);
    }

    #[test]
    fn rx_checksum_offload_skips_header_check() {
        let mut i = iface();
        i.config.checksum.rx_verified = true;
        let mut f = tcp_frame();
        f[24] ^= 0xff;
        assert!(matches!(i.receive(t(0), &f), Received::Tcp { .. }));
    }

    // ----- ICMP ------------------------------------------------------------------

    #[test]
    fn echo_request_gets_echo_reply() {
        // The ICMP part of the captured `ping` request, sent to us.
        let icmp = &vectors::PING_REQUEST[vectors::ICMP_AT..];
        let f = ip_frame(PEER_IP, OUR_IP, IpProtocol::Icmp, icmp);
        let mut i = iface();
        let r = i.receive(t(0), &f);
        let Received::Reply(reply) = r else {
            panic!("{r:?}")
        };
        assert_eq!(reply.frame_len(), 98);
        let out = emit(&mut i, &reply);
        let e = EthernetFrame::new_checked(&out).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.ethertype()),
            (PEER_MAC, OUR_MAC, EtherType::Ipv4)
        );
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(ip.checksum_valid());
        assert_eq!(
            Ipv4Repr::parse(&ip).unwrap(),
            Ipv4Repr {
                src: OUR_IP,
                dst: PEER_IP,
                protocol: IpProtocol::Icmp,
                payload_len: 64,
                ttl: 64,
                ident: ip.ident(),
                dont_frag: true,
            }
        );
        // The ICMP message is byte for byte the one Linux sent, checksum included.
        assert_eq!(ip.payload(), &vectors::PING_REPLY[vectors::ICMP_AT..]);
        assert!(
            Icmpv4Packet::new_checked(ip.payload())
                .unwrap()
                .checksum_valid()
        );
        let s = i.stats();
        assert_eq!(
            (s.echo_requests_in, s.echo_replies_sent, s.frames_out),
            (1, 1, 1)
        );
    }

    #[test]
    fn icmp_drops() {
        let mut i = iface();
        let mut icmp = vectors::PING_REQUEST[vectors::ICMP_AT..].to_vec();
        icmp[10] ^= 1;
        let f = ip_frame(PEER_IP, OUR_IP, IpProtocol::Icmp, &icmp);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpBadChecksum)
        );
        let f = ip_frame(PEER_IP, OUR_IP, IpProtocol::Icmp, &icmp[..7]);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpMalformed)
        );
        let reply = Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 2,
            data: &[],
        };
        let f = icmp_frame(PEER_IP, OUR_IP, &reply);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpIgnored)
        );
        let quench = Icmpv4Repr::Other {
            msg_type: 4,
            code: 0,
            rest: [0; 4],
            data: &[0; 28],
        };
        let f = icmp_frame(PEER_IP, OUR_IP, &quench);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpIgnored)
        );
        let s = i.stats();
        assert_eq!(
            (
                s.icmp_in,
                s.icmp_bad_checksum,
                s.icmp_malformed,
                s.icmp_ignored
            ),
            (4, 1, 1, 2)
        );
    }

    /// The first 28 bytes of a SYN we sent to FAR_IP:80 from port 49152, seq 0x01020304.
    fn our_syn_quote() -> Vec<u8> {
        let tcp = [0xc0, 0x00, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04];
        let mut q = ip_packet(OUR_IP, FAR_IP, IpProtocol::Tcp, &tcp);
        q[2..4].copy_from_slice(&60u16.to_be_bytes()); // the datagram was longer
        q
    }

    #[test]
    fn frag_needed_reports_the_quoted_datagram() {
        let mut i = iface();
        let quote = our_syn_quote();
        let icmp = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::FragNeeded,
            next_hop_mtu: 1400,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let f = icmp_frame(GW_IP, OUR_IP, &icmp);
        assert_eq!(
            i.receive(t(0), &f),
            Received::IcmpError(IcmpError {
                kind: IcmpErrorKind::DstUnreachable(DstUnreachableCode::FragNeeded),
                next_hop_mtu: 1400,
                reporter: GW_IP,
                src: OUR_IP,
                dst: FAR_IP,
                protocol: IpProtocol::Tcp,
                payload_head: [0xc0, 0x00, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04],
            })
        );
        // Other codes carry no MTU; time exceeded and parameter problem are passed on.
        let icmp = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::PortUnreachable,
            next_hop_mtu: 1400,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let f = icmp_frame(FAR_IP, OUR_IP, &icmp);
        let r = i.receive(t(0), &f);
        let Received::IcmpError(e) = r else {
            panic!("{r:?}")
        };
        assert_eq!((e.next_hop_mtu, e.reporter), (0, FAR_IP));
        let icmp = Icmpv4Repr::TimeExceeded {
            code: 0,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let f = icmp_frame(GW_IP, OUR_IP, &icmp);
        let r = i.receive(t(0), &f);
        assert!(matches!(
            r,
            Received::IcmpError(IcmpError {
                kind: IcmpErrorKind::TimeExceeded(0),
                ..
            })
        ));
        assert_eq!(i.stats().icmp_errors_in, 3);
    }

    #[test]
    fn icmp_errors_not_about_us_are_dropped() {
        let mut i = iface();
        let mut quote = our_syn_quote();
        quote[12..16].copy_from_slice(&[10, 7, 0, 3]); // someone else's datagram
        let icmp = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::HostUnreachable,
            next_hop_mtu: 0,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let f = icmp_frame(GW_IP, OUR_IP, &icmp);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpErrorNotOurs)
        );
        let quote = our_syn_quote();
        let icmp = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::HostUnreachable,
            next_hop_mtu: 0,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let f = icmp_frame(GW_IP, SUBNET_BCAST, &icmp);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpErrorNotOurs)
        );
        // A quote shorter than header + 8 bytes.
        let icmp = Icmpv4Repr::Other {
            msg_type: 3,
            code: 1,
            rest: [0; 4],
            data: &quote[..27],
        };
        let f = icmp_frame(GW_IP, OUR_IP, &icmp);
        assert_eq!(
            i.receive(t(0), &f),
            Received::Dropped(DropReason::IcmpMalformed)
        );
    }

    // ----- output ----------------------------------------------------------------

    #[test]
    fn emit_ipv4_headers() {
        let mut i = iface();
        resolve_peer(&mut i, t(0));
        let mac = i.lookup(t(0), PEER_IP).unwrap();
        let mut buf = [0u8; 54];
        let at = i
            .emit_ipv4(&mut buf, mac, PEER_IP, IpProtocol::Tcp, 20)
            .unwrap();
        assert_eq!(at, IPV4_PAYLOAD_OFFSET);
        let e = EthernetFrame::new_checked(&buf).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.ethertype()),
            (PEER_MAC, OUR_MAC, EtherType::Ipv4)
        );
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(ip.checksum_valid() && ip.dont_frag() && ip.ttl() == 64);
        assert_eq!(
            (ip.src_addr(), ip.dst_addr(), ip.protocol()),
            (OUR_IP, PEER_IP, IpProtocol::Tcp)
        );
        assert_eq!(ip.payload().len(), 20);
        let first = ip.ident();
        i.emit_ipv4(&mut buf, mac, PEER_IP, IpProtocol::Tcp, 20)
            .unwrap();
        let ip = Ipv4Packet::new_checked(&buf[14..]).unwrap();
        assert_eq!(ip.ident(), first.wrapping_add(1));
        // Transmit offload: checksum left zero.
        i.config.checksum.tx_ipv4 = true;
        i.config.ttl = 17;
        i.emit_ipv4(&mut buf, mac, PEER_IP, IpProtocol::Tcp, 20)
            .unwrap();
        let ip = Ipv4Packet::new_checked(&buf[14..]).unwrap();
        assert_eq!((ip.checksum(), ip.ttl()), (0, 17));
        // Too small a buffer, too long a payload.
        assert_eq!(
            i.emit_ipv4(&mut buf, mac, PEER_IP, IpProtocol::Tcp, 21),
            Err(WireError::Truncated)
        );
        assert_eq!(
            i.emit_ipv4(&mut buf, mac, PEER_IP, IpProtocol::Tcp, usize::MAX),
            Err(WireError::Malformed)
        );
        assert_eq!(i.stats().frames_out, 3);
        assert_eq!(
            i.emit_reply(&Reply::GratuitousArp, &mut buf[..41]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn renumbering_flushes_and_announces() {
        let mut i = iface();
        resolve_peer(&mut i, t(0));
        while i.poll_transmit(t(0)).is_some() {}
        let mut c = config();
        c.addr = "10.8.0.2/16".parse().unwrap();
        i.set_config(t(5000), c);
        assert!(i.arp_cache().is_empty());
        assert_eq!(i.address(), Ipv4Addr::new(10, 8, 0, 2));
        assert_eq!(i.poll_transmit(t(5000)), Some(Reply::GratuitousArp));
    }

    // ----- never panics ------------------------------------------------------------

    /// Frames that get past the Ethernet checks, with a body of arbitrary bytes.
    fn frame_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![
                Just(OUR_MAC),
                Just(EthernetAddress::BROADCAST),
                any::<[u8; 6]>().prop_map(EthernetAddress)
            ],
            prop_oneof![Just(0x0800u16), Just(0x0806), any::<u16>()],
            proptest::collection::vec(any::<u8>(), 0..120),
        )
            .prop_map(|(dst, et, body)| eth(dst, PEER_MAC, EtherType::from(et), &body))
    }

    /// Valid IPv4/ICMP/ARP frames with a few bytes changed.
    fn mutated_strategy() -> impl Strategy<Value = Vec<u8>> {
        let quote = our_syn_quote();
        let icmp = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::FragNeeded,
            next_hop_mtu: 1400,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let bases = std::vec![
            tcp_frame(),
            icmp_frame(GW_IP, OUR_IP, &icmp),
            ip_frame(
                PEER_IP,
                OUR_IP,
                IpProtocol::Icmp,
                &vectors::PING_REQUEST[vectors::ICMP_AT..]
            ),
            arp_frame(ArpOperation::Request, PEER_MAC, PEER_IP, OUR_IP),
            arp_frame(ArpOperation::Reply, PEER_MAC, PEER_IP, OUR_IP),
        ];
        (
            proptest::sample::select(bases),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            any::<usize>(),
            any::<bool>(),
        )
            .prop_map(|(mut f, edits, cut, fix)| {
                for (at, v) in edits {
                    let at = 14 + at % (f.len() - 14);
                    f[at] = v;
                }
                if fix && f.len() >= 34 && f[12..14] == [8, 0] {
                    let hlen = (usize::from(f[14] & 0x0f) * 4).clamp(20, f.len() - 14);
                    f[24] = 0;
                    f[25] = 0;
                    let c = checksum(&f[14..14 + hlen]);
                    f[24..26].copy_from_slice(&c.to_be_bytes());
                }
                let keep = f.len() - cut % 8;
                f.truncate(keep);
                f
            })
    }

    fn exercise(i: &mut Interface<4>, now: Instant, frame: &[u8]) -> Result<(), TestCaseError> {
        if let Received::Reply(r) = i.receive(now, frame) {
            let mut buf = std::vec![0u8; r.frame_len()];
            prop_assert_eq!(i.emit_reply(&r, &mut buf), Ok(buf.len()));
        }
        while let Some(r) = i.poll_transmit(now) {
            let mut buf = std::vec![0u8; r.frame_len()];
            prop_assert_eq!(i.emit_reply(&r, &mut buf), Ok(buf.len()));
        }
        while i.poll_resolved().is_some() {}
        while i.poll_failed(now).is_some() {}
        let _ = i.poll_at();
        Ok(())
    }

    proptest! {
        #[test]
        fn receive_never_panics(frames in proptest::collection::vec(
            prop_oneof![proptest::collection::vec(any::<u8>(), 0..100), frame_strategy(), mutated_strategy()],
            1..16,
        )) {
            let mut i = iface();
            for (n, f) in frames.iter().enumerate() {
                let now = Instant::from_millis(n as u64 * 700);
                let _ = i.lookup(now, PEER_IP);
                let _ = i.wait_for(now, PEER_IP, n as u32);
                exercise(&mut i, now, f)?;
            }
            prop_assert!(i.arp_cache().len() <= 4);
        }
    }

    #[test]
    fn default_arp_config() {
        let a = ArpConfig::default();
        assert_eq!(a.cache_ttl, Duration::from_secs(60));
        assert_eq!(a.request_interval, Duration::from_secs(1));
        assert_eq!(a.max_retries, 3);
        assert_eq!(config().ttl, 64);
    }
}
