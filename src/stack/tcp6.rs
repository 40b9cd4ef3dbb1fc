//! TCP segments over IPv6, until the TCP engine's 4-tuple carries IPv6 addresses
//! (issue 20, its third part): no socket can be reached over IPv6 yet, so every segment
//! is answered as one for a port with no socket (RFC 9293 §3.10.7.1: a reset), from the
//! address it was sent to. A Linux client gets "connection refused" at once instead of
//! retrying its SYN for two minutes.

use core::net::Ipv6Addr;

use super::Stack;
use crate::drivers::TxToken;
use crate::tcp::listen;
use crate::wire::ethernet::EthernetAddress;
use crate::wire::ipv6::{next_header, pseudo_header};
use crate::wire::tcp::{TcpPacket, TcpRepr, set_checksum};

impl<'a> Stack<'a> {
    /// A TCP segment to `dst`, one of our IPv6 addresses, from `src` at `src_mac`:
    /// checked (the checksum over the IPv6 pseudo-header unless the device verified it),
    /// then answered with a reset.
    pub(super) fn tcp6_input<T: TxToken>(
        &mut self,
        src_mac: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        seg: &[u8],
        tx: T,
        verify: bool,
    ) {
        let stats = &mut self.sockets.stats;
        let Ok(pkt) = TcpPacket::new_checked(seg) else {
            stats.dropped_malformed += 1;
            return;
        };
        let Ok(repr) = TcpRepr::parse(&pkt) else {
            stats.dropped_bad_options += 1;
            return;
        };
        if verify {
            let mut sum = pseudo_header(src, dst, next_header::TCP, seg.len() as u32);
            sum.add_bytes(seg);
            if sum.sum() != 0xffff {
                stats.dropped_checksum += 1;
                return;
            }
        }
        if repr.src_port == 0 || repr.dst_port == 0 {
            stats.dropped_malformed += 1;
            return;
        }
        stats.segments_in += 1;
        let payload_len = pkt.payload().len();
        let Some(rst) = listen::on_segment_without_socket(stats, &repr, payload_len) else {
            return;
        };
        let offload = self.iface.config().checksum.tx_tcp;
        let len = rst.header_len();
        let iface = &mut self.iface;
        tx.consume(crate::ip::ipv6_frame_len(len), |b| {
            let Ok(at) = iface.emit_ipv6(b, src_mac, dst, src, next_header::TCP, len) else {
                return;
            };
            let Some(seg) = b.get_mut(at..) else { return };
            if rst.emit(seg).is_err() || offload {
                return;
            }
            let mut sum = pseudo_header(dst, src, next_header::TCP, len as u32);
            sum.add_bytes(seg.get(..len).unwrap_or(&[]));
            set_checksum(seg, sum.finish());
        });
        self.sockets.stats.rst_sent += 1;
        self.sockets.stats.segments_out += 1;
    }
}
