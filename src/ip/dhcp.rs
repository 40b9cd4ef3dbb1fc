//! A DHCPv4 client (RFC 2131, options RFC 2132), sans-IO.
//!
//! [`DhcpClient`] is a state machine that takes received messages and time and hands
//! back messages to send ([`DhcpClient::poll_transmit`]), the next instant it must run
//! ([`DhcpClient::poll_at`]) and what changed ([`DhcpClient::take_event`]). It never
//! touches the interface: a `Stack` joins it to one (see `Stack::enable_dhcp`), applying
//! a lease on [`DhcpEvent::Bound`] and removing it on [`DhcpEvent::Lost`].
//!
//! States follow RFC 2131 §4.4 (figure 5): INIT → SELECTING → REQUESTING → (ARP probe,
//! RFC 5227) → BOUND → RENEWING at T1 (unicast to the server) → REBINDING at T2
//! (broadcast) → INIT when the lease expires. INIT-REBOOT (REBOOTING) starts from a
//! remembered address, and again whenever the link comes back up.
//!
//! Departures, each chosen for small hosts on short leases:
//! - The random wait before the first DISCOVER (§4.4.1 suggests 1 to 10 s) is
//!   [`DhcpConfig::init_delay`], default up to 1 s.
//! - RENEWING and REBINDING retransmit at half the time left until T2 (expiry), but at
//!   least 4 s apart rather than 60 s (§4.4.5), so that leases of a few minutes still get
//!   several tries.
//! - Option overload (52) is not followed, and a BOUND client does not defend its address
//!   against later ARP conflicts (RFC 5227 §2.4); it checks it once before use.

use core::net::Ipv4Addr;

use super::rng::Rng;
use crate::time::{Duration, Instant};
use crate::wire::dhcpv4::{DhcpRepr, MAX_DNS_SERVERS, MessageType};
use crate::wire::ethernet::EthernetAddress;
use crate::wire::ipv4::Ipv4Cidr;

/// Options the client asks for (RFC 2132 §9.8): subnet mask, router, DNS servers, lease
/// time, T1, T2.
const PARAMETER_REQUEST_LIST: &[u8] = &[1, 3, 6, 51, 58, 59];
/// First retransmission timeout (RFC 2131 §4.1: 4 s, doubling to 64 s, ±1 s).
const FIRST_TIMEOUT: Duration = Duration::from_secs(4);
/// Largest retransmission timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(64);
/// Least time between two requests while renewing or rebinding.
const MIN_RENEW_INTERVAL: Duration = Duration::from_secs(4);
/// Wait after a DECLINE before starting again (RFC 2131 §3.1 step 5: at least 10 s).
const DECLINE_WAIT: Duration = Duration::from_secs(10);

/// Settings of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpConfig {
    /// Host name sent in option 12, if any.
    pub host_name: Option<&'static str>,
    /// An address to ask for first (INIT-REBOOT, RFC 2131 §3.2), such as the one of the
    /// last lease kept across a reboot.
    pub requested_ip: Option<Ipv4Addr>,
    /// Longest random wait before the first DISCOVER. Default 1 s.
    pub init_delay: Duration,
    /// REQUESTs sent in REQUESTING or REBOOTING before starting over. Default 4.
    pub max_requests: u8,
    /// ARP probes for the offered address before using it (RFC 5227 §2.1.1: 3); 0 skips
    /// the check.
    pub probes: u8,
    /// Time between probes, and after the last before the address is used. Default 1 s.
    pub probe_interval: Duration,
}

impl DhcpConfig {
    /// The defaults described on each field; no host name, no remembered address.
    pub const fn new() -> Self {
        DhcpConfig {
            host_name: None,
            requested_ip: None,
            init_delay: Duration::from_secs(1),
            max_requests: 4,
            probes: 3,
            probe_interval: Duration::from_secs(1),
        }
    }
}

impl Default for DhcpConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the client is in RFC 2131's state diagram (§4.4, figure 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhcpState {
    /// Waiting to send the first DISCOVER.
    Init,
    /// DISCOVER sent, waiting for an offer.
    Selecting,
    /// REQUEST for an offer sent, waiting for the ACK.
    Requesting,
    /// INIT-REBOOT: REQUEST for a remembered address sent.
    Rebooting,
    /// ACK received, checking with ARP that nobody uses the address (RFC 5227).
    Probing,
    /// The lease is in use.
    Bound,
    /// Past T1: renewing with the server that gave the lease.
    Renewing,
    /// Past T2: asking any server to extend the lease.
    Rebinding,
}

/// A lease: the configuration a server gave and its times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// Our address and the subnet's prefix length.
    pub address: Ipv4Cidr,
    /// The first router, used as default gateway.
    pub router: Option<Ipv4Addr>,
    /// DNS servers, in the server's order.
    pub dns_servers: [Option<Ipv4Addr>; MAX_DNS_SERVERS],
    /// The server that gave the lease (its server identifier).
    pub server: Ipv4Addr,
    /// When the REQUEST that got the lease was sent (RFC 2131 §4.4.1 counts from it).
    pub acquired: Instant,
    /// When renewing starts (T1).
    pub renew_at: Instant,
    /// When rebinding starts (T2).
    pub rebind_at: Instant,
    /// When the lease ends; `None` for an infinite lease.
    pub expires_at: Option<Instant>,
}

