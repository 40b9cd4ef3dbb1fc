//! The IPv6 side of [`Interface`]: validation of received packets, ICMPv6 echo and
//! rate-limited errors, Neighbor Discovery for our addresses (RFC 4861) with a neighbour
//! cache shared in kind with ARP's ([`NeighborCache`]), and the address configuration
//! ([`Slaac`]) driven from the interface's poll.

use core::net::Ipv6Addr;

use super::{DropReason, Interface, Received, Reply, bump};
use crate::ip::arp_cache::{Lookup, NeighborCache, NeighborState};
use crate::ip::slaac::{AddrState, Slaac, SlaacEvent, SlaacOutput};
use crate::ip::{Icmp6Error, Icmp6ErrorKind, NeighborStatus};
use crate::time::{Duration, Instant};
use crate::wire::WireError;
use crate::wire::ethernet::{self, EtherType, EthernetAddress, EthernetRepr};
use crate::wire::icmpv6::{self, Icmpv6Ip, Icmpv6Repr, msg_type};
use crate::wire::ipv6::{self, ExtError, Ipv6Packet, Ipv6Repr, next_header};
use crate::wire::ndisc::{NA_OVERRIDE, NA_SOLICITED, NdiscRepr};

/// ICMPv6 errors that may go out in a burst (RFC 4443 §2.4 f: a token bucket).
const ERROR_BURST: u8 = 10;
/// One more error token per this interval (Linux's `icmp/ratelimit` is 1 s per
/// destination; one bucket for all destinations is stricter).
const ERROR_INTERVAL: Duration = Duration::from_millis(100);
/// Neighbour Solicitations per resolution or re-confirmation (RFC 4861 §10:
/// MAX_MULTICAST_SOLICIT and MAX_UNICAST_SOLICIT).
const MAX_SOLICITS: u8 = 3;
/// RFC 4861 §10: DELAY_FIRST_PROBE_TIME.
const DELAY_FIRST_PROBE: Duration = Duration::from_secs(5);

/// The IPv6 state of an interface.
#[derive(Clone, Debug)]
pub(crate) struct V6<const N: usize> {
    /// The address configuration; `None` until the link is up, or with IPv6 off.
    slaac: Option<Slaac>,
    /// The IPv6 neighbour cache (RFC 4861 §5.1), NUD states as in ARP's.
    cache: NeighborCache<Ipv6Addr, N>,
    /// When the configuration next needs to run (its `poll_at`, kept after every call
    /// that can move it, so that the poll loop's idle test costs a comparison).
    due: Option<Instant>,
    /// Seeds the configuration's timer jitter.
    seed: u64,
    /// The error token bucket and when it was last refilled.
    err_tokens: u8,
    err_at: Instant,
}

impl<const N: usize> V6<N> {
    pub(crate) const fn new(seed: u64) -> Self {
        V6 {
            slaac: None,
            cache: NeighborCache::new(),
            due: None,
            seed,
            err_tokens: ERROR_BURST,
            err_at: Instant::ZERO,
        }
    }
}

/// Whether `dst` is one of the Ethernet groups IPv6 multicast maps to (33:33:...).
pub(super) fn is_ipv6_multicast_mac(dst: EthernetAddress) -> bool {
    dst.0[0] == 0x33 && dst.0[1] == 0x33
}

/// Frame lengths of the IPv6 replies ([`Reply::frame_len`]).
pub(crate) fn v6_frame_len(r: &Reply<'_>) -> usize {
    let ip = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
    let icmp = icmpv6::HEADER_LEN;
    match r {
        Reply::Echo6 { data, .. } => (ip + icmp).saturating_add(data.len()),
        // Header, target, one link-layer address option.
        Reply::NeighborAdvert { .. } | Reply::NeighborSolicit { .. } => ip + 4 + 20 + 8,
        Reply::Slaac(SlaacOutput::DadProbe { .. }) => ip + 4 + 20,
        Reply::Slaac(SlaacOutput::RouterSolicit { .. }) => ip + 4 + 4 + 8,
        Reply::Slaac(SlaacOutput::MldReport { len, .. }) => {
            ip + ipv6::ROUTER_ALERT_HBH.len() + icmpv6::mldv2_report_len(*len)
        }
        Reply::Icmpv6Error { quote, .. } => ip + icmp + quote.len().min(icmpv6::MAX_QUOTE_LEN),
        #[allow(unreachable_patterns)] // the IPv4 replies, with `proto-ipv4`
        _ => 0,
    }
}

/// Where a packet's destination puts it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DstKind {
    /// A usable unicast address of ours.
    Unicast,
    /// A tentative address of ours: only Neighbor Discovery may use it (RFC 4862 §5.4).
    Tentative,
    /// All-nodes, or the solicited-node group of an address of ours.
    Multicast,
}

impl<const N: usize> Interface<N> {
    /// The address configuration (`None` before the first poll, or with IPv6 off).
    pub fn slaac(&self) -> Option<&Slaac> {
        self.v6.slaac.as_ref()
    }

    /// The IPv6 neighbour cache, for diagnostics (`ip -6 neigh`).
    pub fn ndp_cache(&self) -> &NeighborCache<Ipv6Addr, N> {
        &self.v6.cache
    }

    /// Seeds the IPv6 timer jitter (DAD and solicitation delays); the stack passes
    /// bits of its secret seed. Takes effect when the link next comes up.
    pub fn set_ipv6_seed(&mut self, seed: u64) {
        self.v6.seed = seed;
    }

