//! Arbitrary bytes as a DNS answer: the wire reader must never panic, and the resolver
//! must take it (or drop it) without panicking, whatever IDs and names it carries. The
//! first byte (the ID's high byte, overwritten with the query's ID) picks the query:
//! its value modulo 3 the family (A, AAAA, AAAA then A), its top bit an IPv6 server.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tidytcp::Instant;
use tidytcp::dns::{Family, Resolver};
use tidytcp::wire::dns::{DnsPacket, HEADER_LEN, MAX_NAME_LEN};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 8, 0, 1));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x53));

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = DnsPacket::new_checked(data) {
        let mut name = [0u8; MAX_NAME_LEN];
        let _ = p.read_name(HEADER_LEN, &mut name);
        if let Ok(mut at) = p.answers_at() {
            for _ in 0..p.answer_count() {
                let Ok((r, next)) = p.record(at) else { break };
                let _ = p.read_name(r.name_at, &mut name);
                let _ = p.read_name(r.data_at, &mut name);
                let _ = (r.a(), r.aaaa(), r.address());
                at = next;
            }
        }
    }
    // The resolver with a query whose ID and port are taken from the input, so that
    // answers reach the answer parser.
    let pick = data.first().copied().unwrap_or(0);
    let family = [Family::Ipv4, Family::Ipv6, Family::Either][usize::from(pick % 3)];
    let server = if pick & 0x80 != 0 { V6 } else { V4 };
    let servers = [Some(server), None];
    let mut r = Resolver::new(1);
    let now = Instant::ZERO;
    let h = r.resolve(now, "daytime.test", family, &servers).unwrap();
    let Some(o) = r.poll_transmit(now, &servers) else {
        return;
    };
    let (port, id, slot) = (o.port, o.id, o.slot);
    r.sent(slot, now);
    let mut msg = data.to_vec();
    if msg.len() >= 2 {
        msg[..2].copy_from_slice(&id.to_be_bytes());
    }
    r.receive(now, server, 53, port, &msg, &servers);
    // Either: after an answer without an IPv6 address, the same bytes answer the A
    // question that follows.
    if let Some(o) = r.poll_transmit(now, &servers) {
        let (port, id, slot) = (o.port, o.id, o.slot);
        r.sent(slot, now);
        if msg.len() >= 2 {
            msg[..2].copy_from_slice(&id.to_be_bytes());
        }
        r.receive(now, server, 53, port, &msg, &servers);
    }
    let _ = r.result(&h);
});