/// What the user (and the stack) must know about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhcpEvent {
    /// A new lease is to be applied: address, prefix, gateway, DNS servers.
    Bound(Lease),
    /// The lease was extended; the configuration is the same.
    Renewed(Lease),
    /// The address must no longer be used (lease expired, NAK).
    Lost,
}

/// Counters of the client. They wrap around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DhcpStats {
    /// Messages handed out to send.
    pub tx: u32,
    /// Messages received for the client port.
    pub rx: u32,
    /// Dropped: not a valid DHCP message (bad checksum, bad options).
    pub malformed: u32,
    /// Dropped: not a reply to our current exchange (xid, hardware address, state).
    pub unexpected: u32,
    /// Offers taken.
    pub offers: u32,
    /// ACKs taken.
    pub acks: u32,
    /// NAKs taken.
    pub naks: u32,
    /// DECLINEs sent after an ARP conflict.
    pub declines: u32,
    /// Leases that expired.
    pub expired: u32,
}

/// Something for the stack to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpOutput<'a> {
    /// A DHCP message from port 68 to port 67.
    Message {
        /// The message.
        repr: DhcpRepr<'a>,
        /// IPv4 destination: the limited broadcast, or the server when renewing.
        dst: Ipv4Addr,
        /// Ethernet destination: `None` for broadcast.
        dst_mac: Option<EthernetAddress>,
    },
    /// An ARP probe for this address (sender address 0.0.0.0, RFC 5227 §2.1.1).
    ArpProbe(Ipv4Addr),
}

/// The offer being requested.
#[derive(Clone, Copy, Debug)]
struct Offer {
    address: Ipv4Addr,
    server: Ipv4Addr,
}

/// A DHCPv4 client for one interface. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct DhcpClient {
    cfg: DhcpConfig,
    mac: EthernetAddress,
    rng: Rng,
    state: DhcpState,
    xid: u32,
    /// Messages sent in this exchange.
    tries: u8,
    /// When the client next acts (sends, probes, changes state).
    due: Instant,
    /// When the exchange began (for `secs`), and when its last REQUEST was sent.
    started: Instant,
    requested_at: Instant,
    offer: Option<Offer>,
    /// The lease in use (BOUND and later), or being probed (PROBING).
    lease: Option<Lease>,
    /// Whether `lease` is applied to the interface.
    applied: bool,
    server_mac: Option<EthernetAddress>,
    probes_left: u8,
    /// A DECLINE to send: address and server.
    decline: Option<Offer>,
    event: Option<DhcpEvent>,
    stats: DhcpStats,
}

impl DhcpClient {
    /// A client for the interface at `mac`, seeded with `seed` (take it from the stack's
    /// secret seed), in INIT (or REBOOTING with `cfg.requested_ip`) at `now`.
    pub fn new(cfg: DhcpConfig, mac: EthernetAddress, seed: u64, now: Instant) -> Self {
        let m = mac.0;
        let mixed = seed ^ u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]);
        let mut c = DhcpClient {
            cfg,
            mac,
            rng: Rng(mixed),
            state: DhcpState::Init,
            xid: 0,
            tries: 0,
            due: now,
            started: now,
            requested_at: now,
            offer: None,
            lease: None,
            applied: false,
            server_mac: None,
            probes_left: 0,
            decline: None,
            event: None,
            stats: DhcpStats::default(),
        };
        match cfg.requested_ip {
            Some(a) => c.reboot(now, a),
            None => c.restart(now, cfg.init_delay),
        }
        c
    }

    /// The state.
    pub fn state(&self) -> DhcpState {
        self.state
    }

    /// The lease in use, if any (BOUND, RENEWING, REBINDING).
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref().filter(|_| self.applied)
    }

    /// The counters.
    pub fn stats(&self) -> &DhcpStats {
        &self.stats
    }

    /// The current transaction ID.
    pub fn xid(&self) -> u32 {
        self.xid
    }

    /// The next event, if one happened since the last call.
    pub fn take_event(&mut self) -> Option<DhcpEvent> {
        self.event.take()
    }

    /// The address being checked with ARP probes: ARP traffic from it, or probes for it
    /// from others, is a conflict to report with [`DhcpClient::arp_conflict`].
    pub fn probing(&self) -> Option<Ipv4Addr> {
        match (self.state, self.lease) {
            (DhcpState::Probing, Some(l)) => Some(l.address.address()),
            _ => None,
        }
    }

    /// When the client next needs to run.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.decline.is_some() || self.event.is_some() {
            return Some(Instant::ZERO);
        }
        Some(self.due)
    }

    /// The link came (back) up: confirm the address we have (or had) with INIT-REBOOT
    /// (RFC 2131 §3.2); with none, start over.
    pub fn link_up(&mut self, now: Instant) {
        match self
            .lease
            .map(|l| l.address.address())
            .or(self.cfg.requested_ip)
        {
            Some(a) => self.reboot(now, a),
            None => self.restart(now, self.cfg.init_delay),
        }
    }

    fn new_exchange(&mut self, now: Instant, state: DhcpState) {
        self.state = state;
        self.xid = self.rng.next() as u32;
        self.tries = 0;
        self.started = now;
    }

    /// INIT: forget the offer and start again after a random wait up to `delay`.
    fn restart(&mut self, now: Instant, delay: Duration) {
        self.lose(now);
        self.state = DhcpState::Init;
        self.offer = None;
        self.lease = None;
        self.due = now + self.rng.upto(delay);
    }

    /// REBOOTING with `address`.
    fn reboot(&mut self, now: Instant, address: Ipv4Addr) {
        self.new_exchange(now, DhcpState::Rebooting);
        self.offer = Some(Offer {
            address,
            server: Ipv4Addr::UNSPECIFIED,
        });
        self.due = now;
    }

    /// The applied address must go.
    fn lose(&mut self, _now: Instant) {
        if self.applied {
            self.applied = false;
            self.event = Some(DhcpEvent::Lost);
        }
    }

    /// The retransmission timeout after `tries` sends: 4 s doubling to 64 s, ±1 s (§4.1).
    fn backoff(&mut self) -> Duration {
        let shift = u32::from(self.tries.saturating_sub(1)).min(4);
        let base = Duration::from_micros(FIRST_TIMEOUT.total_micros() << shift).min(MAX_TIMEOUT);
        let jitter = self.rng.upto(Duration::from_secs(2));
        base.saturating_sub(Duration::from_secs(1)) + jitter
    }
}

