//! The stack's side of the DNS resolver: queries out over UDP (IPv4 or IPv6, as the
//! server's address is), answers in.

use core::net::{IpAddr, Ipv4Addr};
use core::task::Poll;

use super::Stack;
use crate::dns::{DnsError, Family, Outgoing, QueryHandle, Resolver};
use crate::drivers::{Device, TxToken};
use crate::ip::{Interface, NeighborStatus};
use crate::time::{Duration, Instant};
use crate::wire::checksum::Checksum;
use crate::wire::dns::{self, emit_query};
use crate::wire::ethernet::EthernetAddress;
use crate::wire::udp::{HEADER_LEN as UDP_HEADER_LEN, UdpRepr};

/// How long a query waits for its server's ARP (or NDP) resolution before it is retried.
const ARP_HOLD: Duration = Duration::from_millis(100);

/// The servers the resolver tries, in order: the IPv4 ones
/// ([`Stack::dns_servers`]), then the IPv6 ones ([`Stack::dns_servers6`], or when none
/// is set those Router Advertisements name, RFC 8106).
pub(super) type ServerList = [Option<IpAddr>; 5];

impl<'a> Stack<'a> {
    /// Starts resolving `name` to an IPv4 address (an A query) with the DNS servers of
    /// [`Stack::dns_servers`] (from DHCP or set) and [`Stack::dns_servers6`]. Poll the
    /// handle with [`Stack::query_result`]; for IPv6 addresses, see
    /// [`Stack::resolve_ip`]. An address literal or a cached name is ready at once.
    /// Every query slot in use: [`crate::Error::Exhausted`]. A truncated answer is asked
    /// again over TCP with a connection of this stack's socket set, which takes one
    /// slot for that time (none free: the query ends with `DnsError::Truncated`).
    ///
    /// When a query finishes, the socket set's epoch moves, so the blocking adapter can
    /// wait for it: `let q = bs.with(|s| s.resolve(name))??;` then
    /// `bs.wait_for(timeout, |s| match s.query_result(&q) { Poll::Ready(r) => { result =
    /// Some(r); true } Poll::Pending => false })`.
    ///
    /// ```
    /// # use tidytcp::socket::SocketStorage;
    /// # use tidytcp::stack::{Config, Stack};
    /// # use tidytcp::dns::DnsError;
    /// # use core::task::Poll;
    /// # let mut storage = SocketStorage::<1, 1, 256, 256>::new();
    /// # let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "10.0.0.2/24".parse().unwrap(), [1; 16]);
    /// let mut stack = Stack::new(cfg, &mut storage);
    /// let q = stack.resolve("10.0.0.1").unwrap();
    /// assert_eq!(stack.query_result(&q), Poll::Ready(Ok("10.0.0.1".parse().unwrap())));
    /// let q = stack.resolve("example.test").unwrap();
    /// assert_eq!(stack.query_result(&q), Poll::Ready(Err(DnsError::NoServer)));
    /// ```
    pub fn resolve(&mut self, name: &str) -> crate::Result<QueryHandle> {
        self.resolve_ip(name, Family::Ipv4)
    }

    /// Starts resolving `name` to an address of `family`: [`Family::Ipv6`] asks for AAAA
    /// records, [`Family::Ipv4`] for A, and [`Family::Either`] for whichever this stack
    /// can reach — IPv6 first (then IPv4 if the name has no IPv6 address) when the
    /// interface has both an IPv4 address and a usable IPv6 address beyond link-local,
    /// only IPv6 without an IPv4 address, only IPv4 without such an IPv6 address. Poll
    /// the handle with [`Stack::query_result_ip`]. Queries go to IPv4 and IPv6 servers
    /// alike, whatever the family asked for.
    ///
    /// ```
    /// # use tidytcp::socket::SocketStorage;
    /// # use tidytcp::stack::{Config, Stack};
    /// # use tidytcp::dns::{DnsError, Family};
    /// # use core::task::Poll;
    /// # let mut storage = SocketStorage::<1, 1, 256, 256>::new();
    /// # let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "10.0.0.2/24".parse().unwrap(), [1; 16]);
    /// let mut stack = Stack::new(cfg, &mut storage);
    /// stack.set_dns_servers6([Some("fd00::53".parse().unwrap()), None]);
    /// let q = stack.resolve_ip("2001:db8::1", Family::Ipv6).unwrap();
    /// assert_eq!(stack.query_result_ip(&q), Poll::Ready(Ok("2001:db8::1".parse().unwrap())));
    /// let q = stack.resolve_ip("10.0.0.1", Family::Ipv6).unwrap();
    /// assert_eq!(stack.query_result_ip(&q), Poll::Ready(Err(DnsError::NoAddress)));
    /// let q = stack.resolve_ip("host.example.test", Family::Ipv6).unwrap();
    /// assert_eq!(stack.query_result_ip(&q), Poll::Pending);
    /// ```
    pub fn resolve_ip(&mut self, name: &str, family: Family) -> crate::Result<QueryHandle> {
        let family = self.reachable_family(family);
        let servers = self.dns_server_list();
        self.resolver
            .resolve(self.sockets.now, name, family, &servers)
    }

