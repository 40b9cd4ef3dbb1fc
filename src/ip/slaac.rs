//! IPv6 address configuration for a host, sans-IO: the link-local address and the
//! addresses formed from advertised prefixes (SLAAC, RFC 4862), each checked by Duplicate
//! Address Detection; the default routers, on-link prefixes and link parameters a Router
//! Advertisement carries (RFC 4861 §6.3.4); Router Solicitations (§6.3.7); and the MLDv2
//! reports that join the solicited-node groups (RFC 3810, the host part a host with no
//! source filters needs).
//!
//! Like the DHCPv4 client (`ip::dhcp`) it never touches the interface: the caller
//! feeds it received messages and time, sends what [`Slaac::poll_transmit`] returns, runs
//! it again at [`Slaac::poll_at`], and applies what [`Slaac::take_event`] reports.
//!
//! Choices, each documented where it acts:
//! - Interface identifiers are the MAC's modified EUI-64 (RFC 4291), for the link-local
//!   address and for SLAAC; only /64 prefixes form addresses (RFC 4862 §5.5.3 d).
//! - A duplicate link-local address disables the configuration (RFC 4862 §5.4.5: the
//!   identifier is the hardware's, so every other address would collide too).
//! - DAD probes carry no nonce (RFC 7527 is for links that loop multicast back, which
//!   Ethernet MACs do not).
//! - Fixed tables: [`MAX_ADDRS`] addresses, [`MAX_ROUTERS`] routers, [`MAX_PREFIXES`]
//!   on-link prefixes; what does not fit is counted in [`SlaacStats::table_full`].

use core::net::Ipv6Addr;

use super::rng::Rng;
use crate::time::{Duration, Instant};
use crate::wire::ethernet::EthernetAddress;
use crate::wire::icmpv6::{CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE};
use crate::wire::ipv6::{self, Ipv6Cidr};
use crate::wire::ndisc::{NdiscOption, NdiscRepr, PrefixInfo, option_type};

/// Addresses held: the link-local one and up to three more.
pub const MAX_ADDRS: usize = 4;
/// Default routers remembered.
pub const MAX_ROUTERS: usize = 2;
/// On-link prefixes remembered.
pub const MAX_PREFIXES: usize = 4;
/// DNS servers kept from Router Advertisements (RFC 8106).
pub const MAX_DNS_SERVERS: usize = 2;
/// Most events waiting for [`Slaac::take_event`]; older ones are dropped and counted.
const MAX_EVENTS: usize = 8;

/// Longest random wait before the first message on an interface (RFC 4861 §10:
/// MAX_RTR_SOLICITATION_DELAY; RFC 4862 §5.4.2 uses it for the first DAD probe).
const MAX_START_DELAY: Duration = Duration::from_secs(1);
/// Time between Router Solicitations (RTR_SOLICITATION_INTERVAL).
const RS_INTERVAL: Duration = Duration::from_secs(4);
/// The default time between DAD probes and NUD probes (RETRANS_TIMER).
const RETRANS_TIMER: Duration = Duration::from_secs(1);
/// The default base reachable time (REACHABLE_TIME).
pub(crate) const REACHABLE_TIME: Duration = Duration::from_secs(30);
/// RFC 4862 §5.5.3 e): a Router Advertisement cannot cut an address's remaining valid
/// lifetime below two hours (against a forged RA that would kill it).
const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

/// Settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaacConfig {
    /// DAD probes per address (DupAddrDetectTransmits, default 1); 0 skips DAD.
    pub dad_transmits: u8,
    /// Form addresses from advertised prefixes. Default on.
    pub autoconf: bool,
    /// Router Solicitations to send until a Router Advertisement arrives (default 3,
    /// MAX_RTR_SOLICITATIONS); 0 waits for periodic advertisements.
    pub router_solicitations: u8,
}

impl SlaacConfig {
    /// The defaults described on each field.
    pub const fn new() -> Self {
        SlaacConfig {
            dad_transmits: 1,
            autoconf: true,
            router_solicitations: 3,
        }
    }
}

impl Default for SlaacConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Where an address came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `fe80::/64` with the MAC's identifier.
    LinkLocal,
    /// Given by the program ([`Slaac::add_static`]).
    Static,
    /// Formed from a Router Advertisement's prefix.
    Slaac,
}

/// The state of an address (RFC 4862 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrState {
    /// Under Duplicate Address Detection: not used yet.
    Tentative,
    /// Usable for new connections.
    Preferred,
    /// Its preferred lifetime ended: existing connections go on, new ones should not
    /// start from it.
    Deprecated,
}

/// One configured address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr6 {
    /// The address and its prefix length.
    pub cidr: Ipv6Cidr,
    /// Its state.
    pub state: AddrState,
    /// Where it came from.
    pub origin: Origin,
    /// End of the preferred lifetime (`None`: forever).
    pub preferred_until: Option<Instant>,
    /// End of the valid lifetime, when it is removed (`None`: forever).
    pub valid_until: Option<Instant>,
    /// DAD probes still to send.
    probes_left: u8,
    /// When DAD next acts (sends a probe, or ends).
    dad_due: Instant,
}