impl DhcpClient {
    /// The next thing to send at `now`, if any; also runs the timers (T1, T2, expiry,
    /// retransmission). Call until it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<DhcpOutput<'_>> {
        if let Some(d) = self.decline.take() {
            self.stats.declines = self.stats.declines.wrapping_add(1);
            return Some(self.decline_message(d));
        }
        if self.due > now {
            return None;
        }
        self.run_timers(now);
        if self.due > now {
            return None;
        }
        self.send(now)
    }

    /// State changes that come with time alone.
    fn run_timers(&mut self, now: Instant) {
        let Some(l) = self.lease else {
            if self.state == DhcpState::Init {
                self.new_exchange(now, DhcpState::Selecting);
            }
            return;
        };
        // RFC 2131 §4.4.5: at expiry the client stops using the address; at T2 it
        // broadcasts; at T1 it asks its server.
        match self.state {
            DhcpState::Bound | DhcpState::Renewing | DhcpState::Rebinding
                if l.expires_at.is_some_and(|e| now >= e) =>
            {
                self.stats.expired = self.stats.expired.wrapping_add(1);
                self.restart(now, Duration::ZERO);
                self.new_exchange(now, DhcpState::Selecting);
            }
            DhcpState::Bound | DhcpState::Renewing if now >= l.rebind_at => {
                self.new_exchange(now, DhcpState::Rebinding);
            }
            DhcpState::Bound if now >= l.renew_at => {
                self.new_exchange(now, DhcpState::Renewing);
            }
            _ => {}
        }
    }

    /// Sends the message of the current state and schedules the next one.
    fn send(&mut self, now: Instant) -> Option<DhcpOutput<'_>> {
        match self.state {
            DhcpState::Init | DhcpState::Bound => None,
            DhcpState::Probing => self.probe(now),
            DhcpState::Requesting | DhcpState::Rebooting if self.tries >= self.cfg.max_requests => {
                // No answer: start over (§4.4.1), or, rebooting with a lease that has
                // not expired, keep using it (§3.2 allows it).
                match self.lease.filter(|_| self.applied) {
                    Some(l) if l.expires_at.is_none_or(|e| now < e) => {
                        self.state = DhcpState::Bound;
                        self.due = l.renew_at.max(now);
                    }
                    _ => self.restart(now, Duration::ZERO),
                }
                None
            }
            _ => {
                self.tries = self.tries.saturating_add(1);
                self.due = self.next_send(now);
                if self.state != DhcpState::Selecting {
                    self.requested_at = now;
                }
                self.stats.tx = self.stats.tx.wrapping_add(1);
                Some(self.message(now))
            }
        }
    }

    /// When to retransmit: back-off (§4.1), or half the time left (§4.4.5).
    fn next_send(&mut self, now: Instant) -> Instant {
        let until = match (self.state, self.lease) {
            (DhcpState::Renewing, Some(l)) => l.rebind_at,
            (DhcpState::Rebinding, Some(l)) => match l.expires_at {
                Some(e) => e,
                None => return now + MAX_TIMEOUT,
            },
            _ => return now + self.backoff(),
        };
        let half = Duration::from_micros((until - now).total_micros() / 2);
        (now + half.max(MIN_RENEW_INTERVAL)).min(until)
    }

    /// One ARP probe, or the end of probing: the address is ours.
    fn probe(&mut self, now: Instant) -> Option<DhcpOutput<'_>> {
        let l = self.lease?;
        if self.probes_left == 0 {
            self.bind(now, l);
            return None;
        }
        self.probes_left -= 1;
        self.due = now + self.cfg.probe_interval;
        Some(DhcpOutput::ArpProbe(l.address.address()))
    }

    fn bind(&mut self, now: Instant, lease: Lease) {
        let same = self.applied && self.lease.is_some_and(|l| same_config(&l, &lease));
        self.state = DhcpState::Bound;
        self.lease = Some(lease);
        self.applied = true;
        self.due = lease.renew_at.max(now);
        self.event = Some(if same {
            DhcpEvent::Renewed(lease)
        } else {
            DhcpEvent::Bound(lease)
        });
    }
}