    /// [`Family::Either`] narrowed to the families the interface has addresses for.
    fn reachable_family(&self, family: Family) -> Family {
        let v4 = !self.iface.address().is_unspecified();
        #[cfg(feature = "proto-ipv6")]
        let v6 = self.sockets.local_ip6.global.is_some();
        #[cfg(not(feature = "proto-ipv6"))]
        let v6 = false;
        match (family, v4, v6) {
            (Family::Either, true, false) => Family::Ipv4,
            (Family::Either, false, true) => Family::Ipv6,
            (f, _, _) => f,
        }
    }

    /// The result of a [`Stack::resolve`] query: `Pending` while it runs; once `Ready`
    /// the query is over. (An IPv6 result of a [`Stack::resolve_ip`] query is
    /// [`DnsError::Unsupported`] here; take those with [`Stack::query_result_ip`].)
    pub fn query_result(&mut self, query: &QueryHandle) -> Poll<Result<Ipv4Addr, DnsError>> {
        self.query_result_ip(query).map(|r| match r? {
            IpAddr::V4(a) => Ok(a),
            IpAddr::V6(_) => Err(DnsError::Unsupported),
        })
    }

    /// The result of a query, of either family: `Pending` while it runs; once `Ready`
    /// the query is over.
    pub fn query_result_ip(&mut self, query: &QueryHandle) -> Poll<Result<IpAddr, DnsError>> {
        self.resolver.result(query)
    }

    /// Gives up a query.
    pub fn cancel_query(&mut self, query: QueryHandle) {
        self.resolver.cancel(query);
    }

    /// The resolver: counters, timeout.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// A UDP datagram from port 53.
    pub(super) fn dns_input(
        &mut self,
        now: Instant,
        src: IpAddr,
        src_port: u16,
        dst_port: u16,
        msg: &[u8],
    ) {
        let servers = self.dns_server_list();
        self.resolver
            .receive(now, src, src_port, dst_port, msg, &servers);
    }

    /// Sends the queries that are due. Returns whether a frame was sent. Only the test
    /// is inlined into `poll`, as for DHCP.
    #[inline]
    pub(super) fn dns_poll<D: Device>(&mut self, now: Instant, dev: &mut D) -> bool {
        self.resolver.busy() && self.dns_send(now, dev)
    }

    #[inline(never)]
    fn dns_send<D: Device>(&mut self, now: Instant, dev: &mut D) -> bool {
        let servers = self.dns_server_list();
        let mut sent = false;
        loop {
            let Some(out) = self.resolver.poll_transmit(now, &servers) else {
                return sent;
            };
            let (server, slot) = (out.server, out.slot);
            let mac = match server_mac(&mut self.iface, now, server) {
                Ok(m) => m,
                Err(NeighborStatus::Pending) => {
                    self.resolver.hold(slot, now + ARP_HOLD);
                    continue;
                }
                Err(_) => {
                    self.resolver.unreachable(slot, now, &servers);
                    continue;
                }
            };
            let Some(tok) = dev.transmit(now) else {
                return sent;
            };
            let Some(out) = self.resolver.poll_transmit(now, &servers) else {
                return sent;
            };
            let len = UDP_HEADER_LEN + dns::HEADER_LEN + out.name.len() + 2 + 4;
            let iface = &mut self.iface;
            let frame_len = match server {
                IpAddr::V4(_) => crate::ip::ipv4_frame_len(len),
                #[cfg(feature = "proto-ipv6")]
                IpAddr::V6(_) => crate::ip::ipv6_frame_len(len),
                #[cfg(not(feature = "proto-ipv6"))]
                IpAddr::V6(_) => 0,
            };
            tok.consume(frame_len, |b| {
                let _ = write_query(iface, b, mac, &out, len);
            });
            self.resolver.sent(slot, now);
            sent = true;
        }
    }