    /// The next change of the IPv6 configuration (an address usable, a duplicate, a
    /// router), oldest first.
    #[inline]
    pub fn take_ipv6_event(&mut self) -> Option<SlaacEvent> {
        self.v6.slaac.as_mut()?.take_event()
    }

    /// A usable IPv6 address of ours: `dst`'s scope first (link-local for link-local
    /// destinations, RFC 6724 rule 2), else any.
    pub fn ipv6_source_for(&self, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let slaac = self.v6.slaac.as_ref()?;
        let usable = || {
            slaac
                .addresses()
                .filter(|a| a.state != AddrState::Tentative)
                .map(|a| a.cidr.address())
        };
        let ll = dst.is_unicast_link_local() || dst.is_multicast();
        usable()
            .find(|a| a.is_unicast_link_local() == ll)
            .or_else(|| usable().next())
    }

    /// (Re)starts IPv6 when the link comes up: a fresh configuration whose link-local
    /// (and static) address go through DAD again (RFC 4862 §5.4).
    pub(super) fn up_v6(&mut self, now: Instant) {
        let c = self.config.ipv6;
        if !c.enabled {
            self.v6.slaac = None;
            self.v6.due = None;
            return;
        }
        let mut s = Slaac::new(c.slaac, self.config.mac, self.v6.seed, now);
        if let Some(a) = c.static_addr {
            s.add_static(now, a);
        }
        self.v6.slaac = Some(s);
        self.v6.cache.flush();
        self.refresh_due();
    }

    /// Records when the configuration next needs to run.
    fn refresh_due(&mut self) {
        self.v6.due = self.v6.slaac.as_ref().and_then(Slaac::poll_at);
    }

    fn dst_kind(&self, dst: Ipv6Addr) -> Option<DstKind> {
        let slaac = self.v6.slaac.as_ref()?;
        if dst == ipv6::ALL_NODES {
            return Some(DstKind::Multicast);
        }
        slaac.addresses().find_map(|a| {
            let ours = a.cidr.address();
            if ours == dst {
                Some(if a.state == AddrState::Tentative {
                    DstKind::Tentative
                } else {
                    DstKind::Unicast
                })
            } else {
                (ipv6::solicited_node(ours) == dst).then_some(DstKind::Multicast)
            }
        })
    }