/// Same address, gateway and DNS servers.
fn same_config(a: &Lease, b: &Lease) -> bool {
    a.address == b.address && a.router == b.router && a.dns_servers == b.dns_servers
}

impl DhcpClient {
    /// The message for the current state (RFC 2131 §4.4.1, table 5).
    fn message(&self, now: Instant) -> DhcpOutput<'_> {
        let ty = match self.state {
            DhcpState::Selecting | DhcpState::Init => MessageType::Discover,
            _ => MessageType::Request,
        };
        let mut r = DhcpRepr::client(ty, self.xid, self.mac);
        r.secs = u16::try_from((now - self.started).total_millis() / 1000).unwrap_or(u16::MAX);
        r.parameter_request_list = PARAMETER_REQUEST_LIST;
        r.host_name = self.cfg.host_name.map(str::as_bytes);
        r.max_message_size = Some(1500);
        let mut dst = Ipv4Addr::BROADCAST;
        let mut dst_mac = None;
        match self.state {
            DhcpState::Requesting => {
                r.requested_ip = self.offer.map(|o| o.address);
                r.server_id = self.offer.map(|o| o.server);
            }
            DhcpState::Rebooting => r.requested_ip = self.offer.map(|o| o.address),
            DhcpState::Renewing | DhcpState::Rebinding => {
                let l = self.lease.as_ref();
                r.ciaddr = l.map_or(Ipv4Addr::UNSPECIFIED, |l| l.address.address());
                if self.state == DhcpState::Renewing {
                    dst = l.map_or(dst, |l| l.server);
                    dst_mac = self.server_mac;
                }
            }
            _ => {}
        }
        // §4.1: a client that cannot receive unicast before it has an address asks for
        // broadcast replies.
        r.broadcast = r.ciaddr.is_unspecified();
        if dst_mac.is_none() {
            dst = Ipv4Addr::BROADCAST;
        }
        DhcpOutput::Message {
            repr: r,
            dst,
            dst_mac,
        }
    }

    /// A DECLINE for `d` (RFC 2131 §4.4.1: requested IP and server identifier).
    fn decline_message(&self, d: Offer) -> DhcpOutput<'_> {
        let mut r = DhcpRepr::client(MessageType::Decline, self.xid, self.mac);
        r.requested_ip = Some(d.address);
        r.server_id = Some(d.server);
        DhcpOutput::Message {
            repr: r,
            dst: Ipv4Addr::BROADCAST,
            dst_mac: None,
        }
    }
}

impl DhcpClient {
    /// A message that arrived on port 68 from `src_mac`. Returns whether it was taken;
    /// anything else is dropped and counted.
    pub fn receive(&mut self, now: Instant, src_mac: EthernetAddress, repr: &DhcpRepr<'_>) -> bool {
        self.stats.rx = self.stats.rx.wrapping_add(1);
        let ours = repr.message_type.is_reply() && repr.xid == self.xid && repr.chaddr == self.mac;
        let taken = ours
            && match (self.state, repr.message_type) {
                (DhcpState::Selecting, MessageType::Offer) => self.take_offer(now, repr),
                (
                    DhcpState::Requesting
                    | DhcpState::Rebooting
                    | DhcpState::Renewing
                    | DhcpState::Rebinding,
                    MessageType::Ack,
                ) => self.take_ack(now, src_mac, repr),
                (
                    DhcpState::Requesting
                    | DhcpState::Rebooting
                    | DhcpState::Renewing
                    | DhcpState::Rebinding,
                    MessageType::Nak,
                ) => self.take_nak(now, repr),
                _ => false,
            };
        if !taken {
            self.stats.unexpected = self.stats.unexpected.wrapping_add(1);
        }
        taken
    }

    /// A message for the client port that could not be parsed.
    pub fn count_malformed(&mut self) {
        self.stats.malformed = self.stats.malformed.wrapping_add(1);
    }

    /// An ARP packet showed the address being probed in use (RFC 5227 §2.1.1): decline it
    /// and start over after 10 s (RFC 2131 §3.1 step 5).
    pub fn arp_conflict(&mut self, now: Instant) {
        let (DhcpState::Probing, Some(l)) = (self.state, self.lease) else {
            return;
        };
        self.decline = Some(Offer {
            address: l.address.address(),
            server: l.server,
        });
        self.restart(now, Duration::ZERO);
        self.due = now + DECLINE_WAIT;
    }

