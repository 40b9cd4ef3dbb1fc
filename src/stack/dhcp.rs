//! The stack's side of the DHCPv4 client and of renumbering: UDP to port 68 in, client
//! messages and ARP probes out, leases applied to the interface and the socket set.

use core::net::Ipv4Addr;

use super::{AddressEvent, Stack};
use crate::drivers::{Device, TxToken};
use crate::ip::dhcp::{DhcpClient, DhcpConfig, DhcpEvent, DhcpOutput};
use crate::ip::{Interface, Reply, ipv4_frame_len};
use crate::time::Instant;
use crate::wire::dhcpv4::{CLIENT_PORT, DhcpPacket, DhcpRepr, SERVER_PORT};
use crate::wire::ethernet::EthernetAddress;
use crate::wire::ipv4::{IpProtocol, Ipv4Cidr};
use crate::wire::udp::{HEADER_LEN as UDP_HEADER_LEN, UdpRepr};

impl<'a> Stack<'a> {
    /// Starts the DHCPv4 client at `now`: the interface gives up its address
    /// (`0.0.0.0/0`, no gateway) until a lease is bound, then takes the lease's address,
    /// prefix, gateway and DNS servers ([`Stack::dns_servers`]); when the lease ends they
    /// are removed again. Each change is queued for [`Stack::take_address_event`].
    ///
    /// Connections on an address that goes away are aborted as
    /// [`Stack::set_ipv4`] describes.
    pub fn enable_dhcp(&mut self, now: Instant, config: DhcpConfig) {
        let mac = self.iface.mac();
        self.set_ipv4(Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0));
        self.set_gateway(None);
        self.dhcp = Some(DhcpClient::new(config, mac, self.rng_seed, now));
    }

    /// The DHCPv4 client, if enabled: state, lease, counters.
    pub fn dhcp(&self) -> Option<&DhcpClient> {
        self.dhcp.as_ref()
    }

    /// A UDP datagram for port 68 from port 67, with the checksum checked.
    pub(super) fn dhcp_input(&mut self, now: Instant, src_mac: EthernetAddress, msg: &[u8]) {
        let Some(c) = self.dhcp.as_mut() else {
            return;
        };
        match DhcpPacket::new_checked(msg).and_then(|p| DhcpRepr::parse(&p)) {
            Ok(repr) => {
                c.receive(now, src_mac, &repr);
            }
            Err(_) => c.count_malformed(),
        }
        self.dhcp_events();
    }

    /// Runs the client: conflicts seen by ARP, timers, messages and probes to send, lease
    /// changes. Returns whether a frame was sent.
    /// The test is inlined into `poll`, the work is not: a stack without a client (or
    /// any poll of one) keeps the client's code out of the hot path's cache lines.
    #[inline]
    pub(super) fn dhcp_poll<D: Device>(&mut self, now: Instant, dev: &mut D) -> bool {
        self.dhcp.is_some() && self.dhcp_run(now, dev)
    }

    #[inline(never)]
    fn dhcp_run<D: Device>(&mut self, now: Instant, dev: &mut D) -> bool {
        // `self.up`: the device's link state, read once at the start of this poll.
        if self.up != self.link_up {
            self.link_up = self.up;
            if let (true, Some(c)) = (self.link_up, self.dhcp.as_mut()) {
                c.link_up(now);
            }
        }
        if self.iface.take_conflict() {
            if let Some(c) = self.dhcp.as_mut() {
                c.arp_conflict(now);
            }
        }
        let mut sent = false;
        while self.link_up {
            let Some(tok) = dev.transmit(now) else {
                break;
            };
            let Some(out) = self.dhcp.as_mut().and_then(|c| c.poll_transmit(now)) else {
                break;
            };
            emit_dhcp(&mut self.iface, tok, &out);
            sent = true;
        }
        self.dhcp_events();
        let watch = self.dhcp.as_ref().and_then(|c| c.probing());
        self.iface.watch_address(watch);
        sent
    }

    /// Applies what the client decided.
    fn dhcp_events(&mut self) {
        while let Some(ev) = self.dhcp.as_mut().and_then(|c| c.take_event()) {
            match ev {
                DhcpEvent::Bound(l) => {
                    self.set_ipv4(l.address);
                    self.set_gateway(l.router);
                    self.dns_servers = l.dns_servers;
                }
                DhcpEvent::Renewed(l) => self.dns_servers = l.dns_servers,
                DhcpEvent::Lost => {
                    self.set_ipv4(Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0));
                    self.set_gateway(None);
                    self.dns_servers = [None; 3];
                }
            }
            self.push_address_event(AddressEvent::Dhcp(ev));
        }
    }
}

/// Writes a client message (UDP 68 → 67) or an ARP probe into `tok`.
fn emit_dhcp<T: TxToken>(iface: &mut Interface, tok: T, out: &DhcpOutput<'_>) {
    match *out {
        DhcpOutput::ArpProbe(target) => {
            let r = Reply::ArpProbe { target };
            tok.consume(r.frame_len(), |b| {
                let _ = iface.emit_reply(&r, b);
            });
        }
        DhcpOutput::Message { repr, dst, dst_mac } => {
            let udp_len = UDP_HEADER_LEN + repr.buffer_len();
            let mac = dst_mac.unwrap_or(EthernetAddress::BROADCAST);
            tok.consume(ipv4_frame_len(udp_len), |b| {
                let src = iface.address();
                let Ok(at) = iface.emit_ipv4(b, mac, dst, IpProtocol::Udp, udp_len) else {
                    return;
                };
                let Some(d) = b.get_mut(at..at + udp_len) else {
                    return;
                };
                if let Some(m) = d.get_mut(UDP_HEADER_LEN..) {
                    let _ = repr.emit(m);
                }
                let udp = UdpRepr {
                    src_port: CLIENT_PORT,
                    dst_port: SERVER_PORT,
                };
                let _ = udp.emit(d, src, dst);
            });
        }
    }
}
