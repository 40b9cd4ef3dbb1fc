//! IPv6 frames for the simulations whose far end is played by the test: packets into
//! a link, ICMPv6 messages, and the Neighbor Advertisement a fake host answers a
//! solicitation for its address with.
#![cfg(feature = "proto-ipv6")]

use std::net::Ipv6Addr;

use tidytcp::Instant;
use tidytcp::drivers::{Device, TxToken};
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use tidytcp::wire::icmpv6::{Icmpv6Ip, Icmpv6Repr};
use tidytcp::wire::ipv6::{Ipv6Packet, Ipv6Repr, next_header};
use tidytcp::wire::ndisc::{NA_OVERRIDE, NA_SOLICITED, NdiscRepr};

/// One IPv6 frame, Ethernet addresses `(src, dst)`.
pub fn frame6(
    (src, dst): (EthernetAddress, EthernetAddress),
    ip: Ipv6Repr,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + payload.len()];
    EthernetRepr {
        src,
        dst,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut f)
    .unwrap();
    ip.emit(&mut f[14..]).unwrap();
    f[54..].copy_from_slice(payload);
    f
}

/// Sends one IPv6 packet, Ethernet addresses `(src, dst)`, into the link at `port`.
pub fn send_frame6(
    mut port: impl Device,
    now: Instant,
    macs: (EthernetAddress, EthernetAddress),
    ip: Ipv6Repr,
    payload: &[u8],
) {
    let f = frame6(macs, ip, payload);
    port.transmit(now)
        .unwrap()
        .consume(f.len(), |b| b.copy_from_slice(&f));
}

/// The IPv6 header and the bytes of ICMPv6 message `m`.
pub fn icmp(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    m: &Icmpv6Repr<'_>,
) -> (Ipv6Repr, Vec<u8>) {
    let mut buf = vec![0u8; m.buffer_len()];
    let ip = Icmpv6Ip {
        src,
        dst,
        hop_limit,
    };
    m.emit(ip, &mut buf).unwrap();
    let repr = Ipv6Repr {
        src,
        dst,
        next_header: next_header::ICMPV6,
        payload_len: buf.len() as u16,
        hop_limit,
    };
    (repr, buf)
}

/// The answer of host `(mac, ip)` to frame `f` if it is a Neighbor Solicitation for
/// `ip`: a solicited Neighbor Advertisement frame.
pub fn answer_ns(f: &[u8], (mac, ip): (EthernetAddress, Ipv6Addr)) -> Option<Vec<u8>> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    let p = Ipv6Packet::new_checked(eth.payload()).ok()?;
    let from = Icmpv6Ip {
        src: p.src_addr(),
        dst: p.dst_addr(),
        hop_limit: p.hop_limit(),
    };
    if p.next_header() != next_header::ICMPV6 || from.src.is_unspecified() {
        return None;
    }
    match Icmpv6Repr::parse(from, p.payload()).ok()? {
        Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target, .. }) if target == ip => {
            let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                flags: NA_SOLICITED | NA_OVERRIDE,
                target: ip,
                lladdr: Some(mac),
            });
            let (repr, payload) = icmp(ip, from.src, 255, &na);
            Some(frame6((mac, eth.src()), repr, &payload))
        }
        _ => None,
    }
}
