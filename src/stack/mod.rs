//! The [`Stack`]: the interface, the socket set and the poll loop that joins them to a
//! [`Device`].
//!
//! `poll(now, &mut device)` does all the work: frames in (ARP, ICMP, TCP segments to
//! connections or listeners), timers due, then frames out (ARP, resets, segments), and
//! returns when it must next run. Between polls, the application uses its handles through
//! the [`SocketSet`] the stack derefs to.

#[cfg(feature = "proto-ipv4")]
use core::net::Ipv4Addr;
use core::ops::{Deref, DerefMut};

use crate::buf::SendBuf;
use crate::drivers::{Device, DeviceCaps, RxToken, TxToken};
#[cfg(feature = "proto-ipv4")]
use crate::ip::{IcmpError, IcmpErrorKind};
use crate::ip::{IfaceConfig, Interface, IpStats, NeighborStatus, Received};
use crate::log::net_log;
use crate::socket::{SocketSet, Storage};
#[cfg(feature = "proto-ipv4")]
use crate::tcp::icmp::{QuotedTcp, on_icmp_error};
use crate::tcp::isn::Secrets;
use crate::tcp::listen::{self, ListenDecision, Listener};
use crate::tcp::{Ctx, Endpoint, SegmentIn, TcpConfig, TcpStats, Transmit, ack_may_wait};
use crate::time::Instant;
use crate::wire::checksum::Checksum;
#[cfg(feature = "proto-ipv4")]
use crate::wire::checksum::pseudo_header;
use crate::wire::ethernet::EthernetAddress;
#[cfg(feature = "proto-ipv4")]
use crate::wire::ipv4::{IpProtocol, Ipv4Cidr};
use crate::wire::tcp::{TcpFlags, TcpPacket, TcpRepr, set_checksum};

mod addr;
#[cfg(feature = "dhcpv4")]
mod dhcp;
#[cfg(feature = "dns")]
mod dns;
#[cfg(feature = "proto-ipv6")]
mod tcp6;
#[cfg(any(feature = "dhcpv4", feature = "dns"))]
mod udp;

pub use addr::AddressEvent;

/// Frames taken from the device in one `poll` before it returns (so that a flood cannot
/// keep `poll` from returning).
const RX_BUDGET: usize = 256;

/// Everything a stack is configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The interface: MAC, address, gateway, ARP.
    pub iface: IfaceConfig,
    /// TCP settings.
    pub tcp: TcpConfig,
    /// 128 secret bits for ISNs, ephemeral ports, SYN cookies and the connection hash
    /// (RFC 6528). On a board, take them from its RNG; every stack must have its own,
    /// and a new one at every boot: a seed shared between boards (or all zeros) lets an
    /// off-path attacker predict their sequence numbers and flood their hash table.
    pub seed: [u8; 16],
    /// Largest IP packet to send (further limited by the device's MTU).
    pub mtu: usize,
}

impl Config {
    /// Defaults for an interface with this MAC and address, and the stack's secret
    /// `seed` (see [`Config::seed`]: 16 bytes from the board's hardware RNG, new at every
    /// boot; on a host, [`Config::with_os_seed`] takes them from the OS).
    ///
    /// ```
    /// use tidytcp::stack::Config;
    /// let seed = [0x5a; 16]; // from a hardware RNG in real firmware
    /// let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "10.7.0.2/24".parse().unwrap(), seed);
    /// assert_eq!(cfg.mtu, 1500);
    /// ```
    ///
    /// Feature `proto-ipv4`; an IPv6-only host starts from [`Config::from_mac`].
    #[cfg(feature = "proto-ipv4")]
    pub fn new(mac: EthernetAddress, addr: Ipv4Cidr, seed: [u8; 16]) -> Self {
        Config {
            iface: IfaceConfig::new(mac, addr),
            ..Config::from_mac(mac, seed)
        }
    }

    /// Defaults for an interface with this MAC and no IPv4 address
    /// ([`IfaceConfig::from_mac`]: IPv6 by link-local and SLAAC addresses, with
    /// `proto-ipv6`), and the stack's secret `seed`. In every build.
    ///
    /// ```
    /// use tidytcp::stack::Config;
    /// let cfg = Config::from_mac("02:00:00:00:00:01".parse().unwrap(), [0x5a; 16]);
    /// assert_eq!(cfg.mtu, 1500);
    /// ```
    pub fn from_mac(mac: EthernetAddress, seed: [u8; 16]) -> Self {
        Config {
            iface: IfaceConfig::from_mac(mac),
            tcp: TcpConfig::default(),
            seed,
            mtu: 1500,
        }
    }