    /// The servers for the resolver: [`ServerList`].
    pub(super) fn dns_server_list(&self) -> ServerList {
        let mut l = [None; 5];
        for (o, s) in l.iter_mut().zip(self.dns_servers) {
            *o = s.map(IpAddr::V4);
        }
        #[cfg(feature = "proto-ipv6")]
        {
            // Set ones first; without, those routers advertise (RDNSS, RFC 8106).
            let mut v6 = self.dns_servers6;
            if let Some(s) = self.iface.slaac().filter(|_| v6 == [None; 2]) {
                for (o, a) in v6.iter_mut().zip(s.dns_servers(self.sockets.now)) {
                    *o = Some(a);
                }
            }
            for (o, s) in l[3..].iter_mut().zip(v6) {
                *o = s.map(IpAddr::V6);
            }
        }
        l
    }
}

/// The link-layer address to send a query to `server` through (a miss starts ARP or
/// NDP). A server of a family we have no usable address of has no route (the query
/// moves on to the next server).
fn server_mac(
    iface: &mut Interface,
    now: Instant,
    server: IpAddr,
) -> Result<EthernetAddress, NeighborStatus> {
    match server {
        IpAddr::V4(_) if iface.address().is_unspecified() => Err(NeighborStatus::NoRoute),
        IpAddr::V4(a) => iface.lookup(now, a),
        #[cfg(feature = "proto-ipv6")]
        IpAddr::V6(a) if iface.ipv6_source_for(a).is_some() => iface.lookup6(now, a),
        IpAddr::V6(_) => Err(NeighborStatus::NoRoute),
    }
}

/// Writes the frame of the query `out` (a UDP datagram of `len` bytes to its server) to
/// `b`.
fn write_query(
    iface: &mut Interface,
    b: &mut [u8],
    mac: EthernetAddress,
    out: &Outgoing<'_>,
    len: usize,
) -> Option<()> {
    let (at, sum): (usize, Checksum) = match out.server {
        IpAddr::V4(dst) => {
            use crate::wire::checksum::pseudo_header;
            let src = iface.address();
            let proto = crate::wire::ipv4::IpProtocol::Udp;
            let at = iface.emit_ipv4(b, mac, dst, proto, len).ok()?;
            (at, pseudo_header(src, dst, 17, len as u16))
        }
        #[cfg(feature = "proto-ipv6")]
        IpAddr::V6(dst) => {
            use crate::wire::ipv6::{next_header, pseudo_header};
            let src = iface.ipv6_source_for(dst)?;
            let at = iface
                .emit_ipv6(b, mac, src, dst, next_header::UDP, len)
                .ok()?;
            (at, pseudo_header(src, dst, next_header::UDP, len as u32))
        }
        #[cfg(not(feature = "proto-ipv6"))]
        IpAddr::V6(_) => return None,
    };
    let d = b.get_mut(at..at + len)?;
    emit_query(d.get_mut(UDP_HEADER_LEN..)?, out.id, out.name, out.qtype).ok()?;
    let udp = UdpRepr {
        src_port: out.port,
        dst_port: dns::PORT,
    };
    udp.emit_with(d, sum).ok()
}

/// Room for one DNS message over TCP, its 2-byte length included. An answer that does
/// not fit ends the query with `DnsError::Truncated`.
pub(super) const TCP_BUF: usize = 1024;

/// A DNS query over TCP (RFC 7766), on a connection of the stack's own socket table.
pub(super) struct DnsTcp<'a> {
    stream: crate::socket::TcpStream<'a>,
    slot: usize,
    deadline: Instant,
    /// The query to send (until `sent`), then the answer as it arrives.
    buf: [u8; TCP_BUF],
    len: usize,
    sent: bool,
}

/// What the TCP query step decided.
enum TcpStep {
    Wait,
    Answer(usize),
    Failed,
}

