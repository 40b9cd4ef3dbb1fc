//! UDP inside the stack: datagrams to the DHCP client and the DNS resolver; everything
//! else is dropped and counted.

use core::net::Ipv4Addr;

use super::Stack;
use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;
use crate::wire::udp::{UdpPacket, UdpRepr};

impl<'a> Stack<'a> {
    /// A UDP datagram for us: checksum, then the client it is for.
    pub(super) fn udp_input(
        &mut self,
        now: Instant,
        src_mac: EthernetAddress,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        datagram: &[u8],
        verify: bool,
    ) {
        let Some((pkt, repr)) = parse(datagram) else {
            self.udp_dropped += 1;
            return;
        };
        if verify && !pkt.checksum_valid(src, dst) {
            self.udp_dropped += 1;
            return;
        }
        #[cfg(feature = "dhcpv4")]
        if repr.dst_port == crate::wire::dhcpv4::CLIENT_PORT
            && repr.src_port == crate::wire::dhcpv4::SERVER_PORT
            && self.dhcp.is_some()
        {
            self.dhcp_input(now, src_mac, pkt.payload());
            return;
        }
        #[cfg(feature = "dns")]
        if repr.src_port == crate::wire::dns::PORT {
            self.dns_input(now, src.into(), repr.src_port, repr.dst_port, pkt.payload());
            return;
        }
        let _ = (now, src_mac, repr);
        self.udp_dropped += 1;
    }
}

/// The datagram's view and ports, if well formed.
fn parse(datagram: &[u8]) -> Option<(UdpPacket<'_>, UdpRepr)> {
    let pkt = UdpPacket::new_checked(datagram).ok()?;
    let repr = UdpRepr::parse(&pkt).ok()?;
    Some((pkt, repr))
}

#[cfg(all(feature = "proto-ipv6", feature = "dns"))]
impl<'a> Stack<'a> {
    /// A UDP datagram over IPv6 for us: checksum (mandatory over IPv6), then the
    /// resolver if it comes from a DNS port.
    pub(super) fn udp6_input(
        &mut self,
        now: Instant,
        src: core::net::Ipv6Addr,
        dst: core::net::Ipv6Addr,
        datagram: &[u8],
        verify: bool,
    ) {
        use crate::wire::ipv6::{next_header, pseudo_header};
        let valid = |pkt: &UdpPacket<'_>| {
            let len = (pkt.payload().len() + crate::wire::udp::HEADER_LEN) as u32;
            !verify || pkt.checksum_valid_with(pseudo_header(src, dst, next_header::UDP, len))
        };
        match parse(datagram) {
            Some((pkt, repr)) if repr.src_port == crate::wire::dns::PORT && valid(&pkt) => {
                self.dns_input(now, src.into(), repr.src_port, repr.dst_port, pkt.payload());
            }
            _ => self.udp_dropped += 1,
        }
    }
}