    /// Like [`Config::new`], with the seed read from the operating system's random
    /// source (`/dev/urandom`).
    ///
    /// ```
    /// use tidytcp::stack::Config;
    /// let mac = "02:00:00:00:00:01".parse().unwrap();
    /// let a = Config::with_os_seed(mac, "10.7.0.2/24".parse().unwrap()).unwrap();
    /// let b = Config::with_os_seed(mac, "10.7.0.2/24".parse().unwrap()).unwrap();
    /// assert_ne!(a.seed, b.seed);
    /// ```
    #[cfg(all(feature = "std", feature = "proto-ipv4"))]
    pub fn with_os_seed(mac: EthernetAddress, addr: Ipv4Cidr) -> std::io::Result<Self> {
        use std::io::Read;
        let mut seed = [0; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
        Ok(Config::new(mac, addr, seed))
    }
}

/// Counters of a stack, by layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ethernet, ARP, IPv4 and ICMP.
    pub ip: IpStats,
    /// TCP.
    pub tcp: TcpStats,
    /// Resets that could not be sent (queue full or neighbour unknown).
    pub rst_dropped: u64,
    /// Polls that stopped early because the receive budget ran out.
    pub rx_budget_exhausted: u64,
    /// UDP datagrams dropped: malformed, bad checksum, or for no client of the stack.
    pub udp_dropped: u64,
}

/// A TCP/IP stack over one interface.
///
/// ```
/// use tidytcp::drivers::Loopback;
/// use tidytcp::socket::SocketStorage;
/// use tidytcp::stack::{Config, Stack};
/// use tidytcp::Instant;
///
/// let mut storage = SocketStorage::<4, 1, 2048, 2048>::new();
/// let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [7; 16]);
/// let mut stack = Stack::new(cfg, &mut storage);
/// let mut dev = Loopback::<8>::new();
///
/// let listener = stack.listen(7, 4).unwrap();
/// let mut client = stack.connect("127.0.0.1:7".parse().unwrap()).unwrap();
/// let mut now = Instant::ZERO;
/// let mut server = loop {
///     stack.poll(now, &mut dev);
///     if let Ok((s, _)) = listener.accept(&mut stack) { break s; }
///     now += tidytcp::Duration::from_millis(1);
/// };
/// client.write(&mut stack, b"ping").unwrap();
/// let mut buf = [0u8; 16];
/// let n = loop {
///     stack.poll(now, &mut dev);
///     if let Ok(n) = server.read(&mut stack, &mut buf) { break n; }
///     now += tidytcp::Duration::from_millis(1);
/// };
/// assert_eq!(&buf[..n], b"ping");
/// client.close(&mut stack);
/// server.close(&mut stack);
/// listener.close(&mut stack);
/// ```
pub struct Stack<'a> {
    iface: Interface,
    sockets: SocketSet<'a>,
    mtu: usize,
    /// The device's link state at this poll (false before the first poll).
    up: bool,
    rst_dropped: u64,
    rx_budget_exhausted: u64,
    udp_dropped: u64,
    /// Seeds the DHCP client's transaction IDs.
    #[cfg_attr(not(feature = "dhcpv4"), allow(dead_code))]
    rng_seed: u64,
    /// The link state the DHCP client last acted on (`up` is the device's, this poll).
    #[cfg_attr(not(feature = "dhcpv4"), allow(dead_code))]
    link_up: bool,
    addr_events: addr::AddressEvents,
    #[cfg(feature = "dhcpv4")]
    dhcp: Option<crate::ip::dhcp::DhcpClient>,
    #[cfg(any(feature = "dhcpv4", feature = "dns"))]
    dns_servers: [Option<Ipv4Addr>; 3],
    #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
    dns_servers6: [Option<core::net::Ipv6Addr>; 2],
    #[cfg(feature = "dns")]
    resolver: crate::dns::Resolver,
    #[cfg(feature = "dns")]
    dns_tcp: Option<dns::DnsTcp<'a>>,
}

impl<'a> Deref for Stack<'a> {
    type Target = SocketSet<'a>;
    fn deref(&self) -> &SocketSet<'a> {
        &self.sockets
    }
}

impl<'a> DerefMut for Stack<'a> {
    fn deref_mut(&mut self) -> &mut SocketSet<'a> {
        &mut self.sockets
    }
}

impl<'a> AsMut<SocketSet<'a>> for Stack<'a> {
    fn as_mut(&mut self) -> &mut SocketSet<'a> {
        &mut self.sockets
    }
}