    /// RFC 2131 §4.4.1: the first acceptable offer is taken.
    fn take_offer(&mut self, now: Instant, repr: &DhcpRepr<'_>) -> bool {
        let Some(server) = repr.server_id else {
            return false;
        };
        if !usable(repr.yiaddr) {
            return false;
        }
        self.stats.offers = self.stats.offers.wrapping_add(1);
        self.offer = Some(Offer {
            address: repr.yiaddr,
            server,
        });
        // The REQUEST keeps the DISCOVER's xid (§4.4.1).
        self.state = DhcpState::Requesting;
        self.tries = 0;
        self.due = now;
        true
    }

    /// RFC 2131 §4.4.1 / §4.4.5: an ACK commits the lease.
    fn take_ack(&mut self, now: Instant, src_mac: EthernetAddress, repr: &DhcpRepr<'_>) -> bool {
        if self.state == DhcpState::Requesting
            && repr.server_id.is_some()
            && repr.server_id != self.offer.map(|o| o.server)
        {
            return false;
        }
        let server = repr
            .server_id
            .or(self.lease.map(|l| l.server))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let Some(lease) = lease_from(repr, server, self.requested_at) else {
            return false;
        };
        self.stats.acks = self.stats.acks.wrapping_add(1);
        self.server_mac = Some(src_mac);
        let keeps = self.applied && self.lease.is_some_and(|l| l.address == lease.address);
        if keeps || self.cfg.probes == 0 {
            self.bind(now, lease);
        } else {
            self.lose(now);
            self.state = DhcpState::Probing;
            self.lease = Some(lease);
            self.probes_left = self.cfg.probes;
            // RFC 5227 §2.1.1: wait a random time up to PROBE_WAIT (1 s) first.
            self.due = now + self.rng.upto(Duration::from_secs(1));
        }
        true
    }

    /// A NAK: the address is not ours (any more); start over at once (§3.1 step 5).
    fn take_nak(&mut self, now: Instant, repr: &DhcpRepr<'_>) -> bool {
        if self.state == DhcpState::Requesting && repr.server_id != self.offer.map(|o| o.server) {
            return false;
        }
        self.stats.naks = self.stats.naks.wrapping_add(1);
        self.restart(now, Duration::ZERO);
        true
    }
}

/// An address a server may give us.
fn usable(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback())
}

