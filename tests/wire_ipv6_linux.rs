//! The IPv6, ICMPv6 and Neighbor Discovery parsers against packets Linux and radvd sent:
//! `tests/data/linux-ipv6-nd.pcap`, captured by `scripts/capture-linux-ipv6.sh` on a veth
//! pair between two namespaces (MLDv2 reports, Duplicate Address Detection, Router
//! Solicitation, radvd's Router Advertisements, address resolution, echo; `.ci/run` also
//! runs these tests on a fresh capture through `TIDYTCP_IPV6_PCAP`). Every frame
//! must parse with a valid checksum; the messages tidytcp will send (NS, NA, echo, the
//! MLDv2 report) must come out of `emit` byte for byte as Linux wrote them.
#![cfg(feature = "proto-ipv6")]

use core::net::Ipv6Addr;

use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::icmpv6::{self, Icmpv6Ip, Icmpv6Repr, msg_type};
use tidytcp::wire::ipv6::{self, Ipv6Packet, next_header};
use tidytcp::wire::ndisc::{NdiscOption, NdiscRepr, PrefixInfo};

const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x0a]);
const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x0b]);

/// The frames of a classic little-endian pcap file.
fn frames(pcap: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(&pcap[at + 16..at + 16 + len]);
        at += 16 + len;
    }
    out
}

/// One captured ICMPv6 message: its IP fields and bytes.
struct Msg<'a> {
    ip: Icmpv6Ip,
    hbh: bool,
    bytes: &'a [u8],
}

fn icmpv6_messages(pcap: &[u8]) -> Vec<Msg<'_>> {
    frames(pcap)
        .into_iter()
        .map(|f| {
            assert_eq!(&f[12..14], &[0x86, 0xdd], "IPv6 ethertype");
            let p = Ipv6Packet::new_checked(&f[14..]).expect("IPv6 header");
            let upper = p.upper_layer().expect("extension headers");
            assert_eq!(upper.protocol, next_header::ICMPV6);
            // Multicast frames go to 33:33 and the group's low 32 bits.
            if p.dst_addr().is_multicast() {
                assert_eq!(&f[..6], ipv6::multicast_mac(p.dst_addr()).as_bytes());
            }
            Msg {
                ip: Icmpv6Ip {
                    src: p.src_addr(),
                    dst: p.dst_addr(),
                    hop_limit: p.hop_limit(),
                },
                hbh: p.next_header() == next_header::HOP_BY_HOP,
                bytes: upper.data,
            }
        })
        .collect()
}

/// The committed capture, or a fresh one named by `TIDYTCP_IPV6_PCAP` (as `.ci/run` makes
/// with the same script, so that the check also runs against today's Linux and radvd).
fn pcap() -> Vec<u8> {
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/linux-ipv6-nd.pcap");
    let path = std::env::var("TIDYTCP_IPV6_PCAP").unwrap_or(committed.into());
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn every_captured_message_parses() {
    let pcap = pcap();
    let msgs = icmpv6_messages(&pcap);
    assert!(msgs.len() >= 20, "{} messages", msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        assert!(icmpv6::checksum_valid(m.ip, m.bytes), "frame {}", i + 1);
        let r = Icmpv6Repr::parse(m.ip, m.bytes);
        assert!(r.is_ok(), "frame {}: {r:?}", i + 1);
    }
}

#[test]
fn router_advertisement_from_radvd() {
    let pcap = pcap();
    let msgs = icmpv6_messages(&pcap);
    let ras: Vec<_> = msgs
        .iter()
        .filter_map(|m| match Icmpv6Repr::parse(m.ip, m.bytes) {
            Ok(Icmpv6Repr::Ndisc(r @ NdiscRepr::RouterAdvert { .. })) => Some(r),
            _ => None,
        })
        .collect();
    assert!(!ras.is_empty());
    let NdiscRepr::RouterAdvert {
        hop_limit,
        flags,
        router_lifetime,
        reachable_time,
        options,
        ..
    } = ras[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (hop_limit, flags, router_lifetime, reachable_time),
        (64, 0, 12, 30_000)
    );
    assert_eq!(options.lladdr(), Some(MAC_B));
    let prefix = PrefixInfo {
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        valid_lifetime: 86_400,
        preferred_lifetime: 14_400,
        prefix: a("2001:db8:1::"),
    };
    assert!(options.iter().any(|o| o == NdiscOption::Prefix(prefix)));
    assert!(options.iter().any(|o| o == NdiscOption::Mtu(1480)));
    // The address Linux formed from that prefix is the one SLAAC derives here.
    let slaac = ipv6::with_interface_id(prefix.prefix, ipv6::interface_id_from_mac(MAC_A));
    assert_eq!(slaac, a("2001:db8:1::ff:fe00:a"));
    assert!(msgs.iter().any(|m| m.ip.src == slaac));
    assert!(
        msgs.iter()
            .any(|m| m.ip.src == ipv6::link_local_from_mac(MAC_A))
    );
}

#[test]
fn duplicate_address_detection_probes_validate() {
    let pcap = pcap();
    let dad: Vec<_> = icmpv6_messages(&pcap)
        .into_iter()
        .filter(|m| m.ip.src.is_unspecified() && m.bytes[0] == msg_type::NEIGHBOR_SOLICIT)
        .collect();
    assert!(dad.len() >= 3);
    for m in dad {
        let Ok(Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target, lladdr })) =
            Icmpv6Repr::parse(m.ip, m.bytes)
        else {
            panic!("{:?}", m.ip)
        };
        assert_eq!(lladdr, None);
        assert_eq!(m.ip.dst, ipv6::solicited_node(target));
    }
}

#[test]
fn emit_matches_linux_byte_for_byte() {
    let pcap = pcap();
    let mut checked = [0usize; 4];
    for m in icmpv6_messages(&pcap) {
        let kind = match m.bytes[0] {
            // Linux's DAD probes carry a Nonce option (RFC 7527), which `NdiscRepr` does
            // not keep: the other solicitations must match.
            msg_type::NEIGHBOR_SOLICIT if m.ip.src.is_unspecified() => continue,
            msg_type::NEIGHBOR_SOLICIT => 0,
            msg_type::NEIGHBOR_ADVERT => 1,
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY => 2,
            msg_type::MLDV2_REPORT => 3,
            _ => continue,
        };
        let mut out = [0u8; 128];
        let n = if kind == 3 {
            // One source-less record per group, as Linux joins them.
            assert!(m.hbh, "MLD carries the Router Alert option");
            let groups: Vec<Ipv6Addr> = m.bytes[8..]
                .chunks_exact(20)
                .map(|r| <[u8; 16]>::try_from(&r[4..20]).unwrap().into())
                .collect();
            icmpv6::emit_mldv2_report(m.ip, m.bytes[8], &groups, &mut out).unwrap()
        } else {
            let r = Icmpv6Repr::parse(m.ip, m.bytes).unwrap();
            r.emit(m.ip, &mut out).unwrap()
        };
        assert_eq!(&out[..n], m.bytes, "type {}", m.bytes[0]);
        checked[kind] += 1;
    }
    assert!(checked.iter().all(|&c| c > 0), "{checked:?}");
}