    /// RFC 8200 §3-4 on receipt: version, length, destination, source, extension
    /// headers; then the upper layer.
    pub(super) fn receive_ipv6<'f>(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        payload: &'f [u8],
    ) -> Received<'f> {
        bump(&mut self.stats.ipv6_in);
        if self.v6.slaac.is_none() {
            return self.drop(DropReason::UnknownEthertype);
        }
        let packet = match Ipv6Packet::new_checked(payload) {
            Ok(p) => p,
            Err(WireError::Truncated) => return self.drop(DropReason::Truncated),
            Err(_) => return self.drop(DropReason::BadVersion),
        };
        let (src, dst) = (packet.src_addr(), packet.dst_addr());
        let Some(kind) = self.dst_kind(dst) else {
            return self.drop(DropReason::NotOurAddress);
        };
        // RFC 4291 §2.5.5.2: an IPv4-mapped address names an IPv4 node; on the wire it is
        // a spoof (Linux drops it too), and TCP would take it for an IPv4 peer.
        if src.is_multicast() || src.is_loopback() || src.to_ipv4_mapped().is_some() {
            return self.drop(DropReason::BadSrcAddr);
        }
        let upper = match packet.upper_layer() {
            Ok(u) => u,
            Err(ExtError::Fragment) => return self.drop(DropReason::Fragment),
            Err(ExtError::Discard) => return self.drop(DropReason::Ipv6ExtHeader),
            Err(ExtError::ParamProblem { code, pointer }) => {
                return self.param_problem(now, src_mac, src, dst, code, pointer, payload);
            }
        };
        let ip = Icmpv6Ip {
            src,
            dst,
            hop_limit: packet.hop_limit(),
        };
        match upper.protocol {
            next_header::ICMPV6 => {
                let r = self.receive_icmpv6(now, src_mac, ip, kind, upper.data);
                self.refresh_due();
                r
            }
            next_header::TCP if kind == DstKind::Multicast => self.drop(DropReason::TcpNotUnicast),
            next_header::TCP if kind == DstKind::Tentative || src.is_unspecified() => {
                self.drop(DropReason::NotOurAddress)
            }
            next_header::TCP => {
                bump(&mut self.stats.tcp_in);
                Received::Tcp6 {
                    src_mac,
                    src,
                    dst,
                    payload: upper.data,
                }
            }
            #[cfg(feature = "dns")]
            next_header::UDP if kind == DstKind::Unicast && !src.is_unspecified() => {
                bump(&mut self.stats.udp_in);
                Received::Udp6 {
                    src,
                    dst,
                    payload: upper.data,
                }
            }
            _ => self.drop(DropReason::UnknownProtocol),
        }
    }

    /// Answers a bad extension header with a Parameter Problem (RFC 8200 §4, RFC 4443
    /// §3.4), rate-limited, never to an unspecified source.
    #[allow(clippy::too_many_arguments)]
    fn param_problem<'f>(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        code: u8,
        pointer: u32,
        packet: &'f [u8],
    ) -> Received<'f> {
        bump(&mut self.stats.ipv6_ext_header);
        let from = if dst.is_multicast() {
            self.ipv6_source_for(src)
        } else {
            Some(dst)
        };
        let Some(from) = from.filter(|_| !src.is_unspecified()) else {
            return Received::Dropped(DropReason::Ipv6ExtHeader);
        };
        if !self.error_token(now) {
            bump(&mut self.stats.icmpv6_errors_limited);
            return Received::Dropped(DropReason::Ipv6ExtHeader);
        }
        Received::Reply(Reply::Icmpv6Error {
            dst_mac: src_mac,
            src: from,
            dst: src,
            msg_type: msg_type::PARAM_PROBLEM,
            code,
            word: pointer,
            quote: packet,
        })
    }

    /// Takes a token from the error bucket, refilled at one per [`ERROR_INTERVAL`].
    fn error_token(&mut self, now: Instant) -> bool {
        let v6 = &mut self.v6;
        let step = ERROR_INTERVAL.total_micros();
        let earned = (now - v6.err_at).total_micros() / step;
        if earned > 0 {
            v6.err_tokens = u64::from(v6.err_tokens)
                .saturating_add(earned)
                .min(u64::from(ERROR_BURST)) as u8;
            v6.err_at = now;
        }
        if v6.err_tokens == 0 {
            return false;
        }
        v6.err_tokens -= 1;
        true
    }

    fn receive_icmpv6<'f>(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        ip: Icmpv6Ip,
        kind: DstKind,
        msg: &'f [u8],
    ) -> Received<'f> {
        bump(&mut self.stats.icmp_in);
        let repr = match Icmpv6Repr::parse(ip, msg) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => return self.drop(DropReason::IcmpBadChecksum),
            Err(_) => return self.drop(DropReason::IcmpMalformed),
        };
        if let Icmpv6Repr::Ndisc(n) = repr {
            return self.receive_ndisc(now, src_mac, ip, n);
        }
        if kind == DstKind::Tentative || ip.src.is_unspecified() {
            return self.drop(DropReason::NotOurAddress);
        }
        match repr {
            // RFC 4443 §4.2: the reply to a multicast request comes from a unicast address.
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                let from = match kind {
                    DstKind::Multicast => self.ipv6_source_for(ip.src),
                    _ => Some(ip.dst),
                };
                let Some(src) = from else {
                    return self.drop(DropReason::NotOurAddress);
                };
                bump(&mut self.stats.echo_requests_in);
                Received::Reply(Reply::Echo6 {
                    dst_mac: src_mac,
                    src,
                    dst: ip.src,
                    ident,
                    seq_no,
                    data,
                })
            }
            Icmpv6Repr::MldQuery {
                max_resp_code,
                group,
            } => {
                let ours = group.is_unspecified() || self.dst_kind(group).is_some();
                if let Some(s) = self.v6.slaac.as_mut().filter(|_| ours) {
                    s.receive_mld_query(now, mld_max_delay(max_resp_code));
                }
                Received::Handled
            }
            _ => self.icmpv6_error(ip, &repr),
        }
    }

    /// RFC 4443 §3: an error about a packet we sent, handed to the transport layer (as
    /// [`Received::Icmp6Error`]) when it quotes one of our addresses and enough of the
    /// upper layer to name a connection.
    fn icmpv6_error<'f>(&mut self, ip: Icmpv6Ip, repr: &Icmpv6Repr<'_>) -> Received<'f> {
        let (kind, mtu, header, data) = match *repr {
            Icmpv6Repr::DstUnreachable { code, header, data } => {
                (Icmp6ErrorKind::DstUnreachable(code), 0, header, data)
            }
            Icmpv6Repr::PacketTooBig { mtu, header, data } => {
                (Icmp6ErrorKind::PacketTooBig, mtu, header, data)
            }
            Icmpv6Repr::TimeExceeded { code, header, data } => {
                (Icmp6ErrorKind::TimeExceeded(code), 0, header, data)
            }
            Icmpv6Repr::ParamProblem {
                code, header, data, ..
            } => (Icmp6ErrorKind::ParamProblem(code), 0, header, data),
            _ => return self.drop(DropReason::IcmpIgnored),
        };
        let Some(q) = header.filter(|q| self.slaac().is_some_and(|s| s.address(q.src).is_some()))
        else {
            return self.drop(DropReason::IcmpErrorNotOurs);
        };
        let end = q.upper_offset.saturating_add(8);
        let Some(head) = data.get(q.upper_offset..end) else {
            return self.drop(DropReason::IcmpErrorNotOurs);
        };
        let mut payload_head = [0u8; 8];
        payload_head.copy_from_slice(head);
        bump(&mut self.stats.icmp_errors_in);
        Received::Icmp6Error(Icmp6Error {
            kind,
            mtu,
            reporter: ip.src,
            src: q.src,
            dst: q.dst,
            protocol: q.protocol,
            payload_head,
        })
    }

    /// RFC 4861 §7.2.3-§7.2.5 and §6.3.4 (through [`Slaac`]).
    fn receive_ndisc<'f>(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        ip: Icmpv6Ip,
        n: NdiscRepr<'_>,
    ) -> Received<'f> {
        let Some(slaac) = self.v6.slaac.as_mut() else {
            return Received::Handled;
        };
        match n {
            NdiscRepr::NeighborSolicit { target, lladdr } => {
                bump(&mut self.stats.nd_solicits_in);
                if !slaac.receive_ns(now, ip.src, target) {
                    return Received::Handled;
                }
                if ip.src.is_unspecified() {
                    // Another node's DAD for an address we hold: defend it (§7.2.4).
                    return Received::Reply(Reply::NeighborAdvert {
                        dst_mac: ipv6::multicast_mac(ipv6::ALL_NODES),
                        dst: ipv6::ALL_NODES,
                        target,
                        solicited: false,
                    });
                }
                if let Some(mac) = lladdr {
                    self.learn(now, ip.src, mac);
                }
                Received::Reply(Reply::NeighborAdvert {
                    dst_mac: lladdr.unwrap_or(src_mac),
                    dst: ip.src,
                    target,
                    solicited: true,
                })
            }
            NdiscRepr::NeighborAdvert {
                flags,
                target,
                lladdr,
            } => {
                bump(&mut self.stats.nd_adverts_in);
                slaac.receive_na(now, target);
                self.on_advert(now, flags, target, lladdr);
                Received::Handled
            }
            NdiscRepr::RouterAdvert { options, .. } => {
                slaac.receive_ra(now, ip.src, &n);
                if let Some(mac) = options.lladdr() {
                    self.learn(now, ip.src, mac);
                }
                Received::Handled
            }
            NdiscRepr::RouterSolicit { .. } | NdiscRepr::Redirect { .. } => {
                self.drop(DropReason::IcmpIgnored)
            }
        }
    }

    fn learn(&mut self, now: Instant, ip: Ipv6Addr, mac: EthernetAddress) {
        if !self.v6.cache.learn_stale(now, ip, mac) {
            bump(&mut self.stats.arp_cache_full);
        }
    }

    /// RFC 4861 §7.2.5: an advertisement updates an existing entry only.
    fn on_advert(
        &mut self,
        now: Instant,
        flags: u8,
        target: Ipv6Addr,
        lladdr: Option<EthernetAddress>,
    ) {
        let solicited = flags & NA_SOLICITED != 0;
        let overrides = flags & NA_OVERRIDE != 0;
        let reachable = self.reachable_time();
        let cache = &mut self.v6.cache;
        let known = match cache.get(target) {
            None | Some(NeighborState::Failed { .. }) => return,
            Some(NeighborState::Incomplete { .. }) => None,
            Some(NeighborState::Reachable { mac, .. } | NeighborState::Probing { mac, .. }) => {
                Some(mac)
            }
        };
        let Some(mac) = lladdr.or(known) else {
            return;
        };
        let changed = known.is_some_and(|k| k != mac);
        if changed && !overrides {
            // Keep the old address; only a solicited answer would have confirmed it.
            return;
        }
        if solicited {
            cache.merge(now, target, mac, reachable);
        } else if known.is_none() || changed {
            cache.learn_stale(now, target, mac);
        }
    }

    fn reachable_time(&self) -> Duration {
        self.v6
            .slaac
            .as_ref()
            .map_or(crate::ip::slaac::REACHABLE_TIME, |s| s.link().reachable)
    }

    // ----- output ------------------------------------------------------------------

    /// The IPv6 frames the interface sends of its own: what the configuration asks for,
    /// then Neighbor Solicitations that are due.
    pub(super) fn poll_transmit_v6(&mut self, now: Instant) -> Option<Reply<'static>> {
        // `due` is refreshed after everything that changes the configuration, so the
        // configuration runs only when one of its timers is due.
        if self.v6.due.is_some_and(|t| t <= now) {
            let out = self.v6.slaac.as_mut()?.poll_transmit(now);
            self.refresh_due();
            if let Some(out) = out {
                return Some(Reply::Slaac(out));
            }
        }
        if self.v6.cache.is_calm() {
            return None;
        }
        let retrans = self.v6.slaac.as_ref()?.link().retrans;
        self.advance_v6(now);
        let (target, mac) = self.v6.cache.due_request(now, retrans, MAX_SOLICITS)?;
        let src = self.ipv6_source_for(target)?;
        let (dst, dst_mac) = if mac == EthernetAddress::BROADCAST {
            let group = ipv6::solicited_node(target);
            (group, ipv6::multicast_mac(group))
        } else {
            (target, mac)
        };
        Some(Reply::NeighborSolicit {
            dst_mac,
            dst,
            src,
            target,
        })
    }

    /// Marks unanswered IPv6 neighbours failed.
    pub(super) fn advance_v6(&mut self, now: Instant) {
        let hold = self.failed_hold();
        let failed = self.v6.cache.expire(now, MAX_SOLICITS, hold);
        self.stats.resolution_failures = self.stats.resolution_failures.wrapping_add(failed);
    }

    /// Nothing IPv6 to send at `now`.
    pub(super) fn v6_transmit_idle(&self, now: Instant) -> bool {
        self.v6.cache.is_calm() && self.v6.due.is_none_or(|t| t > now)
    }

    /// When the IPv6 side next needs to run.
    pub(super) fn v6_poll_at(&self) -> Option<Instant> {
        if self.v6.cache.is_calm() {
            return self.v6.due;
        }
        if self.v6.cache.has_ready_waiters() {
            return Some(Instant::ZERO);
        }
        match (self.v6.due, self.v6.cache.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// No IPv6 neighbour event to poll for.
    pub(super) fn v6_settled(&self) -> bool {
        self.v6.cache.is_calm()
    }

    pub(super) fn pop_resolved_v6(&mut self) -> Option<u32> {
        self.v6.cache.pop_resolved()
    }

    pub(super) fn pop_failed_v6(&mut self) -> Option<u32> {
        self.v6.cache.pop_failed()
    }

    /// The Ethernet address to send a packet for `dst` to: `dst`'s own when on-link,
    /// else a default router's. Like [`Interface::lookup`]: a miss starts resolution.
    pub fn lookup6(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
    ) -> Result<EthernetAddress, NeighborStatus> {
        let hop = match self.next_hop6(dst) {
            Ok(Ok(hop)) => hop,
            Ok(Err(mac)) => return Ok(mac),
            Err(e) => {
                bump(&mut self.stats.no_route);
                return Err(e);
            }
        };
        self.advance_v6(now);
        match self
            .v6
            .cache
            .lookup_hinted(now, hop, None, DELAY_FIRST_PROBE)
            .0
        {
            Lookup::Found(mac) => {
                bump(&mut self.stats.arp_hits);
                Ok(mac)
            }
            Lookup::Pending => Err(NeighborStatus::Pending),
            Lookup::Failed => Err(NeighborStatus::Failed),
            Lookup::Missing => {
                bump(&mut self.stats.arp_misses);
                if !self.v6.cache.start(now, hop) {
                    bump(&mut self.stats.arp_cache_full);
                }
                Err(NeighborStatus::Pending)
            }
        }
    }

    /// The neighbour to resolve for `dst` (`Ok(Ok(..))`), or the fixed address of a
    /// multicast group (`Ok(Err(mac))`).
    fn next_hop6(
        &self,
        dst: Ipv6Addr,
    ) -> Result<Result<Ipv6Addr, EthernetAddress>, NeighborStatus> {
        let slaac = self.v6.slaac.as_ref().ok_or(NeighborStatus::NoRoute)?;
        if dst.is_unspecified() || dst.is_loopback() {
            return Err(NeighborStatus::NoRoute);
        }
        if dst.is_multicast() {
            return Ok(Err(ipv6::multicast_mac(dst)));
        }
        if slaac.address(dst).is_some() {
            return Ok(Err(self.config.mac));
        }
        if slaac.is_on_link(dst) {
            return Ok(Ok(dst));
        }
        slaac
            .default_router()
            .map(Ok)
            .ok_or(NeighborStatus::NoRoute)
    }

    /// Queues `token` until the next hop for `dst` is resolved or fails (see
    /// [`Interface::wait_for`]).
    pub fn wait_for6(&mut self, now: Instant, dst: Ipv6Addr, token: u32) -> bool {
        self.advance_v6(now);
        let Ok(Ok(hop)) = self.next_hop6(dst) else {
            return false;
        };
        if !self.v6.cache.start(now, hop) {
            bump(&mut self.stats.arp_cache_full);
            return false;
        }
        if self.v6.cache.add_waiter(hop, token).is_err() {
            bump(&mut self.stats.queue_full);
            return false;
        }
        true
    }

    /// Higher-layer advice that `peer` is reachable (RFC 4861 §7.3.1).
    pub fn confirm_reachable6(&mut self, now: Instant, peer: Ipv6Addr) {
        if let Ok(Ok(hop)) = self.next_hop6(peer) {
            let ttl = self.reachable_time();
            self.v6.cache.confirm_hinted(now, hop, ttl, None);
        }
    }

    /// Writes the Ethernet header (to `dst_mac`) and an IPv6 header (from `src`, an
    /// address of ours, to `dst`; the hop limit a router advertised, else the
    /// configuration's) to the front of `buf`, and returns the payload's offset,
    /// [`IPV6_PAYLOAD_OFFSET`](crate::ip::IPV6_PAYLOAD_OFFSET). `buf` must hold the whole
    /// frame, [`ipv6_frame_len(payload_len)`](crate::ip::ipv6_frame_len) bytes.
    pub fn emit_ipv6(
        &mut self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: u8,
        payload_len: usize,
    ) -> Result<usize, WireError> {
        let len = u16::try_from(payload_len).map_err(|_| WireError::Malformed)?;
        if buf.len() < crate::ip::ipv6_frame_len(payload_len) {
            return Err(WireError::Truncated);
        }
        let repr = Ipv6Repr {
            src,
            dst,
            next_header,
            payload_len: len,
            hop_limit: self.hop_limit(),
        };
        let at = self.write_ipv6(buf, dst_mac, repr)?;
        bump(&mut self.stats.frames_out);
        Ok(at)
    }

    /// The hop limit of our packets.
    fn hop_limit(&self) -> u8 {
        self.v6
            .slaac
            .as_ref()
            .and_then(|s| s.link().hop_limit)
            .unwrap_or(self.config.ipv6.hop_limit)
    }

    /// Writes the Ethernet and IPv6 headers to the front of `buf` and returns the
    /// payload's offset.
    pub(super) fn write_ipv6(
        &self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        ip: Ipv6Repr,
    ) -> Result<usize, WireError> {
        let eth = EthernetRepr {
            src: self.config.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv6,
        };
        let at = eth.emit(buf)?;
        ip.emit(buf.get_mut(at..).ok_or(WireError::Truncated)?)?;
        Ok(at + ipv6::HEADER_LEN)
    }

    /// Writes an ICMPv6 message in a whole frame.
    fn write_icmpv6(
        &self,
        buf: &mut [u8],
        dst_mac: EthernetAddress,
        ip: Icmpv6Ip,
        msg: &Icmpv6Repr<'_>,
    ) -> Result<(), WireError> {
        let len = u16::try_from(msg.buffer_len()).map_err(|_| WireError::Malformed)?;
        let repr = Ipv6Repr {
            src: ip.src,
            dst: ip.dst,
            next_header: next_header::ICMPV6,
            payload_len: len,
            hop_limit: ip.hop_limit,
        };
        let at = self.write_ipv6(buf, dst_mac, repr)?;
        msg.emit(ip, buf.get_mut(at..).ok_or(WireError::Truncated)?)?;
        Ok(())
    }

    /// Writes one of the IPv6 [`Reply`] variants (`buf` is exactly its frame).
    pub(super) fn emit_reply_v6(
        &mut self,
        reply: &Reply<'_>,
        buf: &mut [u8],
    ) -> Result<(), WireError> {
        let hl = self.hop_limit();
        let ip = |src, dst, hop_limit| Icmpv6Ip {
            src,
            dst,
            hop_limit,
        };
        match *reply {
            Reply::Echo6 {
                dst_mac,
                src,
                dst,
                ident,
                seq_no,
                data,
            } => {
                let m = Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                self.write_icmpv6(buf, dst_mac, ip(src, dst, hl), &m)?;
                bump(&mut self.stats.echo_replies_sent);
            }
            Reply::NeighborAdvert {
                dst_mac,
                dst,
                target,
                solicited,
            } => {
                let flags = NA_OVERRIDE | if solicited { NA_SOLICITED } else { 0 };
                let lladdr = Some(self.config.mac);
                let m = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                    flags,
                    target,
                    lladdr,
                });
                self.write_icmpv6(buf, dst_mac, ip(target, dst, 255), &m)?;
                bump(&mut self.stats.nd_adverts_sent);
            }
            Reply::NeighborSolicit {
                dst_mac,
                dst,
                src,
                target,
            } => {
                let lladdr = Some(self.config.mac);
                let m = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target, lladdr });
                self.write_icmpv6(buf, dst_mac, ip(src, dst, 255), &m)?;
                bump(&mut self.stats.nd_solicits_sent);
            }
            Reply::Slaac(out) => {
                self.emit_slaac(&out, buf)?;
                bump(&mut self.stats.slaac_sent);
            }
            Reply::Icmpv6Error {
                dst_mac,
                src,
                dst,
                msg_type,
                code,
                word,
                quote,
            } => {
                let m = Icmpv6Repr::Other {
                    msg_type,
                    code,
                    rest: word.to_be_bytes(),
                    data: quote,
                };
                self.write_icmpv6(buf, dst_mac, ip(src, dst, hl), &m)?;
                bump(&mut self.stats.icmpv6_errors_sent);
            }
            #[allow(unreachable_patterns)] // the IPv4 replies, with `proto-ipv4`
            _ => return Err(WireError::Unsupported),
        }
        Ok(())
    }

    /// A DAD probe, Router Solicitation or MLDv2 report.
    fn emit_slaac(&self, out: &SlaacOutput, buf: &mut [u8]) -> Result<(), WireError> {
        let mac = self.config.mac;
        match *out {
            SlaacOutput::DadProbe { target } => {
                let group = ipv6::solicited_node(target);
                let ip = Icmpv6Ip {
                    src: Ipv6Addr::UNSPECIFIED,
                    dst: group,
                    hop_limit: 255,
                };
                let m = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
                    target,
                    lladdr: None,
                });
                self.write_icmpv6(buf, ipv6::multicast_mac(group), ip, &m)
            }
            SlaacOutput::RouterSolicit { src } => {
                let ip = Icmpv6Ip {
                    src,
                    dst: ipv6::ALL_ROUTERS,
                    hop_limit: 255,
                };
                let m = Icmpv6Repr::Ndisc(NdiscRepr::RouterSolicit { lladdr: Some(mac) });
                self.write_icmpv6(buf, ipv6::multicast_mac(ipv6::ALL_ROUTERS), ip, &m)
            }
            SlaacOutput::MldReport {
                record_type,
                groups,
                len,
            } => {
                let groups = groups.get(..len).ok_or(WireError::Malformed)?;
                let src = self
                    .v6
                    .slaac
                    .as_ref()
                    .and_then(|s| {
                        s.addresses()
                            .find(|a| a.cidr.address().is_unicast_link_local())
                    })
                    .filter(|a| a.state != AddrState::Tentative)
                    .map_or(Ipv6Addr::UNSPECIFIED, |a| a.cidr.address());
                let dst = ipv6::ALL_MLDV2_ROUTERS;
                let hbh = ipv6::ROUTER_ALERT_HBH;
                let body = icmpv6::mldv2_report_len(len);
                let repr = Ipv6Repr {
                    src,
                    dst,
                    next_header: next_header::HOP_BY_HOP,
                    payload_len: u16::try_from(hbh.len() + body)
                        .map_err(|_| WireError::Malformed)?,
                    hop_limit: 1,
                };
                let at = self.write_ipv6(buf, ipv6::multicast_mac(dst), repr)?;
                let rest = buf.get_mut(at..).ok_or(WireError::Truncated)?;
                rest.get_mut(..hbh.len())
                    .ok_or(WireError::Truncated)?
                    .copy_from_slice(&hbh);
                let ip = Icmpv6Ip {
                    src,
                    dst,
                    hop_limit: 1,
                };
                let msg = rest.get_mut(hbh.len()..).ok_or(WireError::Truncated)?;
                icmpv6::emit_mldv2_report(ip, record_type, groups, msg).map(|_| ())
            }
        }
    }
}

