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
    /// Every query slot in use: [`crate::Error::Exhausted`].
    ///
    /// ```
    /// # use tidytcp::socket::SocketStorage;
    /// # use tidytcp::stack::{Config, Stack};
    /// # use tidytcp::dns::DnsError;
    /// # use core::task::Poll;
    /// # let mut storage = SocketStorage::<1, 1, 256, 256>::new();
    /// # let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "10.0.0.2/24".parse().unwrap());
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

    /// Sends the queries that are due. Returns whether a frame was sent.
    pub(super) fn dns_poll<D: Device>(&mut self, now: Instant, dev: &mut D) -> bool {
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
