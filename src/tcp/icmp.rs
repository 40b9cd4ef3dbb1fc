//! ICMP errors about our TCP segments (RFC 1122 §4.2.3.9, RFC 1191, RFC 5927): the TCP
//! header they quote, and what each kind of error does to the connection it names.
//!
//! `ip` hands the stack the quoted datagram's addresses, the first 8 bytes of its payload
//! and the error's type; the stack finds the connection by [`QuotedTcp::ends`] and calls
//! [`on_icmp_error`].

use super::Endpoint;
#[cfg(feature = "proto-ipv4")]
use core::net::Ipv4Addr;

use super::conn::{Connection, Ctx};
use crate::wire::icmpv4::DstUnreachableCode;
use crate::wire::tcp::SeqNum;

/// The start of one of our TCP headers, as an ICMP error quotes it (RFC 792: the first 8
/// bytes of the datagram's payload, which hold the ports and the sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    /// Our port (the quoted segment's source).
    pub src_port: u16,
    /// The peer's port.
    pub dst_port: u16,
    /// The sequence number of the quoted segment.
    pub seq: SeqNum,
}

impl QuotedTcp {
    /// Reads the quoted header from the first 8 bytes of the quoted payload.
    pub fn parse(head: &[u8; 8]) -> Self {
        QuotedTcp {
            src_port: u16::from_be_bytes([head[0], head[1]]),
            dst_port: u16::from_be_bytes([head[2], head[3]]),
            seq: SeqNum(u32::from_be_bytes([head[4], head[5], head[6], head[7]])),
        }
    }

    /// Our end and the peer's end of the quoted segment, which went from `src` (us) to
    /// `dst` (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub fn ends(&self, src: Ipv4Addr, dst: Ipv4Addr) -> (Endpoint, Endpoint) {
        (
            Endpoint::v4(src, self.src_port),
            Endpoint::v4(dst, self.dst_port),
        )
    }

    /// [`QuotedTcp::ends`] of a segment quoted by an ICMPv6 error.
    #[cfg(feature = "proto-ipv6")]
    pub fn ends6(
        &self,
        src: core::net::Ipv6Addr,
        dst: core::net::Ipv6Addr,
    ) -> (Endpoint, Endpoint) {
        (
            Endpoint::v6(src, self.src_port),
            Endpoint::v6(dst, self.dst_port),
        )
    }
}

/// An ICMP error quoting segment `seq` of connection `c`. `unreachable` is the code of a
/// destination unreachable, `None` for the other errors (time exceeded, parameter
/// problem), which are counted and ignored. Fragmentation needed lowers the MSS to fit
/// `next_hop_mtu` (RFC 1191, never below the configured `min_mss`); protocol and port unreachable are
/// hard errors, the other codes soft (RFC 1122 §4.2.3.9): see
/// [`Connection::on_icmp_unreachable`].
pub fn on_icmp_error(
    c: &mut Connection,
    ctx: &mut Ctx,
    seq: SeqNum,
    unreachable: Option<DstUnreachableCode>,
    next_hop_mtu: u16,
) {
    match unreachable {
        Some(DstUnreachableCode::FragNeeded) => c.on_icmp_frag_needed(ctx, seq, next_hop_mtu),
        Some(DstUnreachableCode::ProtocolUnreachable | DstUnreachableCode::PortUnreachable) => {
            c.on_icmp_unreachable(ctx, seq, true)
        }
        Some(_) => c.on_icmp_unreachable(ctx, seq, false),
        None => ctx.stats.icmp_ignored += 1,
    }
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::tcp::{State, TcpConfig, TcpStats};
    use crate::time::Instant;

    /// A connection in SYN-SENT whose SYN (sequence number 5000) is the quotable segment.
    fn syn_sent() -> Connection {
        Connection::connect(
            &TcpConfig::default(),
            Instant::ZERO,
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 1), 49153),
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 2), 80),
            SeqNum(5000),
            1500,
            4096,
            0,
        )
    }

    #[test]
    fn each_kind_of_error_does_its_own_thing() {
        let cfg = TcpConfig::default();
        let mut stats = TcpStats::default();
        let mut ctx = Ctx {
            now: Instant::ZERO,
            cfg: &cfg,
            stats: &mut stats,
        };
        let seq = SeqNum(5000);
        // Time exceeded and parameter problem: counted, nothing else.
        let mut c = syn_sent();
        on_icmp_error(&mut c, &mut ctx, seq, None, 0);
        assert_eq!(
            (ctx.stats.icmp_ignored, c.state(), c.error()),
            (1, State::SynSent, None)
        );
        // A soft error leaves the handshake going.
        let soft = Some(DstUnreachableCode::HostUnreachable);
        on_icmp_error(&mut c, &mut ctx, seq, soft, 0);
        assert_eq!((c.state(), c.error()), (State::SynSent, None));
        // A quote outside what we sent is ignored.
        let port = Some(DstUnreachableCode::PortUnreachable);
        on_icmp_error(&mut c, &mut ctx, SeqNum(9000), port, 0);
        assert_eq!((ctx.stats.icmp_ignored, c.state()), (2, State::SynSent));
        // Fragmentation needed with a next-hop MTU too small to believe (RFC 1191 §5).
        let frag = Some(DstUnreachableCode::FragNeeded);
        on_icmp_error(&mut c, &mut ctx, seq, frag, 60);
        assert_eq!(ctx.stats.icmp_ignored, 3);
        // Port unreachable is hard: the connect fails.
        on_icmp_error(&mut c, &mut ctx, seq, port, 0);
        assert_eq!(c.state(), State::Closed);
        assert_eq!(c.error(), Some(Error::ConnectionRefused));
    }

    #[test]
    fn quoted_header_gives_ports_sequence_and_ends() {
        let q = QuotedTcp::parse(&[0xc0, 0x01, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(
            q,
            QuotedTcp {
                src_port: 49153,
                dst_port: 80,
                seq: SeqNum(0x1234_5678),
            }
        );
        let us = Ipv4Addr::new(10, 0, 0, 1);
        let peer = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(
            q.ends(us, peer),
            (Endpoint::v4(us, 49153), Endpoint::v4(peer, 80))
        );
    }
}