/// RFC 3810 §5.1.3: the Maximum Response Code as a delay (milliseconds below 32768,
/// else a floating-point form).
fn mld_max_delay(code: u16) -> Duration {
    let ms = if code < 0x8000 {
        u64::from(code)
    } else {
        let mant = u64::from(code & 0x0fff) | 0x1000;
        let exp = u32::from((code >> 12) & 0x7) + 3;
        mant << exp
    };
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::IfaceConfig;
    use proptest::prelude::*;
    use std::vec::Vec;

    const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
    const OTHER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x03]);

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn ours() -> Ipv6Addr {
        ipv6::link_local_from_mac(OUR_MAC)
    }

    fn peer() -> Ipv6Addr {
        ipv6::link_local_from_mac(PEER_MAC)
    }

    /// An interface whose link-local address passed DAD (IPv4's announcements off).
    fn iface() -> Interface<4> {
        let mut c = IfaceConfig::from_mac(OUR_MAC);
        #[cfg(feature = "proto-ipv4")]
        {
            c.arp.announcements = 0;
        }
        c.ipv6.slaac.router_solicitations = 0;
        let mut i = Interface::new(c);
        i.up(t(0));
        let mut now = t(0);
        while now < t(3000) {
            while let Some(r) = i.poll_transmit(now) {
                let mut b = std::vec![0u8; r.frame_len()];
                i.emit_reply(&r, &mut b).unwrap();
            }
            now += Duration::from_millis(100);
        }
        assert_eq!(
            i.take_ipv6_event(),
            Some(SlaacEvent::Usable(ipv6::Ipv6Cidr::new(ours(), 64)))
        );
        i
    }

    /// A frame from PEER_MAC with an ICMPv6 message.
    fn icmp_frame(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, m: &Icmpv6Repr<'_>) -> Vec<u8> {
        let len = m.buffer_len();
        let mut f = std::vec![0u8; 14 + 40 + len];
        let dst_mac = if dst.is_multicast() {
            ipv6::multicast_mac(dst)
        } else {
            OUR_MAC
        };
        EthernetRepr {
            src: PEER_MAC,
            dst: dst_mac,
            ethertype: EtherType::Ipv6,
        }
        .emit(&mut f)
        .unwrap();
        let ip = Ipv6Repr {
            src,
            dst,
            next_header: next_header::ICMPV6,
            payload_len: len as u16,
            hop_limit,
        };
        ip.emit(&mut f[14..]).unwrap();
        m.emit(
            Icmpv6Ip {
                src,
                dst,
                hop_limit,
            },
            &mut f[54..],
        )
        .unwrap();
        f
    }

    fn na(flags: u8, target: Ipv6Addr, mac: EthernetAddress) -> Vec<u8> {
        let m = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags,
            target,
            lladdr: Some(mac),
        });
        icmp_frame(target, ours(), 255, &m)
    }

    fn state(i: &Interface<4>, a: Ipv6Addr) -> Option<NeighborState> {
        i.ndp_cache().get(a)
    }

    #[test]
    fn resolution_solicits_the_group_then_a_solicited_advert_makes_it_reachable() {
        let mut i = iface();
        let now = t(3000);
        assert_eq!(i.lookup6(now, peer()), Err(NeighborStatus::Pending));
        assert!(i.wait_for6(now, peer(), 7));
        let group = ipv6::solicited_node(peer());
        assert_eq!(
            i.poll_transmit(now),
            Some(Reply::NeighborSolicit {
                dst_mac: ipv6::multicast_mac(group),
                dst: group,
                src: ours(),
                target: peer(),
            })
        );
        // A solicited advertisement completes the entry as REACHABLE...
        i.receive(now, &na(NA_SOLICITED | NA_OVERRIDE, peer(), PEER_MAC));
        assert!(matches!(
            state(&i, peer()),
            Some(NeighborState::Reachable { mac: PEER_MAC, expires_at }) if expires_at > now
        ));
        assert_eq!(i.poll_resolved(), Some(7));
        assert_eq!(i.lookup6(now, peer()), Ok(PEER_MAC));
        // ... a non-override advertisement with another address changes nothing ...
        i.receive(now, &na(0, peer(), OTHER_MAC));
        assert_eq!(i.lookup6(now, peer()), Ok(PEER_MAC));
        // ... an override one moves it to STALE at the new address.
        i.receive(now, &na(NA_OVERRIDE, peer(), OTHER_MAC));
        assert_eq!(
            state(&i, peer()),
            Some(NeighborState::Reachable {
                mac: OTHER_MAC,
                expires_at: now
            })
        );
        assert_eq!(i.stats().nd_adverts_in, 3);
    }

    #[test]
    fn stale_goes_through_delay_and_unicast_probes_to_incomplete() {
        let mut i = iface();
        let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
            target: ours(),
            lladdr: Some(PEER_MAC),
        });
        let now = t(3000);
        let f = icmp_frame(peer(), ipv6::solicited_node(ours()), 255, &ns);
        let r = i.receive(now, &f);
        assert!(matches!(
            r,
            Received::Reply(Reply::NeighborAdvert {
                solicited: true,
                ..
            })
        ));
        // Learnt STALE; the first use starts DELAY, unicast probes after 5 s.
        assert_eq!(i.lookup6(now, peer()), Ok(PEER_MAC));
        assert!(matches!(
            state(&i, peer()),
            Some(NeighborState::Probing {
                requests_sent: 0,
                ..
            })
        ));
        assert_eq!(i.poll_transmit(t(4000)), None);
        let probe = i.poll_transmit(t(8000));
        assert_eq!(
            probe,
            Some(Reply::NeighborSolicit {
                dst_mac: PEER_MAC,
                dst: peer(),
                src: ours(),
                target: peer()
            })
        );
        assert!(i.poll_transmit(t(9000)).is_some());
        assert!(i.poll_transmit(t(10000)).is_some());
        assert_eq!(i.poll_transmit(t(10500)), None);
        // Unanswered: back to INCOMPLETE, solicited by multicast.
        let r = i.poll_transmit(t(11000));
        assert!(
            matches!(r, Some(Reply::NeighborSolicit { dst, .. }) if dst.is_multicast()),
            "{r:?}"
        );
    }

    #[test]
    fn echo_to_all_nodes_is_answered_from_the_link_local_address() {
        let mut i = iface();
        let m = Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"x",
        };
        let f = icmp_frame(peer(), ipv6::ALL_NODES, 64, &m);
        let r = i.receive(t(3000), &f);
        assert!(
            matches!(r, Received::Reply(Reply::Echo6 { src, dst, .. }) if src == ours() && dst == peer())
        );
        // Not to others' unicast addresses.
        let f = icmp_frame(peer(), "fe80::99".parse().unwrap(), 64, &m);
        let r = i.receive(t(3000), &f);
        assert_eq!(r, Received::Dropped(DropReason::NotOurAddress));
    }

    /// UDP over IPv6 reaches the stack (for the resolver) only unicast to a usable
    /// address of ours.
    #[cfg(feature = "dns")]
    #[test]
    fn udp_to_our_unicast_address_is_handed_up() {
        let mut i = iface();
        let m = Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: &[0; 4],
        };
        let udp = |dst| {
            let mut f = icmp_frame(peer(), dst, 64, &m);
            f[20] = next_header::UDP;
            f
        };
        let f = udp(ours());
        assert!(matches!(
            i.receive(t(3000), &f),
            Received::Udp6 { src, dst, payload } if src == peer() && dst == ours() && payload.len() == 12
        ));
        let f = udp(ipv6::ALL_NODES);
        assert_eq!(
            i.receive(t(3000), &f),
            Received::Dropped(DropReason::UnknownProtocol)
        );
        assert_eq!(i.stats().udp_in, 1);
    }

    #[test]
    fn parameter_problems_are_rate_limited() {
        let mut i = iface();
        let mut f = icmp_frame(
            peer(),
            ours(),
            64,
            &Icmpv6Repr::EchoRequest {
                ident: 1,
                seq_no: 1,
                data: &[],
            },
        );
        // Destination Options with an option of type 0x80 (discard, send an error).
        f[20] = next_header::DEST_OPTS;
        f.truncate(54);
        f.extend_from_slice(&[next_header::NO_NEXT, 0, 0x80, 2, 0, 0, 1, 0]);
        f[18..20].copy_from_slice(&8u16.to_be_bytes());
        let mut sent = 0;
        for _ in 0..30 {
            if matches!(
                i.receive(t(3000), &f),
                Received::Reply(Reply::Icmpv6Error { .. })
            ) {
                sent += 1;
            }
        }
        assert_eq!(sent, usize::from(ERROR_BURST));
        assert_eq!(i.stats().icmpv6_errors_limited, 20);
        assert!(matches!(i.receive(t(3100), &f), Received::Reply(_)));
    }

    #[test]
    fn a_query_for_all_groups_schedules_a_report() {
        let mut i = iface();
        // An MLDv2 general query (Icmpv6Repr emits none: a host sends no queries).
        let mut data = [0u8; 20];
        data[16] = 2; // QRV
        let q = Icmpv6Repr::Other {
            msg_type: msg_type::MLD_QUERY,
            code: 0,
            rest: [0x03, 0xe8, 0, 0],
            data: &data,
        };
        let f = icmp_frame(peer(), ipv6::ALL_NODES, 1, &q);
        let r = i.receive(t(3000), &f);
        assert_eq!(r, Received::Handled);
        let mut reports = 0;
        let mut now = t(3000);
        while now <= t(4100) {
            while let Some(r) = i.poll_transmit(now) {
                reports += usize::from(matches!(r, Reply::Slaac(SlaacOutput::MldReport { .. })));
            }
            now += Duration::from_millis(50);
        }
        assert_eq!(reports, 1);
        assert_eq!(
            mld_max_delay(0x8000 | 0x0001),
            Duration::from_millis((0x1001) << 3)
        );
    }

    /// IPv6 frames with a few bytes changed, and random tails.
    fn v6_frames() -> impl Strategy<Value = Vec<u8>> {
        let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
            target: ours(),
            lladdr: Some(PEER_MAC),
        });
        let echo = Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: b"abcdefgh",
        };
        let bases = std::vec![
            icmp_frame(peer(), ipv6::solicited_node(ours()), 255, &ns),
            icmp_frame(peer(), ours(), 64, &echo),
            na(NA_SOLICITED | NA_OVERRIDE, peer(), PEER_MAC),
        ];
        (
            proptest::sample::select(bases),
            proptest::collection::vec((14usize..200, any::<u8>()), 0..4),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(mut f, edits, tail)| {
                for (at, v) in edits {
                    let at = at % f.len();
                    f[at] = v;
                }
                f.extend_from_slice(&tail);
                f
            })
    }

    proptest! {
        #[test]
        fn ipv6_input_never_panics(frames in proptest::collection::vec(v6_frames(), 1..12)) {
            let mut i = iface();
            for (n, f) in frames.iter().enumerate() {
                let now = t(3000 + n as u64 * 400);
                let _ = i.lookup6(now, peer());
                let _ = i.wait_for6(now, peer(), n as u32);
                if let Received::Reply(r) = i.receive(now, f) {
                    let mut b = std::vec![0u8; r.frame_len()];
                    prop_assert_eq!(i.emit_reply(&r, &mut b), Ok(b.len()));
                }
                while let Some(r) = i.poll_transmit(now) {
                    let mut b = std::vec![0u8; r.frame_len()];
                    prop_assert_eq!(i.emit_reply(&r, &mut b), Ok(b.len()));
                }
                while i.poll_resolved().is_some() {}
                while i.poll_failed(now).is_some() {}
            }
            prop_assert!(i.ndp_cache().len() <= 4);
        }
    }
}