/// A default router and when its advertisement stops counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Router {
    /// Its link-local address.
    pub addr: Ipv6Addr,
    /// When its router lifetime ends.
    pub until: Instant,
}

/// Link parameters from Router Advertisements, with the RFC defaults until one arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkParams {
    /// The link MTU advertised, if any (1280 and above only).
    pub mtu: Option<u32>,
    /// The hop limit for outgoing packets, if advertised.
    pub hop_limit: Option<u8>,
    /// BaseReachableTime.
    pub base_reachable: Duration,
    /// ReachableTime: the base times a random factor from 0.5 to 1.5 (RFC 4861 §6.3.2).
    pub reachable: Duration,
    /// RetransTimer: between Neighbor Solicitations.
    pub retrans: Duration,
}

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlaacEvent {
    /// The address passed DAD and may be used.
    Usable(Ipv6Cidr),
    /// DAD found the address in use by another node; it was dropped.
    Duplicate(Ipv6Addr),
    /// The address's preferred lifetime ended.
    Deprecated(Ipv6Addr),
    /// The address's valid lifetime ended; it was dropped.
    Removed(Ipv6Addr),
    /// A default router appeared.
    RouterAdded(Ipv6Addr),
    /// A default router's lifetime ended or it withdrew.
    RouterLost(Ipv6Addr),
}

/// A message to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlaacOutput {
    /// A DAD probe: a Neighbor Solicitation for `target` from the unspecified address to
    /// its solicited-node group, with no link-layer address option.
    DadProbe {
        /// The tentative address.
        target: Ipv6Addr,
    },
    /// A Router Solicitation to all-routers, from `src` with a source link-layer address
    /// option.
    RouterSolicit {
        /// The link-local address.
        src: Ipv6Addr,
    },
    /// An MLDv2 report with one source-less record of `record_type` per group (see
    /// [`crate::wire::icmpv6::emit_mldv2_report`]), from the link-local address, or the
    /// unspecified one while it is tentative (RFC 3810 §5.2.13).
    MldReport {
        /// [`CHANGE_TO_EXCLUDE`] after a change, [`MODE_IS_EXCLUDE`] to a query.
        record_type: u8,
        /// The solicited-node groups of every address held; `len` of them.
        groups: [Ipv6Addr; MAX_ADDRS],
        /// How many of `groups` count.
        len: usize,
    },
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlaacStats {
    /// Router Advertisements taken.
    pub ra_received: u32,
    /// Addresses found duplicate by DAD.
    pub duplicates: u32,
    /// Advertisements for an address of ours after its DAD (RFC 4862 §5.4.4: logged,
    /// nothing else).
    pub conflicts_after_dad: u32,
    /// Addresses, routers or prefixes that did not fit their table.
    pub table_full: u32,
    /// Events dropped because [`Slaac::take_event`] was not called.
    pub events_dropped: u32,
}

/// A fixed-size FIFO of events.
#[derive(Clone, Copy, Debug)]
struct Events {
    q: [Option<SlaacEvent>; MAX_EVENTS],
    head: usize,
    len: usize,
}

impl Events {
    fn push(&mut self, e: SlaacEvent, dropped: &mut u32) {
        if self.len == MAX_EVENTS {
            self.head = (self.head + 1) % MAX_EVENTS;
            self.len -= 1;
            *dropped += 1;
        }
        self.q[(self.head + self.len) % MAX_EVENTS] = Some(e);
        self.len += 1;
    }
    #[inline]
    fn pop(&mut self) -> Option<SlaacEvent> {
        if self.len == 0 {
            return None;
        }
        let e = self.q[self.head].take();
        self.head = (self.head + 1) % MAX_EVENTS;
        self.len -= 1;
        e
    }
}

/// Seconds from an RA (`u32::MAX`: forever) as an instant after `now`.
fn lifetime_end(now: Instant, secs: u32) -> Option<Instant> {
    (secs != u32::MAX).then(|| now + Duration::from_secs(u64::from(secs)))
}

/// The address configuration of one interface. See the [module documentation](self).
#[derive(Clone, Copy, Debug)]
pub struct Slaac {
    cfg: SlaacConfig,
    iid: [u8; 8],
    rng: Rng,
    addrs: [Option<Addr6>; MAX_ADDRS],
    routers: [Option<Router>; MAX_ROUTERS],
    prefixes: [Option<(Ipv6Cidr, Option<Instant>)>; MAX_PREFIXES],
    /// RDNSS servers and when their lifetime ends (`None`: never).
    dns: [Option<(Ipv6Addr, Option<Instant>)>; MAX_DNS_SERVERS],
    link: LinkParams,
    rs_left: u8,
    rs_due: Option<Instant>,
    mld_due: Option<(Instant, u8)>,
    disabled: bool,
    events: Events,
    stats: SlaacStats,
}