/// The lease an ACK gives, its times counted from `sent` (RFC 2131 §4.4.1); T1 and T2
/// default to half and 7/8 of the lease (§4.4.5), and are ignored unless
/// T1 ≤ T2 ≤ lease. An ACK without a usable address or lease time is refused.
fn lease_from(repr: &DhcpRepr<'_>, server: Ipv4Addr, sent: Instant) -> Option<Lease> {
    if !usable(repr.yiaddr) {
        return None;
    }
    let secs = repr.lease_time?;
    let at = |s: u64| sent + Duration::from_secs(s);
    let (expires_at, t1, t2) = if secs == u32::MAX {
        (None, u64::MAX / 4_000_000, u64::MAX / 4_000_000)
    } else {
        let l = u64::from(secs);
        let (d1, d2) = (l / 2, l * 7 / 8);
        let t1 = repr.renewal_time.map_or(d1, u64::from);
        let t2 = repr.rebinding_time.map_or(d2, u64::from);
        let (t1, t2) = if t1 <= t2 && t2 <= l {
            (t1, t2)
        } else {
            (d1, d2)
        };
        (Some(at(l)), t1, t2)
    };
    let prefix = match repr.subnet_mask {
        Some(m) => m.to_bits().leading_ones() as u8,
        // RFC 1122 §3.3.1.1 / the classful default when the server sends no mask.
        None => match repr.yiaddr.octets()[0] {
            0..=127 => 8,
            128..=191 => 16,
            _ => 24,
        },
    };
    Some(Lease {
        address: Ipv4Cidr::new(repr.yiaddr, prefix),
        router: repr.router.filter(|r| usable(*r)),
        dns_servers: repr.dns_servers,
        server,
        acquired: sent,
        renew_at: at(t1),
        rebind_at: at(t2),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x10]);
    const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
    const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 50);

    /// What a poll handed out, owned.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Out {
        Msg {
            ty: MessageType,
            xid: u32,
            dst: Ipv4Addr,
            dst_mac: Option<EthernetAddress>,
            ciaddr: Ipv4Addr,
            requested: Option<Ipv4Addr>,
            server_id: Option<Ipv4Addr>,
            broadcast: bool,
        },
        Probe(Ipv4Addr),
    }

    fn t(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    fn poll(c: &mut DhcpClient, now: Instant) -> Vec<Out> {
        let mut v = Vec::new();
        while let Some(o) = c.poll_transmit(now) {
            v.push(match o {
                DhcpOutput::Message { repr, dst, dst_mac } => {
                    assert_eq!(repr.chaddr, MAC);
                    if repr.message_type != MessageType::Decline {
                        assert_eq!(repr.parameter_request_list, PARAMETER_REQUEST_LIST);
                        assert_eq!(repr.host_name, Some(&b"tidy"[..]));
                    }
                    Out::Msg {
                        ty: repr.message_type,
                        xid: repr.xid,
                        dst,
                        dst_mac,
                        ciaddr: repr.ciaddr,
                        requested: repr.requested_ip,
                        server_id: repr.server_id,
                        broadcast: repr.broadcast,
                    }
                }
                DhcpOutput::ArpProbe(a) => Out::Probe(a),
            });
            assert!(v.len() < 10, "runaway output");
        }
        v
    }

    /// Runs the client until `until`, one second at a time, collecting output with times.
    fn run(c: &mut DhcpClient, from: u64, until: u64) -> Vec<(u64, Out)> {
        let mut v = Vec::new();
        for s in from..=until {
            for o in poll(c, t(s)) {
                v.push((s, o));
            }
        }
        v
    }

    fn reply(ty: MessageType, xid: u32) -> DhcpRepr<'static> {
        let mut r = DhcpRepr::client(ty, xid, MAC);
        r.client_id = false;
        r.server_id = Some(SERVER);
        if ty != MessageType::Nak {
            r.yiaddr = OFFERED;
            r.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
            r.router = Some(SERVER);
            r.dns_servers = [Some(SERVER), None, None];
            r.lease_time = Some(120);
            r.renewal_time = Some(60);
            r.rebinding_time = Some(105);
        }
        r
    }

    fn quick() -> DhcpConfig {
        let mut cfg = DhcpConfig::new();
        cfg.init_delay = Duration::ZERO;
        cfg.host_name = Some("tidy");
        cfg
    }

    fn msg(o: &Out) -> (MessageType, u32) {
        match o {
            Out::Msg { ty, xid, .. } => (*ty, *xid),
            Out::Probe(_) => panic!("expected a message, got {o:?}"),
        }
    }

    /// INIT to BOUND at t=0..=4: returns the client, bound.
    fn bound(probes: u8) -> DhcpClient {
        let mut cfg = quick();
        cfg.probes = probes;
        let mut c = DhcpClient::new(cfg, MAC, 1, t(0));
        let out = poll(&mut c, t(0));
        let (ty, xid) = msg(&out[0]);
        assert_eq!(ty, MessageType::Discover);
        assert_eq!(c.state(), DhcpState::Selecting);
        assert!(c.receive(t(0), SERVER_MAC, &reply(MessageType::Offer, xid)));
        let out = poll(&mut c, t(0));
        assert_eq!(
            out[0],
            Out::Msg {
                ty: MessageType::Request,
                xid,
                dst: Ipv4Addr::BROADCAST,
                dst_mac: None,
                ciaddr: Ipv4Addr::UNSPECIFIED,
                requested: Some(OFFERED),
                server_id: Some(SERVER),
                broadcast: true,
            }
        );
        assert_eq!(c.state(), DhcpState::Requesting);
        assert!(c.receive(t(0), SERVER_MAC, &reply(MessageType::Ack, xid)));
        c
    }

    #[test]
    fn init_selecting_requesting_probing_bound() {
        let mut c = bound(3);
        assert_eq!(c.state(), DhcpState::Probing);
        assert_eq!(c.probing(), Some(OFFERED));
        assert_eq!(c.lease(), None);
        assert_eq!(c.take_event(), None);
        let out = run(&mut c, 0, 4);
        let probes: Vec<_> = out.iter().map(|(_, o)| *o).collect();
        assert_eq!(probes, [Out::Probe(OFFERED); 3]);
        assert_eq!(c.state(), DhcpState::Bound);
        let Some(DhcpEvent::Bound(l)) = c.take_event() else {
            panic!("no Bound event");
        };
        assert_eq!(l.address, Ipv4Cidr::new(OFFERED, 24));
        assert_eq!(l.router, Some(SERVER));
        assert_eq!(l.dns_servers, [Some(SERVER), None, None]);
        assert_eq!(
            (l.renew_at, l.rebind_at, l.expires_at),
            (t(60), t(105), Some(t(120)))
        );
        assert_eq!(c.lease(), Some(&l));
        assert_eq!(c.probing(), None);
        assert_eq!(c.poll_at(), Some(t(60)));
        assert_eq!(c.stats().offers, 1);
        assert_eq!(c.stats().acks, 1);
    }

    #[test]
    fn renewing_is_unicast_to_the_server_and_extends_the_lease() {
        let mut c = bound(0);
        assert!(matches!(c.take_event(), Some(DhcpEvent::Bound(_))));
        assert!(run(&mut c, 1, 59).is_empty());
        let out = run(&mut c, 60, 60);
        let old_xid = c.xid();
        assert_eq!(c.state(), DhcpState::Renewing);
        let Out::Msg {
            ty,
            xid,
            dst,
            dst_mac,
            ciaddr,
            requested,
            server_id,
            broadcast,
        } = out[0].1
        else {
            panic!()
        };
        assert_eq!((ty, xid), (MessageType::Request, old_xid));
        assert_eq!((dst, dst_mac, ciaddr), (SERVER, Some(SERVER_MAC), OFFERED));
        assert_eq!((requested, server_id, broadcast), (None, None, false));
        // RFC 2131 §4.4.5: the next try at half the time to T2 (22.5 s).
        assert_eq!(c.poll_at(), Some(Instant::from_millis(82_500)));
        let mut ack = reply(MessageType::Ack, xid);
        ack.server_id = None; // the lease's server stays
        assert!(c.receive(t(61), SERVER_MAC, &ack));
        assert_eq!(c.state(), DhcpState::Bound);
        let Some(DhcpEvent::Renewed(l)) = c.take_event() else {
            panic!("expected Renewed");
        };
        assert_eq!(l.server, SERVER);
        assert_eq!(l.renew_at, t(120));
        assert_eq!(l.expires_at, Some(t(180)));
    }

    #[test]
    fn rebinding_then_expiry_loses_the_address() {
        let mut c = bound(0);
        c.take_event();
        let out = run(&mut c, 1, 104);
        // Renewing: unicast at 60, 82.5 -> 82 s poll boundary, ...; never past T2.
        assert!(
            out.iter()
                .all(|(s, o)| *s >= 60 && matches!(o, Out::Msg { dst: SERVER, .. }))
        );
        assert!(out.len() >= 3);
        assert_eq!(c.state(), DhcpState::Renewing);
        let out = run(&mut c, 105, 119);
        assert_eq!(c.state(), DhcpState::Rebinding);
        assert!(out.iter().all(|(_, o)| matches!(
            o,
            Out::Msg {
                ty: MessageType::Request,
                dst: Ipv4Addr::BROADCAST,
                ciaddr: OFFERED,
                ..
            }
        )));
        assert!(out.len() >= 2);
        assert_eq!(c.take_event(), None);
        let out = run(&mut c, 120, 120);
        assert_eq!(c.take_event(), Some(DhcpEvent::Lost));
        assert_eq!(c.lease(), None);
        assert_eq!(msg(&out[0].1).0, MessageType::Discover);
        assert_eq!(c.state(), DhcpState::Selecting);
        assert_eq!(c.stats().expired, 1);
    }

    #[test]
    fn ack_in_rebinding_binds_again() {
        let mut c = bound(0);
        c.take_event();
        run(&mut c, 1, 106);
        assert_eq!(c.state(), DhcpState::Rebinding);
        let mut ack = reply(MessageType::Ack, c.xid());
        ack.server_id = Some(Ipv4Addr::new(10, 9, 0, 2));
        assert!(c.receive(t(106), SERVER_MAC, &ack));
        assert_eq!(c.state(), DhcpState::Bound);
        assert!(
            matches!(c.take_event(), Some(DhcpEvent::Renewed(l)) if l.server == Ipv4Addr::new(10, 9, 0, 2))
        );
    }

    #[test]
    fn nak_restarts() {
        let mut c = DhcpClient::new(quick(), MAC, 1, t(0));
        let (_, xid) = msg(&poll(&mut c, t(0))[0]);
        c.receive(t(0), SERVER_MAC, &reply(MessageType::Offer, xid));
        poll(&mut c, t(0));
        // A NAK from another server is not for this offer.
        let mut other = reply(MessageType::Nak, xid);
        other.server_id = Some(Ipv4Addr::new(10, 9, 0, 2));
        assert!(!c.receive(t(1), SERVER_MAC, &other));
        assert!(c.receive(t(1), SERVER_MAC, &reply(MessageType::Nak, xid)));
        assert_eq!(c.state(), DhcpState::Init);
        assert_eq!(c.stats().naks, 1);
        let (ty, xid2) = msg(&poll(&mut c, t(1))[0]);
        assert_eq!(ty, MessageType::Discover);
        assert_ne!(xid2, xid, "a fresh xid per exchange");
        // A NAK while renewing takes the address away.
        let mut c = bound(0);
        c.take_event();
        run(&mut c, 1, 60);
        assert!(c.receive(t(61), SERVER_MAC, &reply(MessageType::Nak, c.xid())));
        assert_eq!(c.take_event(), Some(DhcpEvent::Lost));
    }

    #[test]
    fn arp_conflict_declines_and_waits() {
        let mut c = bound(3);
        run(&mut c, 0, 1);
        c.arp_conflict(t(1));
        assert_eq!(c.state(), DhcpState::Init);
        let out = poll(&mut c, t(1));
        assert_eq!(out.len(), 1);
        let Out::Msg {
            ty,
            requested,
            server_id,
            dst,
            ..
        } = out[0]
        else {
            panic!()
        };
        assert_eq!(
            (ty, requested, server_id, dst),
            (
                MessageType::Decline,
                Some(OFFERED),
                Some(SERVER),
                Ipv4Addr::BROADCAST
            )
        );
        assert_eq!(c.stats().declines, 1);
        assert!(run(&mut c, 2, 10).is_empty(), "10 s before starting again");
        assert_eq!(msg(&run(&mut c, 11, 11)[0].1).0, MessageType::Discover);
        assert_eq!(c.take_event(), None, "the probed address was never applied");
        // A conflict outside probing is ignored.
        let mut c = bound(0);
        c.arp_conflict(t(1));
        assert_eq!(c.state(), DhcpState::Bound);
    }

    #[test]
    fn init_reboot_with_a_remembered_address() {
        let mut cfg = quick();
        cfg.requested_ip = Some(OFFERED);
        cfg.probes = 0;
        let mut c = DhcpClient::new(cfg, MAC, 9, t(0));
        assert_eq!(c.state(), DhcpState::Rebooting);
        let out = poll(&mut c, t(0));
        let Out::Msg {
            ty,
            xid,
            requested,
            server_id,
            ciaddr,
            ..
        } = out[0]
        else {
            panic!()
        };
        assert_eq!(
            (ty, requested, server_id, ciaddr),
            (
                MessageType::Request,
                Some(OFFERED),
                None,
                Ipv4Addr::UNSPECIFIED
            )
        );
        assert!(c.receive(t(1), SERVER_MAC, &reply(MessageType::Ack, xid)));
        assert!(matches!(c.take_event(), Some(DhcpEvent::Bound(_))));
        // Unanswered: after max_requests the client starts over.
        let mut c = DhcpClient::new(cfg, MAC, 9, t(0));
        let out = run(&mut c, 0, 200);
        let requests = out
            .iter()
            .filter(|(_, o)| msg(o).0 == MessageType::Request)
            .count();
        assert_eq!(requests, 4);
        assert!(out.iter().any(|(_, o)| msg(o).0 == MessageType::Discover));
    }

    #[test]
    fn link_up_confirms_the_lease() {
        let mut c = bound(0);
        c.take_event();
        c.link_up(t(10));
        assert_eq!(c.state(), DhcpState::Rebooting);
        let (ty, xid) = msg(&poll(&mut c, t(10))[0]);
        assert_eq!(ty, MessageType::Request);
        assert!(c.receive(t(10), SERVER_MAC, &reply(MessageType::Ack, xid)));
        assert!(matches!(c.take_event(), Some(DhcpEvent::Renewed(_))));
        // No server: the unexpired lease stays in use (RFC 2131 §3.2).
        c.link_up(t(20));
        run(&mut c, 20, 100);
        assert_eq!(c.take_event(), None);
        assert!(c.lease().is_some());
    }

    #[test]
    fn discover_backs_off_exponentially() {
        let mut c = DhcpClient::new(quick(), MAC, 3, t(0));
        let out = run(&mut c, 0, 400);
        let times: Vec<u64> = out.iter().map(|(s, _)| *s).collect();
        let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        for (g, want) in gaps.iter().zip([4u64, 8, 16, 32, 64, 64]) {
            assert!(g + 1 >= want && *g <= want + 2, "gaps {gaps:?}");
        }
        assert!(out.iter().all(|(_, o)| matches!(
            o,
            Out::Msg {
                ty: MessageType::Discover,
                broadcast: true,
                ..
            }
        )));
    }

    #[test]
    fn replies_not_for_us_are_counted() {
        let mut c = DhcpClient::new(quick(), MAC, 1, t(0));
        let (_, xid) = msg(&poll(&mut c, t(0))[0]);
        let mut wrong_mac = reply(MessageType::Offer, xid);
        wrong_mac.chaddr = SERVER_MAC;
        let mut no_server = reply(MessageType::Offer, xid);
        no_server.server_id = None;
        let mut bad_addr = reply(MessageType::Offer, xid);
        bad_addr.yiaddr = Ipv4Addr::BROADCAST;
        let cases = [
            reply(MessageType::Offer, xid ^ 1),
            reply(MessageType::Ack, xid),
            DhcpRepr::client(MessageType::Request, xid, MAC),
            wrong_mac,
            no_server,
            bad_addr,
        ];
        for r in &cases {
            assert!(!c.receive(t(0), SERVER_MAC, r), "{r:?}");
        }
        assert_eq!(c.stats().unexpected, cases.len() as u32);
        assert_eq!(c.state(), DhcpState::Selecting);
        c.count_malformed();
        assert_eq!(c.stats().malformed, 1);
    }

    #[test]
    fn lease_times() {
        let mut r = reply(MessageType::Ack, 1);
        r.renewal_time = None;
        r.rebinding_time = None;
        let l = lease_from(&r, SERVER, t(0)).unwrap();
        assert_eq!((l.renew_at, l.rebind_at), (t(60), t(105)));
        // T1 > T2 is ignored.
        r.renewal_time = Some(110);
        r.rebinding_time = Some(100);
        let l = lease_from(&r, SERVER, t(0)).unwrap();
        assert_eq!((l.renew_at, l.rebind_at), (t(60), t(105)));
        r.lease_time = Some(u32::MAX);
        let l = lease_from(&r, SERVER, t(0)).unwrap();
        assert_eq!(l.expires_at, None);
        assert!(l.renew_at > t(1_000_000_000));
        r.lease_time = None;
        assert_eq!(lease_from(&r, SERVER, t(0)), None);
        r.lease_time = Some(60);
        r.subnet_mask = None;
        r.yiaddr = Ipv4Addr::new(172, 16, 0, 5);
        assert_eq!(
            lease_from(&r, SERVER, t(0)).unwrap().address.prefix_len(),
            16
        );
    }
}
