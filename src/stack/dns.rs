//! The stack's side of the DNS resolver: queries out over UDP, answers in.

use core::net::Ipv4Addr;
use core::task::Poll;

use super::Stack;
use crate::dns::{DnsError, QueryHandle, Resolver};
use crate::drivers::{Device, TxToken};
use crate::ip::{NeighborStatus, ipv4_frame_len};
use crate::time::{Duration, Instant};
use crate::wire::dns::{self, TYPE_A, emit_query};
use crate::wire::ipv4::IpProtocol;
use crate::wire::udp::{HEADER_LEN as UDP_HEADER_LEN, UdpRepr};

/// How long a query waits for its server's ARP resolution before it is retried.
const ARP_HOLD: Duration = Duration::from_millis(100);

impl<'a> Stack<'a> {
    /// Starts resolving `name` to an IPv4 address with the DNS servers of
    /// [`Stack::dns_servers`] (from DHCP or set). Poll the handle with
    /// [`Stack::query_result`]. An address literal or a cached name is ready at once.
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
        let servers = self.dns_servers;
        self.resolver.resolve(self.sockets.now, name, &servers)
    }

    /// The result of a query: `Pending` while it runs; once `Ready` the query is over.
    pub fn query_result(&mut self, query: &QueryHandle) -> Poll<Result<Ipv4Addr, DnsError>> {
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
        src: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        msg: &[u8],
    ) {
        let servers = self.dns_servers;
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
        let servers = self.dns_servers;
        let mut sent = false;
        loop {
            let Some(out) = self.resolver.poll_transmit(now, &servers) else {
                return sent;
            };
            let (server, port, id, slot) = (out.server, out.port, out.id, out.slot);
            let mac = match self.iface.lookup(now, server) {
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
            tok.consume(ipv4_frame_len(len), |b| {
                let src = iface.address();
                let Ok(at) = iface.emit_ipv4(b, mac, server, IpProtocol::Udp, len) else {
                    return;
                };
                let Some(d) = b.get_mut(at..at + len) else {
                    return;
                };
                if let Some(m) = d.get_mut(UDP_HEADER_LEN..) {
                    let _ = emit_query(m, id, out.name, TYPE_A);
                }
                let udp = UdpRepr {
                    src_port: port,
                    dst_port: dns::PORT,
                };
                let _ = udp.emit(d, src, server);
            });
            self.resolver.sent(slot, now);
            sent = true;
        }
    }
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
        let servers = self.dns_servers;
        let Some(o) = self.resolver.tcp_wanted(&servers) else {
            return;
        };
        let mut buf = [0u8; TCP_BUF];
        let q = emit_query(&mut buf[2..], o.id, o.name, TYPE_A).unwrap_or(0);
        buf[..2].copy_from_slice(&(q as u16).to_be_bytes());
        let (slot, server) = (o.slot, o.server);
        let timeout = self.resolver.timeout;
        match self
            .sockets
            .connect(core::net::SocketAddrV4::new(server, dns::PORT).into())
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
    fn start_resolve(&mut self, name: &str) -> Result<QueryHandle, DnsError> {
        // The only error of `resolve`: every query slot taken.
        self.resolve(name).map_err(|_| DnsError::NoQuerySlot)
    }

    fn poll_resolve(&mut self, query: &QueryHandle) -> Poll<Result<Ipv4Addr, DnsError>> {
        self.query_result(query)
    }

    fn cancel_resolve(&mut self, query: QueryHandle) {
        self.cancel_query(query);
    }
}