impl Slaac {
    /// The configuration of the interface at `mac`, seeded with `seed` (from the stack's
    /// secret seed), starting at `now` with its link-local address tentative.
    pub fn new(cfg: SlaacConfig, mac: EthernetAddress, seed: u64, now: Instant) -> Self {
        let iid = ipv6::interface_id_from_mac(mac);
        let mut s = Slaac {
            cfg,
            iid,
            rng: Rng(seed ^ u64::from_be_bytes(iid)),
            addrs: [None; MAX_ADDRS],
            routers: [None; MAX_ROUTERS],
            prefixes: [None; MAX_PREFIXES],
            dns: [None; MAX_DNS_SERVERS],
            link: LinkParams {
                mtu: None,
                hop_limit: None,
                base_reachable: REACHABLE_TIME,
                reachable: REACHABLE_TIME,
                retrans: RETRANS_TIMER,
            },
            rs_left: cfg.router_solicitations,
            rs_due: None,
            mld_due: None,
            disabled: false,
            events: Events {
                q: [None; MAX_EVENTS],
                head: 0,
                len: 0,
            },
            stats: SlaacStats::default(),
        };
        s.link.reachable = s.jittered_reachable();
        let ll = Ipv6Cidr::new(ipv6::link_local_from_mac(mac), 64);
        s.insert(now, ll, Origin::LinkLocal, None, None);
        s
    }

    /// Adds `cidr` as a static address, tentative until DAD passes. `false` if the
    /// table is full or the configuration is disabled.
    pub fn add_static(&mut self, now: Instant, cidr: Ipv6Cidr) -> bool {
        !self.disabled && self.insert(now, cidr, Origin::Static, None, None)
    }

    /// Every address held, tentative ones included.
    pub fn addresses(&self) -> impl Iterator<Item = &Addr6> {
        self.addrs.iter().flatten()
    }

    /// The address `a`, if held.
    pub fn address(&self, a: Ipv6Addr) -> Option<&Addr6> {
        self.addresses().find(|x| x.cidr.address() == a)
    }

    /// The first default router.
    pub fn default_router(&self) -> Option<Ipv6Addr> {
        self.routers.iter().flatten().map(|r| r.addr).next()
    }

    /// The default routers.
    pub fn routers(&self) -> impl Iterator<Item = &Router> {
        self.routers.iter().flatten()
    }

    /// Whether `a` is on-link: link-local, or under an advertised on-link prefix or the
    /// prefix of an address held.
    pub fn is_on_link(&self, a: Ipv6Addr) -> bool {
        a.is_unicast_link_local()
            || self.prefixes.iter().flatten().any(|(p, _)| p.contains(a))
            || self
                .addresses()
                .any(|x| x.origin == Origin::Static && x.cidr.contains(a))
    }

    /// The link parameters.
    pub fn link(&self) -> &LinkParams {
        &self.link
    }

    /// The counters.
    pub fn stats(&self) -> &SlaacStats {
        &self.stats
    }

    /// Whether a duplicate link-local address stopped the configuration.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The next event, oldest first.
    #[inline]
    pub fn take_event(&mut self) -> Option<SlaacEvent> {
        self.events.pop()
    }

    fn event(&mut self, e: SlaacEvent) {
        self.events.push(e, &mut self.stats.events_dropped);
    }

    fn jittered_reachable(&mut self) -> Duration {
        let base = self.link.base_reachable;
        Duration::from_micros(base.total_micros() / 2) + self.rng.upto(base)
    }

    /// Adds a tentative address (DAD after a random delay) and schedules the MLD report
    /// that joins its solicited-node group first.
    fn insert(
        &mut self,
        now: Instant,
        cidr: Ipv6Cidr,
        origin: Origin,
        preferred_until: Option<Instant>,
        valid_until: Option<Instant>,
    ) -> bool {
        if self.address(cidr.address()).is_some() {
            return true;
        }
        let Some(free) = self.addrs.iter_mut().find(|a| a.is_none()) else {
            self.stats.table_full += 1;
            return false;
        };
        let delay = self.rng.upto(MAX_START_DELAY);
        *free = Some(Addr6 {
            cidr,
            state: AddrState::Tentative,
            origin,
            preferred_until,
            valid_until,
            probes_left: self.cfg.dad_transmits,
            dad_due: now + delay,
        });
        self.mld_due = Some((now, CHANGE_TO_EXCLUDE));
        true
    }
}