impl<'a, D: Device> crate::socket::Drive<D> for Stack<'a> {
    fn drive(&mut self, now: Instant, device: &mut D) -> Option<Instant> {
        self.poll(now, device)
    }
}

/// What happened when a connection was asked for a segment.
enum Emit {
    Sent,
    Nothing,
    Waiting,
}

impl<'a> Stack<'a> {
    /// A stack with `config`, keeping its sockets in `storage`.
    pub fn new<S: Storage>(config: Config, storage: &'a mut S) -> Self {
        let secrets = Secrets::new(config.seed);
        let mtu = config.mtu.clamp(68, 9000);
        #[cfg_attr(not(feature = "proto-ipv4"), allow(unused_mut))]
        let mut sockets = SocketSet::new(storage.parts(), config.tcp, secrets, mtu);
        #[cfg(feature = "proto-ipv4")]
        {
            sockets.local_ip = config.iface.addr.address();
        }
        #[cfg_attr(not(feature = "proto-ipv6"), allow(unused_mut))]
        let mut iface = Interface::new(config.iface);
        #[cfg(feature = "proto-ipv6")]
        iface.set_ipv6_seed(u64::from_le_bytes([
            config.seed[4],
            config.seed[5],
            config.seed[6],
            config.seed[7],
            config.seed[8],
            config.seed[9],
            config.seed[10],
            config.seed[11],
        ]));
        Stack {
            iface,
            sockets,
            mtu,
            up: false,
            rst_dropped: 0,
            rx_budget_exhausted: 0,
            udp_dropped: 0,
            rng_seed: u64::from_le_bytes([
                config.seed[8],
                config.seed[9],
                config.seed[10],
                config.seed[11],
                config.seed[12],
                config.seed[13],
                config.seed[14],
                config.seed[15],
            ]) ^ 0x6468_6370_646e_7321,
            link_up: true,
            addr_events: addr::AddressEvents::default(),
            #[cfg(feature = "dhcpv4")]
            dhcp: None,
            #[cfg(any(feature = "dhcpv4", feature = "dns"))]
            dns_servers: [None; 3],
            #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
            dns_servers6: [None; 2],
            #[cfg(feature = "dns")]
            resolver: crate::dns::Resolver::new(
                u64::from_le_bytes([
                    config.seed[0],
                    config.seed[1],
                    config.seed[2],
                    config.seed[3],
                    config.seed[4],
                    config.seed[5],
                    config.seed[6],
                    config.seed[7],
                ]) ^ 0x646e_735f_7175_6572,
            ),
            #[cfg(feature = "dns")]
            dns_tcp: None,
        }
    }

