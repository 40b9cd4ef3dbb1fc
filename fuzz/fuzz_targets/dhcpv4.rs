//! Arbitrary bytes as a DHCPv4 message (the UDP payload): the parser must never panic,
//! and whatever it accepts must emit and parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidytcp::wire::dhcpv4::{DhcpPacket, DhcpRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = DhcpPacket::new_checked(data) else {
        return;
    };
    let _ = packet.option_iter().count();
    let Ok(repr) = DhcpRepr::parse(&packet) else {
        return;
    };
    let mut buf = [0u8; 2048];
    let n = repr
        .emit(&mut buf)
        .expect("a parsed message fits 2048 bytes");
    let again = DhcpPacket::new_checked(&buf[..n]).expect("emitted message checks");
    let back = DhcpRepr::parse(&again).expect("emitted message parses");
    assert_eq!(back.message_type, repr.message_type);
    assert_eq!(back.xid, repr.xid);
    assert_eq!(back.yiaddr, repr.yiaddr);
    assert_eq!(back.server_id, repr.server_id);
    assert_eq!(back.dns_servers, repr.dns_servers);
    assert_eq!(back.lease_time, repr.lease_time);
});
