//! TCP over IPv6: the stack's side of it. Segments go to the same [`Stack::tcp_segment`]
//! as IPv4 ones, with the IPv6 pseudo-header; ICMPv6 errors reach the connection they
//! quote as ICMPv4 ones do; the IPv6 addresses new connections start from follow the
//! address configuration.

use core::net::Ipv6Addr;

use super::Stack;
use crate::drivers::{DeviceCaps, TxToken};
use crate::ip::{Icmp6Error, Icmp6ErrorKind};
use crate::tcp::icmp::{QuotedTcp, on_icmp_error};
use crate::tcp::{Ctx, Endpoint};
use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;
use crate::wire::icmpv4::DstUnreachableCode;
use crate::wire::ipv6::{next_header, pseudo_header};

impl<'a> Stack<'a> {
    /// A TCP segment to `dst`, one of our usable IPv6 addresses (the interface checked
    /// it), from `src` through `src_mac`. A reset for it goes to `src_mac` if the
    /// neighbour cache does not know `src` yet.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tcp6_input<T: TxToken>(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        seg: &[u8],
        tx: T,
        caps: &DeviceCaps,
    ) {
        let sum = pseudo_header(src, dst, next_header::TCP, seg.len() as u32);
        let ends = (Endpoint::v6(dst, 0), Endpoint::v6(src, 0));
        self.tcp_segment(now, ends, sum, true, seg, tx, caps, Some(src_mac));
    }

    /// An ICMPv6 error about one of our TCP segments: the connection the quoted header
    /// names takes it like an ICMPv4 one. Destination unreachable code 4 (port
    /// unreachable) is a hard error, the other codes soft (as ICMPv4's, RFC 5461). Packet Too Big lowers the MSS (RFC 8201, not below what
    /// 1280 bytes carry); time exceeded and parameter problem are counted.
    pub(super) fn icmp6_error(&mut self, now: Instant, e: &Icmp6Error) {
        if e.protocol != next_header::TCP {
            return;
        }
        let quote = QuotedTcp::parse(&e.payload_head);
        let (local, remote) = quote.ends6(e.src, e.dst);
        let set = &mut self.sockets;
        let Some(i) = set.lookup(local, remote) else {
            set.stats.icmp_ignored += 1;
            return;
        };
        let (unreachable, mtu) = match e.kind {
            Icmp6ErrorKind::PacketTooBig => (
                Some(DstUnreachableCode::FragNeeded),
                u16::try_from(e.mtu).unwrap_or(u16::MAX),
            ),
            Icmp6ErrorKind::DstUnreachable(1) => (Some(DstUnreachableCode::CommProhibited), 0),
            Icmp6ErrorKind::DstUnreachable(4) => (Some(DstUnreachableCode::PortUnreachable), 0),
            Icmp6ErrorKind::DstUnreachable(_) => (Some(DstUnreachableCode::HostUnreachable), 0),
            Icmp6ErrorKind::TimeExceeded(_) | Icmp6ErrorKind::ParamProblem(_) => (None, 0),
        };
        let Some((c, _, _, stats, cfg)) = set.parts(i) else {
            return;
        };
        let mut ctx = Ctx::new(now, cfg, stats);
        on_icmp_error(c, &mut ctx, quote.seq, unreachable, mtu);
        set.after_change(i);
    }

    /// Keeps the socket set's IPv6 source addresses (for `connect`) in step with the
    /// interface: one link-local, one of wider scope, each usable (past DAD).
    pub(super) fn refresh_ipv6_sources(&mut self) {
        let ll = self
            .iface
            .ipv6_source_for(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1))
            .filter(|a| a.is_unicast_link_local());
        let global = self
            .iface
            .ipv6_source_for(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 1))
            .filter(|a| !a.is_unicast_link_local());
        let s = &mut self.sockets.local_ip6;
        s.link_local = ll;
        s.global = global;
    }
}
