//! Arbitrary bytes as an IPv6 packet and as an ICMPv6 message: the header view, the
//! extension-header walk, ICMPv6 (with Neighbor Discovery and MLD) and the quoted-packet
//! reader must never panic, and whatever parses and can be sent must parse again to the
//! same value after `emit`.
#![no_main]

use core::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use tidytcp::wire::icmpv6::{self, Icmpv6Ip, Icmpv6Repr};
use tidytcp::wire::ipv6::{Ipv6Packet, next_header, walk_extensions};

fn icmpv6(ip: Icmpv6Ip, msg: &[u8]) {
    let Ok(r) = Icmpv6Repr::parse(ip, msg) else {
        return;
    };
    let _ = r.quoted();
    if let Icmpv6Repr::Ndisc(tidytcp::wire::ndisc::NdiscRepr::RouterAdvert { options, .. }) = r {
        use tidytcp::wire::ndisc::{NdiscOption, option_type, rdnss};
        for o in options.iter() {
            if let NdiscOption::Other {
                option_type: option_type::RDNSS,
                data,
            } = o
            {
                let _ = rdnss(data).map(|(_, servers)| servers.count());
            }
        }
    }
    let mut out = [0u8; 2048];
    if let Ok(n) = r.emit(ip, &mut out) {
        assert!(icmpv6::checksum_valid(ip, &out[..n]));
        // Error quotes are cut to the minimum MTU; everything else comes back equal.
        if n == msg.len() {
            assert_eq!(Icmpv6Repr::parse(ip, &out[..n]).ok(), Some(r));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Ipv6Packet::new_checked(data) {
        if let Ok(u) = p.upper_layer() {
            if u.protocol == next_header::ICMPV6 {
                let ip = Icmpv6Ip {
                    src: p.src_addr(),
                    dst: p.dst_addr(),
                    hop_limit: p.hop_limit(),
                };
                icmpv6(ip, u.data);
            }
        }
    }
    // The same bytes as a bare ICMPv6 message from a link-local neighbour (hop limit 255,
    // so that Neighbor Discovery gets past its first check), and as an extension chain.
    let ip = Icmpv6Ip {
        src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        dst: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 7),
        hop_limit: 255,
    };
    icmpv6(ip, data);
    if let Some((&first, rest)) = data.split_first() {
        let _ = walk_extensions(first, rest, first & 1 == 1);
    }
});