    /// The interface: address, ARP cache, IP counters.
    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    /// The socket set (also reachable through `Deref`).
    pub fn sockets_mut(&mut self) -> &mut SocketSet<'a> {
        &mut self.sockets
    }

    /// Counters of every layer.
    pub fn stats(&self) -> Stats {
        Stats {
            ip: *self.iface.stats(),
            tcp: self.sockets.stats,
            rst_dropped: self.rst_dropped + self.sockets.rst_dropped,
            rx_budget_exhausted: self.rx_budget_exhausted,
            udp_dropped: self.udp_dropped,
        }
    }

    /// Does all pending work: receives and processes frames, runs due timers, sends what
    /// is ready. Returns when it must be called again at the latest (`None`: only when a
    /// frame arrives or the application acts). Calling it earlier is always fine.
    pub fn poll<D: Device>(&mut self, now: Instant, device: &mut D) -> Option<Instant> {
        let caps = device.capabilities();
        self.sockets.mtu = self.mtu.min(caps.mtu);
        if self.iface.config().checksum != caps.checksum {
            // The device's offloads decide which checksums are left zero on output.
            let mut c = *self.iface.config();
            c.checksum = caps.checksum;
            self.iface.set_config(now, c);
        }
        self.sockets.now = now;
        let link = device.link_up();
        if link && !self.up {
            // First poll, or the link came back: announce the address (gratuitous ARP).
            #[cfg(feature = "proto-ipv4")]
            net_log!(
                info,
                "link up: {} at {}",
                self.iface.config().addr,
                self.iface.mac()
            );
            #[cfg(not(feature = "proto-ipv4"))]
            net_log!(info, "link up at {}", self.iface.mac());
            self.iface.up(now);
        } else if !link && self.up {
            net_log!(info, "link down");
        }
        self.up = link;
        self.sockets.reap_dropped(now);
        let mut budget = RX_BUDGET;
        loop {
            let mut progress = false;
            while budget > 0 {
                let Some((rx, tx)) = device.receive(now) else {
                    break;
                };
                budget -= 1;
                progress = true;
                self.process_frame(now, rx, tx, &caps);
            }
            if self.sockets.due(now).is_some() {
                self.run_timers(now);
            }
            #[cfg(feature = "dhcpv4")]
            {
                progress |= self.dhcp_poll(now, device);
            }
            #[cfg(feature = "dns")]
            {
                progress |= self.dns_poll(now, device);
                self.dns_tcp_poll(now);
            }
            if !self.iface.neighbors_settled() {
                self.neighbor_events(now);
            }
            if !self.iface.transmit_idle_at(now)
                || self.sockets.has_pending_rst()
                || self.sockets.first_dirty().is_some()
            {
                progress |= self.dispatch(now, device, &caps);
            }
            #[cfg(feature = "proto-ipv6")]
            self.ipv6_events();
            if !progress || budget == 0 {
                break;
            }
        }
        if budget == 0 {
            self.rx_budget_exhausted += 1;
            net_log!(
                debug,
                "poll: receive budget of {} frames used up",
                RX_BUDGET
            );
            return Some(now);
        }
        self.poll_at()
    }

    /// When `poll` must next run, if nothing arrives before.
    #[inline]
    pub fn poll_at(&self) -> Option<Instant> {
        if self.sockets.first_dirty().is_some() || self.sockets.has_pending_rst() {
            return Some(self.sockets.now);
        }
        let at = match (self.sockets.next_deadline(), self.iface.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // With the link down the DHCP client waits for it to come back, not for its timers.
        #[cfg(feature = "dhcpv4")]
        let dhcp_at = self.dhcp.as_ref().filter(|_| self.link_up);
        #[cfg(feature = "dhcpv4")]
        let at = match (at, dhcp_at.and_then(|c| c.poll_at())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        #[cfg(feature = "dns")]
        let dns_at = match &self.dns_tcp {
            Some(t) => Some(t.deadline()),
            None => self.resolver.poll_at(),
        };
        #[cfg(feature = "dns")]
        let at = match (at, dns_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        at
    }

    fn process_frame<R: RxToken, T: TxToken>(
        &mut self,
        now: Instant,
        rx: R,
        tx: T,
        caps: &DeviceCaps,
    ) {
        rx.consume(|frame| match self.iface.receive(now, frame) {
            Received::Reply(r) => {
                let iface = &mut self.iface;
                tx.consume(r.frame_len(), |b| {
                    let _ = iface.emit_reply(&r, b);
                });
            }
            #[cfg(feature = "proto-ipv4")]
            Received::Tcp { src, dst, payload } => self.tcp_input(now, src, dst, payload, tx, caps),
            #[cfg(feature = "proto-ipv4")]
            Received::IcmpError(e) => self.icmp_error(now, &e),
            #[cfg(feature = "proto-ipv6")]
            Received::Tcp6 {
                src_mac,
                src,
                dst,
                payload,
            } => self.tcp6_input(now, src_mac, src, dst, payload, tx, caps),
            #[cfg(feature = "proto-ipv6")]
            Received::Icmp6Error(e) => self.icmp6_error(now, &e),
            #[cfg(all(feature = "proto-ipv4", any(feature = "dhcpv4", feature = "dns")))]
            Received::Udp {
                src_mac,
                src,
                dst,
                payload,
            } => self.udp_input(now, src_mac, src, dst, payload, !caps.checksum.rx_verified),
            #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
            Received::Udp6 { src, dst, payload } => {
                self.udp6_input(now, src, dst, payload, !caps.checksum.rx_verified)
            }
            _ => {}
        });
    }

    /// A TCP segment over IPv4 for us: the pseudo-header, then [`Stack::tcp_segment`].
    #[cfg(feature = "proto-ipv4")]
    #[inline]
    fn tcp_input<T: TxToken>(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &[u8],
        tx: T,
        caps: &DeviceCaps,
    ) {
        let sum = pseudo_header(src, dst, 6, seg.len() as u16);
        let ours = dst == self.sockets.local_ip;
        let ends = (Endpoint::v4(dst, 0), Endpoint::v4(src, 0));
        self.tcp_segment(now, ends, sum, ours, seg, tx, caps, None);
    }

    /// A TCP segment for us, of either family, from `ends.1` to `ends.0` (ports still
    /// zero; `ours`: the destination is an address of ours; `sum`: the pseudo-header's
    /// checksum): checksum (fused with the copy into the receive ring), then the
    /// connection, a listener, or a reset (sent to `reply_mac` if the peer's link-layer
    /// address is not cached).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn tcp_segment<T: TxToken>(
        &mut self,
        now: Instant,
        ends: (Endpoint, Endpoint),
        mut sum: Checksum,
        ours: bool,
        seg: &[u8],
        tx: T,
        caps: &DeviceCaps,
        reply_mac: Option<EthernetAddress>,
    ) {
        let set = &mut self.sockets;
        let Ok(pkt) = TcpPacket::new_checked(seg) else {
            set.stats.dropped_malformed += 1;
            return;
        };
        let Ok(repr) = TcpRepr::parse(&pkt) else {
            set.stats.dropped_bad_options += 1;
            return;
        };
        let payload = pkt.payload();
        let local = ends.0.with_port(repr.dst_port);
        let remote = ends.1.with_port(repr.src_port);
        let verify = !caps.checksum.rx_verified;
        sum.add_bytes(seg.get(..pkt.header_len()).unwrap_or(&[]));
        let found = set.lookup(local, remote);
        let mut staged = None;
        if let Some(i) = found {
            if let Some((c, mut rxb, ..)) = set.parts(i) {
                if let Some((skip, off)) = c.stage_plan(repr.seq, payload.len()) {
                    let mut scratch = Checksum::new();
                    let acc = if verify { &mut sum } else { &mut scratch };
                    let n = rxb.stage(payload, skip, off, acc);
                    staged = Some((off, n));
                }
            }
        }
        if staged.is_none() && verify {
            sum.add_bytes(payload);
        }
        if verify && sum.sum() != 0xffff {
            set.stats.dropped_checksum += 1;
            return;
        }
        if repr.src_port == 0 || repr.dst_port == 0 || !ours {
            set.stats.dropped_malformed += 1;
            return;
        }
        set.stats.segments_in += 1;

        if let Some(i) = found {
            // Only a SYN may reopen TIME-WAIT: other segments skip the listener lookup.
            let listening =
                repr.flags.contains(TcpFlags::SYN) && set.listener_for(repr.dst_port).is_some();
            let reopened = set.slots[i]
                .conn
                .as_mut()
                .is_some_and(|c| listen::reopen_time_wait(c, &repr, listening));
            if !reopened {
                self.segment_to_connection(now, i, &repr, payload, staged, tx);
                return;
            }
            set.after_change(i);
        }
        let set = &mut self.sockets;
        match set.listener_for(repr.dst_port) {
            Some(li) => self.listener_input(now, li, (local, remote), &repr, payload, tx),
            None => {
                let rst = listen::on_segment_without_socket(&mut set.stats, &repr, payload.len());
                if let Some(rst) = rst {
                    self.send_stateless(now, tx, (local, remote), &rst, reply_mac);
                }
            }
        }
    }

    fn segment_to_connection<T: TxToken>(
        &mut self,
        now: Instant,
        i: usize,
        repr: &TcpRepr,
        payload: &[u8],
        staged: Option<(usize, usize)>,
        tx: T,
    ) {
        let set = &mut self.sockets;
        let seg = SegmentIn {
            repr: *repr,
            payload,
            staged,
        };
        let Some((c, mut rxb, mut txb, stats, cfg)) = set.parts(i) else {
            return;
        };
        let had_ooo = rxb.has_ooo();
        let mut ctx = Ctx { now, cfg, stats };
        let una = c.snd_una();
        let reply = c.input(&mut ctx, &seg, &mut rxb, &mut txb);
        let (local, remote) = (c.local(), c.remote());
        if c.snd_una() != una {
            // The peer acknowledged new data: its link-layer address works.
            confirm_reachable(&mut self.iface, now, &remote);
        }
        let wants = c.wants_output();
        let coalesce = ack_may_wait(c, repr, payload.len(), reply.is_some(), had_ooo, &rxb);
        set.after_change(i);
        if let Some(rst) = reply {
            self.send_stateless(now, tx, (local, remote), &rst, None);
        } else if coalesce {
            // after_change queued the connection for the output pass of this poll.
        } else if wants && self.sockets.live(i) {
            // An ACK that should not wait: use the transmit room that came with the frame.
            self.emit_connection(now, i, tx);
            self.sockets.update_timer(i);
        }
    }

    /// A segment for listener `li`: the listener decides (`tcp::listen`), the stack takes
    /// the slot or sends the reply.
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    #[allow(clippy::too_many_arguments)]
    fn listener_input<T: TxToken>(
        &mut self,
        now: Instant,
        li: usize,
        (local, remote): (Endpoint, Endpoint),
        repr: &TcpRepr,
        payload: &[u8],
        tx: T,
    ) {
        let set = &mut self.sockets;
        let listener = Listener {
            room: set.listen_room(li),
            rcv_cap: set.rx_buffer_size(),
            mtu: set.mtu_to(&remote),
            cfg: &set.cfg,
            secrets: &set.secrets,
        };
        let decision = listener.on_segment(&mut set.stats, now, local, remote, repr, payload.len());
        let (conn, from_cookie) = match decision {
            ListenDecision::Ignore => return,
            ListenDecision::Reply(r) => {
                self.send_stateless(now, tx, (local, remote), &r, None);
                return;
            }
            ListenDecision::Open => (listener.open(now, local, remote, repr), false),
            ListenDecision::OpenFromCookie(r) => (
                listener.open_from_cookie(now, local, remote, repr, &r),
                true,
            ),
        };
        let Some(i) = set.alloc() else {
            // The listener saw a free slot (`ListenRoom::free_slot`), so this does not
            // happen; were it to, the peer retries.
            set.stats.syn_dropped += 1;
            return;
        };
        set.adopt(i, conn, li);
        if from_cookie {
            // The ACK that returned the cookie completes the handshake.
            self.segment_to_connection(now, i, repr, payload, None, tx);
        } else {
            self.emit_connection(now, i, tx);
            self.sockets.update_timer(i);
        }
    }

    /// ICMP errors about our TCP segments: the connection the quoted header names, if
    /// any, takes it (`tcp::icmp`).
    #[cfg(feature = "proto-ipv4")]
    fn icmp_error(&mut self, now: Instant, e: &IcmpError) {
        if e.protocol != IpProtocol::Tcp {
            return;
        }
        let quote = QuotedTcp::parse(&e.payload_head);
        let (local, remote) = quote.ends(e.src, e.dst);
        let set = &mut self.sockets;
        let Some(i) = set.lookup(local, remote) else {
            set.stats.icmp_ignored += 1;
            return;
        };
        let unreachable = match e.kind {
            IcmpErrorKind::DstUnreachable(code) => Some(code),
            IcmpErrorKind::TimeExceeded(_) | IcmpErrorKind::ParamProblem(_) => None,
        };
        let Some((c, _, _, stats, cfg)) = set.parts(i) else {
            return;
        };
        let mut ctx = Ctx { now, cfg, stats };
        on_icmp_error(c, &mut ctx, quote.seq, unreachable, e.next_hop_mtu);
        set.after_change(i);
    }

    /// Timers due now.
    fn run_timers(&mut self, now: Instant) {
        let mut guard = 2 * self.sockets.capacity() + 8;
        while guard > 0 {
            let Some(i) = self.sockets.due(now) else {
                break;
            };
            guard -= 1;
            let set = &mut self.sockets;
            let Some((c, _, _, stats, cfg)) = set.parts(i) else {
                set.update_timer(i);
                continue;
            };
            let mut ctx = Ctx { now, cfg, stats };
            let rst = c.on_timer(&mut ctx);
            let ends = (c.local(), c.remote());
            if let Some(r) = rst {
                set.queue_rst(ends.0, ends.1, r);
            }
            set.after_change(i);
        }
    }

    /// Neighbours resolved (retry output at once) or failed (host unreachable).
    fn neighbor_events(&mut self, now: Instant) {
        while let Some(t) = self.iface.poll_resolved() {
            if let Some(i) = self.sockets.token_slot(t) {
                self.sockets.mark_dirty(i);
            }
        }
        while let Some(t) = self.iface.poll_failed(now) {
            if let Some(i) = self.sockets.token_slot(t) {
                self.sockets.neighbor_failed(i);
            }
        }
    }

    /// Sends what is ready: ARP, queued resets, then connections with output pending,
    /// one segment each in turn.
    fn dispatch<D: Device>(&mut self, now: Instant, dev: &mut D, caps: &DeviceCaps) -> bool {
        let mut sent = false;
        loop {
            let Some(tok) = dev.transmit(now) else {
                return sent;
            };
            let Some(r) = self.iface.poll_transmit(now) else {
                break;
            };
            let iface = &mut self.iface;
            tok.consume(r.frame_len(), |b| {
                let _ = iface.emit_reply(&r, b);
            });
            sent = true;
        }
        while let Some((local, remote, rst)) = self.sockets.take_rst() {
            let Some(tok) = dev.transmit(now) else {
                self.sockets.put_back_rst((local, remote, rst));
                return sent;
            };
            sent |= self.send_stateless(now, tok, (local, remote), &rst, None);
        }
        let _ = caps;
        while let Some(i) = self.sockets.first_dirty() {
            let Some(tok) = dev.transmit(now) else {
                return sent;
            };
            match self.emit_connection(now, i, tok) {
                Emit::Sent => {
                    sent = true;
                    self.sockets.update_timer(i);
                    if self.sockets.may_output(i) {
                        self.sockets.rotate_dirty();
                    } else {
                        self.sockets.undirty(i);
                    }
                }
                Emit::Nothing | Emit::Waiting => {
                    self.sockets.undirty(i);
                    self.sockets.update_timer(i);
                    self.sockets.release(i);
                }
            }
        }
        sent
    }

    /// Asks connection `i` for a segment and builds it in `tok`.
    fn emit_connection<T: TxToken>(&mut self, now: Instant, i: usize, tok: T) -> Emit {
        let set = &mut self.sockets;
        let Some(c) = set.slots.get(i).and_then(|s| s.conn.as_ref()) else {
            return Emit::Nothing;
        };
        // Most connections queued for output (after input that only arms the delayed
        // ACK, after a read that opened too little window) have nothing to send: find
        // that out before resolving the next hop and joining the buffers.
        if !set.may_output(i) {
            return Emit::Nothing;
        }
        let (local, remote) = (c.local(), c.remote());
        let mac = match lookup(&mut self.iface, now, &remote) {
            Ok(m) => m,
            Err(NeighborStatus::Pending) => {
                // Wait for the neighbour; if its queue is full, the connection's own timer
                // brings it back. Either way it must not wait without a deadline.
                wait_for(&mut self.iface, now, &remote, set.token(i));
                let held = set.slots[i].tx.len();
                let (cfg, stats) = (&set.cfg, &mut set.stats);
                if let Some(c) = set.slots[i].conn.as_mut() {
                    c.on_output_blocked(&mut Ctx { now, cfg, stats }, held);
                }
                return Emit::Waiting;
            }
            Err(_) => {
                // Unresolvable now (failed ARP, no route): remember it, and keep a timer so
                // the connection retries later and ends in a timeout if it never can.
                set.neighbor_failed(i);
                return Emit::Nothing;
            }
        };
        let mtu = set.mtu_to(&remote);
        let Some((c, rxb, txb, stats, cfg)) = set.parts(i) else {
            return Emit::Nothing;
        };
        let mut ctx = Ctx { now, cfg, stats };
        let Some(t) = c.poll_output(&mut ctx, &rxb, &txb, mtu) else {
            return Emit::Nothing;
        };
        stats.segments_out += 1;
        let offload = self.iface.config().checksum.tx_tcp;
        let tcp_len = t.repr.header_len() + t.len;
        let iface = &mut self.iface;
        tok.consume(frame_len(&remote, tcp_len), |b| {
            if let Some((at, sum)) = emit_ip(iface, b, mac, (&local, &remote), tcp_len) {
                if let Some(seg) = b.get_mut(at..) {
                    write_segment(seg, &t, &txb, sum, offload);
                }
            }
        });
        Emit::Sent
    }

    /// Sends a segment that belongs to no connection (a reset, a cookie SYN-ACK) from
    /// `ends.0` to `ends.1`: to the peer's cached link-layer address, else `reply_mac`
    /// (the frame's source, for IPv6), else not at all.
    fn send_stateless<T: TxToken>(
        &mut self,
        now: Instant,
        tok: T,
        (local, remote): (Endpoint, Endpoint),
        repr: &TcpRepr,
        reply_mac: Option<EthernetAddress>,
    ) -> bool {
        // Only IPv6 passes one (the frame's source, for a peer not yet in the neighbour
        // cache); an IPv4-only build drops the branch.
        #[cfg(not(feature = "proto-ipv6"))]
        let reply_mac = reply_mac.and(None);
        let mac = match (lookup(&mut self.iface, now, &remote), reply_mac) {
            (Ok(mac), _) | (Err(_), Some(mac)) => mac,
            (Err(_), None) => {
                self.rst_dropped += 1;
                return false;
            }
        };
        let tcp_len = repr.header_len();
        let t = Transmit {
            repr: *repr,
            offset: 0,
            len: 0,
        };
        let offload = self.iface.config().checksum.tx_tcp;
        let iface = &mut self.iface;
        tok.consume(frame_len(&remote, tcp_len), |b| {
            if let Some((at, sum)) = emit_ip(iface, b, mac, (&local, &remote), tcp_len) {
                if let Some(seg) = b.get_mut(at..) {
                    let mut empty_state = crate::buf::SendState::new();
                    let empty = SendBuf::new(&mut [], &mut empty_state);
                    write_segment(seg, &t, &empty, sum, offload);
                }
            }
        });
        if repr.flags.contains(TcpFlags::RST) {
            self.sockets.stats.rst_sent += 1;
            net_log!(debug, "tcp RST sent to {}", remote);
        }
        self.sockets.stats.segments_out += 1;
        true
    }
}

/// The link-layer address for a segment to `remote` (ARP or NDP; a miss starts
/// resolution).
#[inline]
fn lookup(
    iface: &mut Interface,
    now: Instant,
    remote: &Endpoint,
) -> Result<EthernetAddress, NeighborStatus> {
    #[cfg(feature = "proto-ipv4")]
    if let Some(ip) = remote.ipv4() {
        return iface.lookup(now, ip);
    }
    #[cfg(feature = "proto-ipv6")]
    if let Some(ip) = remote.ipv6() {
        return iface.lookup6(now, ip);
    }
    Err(NeighborStatus::NoRoute)
}

/// Queues `token` until the link-layer address of `remote`'s next hop is known.
fn wait_for(iface: &mut Interface, now: Instant, remote: &Endpoint, token: u32) {
    #[cfg(feature = "proto-ipv4")]
    if let Some(ip) = remote.ipv4() {
        iface.wait_for(now, ip, token);
    }
    #[cfg(feature = "proto-ipv6")]
    if let Some(ip) = remote.ipv6() {
        iface.wait_for6(now, ip, token);
    }
}

/// TCP's advice that `remote` answers (RFC 4861 §7.3.1, and ARP's equivalent).
#[inline]
fn confirm_reachable(iface: &mut Interface, now: Instant, remote: &Endpoint) {
    #[cfg(feature = "proto-ipv4")]
    if let Some(ip) = remote.ipv4() {
        iface.confirm_reachable(now, ip);
    }
    #[cfg(feature = "proto-ipv6")]
    if let Some(ip) = remote.ipv6() {
        iface.confirm_reachable6(now, ip);
    }
}

/// The frame a TCP segment of `tcp_len` bytes to `remote` takes.
#[inline]
fn frame_len(remote: &Endpoint, tcp_len: usize) -> usize {
    match remote.is_ipv4() {
        #[cfg(feature = "proto-ipv4")]
        true => crate::ip::ipv4_frame_len(tcp_len),
        #[cfg(feature = "proto-ipv6")]
        false => crate::ip::ipv6_frame_len(tcp_len),
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// Writes the Ethernet and IP headers of a TCP segment of `len` bytes from `ends.0` to
/// `ends.1` into `b`; returns the segment's offset and its pseudo-header checksum.
#[inline]
fn emit_ip(
    iface: &mut Interface,
    b: &mut [u8],
    mac: EthernetAddress,
    (local, remote): (&Endpoint, &Endpoint),
    len: usize,
) -> Option<(usize, Checksum)> {
    #[cfg(feature = "proto-ipv4")]
    if let (Some(src), Some(dst)) = (local.ipv4(), remote.ipv4()) {
        let at = iface.emit_ipv4(b, mac, dst, IpProtocol::Tcp, len).ok()?;
        return Some((at, pseudo_header(src, dst, 6, len as u16)));
    }
    #[cfg(feature = "proto-ipv6")]
    if let (Some(src), Some(dst)) = (local.ipv6(), remote.ipv6()) {
        use crate::wire::ipv6::{next_header, pseudo_header as pseudo6};
        let at = iface
            .emit_ipv6(b, mac, src, dst, next_header::TCP, len)
            .ok()?;
        return Some((at, pseudo6(src, dst, next_header::TCP, len as u32)));
    }
    None
}

/// Writes header and payload of `t` to the front of `seg`, the payload copied from the send
/// ring and summed in the same pass, then the checksum (unless the device computes it).
fn write_segment(seg: &mut [u8], t: &Transmit, tx: &SendBuf<'_>, pseudo: Checksum, offload: bool) {
    let Ok(hlen) = t.repr.emit(seg) else { return };
    let total = hlen + t.len;
    let Some(seg) = seg.get_mut(..total) else {
        return;
    };
    let (hdr, payload) = seg.split_at_mut(hlen);
    if offload {
        let (a, b) = tx.slices(t.offset, t.len);
        let (pa, pb) = payload.split_at_mut(a.len().min(payload.len()));
        pa.copy_from_slice(&a[..pa.len()]);
        if let Some(pb) = pb.get_mut(..b.len()) {
            pb.copy_from_slice(b);
        }
        return;
    }
    let mut sum = pseudo;
    sum.add_bytes(hdr);
    tx.copy_and_sum(t.offset, payload, &mut sum);
    set_checksum(seg, sum.finish());
}