impl Slaac {
    /// When the configuration next needs to run: a DAD step, a lifetime's end, a
    /// solicitation or report to send. Events do not count: take them after each call
    /// that can make one (`poll_transmit` and the `receive_*` methods).
    pub fn poll_at(&self) -> Option<Instant> {
        let addr = self.addresses().flat_map(|a| {
            let dad = (a.state == AddrState::Tentative).then_some(a.dad_due);
            let pref = a
                .preferred_until
                .filter(|_| a.state == AddrState::Preferred);
            [dad, pref, a.valid_until]
        });
        let routers = self.routers().map(|r| Some(r.until));
        let prefixes = self.prefixes.iter().flatten().map(|p| p.1);
        addr.chain(routers)
            .chain(prefixes)
            .chain([self.rs_due, self.mld_due.map(|m| m.0)])
            .flatten()
            .min()
    }

    /// Runs the timers due at `now` and returns the next message to send, if any: MLD
    /// reports first (a node joins the solicited-node group before probing it), then
    /// DAD probes, then Router Solicitations. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<SlaacOutput> {
        self.expire(now);
        if let Some(out) = self.poll_mld(now) {
            return Some(out);
        }
        if let Some(out) = self.poll_dad(now) {
            return Some(out);
        }
        self.poll_rs(now)
    }

    fn expire(&mut self, now: Instant) {
        for i in 0..MAX_ADDRS {
            let Some(a) = self.addrs[i] else { continue };
            if a.valid_until.is_some_and(|t| t <= now) {
                self.addrs[i] = None;
                self.mld_due = Some((now, CHANGE_TO_EXCLUDE));
                self.event(SlaacEvent::Removed(a.cidr.address()));
            } else if a.state == AddrState::Preferred && a.preferred_until.is_some_and(|t| t <= now)
            {
                self.set_state(i, AddrState::Deprecated);
                self.event(SlaacEvent::Deprecated(a.cidr.address()));
            }
        }
        for i in 0..MAX_ROUTERS {
            if let Some(r) = self.routers[i].filter(|r| r.until <= now) {
                self.routers[i] = None;
                self.event(SlaacEvent::RouterLost(r.addr));
            }
        }
        for p in &mut self.prefixes {
            if p.is_some_and(|(_, until)| until.is_some_and(|t| t <= now)) {
                *p = None;
            }
        }
    }

    fn set_state(&mut self, i: usize, state: AddrState) {
        if let Some(a) = &mut self.addrs[i] {
            a.state = state;
        }
    }

    fn poll_mld(&mut self, now: Instant) -> Option<SlaacOutput> {
        let (due, record_type) = self.mld_due?;
        if due > now {
            return None;
        }
        self.mld_due = None;
        if self.disabled {
            return None;
        }
        let mut groups = [Ipv6Addr::UNSPECIFIED; MAX_ADDRS];
        let mut len = 0;
        for a in self.addrs.iter().flatten() {
            let g = ipv6::solicited_node(a.cidr.address());
            if !groups[..len].contains(&g) {
                groups[len] = g;
                len += 1;
            }
        }
        Some(SlaacOutput::MldReport {
            record_type,
            groups,
            len,
        })
    }

    fn poll_dad(&mut self, now: Instant) -> Option<SlaacOutput> {
        let retrans = self.link.retrans;
        for i in 0..MAX_ADDRS {
            let Some(a) = &mut self.addrs[i] else {
                continue;
            };
            if a.state != AddrState::Tentative || a.dad_due > now {
                continue;
            }
            if a.probes_left > 0 {
                a.probes_left -= 1;
                a.dad_due = now + retrans;
                return Some(SlaacOutput::DadProbe {
                    target: a.cidr.address(),
                });
            }
            // RetransTimer after the last probe with no answer: the address is ours.
            let deprecated = a.preferred_until.is_some_and(|t| t <= now);
            let (cidr, origin) = (a.cidr, a.origin);
            a.state = if deprecated {
                AddrState::Deprecated
            } else {
                AddrState::Preferred
            };
            self.event(SlaacEvent::Usable(cidr));
            if origin == Origin::LinkLocal && self.rs_left > 0 {
                self.rs_due = Some(now + self.rng.upto(MAX_START_DELAY));
            }
        }
        None
    }

    fn poll_rs(&mut self, now: Instant) -> Option<SlaacOutput> {
        if self.rs_due.is_none_or(|t| t > now) {
            return None;
        }
        let Some(src) = self
            .addresses()
            .find(|a| a.origin == Origin::LinkLocal && a.state != AddrState::Tentative)
            .map(|a| a.cidr.address())
        else {
            self.rs_due = None;
            return None;
        };
        self.rs_left = self.rs_left.saturating_sub(1);
        self.rs_due = (self.rs_left > 0).then(|| now + RS_INTERVAL);
        Some(SlaacOutput::RouterSolicit { src })
    }
}

