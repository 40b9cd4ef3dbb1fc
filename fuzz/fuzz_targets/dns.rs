//! Arbitrary bytes as a DNS answer: the wire reader must never panic, and the resolver
//! must take it (or drop it) without panicking, whatever IDs and names it carries.
#![no_main]

use core::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tidytcp::Instant;
use tidytcp::dns::Resolver;
use tidytcp::wire::dns::{DnsPacket, HEADER_LEN, MAX_NAME_LEN};

const SERVERS: [Option<Ipv4Addr>; 3] = [Some(Ipv4Addr::new(10, 8, 0, 1)), None, None];

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = DnsPacket::new_checked(data) {
        let mut name = [0u8; MAX_NAME_LEN];
        let _ = p.read_name(HEADER_LEN, &mut name);
        if let Ok(mut at) = p.answers_at() {
            for _ in 0..p.answer_count() {
                let Ok((r, next)) = p.record(at) else { break };
                let _ = p.read_name(r.name_at, &mut name);
                let _ = p.read_name(r.data_at, &mut name);
                let _ = r.a();
                at = next;
            }
        }
    }
    // The resolver with a query whose ID and port are taken from the input, so that
    // answers reach the answer parser.
    let mut r = Resolver::new(1);
    let now = Instant::ZERO;
    let h = r.resolve(now, "daytime.test", &SERVERS).unwrap();
    let Some(o) = r.poll_transmit(now, &SERVERS) else {
        return;
    };
    let (port, id, slot) = (o.port, o.id, o.slot);
    r.sent(slot, now);
    let mut msg = data.to_vec();
    if msg.len() >= 2 {
        msg[..2].copy_from_slice(&id.to_be_bytes());
    }
    r.receive(now, Ipv4Addr::new(10, 8, 0, 1), 53, port, &msg, &SERVERS);
    let _ = r.result(&h);
});
