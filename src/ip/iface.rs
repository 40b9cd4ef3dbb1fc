//! [`Interface`]: input classification, replies, next-hop resolution and header output.
//! The IPv4 side (ARP, IPv4, ICMPv4) is in `v4` (feature `proto-ipv4`), the IPv6 side
//! (Neighbor Discovery, SLAAC, ICMPv6) in `v6` (feature `proto-ipv6`); this file
//! dispatches between them.

use super::{DropReason, IfaceConfig, IpStats, Received, Reply, bump};
use crate::log::net_log;
use crate::time::Instant;
use crate::wire::WireError;
use crate::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame};

#[cfg(feature = "proto-ipv4")]
mod v4;
#[cfg(feature = "proto-ipv6")]
mod v6;
#[cfg(feature = "proto-ipv6")]
pub(crate) use v6::v6_frame_len;

/// Neighbour cache entries (ARP, and NDP) of an [`Interface`] unless chosen otherwise.
pub const DEFAULT_NEIGHBORS: usize = 16;

/// One Ethernet interface: with `proto-ipv4` an IPv4 address with ARP, IPv4 and ICMP;
/// with `proto-ipv6` IPv6 addresses with Neighbor Discovery and ICMPv6; a neighbour cache
/// of `N` entries per family. See the [module documentation](super) for the calling
/// sequence.
#[derive(Clone, Debug)]
pub struct Interface<const N: usize = DEFAULT_NEIGHBORS> {
    config: IfaceConfig,
    stats: IpStats,
    /// The IPv4 side: ARP cache, announcements, identification counter.
    #[cfg(feature = "proto-ipv4")]
    v4: v4::V4<N>,
    /// The IPv6 side: address configuration, neighbour cache, error rate limit.
    #[cfg(feature = "proto-ipv6")]
    v6: v6::V6<N>,
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl<const N: usize> Interface<N> {
    /// An interface with `config` and empty neighbour caches. The first
    /// [`Interface::poll_transmit`] announces the IPv4 address with a gratuitous ARP.
    pub fn new(config: IfaceConfig) -> Self {
        #[cfg(feature = "proto-ipv6")]
        let m = config.mac.0;
        Interface {
            #[cfg(feature = "proto-ipv4")]
            v4: v4::V4::new(&config),
            config,
            stats: IpStats::default(),
            #[cfg(feature = "proto-ipv6")]
            v6: v6::V6::new(u64::from_be_bytes([
                0, 0, m[0], m[1], m[2], m[3], m[4], m[5],
            ])),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IfaceConfig {
        &self.config
    }

    /// Replaces the configuration. A new Ethernet or IPv4 address flushes the ARP cache
    /// (entries with waiters stay) and announces the new address again; IPv6 keeps its
    /// addresses unless its own settings or the MAC changed.
    pub fn set_config(&mut self, now: Instant, config: IfaceConfig) {
        let old = core::mem::replace(&mut self.config, config);
        #[cfg(feature = "proto-ipv4")]
        self.reconfigure_v4(now, &old);
        #[cfg(feature = "proto-ipv6")]
        if old.mac != self.config.mac || old.ipv6 != self.config.ipv6 {
            self.up_v6(now);
        }
    }

    /// How long a neighbour that did not answer stays failed: the ARP setting with
    /// `proto-ipv4`, else 20 s (its default, 4.4BSD's `arpt_down`).
    #[cfg(feature = "proto-ipv6")]
    fn failed_hold(&self) -> crate::time::Duration {
        #[cfg(feature = "proto-ipv4")]
        return self.config.arp.failed_hold;
        #[cfg(not(feature = "proto-ipv4"))]
        return crate::time::Duration::from_secs(20);
    }

    /// Our Ethernet address.
    pub fn mac(&self) -> EthernetAddress {
        self.config.mac
    }

    /// The counters.
    pub fn stats(&self) -> &IpStats {
        &self.stats
    }

    /// The link came up (again): schedules the gratuitous ARP announcements from `now`
    /// (with `proto-ipv4`), and restarts IPv6: its addresses go through DAD again (with
    /// `proto-ipv6`).
    pub fn up(&mut self, now: Instant) {
        #[cfg(feature = "proto-ipv4")]
        self.announce(now);
        #[cfg(feature = "proto-ipv6")]
        self.up_v6(now);
    }

    // ----- input -------------------------------------------------------------------

    /// Validates and classifies one received Ethernet frame (no FCS). Never panics;
    /// whatever is not for the caller is handled here or dropped and counted.
    pub fn receive<'f>(&mut self, now: Instant, frame: &'f [u8]) -> Received<'f> {
        bump(&mut self.stats.frames_in);
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return self.drop(DropReason::Truncated);
        };
        let dst = eth.dst();
        #[cfg(feature = "proto-ipv6")]
        let group = v6::is_ipv6_multicast_mac(dst) && eth.ethertype() == EtherType::Ipv6;
        #[cfg(not(feature = "proto-ipv6"))]
        let group = false;
        if dst != self.config.mac && !dst.is_broadcast() && !group {
            return self.drop(DropReason::NotForUs);
        }
        let src = eth.src();
        // Our own MAC as source is a loop on a real link, except for a frame we sent to
        // ourselves (a loopback device).
        let looped = src == self.config.mac && eth.dst() == self.config.mac;
        if !src.is_unicast() || (src == self.config.mac && !looped) {
            return self.drop(DropReason::BadSrcMac);
        }
        let _ = now;
        match eth.ethertype() {
            #[cfg(feature = "proto-ipv4")]
            EtherType::Arp => self.receive_arp(now, eth.payload()),
            #[cfg(feature = "proto-ipv4")]
            EtherType::Ipv4 => self.receive_ipv4(src, eth.payload()),
            #[cfg(feature = "proto-ipv6")]
            EtherType::Ipv6 => self.receive_ipv6(now, src, eth.payload()),
            #[allow(unreachable_patterns)]
            _ => self.drop(DropReason::UnknownEthertype),
        }
    }