impl Slaac {
    /// A Neighbor Solicitation for `target` from `src`. Returns whether `target` is a
    /// usable address of ours, which the caller answers with an advertisement. A DAD
    /// probe (unspecified `src`) for one of our tentative addresses means another node
    /// wants it too: ours is dropped (RFC 4862 §5.4.3).
    pub fn receive_ns(&mut self, now: Instant, src: Ipv6Addr, target: Ipv6Addr) -> bool {
        match self.address(target).map(|a| a.state) {
            Some(AddrState::Tentative) => {
                if src.is_unspecified() {
                    self.duplicate(now, target);
                }
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    /// A Neighbor Advertisement for `target`: a tentative address of ours is a duplicate
    /// (RFC 4862 §5.4.4); a usable one is only counted.
    pub fn receive_na(&mut self, now: Instant, target: Ipv6Addr) {
        match self.address(target).map(|a| a.state) {
            Some(AddrState::Tentative) => self.duplicate(now, target),
            Some(_) => self.stats.conflicts_after_dad += 1,
            None => {}
        }
    }

    fn duplicate(&mut self, now: Instant, target: Ipv6Addr) {
        let Some(slot) = self
            .addrs
            .iter_mut()
            .find(|a| a.is_some_and(|a| a.cidr.address() == target))
        else {
            return;
        };
        let origin = slot.map(|a| a.origin);
        *slot = None;
        self.stats.duplicates += 1;
        self.event(SlaacEvent::Duplicate(target));
        self.mld_due = Some((now, CHANGE_TO_EXCLUDE));
        if origin == Some(Origin::LinkLocal) {
            self.disabled = true;
            self.rs_due = None;
        }
    }

    /// An MLD query (general, or for one of our groups): answer with a report of every
    /// group at a random time within `max_delay` (RFC 3810 §6.2).
    pub fn receive_mld_query(&mut self, now: Instant, max_delay: Duration) {
        let at = now + self.rng.upto(max_delay);
        if self.mld_due.is_none_or(|(t, _)| t > at) {
            self.mld_due = Some((at, MODE_IS_EXCLUDE));
        }
    }

    /// A Router Advertisement from `src` (already validated by
    /// [`NdiscRepr::parse`]): routers, link parameters, on-link prefixes and SLAAC.
    /// Anything but a Router Advertisement is ignored.
    pub fn receive_ra(&mut self, now: Instant, src: Ipv6Addr, ra: &NdiscRepr<'_>) {
        let NdiscRepr::RouterAdvert {
            hop_limit,
            router_lifetime,
            reachable_time,
            retrans_time,
            options,
            ..
        } = *ra
        else {
            return;
        };
        if self.disabled {
            return;
        }
        self.stats.ra_received += 1;
        // RFC 4861 §6.3.7: a host stops soliciting once an advertisement arrives.
        self.rs_left = 0;
        self.rs_due = None;
        self.update_router(now, src, router_lifetime);
        self.update_params(hop_limit, reachable_time, retrans_time);
        for o in options.iter() {
            match o {
                NdiscOption::Mtu(m) if m >= ipv6::MIN_MTU as u32 => self.link.mtu = Some(m),
                NdiscOption::Prefix(p) => self.prefix(now, &p),
                NdiscOption::Other {
                    option_type: option_type::RDNSS,
                    data,
                } => self.rdnss(now, data),
                _ => {}
            }
        }
    }

    fn update_router(&mut self, now: Instant, src: Ipv6Addr, lifetime: u16) {
        let known = self
            .routers
            .iter()
            .position(|r| r.is_some_and(|r| r.addr == src));
        if lifetime == 0 {
            if let Some(i) = known {
                self.routers[i] = None;
                self.event(SlaacEvent::RouterLost(src));
            }
            return;
        }
        let r = Router {
            addr: src,
            until: now + Duration::from_secs(u64::from(lifetime)),
        };
        match known.or_else(|| self.routers.iter().position(Option::is_none)) {
            Some(i) => {
                if known.is_none() {
                    self.event(SlaacEvent::RouterAdded(src));
                }
                self.routers[i] = Some(r);
            }
            None => self.stats.table_full += 1,
        }
    }

    fn update_params(&mut self, hop_limit: u8, reachable_ms: u32, retrans_ms: u32) {
        if hop_limit != 0 {
            self.link.hop_limit = Some(hop_limit);
        }
        let reachable = Duration::from_millis(u64::from(reachable_ms));
        if reachable_ms != 0 && reachable != self.link.base_reachable {
            self.link.base_reachable = reachable;
            self.link.reachable = self.jittered_reachable();
        }
        if retrans_ms != 0 {
            self.link.retrans = Duration::from_millis(u64::from(retrans_ms));
        }
    }

    /// A Recursive DNS Server option (RFC 8106 §5.3.1): each server is added or its
    /// lifetime renewed, a zero lifetime removes it; past [`MAX_DNS_SERVERS`] (and no
    /// expired entry to reuse) a server is not kept.
    fn rdnss(&mut self, now: Instant, data: &[u8]) {
        let Some((lifetime, servers)) = crate::wire::ndisc::rdnss(data) else {
            return;
        };
        let until = (lifetime != u32::MAX).then(|| now + Duration::from_secs(u64::from(lifetime)));
        for a in servers {
            let known = self.dns.iter().position(|d| d.is_some_and(|(x, _)| x == a));
            if lifetime == 0 {
                if let Some(i) = known {
                    self.dns[i] = None;
                }
                continue;
            }
            let expired = |d: &Option<(Ipv6Addr, Option<Instant>)>| {
                d.is_none_or(|(_, u)| u.is_some_and(|u| u <= now))
            };
            if let Some(i) = known.or_else(|| self.dns.iter().position(expired)) {
                self.dns[i] = Some((a, until));
            }
        }
    }

    /// The DNS servers routers advertise (RFC 8106), those whose lifetime has not ended
    /// at `now`, in the order they came.
    pub fn dns_servers(&self, now: Instant) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.dns
            .iter()
            .flatten()
            .filter(move |(_, u)| u.is_none_or(|u| u > now))
            .map(|(a, _)| *a)
    }

    /// A Prefix Information option: on-link determination (RFC 4861 §6.3.4) and SLAAC
    /// (RFC 4862 §5.5.3).
    fn prefix(&mut self, now: Instant, p: &PrefixInfo) {
        let cidr = Ipv6Cidr::new(p.prefix, p.prefix_len);
        if p.prefix.is_unicast_link_local() {
            return;
        }
        if p.on_link {
            self.on_link_prefix(now, cidr, p.valid_lifetime);
        }
        if p.autonomous && self.cfg.autoconf && p.preferred_lifetime <= p.valid_lifetime {
            self.autoconf(now, p);
        }
    }

    fn on_link_prefix(&mut self, now: Instant, cidr: Ipv6Cidr, valid: u32) {
        let known = self
            .prefixes
            .iter()
            .position(|e| e.is_some_and(|(c, _)| c == cidr));
        if valid == 0 {
            if let Some(i) = known {
                self.prefixes[i] = None;
            }
            return;
        }
        match known.or_else(|| self.prefixes.iter().position(Option::is_none)) {
            Some(i) => self.prefixes[i] = Some((cidr, lifetime_end(now, valid))),
            None => self.stats.table_full += 1,
        }
    }

    fn autoconf(&mut self, now: Instant, p: &PrefixInfo) {
        if p.prefix_len != 64 {
            return;
        }
        let addr = ipv6::with_interface_id(p.prefix, self.iid);
        let preferred = lifetime_end(now, p.preferred_lifetime);
        let Some(a) = self
            .addrs
            .iter_mut()
            .flatten()
            .find(|a| a.cidr.address() == addr)
        else {
            if p.valid_lifetime != 0 {
                let cidr = Ipv6Cidr::new(addr, 64);
                let valid = lifetime_end(now, p.valid_lifetime);
                self.insert(now, cidr, Origin::Slaac, preferred, valid);
            }
            return;
        };
        if a.origin != Origin::Slaac {
            return;
        }
        a.preferred_until = preferred;
        if a.state == AddrState::Deprecated && preferred.is_none_or(|t| t > now) {
            a.state = AddrState::Preferred;
        }
        a.valid_until = two_hour_rule(now, a.valid_until, p.valid_lifetime);
    }
}

/// RFC 4862 §5.5.3 e): the new end of an address's valid lifetime from an advertised
/// `valid` (seconds) and its `current` end.
fn two_hour_rule(now: Instant, current: Option<Instant>, valid: u32) -> Option<Instant> {
    let advertised = lifetime_end(now, valid);
    let remaining = current.map(|t| t.saturating_duration_since(now));
    let long = Duration::from_secs(u64::from(valid)) > TWO_HOURS;
    if long || advertised.is_none() || remaining.is_some_and(|r| advertised > Some(now + r)) {
        advertised
    } else if remaining.is_some_and(|r| r <= TWO_HOURS) {
        current
    } else {
        Some(now + TWO_HOURS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ndisc::NdiscOptions;

    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x0a]);
    const ROUTER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0b);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// Runs `s` at every instant it asks for up to `until`, collecting what it sends.
    fn run(s: &mut Slaac, from: Instant, until: Instant) -> ([Option<SlaacOutput>; 16], Instant) {
        let mut out = [None; 16];
        let (mut n, mut now) = (0, from);
        loop {
            while let Some(o) = s.poll_transmit(now) {
                out[n] = Some(o);
                n += 1;
            }
            match s.poll_at().filter(|&d| d <= until) {
                Some(d) => {
                    assert!(d > now, "poll_at {d:?} not after {now:?}: no progress");
                    now = d;
                }
                None => return (out, now),
            }
        }
    }

    fn events(s: &mut Slaac) -> [Option<SlaacEvent>; 8] {
        core::array::from_fn(|_| s.take_event())
    }

    #[test]
    fn link_local_joins_probes_then_solicits() {
        let mut s = Slaac::new(SlaacConfig::new(), MAC, 7, t(0));
        let ll = a("fe80::ff:fe00:a");
        assert_eq!(s.address(ll).unwrap().state, AddrState::Tentative);
        let (out, _) = run(&mut s, t(0), t(20_000));
        let groups = match out[0] {
            Some(SlaacOutput::MldReport {
                record_type,
                groups,
                len,
            }) => {
                assert_eq!((record_type, len), (CHANGE_TO_EXCLUDE, 1));
                groups
            }
            o => panic!("{o:?}"),
        };
        assert_eq!(groups[0], a("ff02::1:ff00:a"));
        assert_eq!(out[1], Some(SlaacOutput::DadProbe { target: ll }));
        // Three solicitations, 4 s apart, once the address is usable.
        let rs = out
            .iter()
            .flatten()
            .filter(|o| **o == SlaacOutput::RouterSolicit { src: ll });
        assert_eq!(rs.count(), 3);
        assert_eq!(s.address(ll).unwrap().state, AddrState::Preferred);
        assert_eq!(
            s.take_event(),
            Some(SlaacEvent::Usable(Ipv6Cidr::new(ll, 64)))
        );
    }

    fn ra_options(valid: u32, preferred: u32) -> [u8; 40] {
        let mut o = [0u8; 40];
        o[..8].copy_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xc8]); // MTU 1480
        o[8] = 3;
        o[9] = 4;
        o[10] = 64;
        o[11] = 0xc0;
        o[12..16].copy_from_slice(&valid.to_be_bytes());
        o[16..20].copy_from_slice(&preferred.to_be_bytes());
        o[24..40].copy_from_slice(&a("2001:db8:1::").octets());
        o
    }

    fn ra(options: &[u8], lifetime: u16) -> NdiscRepr<'_> {
        NdiscRepr::RouterAdvert {
            hop_limit: 64,
            flags: 0,
            router_lifetime: lifetime,
            reachable_time: 20_000,
            retrans_time: 500,
            options: NdiscOptions::new_checked(options).unwrap(),
        }
    }

    /// A configuration whose link-local address passed DAD by `t(5 s)`.
    fn started() -> Slaac {
        let mut s = Slaac::new(SlaacConfig::new(), MAC, 7, t(0));
        run(&mut s, t(0), t(5_000));
        events(&mut s);
        s
    }

    #[test]
    fn router_advertisement_forms_an_address() {
        let mut s = started();
        let opts = ra_options(86_400, 14_400);
        s.receive_ra(t(5_000), ROUTER, &ra(&opts, 1800));
        assert_eq!(s.default_router(), Some(ROUTER));
        assert_eq!(s.link().mtu, Some(1480));
        assert_eq!(s.link().retrans, Duration::from_millis(500));
        let r = s.link().reachable.total_millis();
        assert!((10_000..=30_000).contains(&r), "{r}");
        assert!(s.is_on_link(a("2001:db8:1::99")));
        let global = a("2001:db8:1::ff:fe00:a");
        assert_eq!(s.address(global).unwrap().state, AddrState::Tentative);
        let (out, _) = run(&mut s, t(5_000), t(9_000));
        assert!(out.contains(&Some(SlaacOutput::DadProbe { target: global })));
        // RS stopped on the advertisement.
        assert!(
            !out.iter()
                .flatten()
                .any(|o| matches!(o, SlaacOutput::RouterSolicit { .. }))
        );
        assert_eq!(s.take_event(), Some(SlaacEvent::RouterAdded(ROUTER)));
        assert_eq!(
            s.take_event(),
            Some(SlaacEvent::Usable(Ipv6Cidr::new(global, 64)))
        );
        // A neighbour asking for it is answered.
        assert!(s.receive_ns(t(9_000), a("fe80::b"), global));
    }

    /// RDNSS options (RFC 8106): servers kept for their lifetime, renewed, removed by a
    /// zero lifetime; a malformed option (no whole address) is ignored.
    #[test]
    fn rdnss_servers_follow_their_lifetime() {
        let rdnss = |lifetime: u32, addrs: &[&str]| {
            let mut o = std::vec![option_type::RDNSS, (1 + 2 * addrs.len()) as u8, 0, 0];
            o.extend_from_slice(&lifetime.to_be_bytes());
            for x in addrs {
                o.extend_from_slice(&a(x).octets());
            }
            o
        };
        let mut s = started();
        let servers = |s: &Slaac, now| s.dns_servers(now).collect::<std::vec::Vec<_>>();
        s.receive_ra(
            t(5_000),
            ROUTER,
            &ra(&rdnss(60, &["fd00::53", "fd00::54"]), 1800),
        );
        assert_eq!(servers(&s, t(5_000)), [a("fd00::53"), a("fd00::54")]);
        assert!(servers(&s, t(65_000)).is_empty());
        s.receive_ra(
            t(70_000),
            ROUTER,
            &ra(&rdnss(u32::MAX, &["fd00::55"]), 1800),
        );
        s.receive_ra(t(70_000), ROUTER, &ra(&rdnss(0, &["fd00::53"]), 1800));
        assert_eq!(servers(&s, t(999_000)), [a("fd00::55")]);
        let mut bad = rdnss(60, &["fd00::56"]);
        bad[1] = 1; // length 8 bytes: no address
        bad.truncate(8);
        s.receive_ra(t(70_000), ROUTER, &ra(&bad, 1800));
        assert_eq!(servers(&s, t(70_000)), [a("fd00::55")]);
    }

    #[test]
    fn dad_conflicts_drop_the_address() {
        let mut s = started();
        let opts = ra_options(86_400, 14_400);
        s.receive_ra(t(5_000), ROUTER, &ra(&opts, 1800));
        let global = a("2001:db8:1::ff:fe00:a");
        // Another node probing for the same address while ours is tentative.
        assert!(!s.receive_ns(t(5_100), Ipv6Addr::UNSPECIFIED, global));
        assert!(s.address(global).is_none());
        events(&mut s);
        // A static address answered by its owner.
        let st = Ipv6Cidr::new(a("2001:db8:1::77"), 64);
        assert!(s.add_static(t(6_000), st));
        s.receive_na(t(6_100), st.address());
        assert!(s.address(st.address()).is_none());
        assert_eq!(s.stats().duplicates, 2);
        assert!(!s.is_disabled());
        // A solicitation from a configured node for a tentative target is not a conflict.
        assert!(s.add_static(t(7_000), st));
        assert!(!s.receive_ns(t(7_100), a("fe80::b"), st.address()));
        assert!(s.address(st.address()).is_some());
    }

    #[test]
    fn duplicate_link_local_disables() {
        let mut s = Slaac::new(SlaacConfig::new(), MAC, 7, t(0));
        s.receive_na(t(10), a("fe80::ff:fe00:a"));
        assert!(s.is_disabled());
        assert_eq!(
            s.take_event(),
            Some(SlaacEvent::Duplicate(a("fe80::ff:fe00:a")))
        );
        let (out, _) = run(&mut s, t(0), t(20_000));
        assert!(out.iter().all(Option::is_none));
        assert!(!s.add_static(t(20_000), Ipv6Cidr::new(a("2001:db8::1"), 64)));
    }

    #[test]
    fn lifetimes_deprecate_then_remove() {
        let mut s = started();
        let opts = ra_options(60, 30);
        s.receive_ra(t(5_000), ROUTER, &ra(&opts, 20));
        let global = a("2001:db8:1::ff:fe00:a");
        run(&mut s, t(5_000), t(100_000));
        let ev = events(&mut s);
        assert!(ev.contains(&Some(SlaacEvent::Deprecated(global))));
        assert!(ev.contains(&Some(SlaacEvent::Removed(global))));
        assert!(ev.contains(&Some(SlaacEvent::RouterLost(ROUTER))));
        assert!(s.address(global).is_none());
        assert!(!s.is_on_link(a("2001:db8:1::99")));
    }

    #[test]
    fn two_hour_rule() {
        let now = t(0);
        let h = |x: u64| Some(now + Duration::from_secs(x * 3600));
        // A long lifetime is taken; a short one cannot cut a long remaining one below 2 h.
        assert_eq!(super::two_hour_rule(now, h(10), 3 * 3600), h(3));
        assert_eq!(super::two_hour_rule(now, h(10), 60), h(2));
        // Remaining below 2 h: a short advertisement is ignored, a longer one taken.
        assert_eq!(super::two_hour_rule(now, h(1), 60), h(1));
        assert_eq!(
            super::two_hour_rule(now, h(1), 5400),
            Some(now + Duration::from_secs(5400))
        );
        assert_eq!(super::two_hour_rule(now, None, 60), h(2));
        assert_eq!(super::two_hour_rule(now, h(1), u32::MAX), None);
    }

    #[test]
    fn withdrawn_router_and_mld_query() {
        let mut s = started();
        let opts = ra_options(86_400, 14_400);
        s.receive_ra(t(5_000), ROUTER, &ra(&opts, 1800));
        events(&mut s);
        s.receive_ra(t(6_000), ROUTER, &ra(&[], 0));
        assert_eq!(s.default_router(), None);
        assert_eq!(s.take_event(), Some(SlaacEvent::RouterLost(ROUTER)));
        run(&mut s, t(6_000), t(12_000));
        s.receive_mld_query(t(12_000), Duration::from_secs(10));
        let (out, _) = run(&mut s, t(12_000), t(23_000));
        let report = out.iter().flatten().find_map(|o| match *o {
            SlaacOutput::MldReport {
                record_type, len, ..
            } => Some((record_type, len)),
            _ => None,
        });
        // Both addresses share the identifier, so one solicited-node group covers them.
        assert_eq!(report, Some((MODE_IS_EXCLUDE, 1)));
    }
}
