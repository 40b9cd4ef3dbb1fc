//! SYN flood (RFC 4987): 10 000 spoofed SYNs from random addresses hit a listener while a
//! legitimate client connects, transfers and closes. The listener answers with SYN cookies
//! once its SYN queue is full, the client gets through, and nothing grows: the socket
//! table stays within its fixed slots and drains to empty afterwards.

mod common;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use common::frames::{Injecting, segment_frame};
use common::*;
use tidytcp::stack::Stack;
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpRepr};
use tidytcp::{Duration, Instant};

fn spoofed_syn(rng: &mut u64, dst: Ipv4Addr, dst_mac: EthernetAddress, port: u16) -> Vec<u8> {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let r = next();
    // Half from the local subnet (the stack tries ARP for them), half from anywhere.
    let src = if r & 1 == 0 {
        Ipv4Addr::new(10, 0, 0, 3 + (r >> 8) as u8 % 250)
    } else {
        Ipv4Addr::from((r >> 16) as u32 | 0x0100_0000)
    };
    let syn = TcpRepr {
        src_port: 1024 + (r >> 40) as u16 % 60000,
        dst_port: port,
        seq: SeqNum(next() as u32),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 65535,
        options: TcpOptions {
            mss: Some(1460),
            timestamps: Some((next() as u32, 0)),
            ..TcpOptions::NONE
        },
    };
    let src_mac = EthernetAddress([
        0x02,
        0xbb,
        (r >> 24) as u8,
        (r >> 32) as u8,
        (r >> 48) as u8,
        0x01,
    ]);
    segment_frame((src_mac, src), (dst_mac, dst), &syn, &[])
}

#[test]
fn legitimate_client_gets_through_a_flood_of_10000_spoofed_syns() {
    let mut sa = storage();
    let mut sb = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut b = Stack::new(config(2), &mut sb);
    let capacity = b.capacity();
    let mut link = link(clean(2), 5);
    let mut now = Instant::ZERO;
    let listener = b.listen(5000, 4).unwrap();

    let b_mac: EthernetAddress = "02:00:00:00:00:02".parse().unwrap();
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut flood = VecDeque::new();
    let mut injected = 0;
    // The client connects a little after the flood has begun.
    let mut client = None;
    let mut server = None;
    let total = 256 * 1024u64;
    let (mut c_sent, mut s_got, mut c_closed, mut s_done) = (0u64, 0u64, false, false);
    let mut most_in_use = 0;
    let limit = Instant::from_secs(600);
    loop {
        // 100 spoofed SYNs every millisecond for 100 ms: 10 000 in all.
        if injected < 10_000 && now >= Instant::from_millis(1) {
            for _ in 0..100 {
                flood.push_back(spoofed_syn(
                    &mut rng,
                    Ipv4Addr::new(10, 0, 0, 2),
                    b_mac,
                    5000,
                ));
            }
            injected += 100;
        }
        if client.is_none() && !c_closed && now >= Instant::from_millis(20) {
            client = Some(a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
        }
        let na = a.poll(now, &mut link.a());
        let nb = b.poll(
            now,
            &mut Injecting {
                inner: link.b(),
                queue: &mut flood,
            },
        );
        most_in_use = most_in_use.max(b.in_use());
        assert!(b.in_use() <= capacity);

        if server.is_none() {
            if let Ok((s, _)) = listener.accept(&mut b) {
                if s.peer_addr(&b).unwrap().ip() == Ipv4Addr::new(10, 0, 0, 1) {
                    server = Some(s);
                } else {
                    panic!("a spoofed connection completed a handshake");
                }
            }
        }
        if let Some(c) = client.as_mut() {
            pump_write(c, &mut a, 9, &mut c_sent, total);
            if c_sent == total && !c_closed {
                c_closed = true;
                client.take().unwrap().close(&mut a);
            }
        }
        if let Some(s) = server.as_mut() {
            if pump_read(s, &mut b, 9, &mut s_got).unwrap() {
                s_done = true;
                server.take().unwrap().close(&mut b);
            }
        }
        if s_done
            && c_closed
            && a.in_use() == 0
            && b.in_use() == 0
            && injected >= 10_000
            && flood.is_empty()
        {
            break;
        }
        let next = [na, nb, link.next_delivery()].into_iter().flatten().min();
        now = match next {
            Some(t) if t > now && injected >= 10_000 => t,
            _ => now + Duration::from_millis(1),
        };
        assert!(
            now < limit,
            "not done: client sent {c_sent}, server got {s_got}, a: {:?} b: {:?} stats a {:?}",
            a.sockets().collect::<Vec<_>>(),
            b.sockets().collect::<Vec<_>>(),
            a.stats().tcp
        );
    }
    assert_eq!(s_got, total);
    let st = b.stats();
    eprintln!(
        "flood: {} SYN cookies sent, {} accepted, {} SYNs dropped, at most {most_in_use} of {capacity} slots in use",
        st.tcp.syncookies_sent, st.tcp.syncookies_ok, st.tcp.syn_dropped
    );
    assert!(
        st.tcp.syncookies_sent > 9_000,
        "the SYN queue overflowed into cookies"
    );
    assert_eq!(
        st.tcp.syncookies_ok, 1,
        "the legitimate client came in through a cookie"
    );
    assert!(b.interface().arp_cache().len() <= 16);
    listener.close(&mut b);
}
