//! Frames from the fake servers of the DHCP and DNS simulations.

use std::net::Ipv4Addr;

use tidytcp::drivers::TxToken;
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Repr};
use tidytcp::wire::udp::UdpRepr;

/// Where a fake server's frame comes from.
#[derive(Clone, Copy)]
pub struct Server {
    pub mac: EthernetAddress,
    pub ip: Ipv4Addr,
}

/// Sends `msg` from `from` to `dst_mac`: an ARP message as it is when `dst` is
/// unspecified, otherwise a UDP datagram from `sport` to `dst:dport`.
#[allow(clippy::too_many_arguments)]
pub fn send_from<T: TxToken>(
    tx: T,
    from: Server,
    dst_mac: EthernetAddress,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    msg: &[u8],
) {
    let eth = |f: &mut [u8], ethertype| {
        EthernetRepr {
            src: from.mac,
            dst: dst_mac,
            ethertype,
        }
        .emit(f)
        .unwrap();
    };
    if dst.is_unspecified() {
        tx.consume(14 + msg.len(), |f| {
            eth(f, EtherType::Arp);
            f[14..].copy_from_slice(msg);
        });
        return;
    }
    let udp_len = 8 + msg.len();
    tx.consume(14 + 20 + udp_len, |f| {
        eth(f, EtherType::Ipv4);
        let ip = Ipv4Repr {
            src: from.ip,
            dst,
            protocol: IpProtocol::Udp,
            payload_len: udp_len,
            ttl: 64,
            ident: 0,
            dont_frag: false,
        };
        ip.emit(&mut f[14..]).unwrap();
        f[42..].copy_from_slice(msg);
        UdpRepr {
            src_port: sport,
            dst_port: dport,
        }
        .emit(&mut f[34..], from.ip, dst)
        .unwrap();
    });
}