impl<'a> Stack<'a> {
    /// Runs the TCP retry of a truncated answer: opens the connection, sends the query,
    /// reads the answer, hands it to the resolver, closes. One at a time.
    #[inline]
    pub(super) fn dns_tcp_poll(&mut self, now: Instant) {
        if self.dns_tcp.is_some() || self.resolver.busy() {
            self.dns_tcp_step(now);
        }
        if self.resolver.take_finished() {
            // Wake whoever waits on the socket set (the blocking adapter's `wait_for`).
            self.sockets.epoch = self.sockets.epoch.wrapping_add(1);
        }
    }

    #[inline(never)]
    fn dns_tcp_step(&mut self, now: Instant) {
        if self.dns_tcp.is_none() {
            self.dns_tcp_start(now);
        }
        let Some(t) = self.dns_tcp.as_mut() else {
            return;
        };
        let step = if now >= t.deadline {
            TcpStep::Failed
        } else {
            t.step(&mut self.sockets)
        };
        let answer = match step {
            TcpStep::Wait => return,
            TcpStep::Answer(n) => Some(n),
            TcpStep::Failed => None,
        };
        let Some(t) = self.dns_tcp.take() else {
            return;
        };
        let msg = answer.and_then(|n| t.buf.get(2..2 + n));
        self.resolver.tcp_answer(t.slot, now, msg);
        t.stream.close(&mut self.sockets);
    }

    fn dns_tcp_start(&mut self, now: Instant) {
        let servers = self.dns_server_list();
        let Some(o) = self.resolver.tcp_wanted(&servers) else {
            return;
        };
        let mut buf = [0u8; TCP_BUF];
        let q = emit_query(&mut buf[2..], o.id, o.name, o.qtype).unwrap_or(0);
        buf[..2].copy_from_slice(&(q as u16).to_be_bytes());
        let (slot, server) = (o.slot, o.server);
        let timeout = self.resolver.timeout;
        match self
            .sockets
            .connect(core::net::SocketAddr::new(server, dns::PORT))
        {
            Ok(stream) if q > 0 => {
                self.resolver.tcp_started(slot);
                self.dns_tcp = Some(DnsTcp {
                    stream,
                    slot,
                    deadline: now + timeout.saturating_mul(3),
                    buf,
                    len: q + 2,
                    sent: false,
                });
            }
            Ok(stream) => {
                stream.abort(&mut self.sockets);
                self.resolver.tcp_answer(slot, now, None);
            }
            Err(_) => self.resolver.tcp_answer(slot, now, None),
        }
    }
}

impl<'a> DnsTcp<'a> {
    /// When the TCP query gives up.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Sends the query, then reads until the answer is whole.
    fn step(&mut self, set: &mut crate::socket::SocketSet<'a>) -> TcpStep {
        use crate::Error;
        if !self.sent {
            let Some(q) = self.buf.get(..self.len) else {
                return TcpStep::Failed;
            };
            match self.stream.write(set, q) {
                Ok(n) if n == self.len => {
                    self.sent = true;
                    self.len = 0;
                }
                Ok(_) | Err(Error::WouldBlock | Error::NotConnected) => return TcpStep::Wait,
                Err(_) => return TcpStep::Failed,
            }
        }
        loop {
            let Some(room) = self.buf.get_mut(self.len..) else {
                return TcpStep::Failed;
            };
            if room.is_empty() {
                return TcpStep::Failed;
            }
            match self.stream.read(set, room) {
                Ok(0) => return TcpStep::Failed,
                Ok(n) => self.len += n,
                Err(Error::WouldBlock) => return TcpStep::Wait,
                Err(_) => return TcpStep::Failed,
            }
            if self.len >= 2 {
                let want = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
                if want + 2 > TCP_BUF {
                    return TcpStep::Failed;
                }
                if self.len >= want + 2 {
                    return TcpStep::Answer(want);
                }
            }
        }
    }
}

impl crate::socket::Resolve for Stack<'_> {
    fn start_resolve(&mut self, name: &str, family: Family) -> Result<QueryHandle, DnsError> {
        // The only error of `resolve_ip`: every query slot taken.
        self.resolve_ip(name, family)
            .map_err(|_| DnsError::NoQuerySlot)
    }

    fn poll_resolve(&mut self, query: &QueryHandle) -> Poll<Result<IpAddr, DnsError>> {
        self.query_result_ip(query)
    }

    fn cancel_resolve(&mut self, query: QueryHandle) {
        self.cancel_query(query);
    }
}