    fn drop<'f>(&mut self, reason: DropReason) -> Received<'f> {
        bump(reason.counter(&mut self.stats));
        match reason {
            // Traffic for others and what this host does not speak: routine.
            DropReason::NotForUs | DropReason::NotOurAddress | DropReason::UnknownEthertype => {
                net_log!(trace, "frame dropped: {:?}", reason)
            }
            _ => net_log!(debug, "frame dropped: {:?}", reason),
        }
        Received::Dropped(reason)
    }

    // ----- replies and the interface's own frames -----------------------------------

    /// Writes `reply` as a whole frame to the front of `buf` (at least
    /// [`Reply::frame_len`] bytes) and returns its length.
    pub fn emit_reply(&mut self, reply: &Reply<'_>, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = reply.frame_len();
        let buf = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        match reply {
            #[cfg(feature = "proto-ipv6")]
            Reply::Echo6 { .. }
            | Reply::NeighborAdvert { .. }
            | Reply::NeighborSolicit { .. }
            | Reply::Slaac(_)
            | Reply::Icmpv6Error { .. } => self.emit_reply_v6(reply, buf)?,
            #[cfg(feature = "proto-ipv4")]
            #[allow(unreachable_patterns)]
            _ => self.emit_reply_v4(reply, buf)?,
        }
        bump(&mut self.stats.frames_out);
        Ok(len)
    }

    /// The next frame the interface itself needs sent: a gratuitous ARP after coming up,
    /// an ARP request that is due, or an IPv6 Neighbor Solicitation, DAD probe, Router
    /// Solicitation or MLD report. It is counted as sent when written with
    /// [`Interface::emit_reply`]; get transmit room before calling this, as a frame
    /// handed out and not sent waits for the next retry.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Reply<'static>> {
        #[cfg(feature = "proto-ipv4")]
        if let Some(r) = self.poll_transmit_v4(now) {
            return Some(r);
        }
        #[cfg(feature = "proto-ipv6")]
        if let Some(r) = self.poll_transmit_v6(now) {
            return Some(r);
        }
        let _ = now;
        None
    }

    // ----- neighbour events ---------------------------------------------------------

    /// No neighbour event to poll for: [`Interface::poll_resolved`] and
    /// [`Interface::poll_failed`] would both return `None` (every neighbour in the caches
    /// is resolved and no token waits). O(1), for the poll loop.
    #[inline]
    pub fn neighbors_settled(&self) -> bool {
        #[cfg(feature = "proto-ipv6")]
        if !self.v6_settled() {
            return false;
        }
        #[cfg(feature = "proto-ipv4")]
        if !self.v4_settled() {
            return false;
        }
        true
    }

    /// Nothing for [`Interface::poll_transmit`] to send at `now`: no announcement left,
    /// every neighbour resolved, and (with `proto-ipv6`) no IPv6 configuration message
    /// due. Cheap, for the poll loop.
    #[inline]
    pub fn transmit_idle_at(&self, now: Instant) -> bool {
        #[cfg(feature = "proto-ipv6")]
        if !self.v6_transmit_idle(now) {
            return false;
        }
        #[cfg(feature = "proto-ipv4")]
        if !self.transmit_idle() {
            return false;
        }
        let _ = now;
        true
    }

    /// A token whose neighbour has been resolved: retry its output now.
    pub fn poll_resolved(&mut self) -> Option<u32> {
        #[cfg(feature = "proto-ipv4")]
        if let Some(t) = self.pop_resolved_v4() {
            return Some(t);
        }
        #[cfg(feature = "proto-ipv6")]
        if let Some(t) = self.pop_resolved_v6() {
            return Some(t);
        }
        None
    }

    /// A token whose neighbour could not be resolved by `now`: the host is unreachable.
    pub fn poll_failed(&mut self, now: Instant) -> Option<u32> {
        #[cfg(feature = "proto-ipv4")]
        if let Some(t) = self.pop_failed_v4(now) {
            return Some(t);
        }
        #[cfg(feature = "proto-ipv6")]
        {
            self.advance_v6(now);
            if let Some(t) = self.pop_failed_v6() {
                return Some(t);
            }
        }
        let _ = now;
        None
    }

    /// When the interface next needs to run: the next ARP request, announcement,
    /// solicitation or resolution failure. An instant at or before the present (possibly
    /// [`Instant::ZERO`]) means now: tokens are waiting to be polled or a frame is due.
    pub fn poll_at(&self) -> Option<Instant> {
        let at = None;
        #[cfg(feature = "proto-ipv4")]
        let at = earliest(at, self.poll_at_v4());
        #[cfg(feature = "proto-ipv6")]
        let at = earliest(at, self.v6_poll_at());
        at
    }
}
