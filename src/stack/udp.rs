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
        let Ok(pkt) = UdpPacket::new_checked(datagram) else {
            self.udp_dropped += 1;
            return;
        };
        let Ok(repr) = UdpRepr::parse(&pkt) else {
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
            self.dns_input(now, src, repr.src_port, repr.dst_port, pkt.payload());
            return;
        }
        let _ = (now, src_mac, repr);
        self.udp_dropped += 1;
    }
}
