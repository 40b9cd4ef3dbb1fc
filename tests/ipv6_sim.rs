//! IPv6 over SimLink in virtual time: two stacks configure their link-local and static
//! addresses with DAD, one defends its address against the other's probe, and a test
//! host (the link's other end, played here) resolves a stack with Neighbor Discovery,
//! pings it, and sends it a packet with a bad extension header.
//!
//! Dual-stack in the default build; CI also runs it IPv6-only (`-p tidytcp
//! --no-default-features --features std,proto-ipv6`), where the stacks have no IPv4 at
//! all and the few IPv4 checks below are left out.
#![cfg(feature = "proto-ipv6")]

mod common;

use std::net::Ipv6Addr;

use common::v6::{icmp, send_frame6};
use common::*;
use tidytcp::drivers::{Device, RxToken, SimLink};
use tidytcp::ip::slaac::SlaacEvent;
use tidytcp::stack::{AddressEvent, Stack};
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame};
use tidytcp::wire::icmpv6::{Icmpv6Ip, Icmpv6Repr};
use tidytcp::wire::ipv6::{self, Ipv6Packet, Ipv6Repr, link_local_from_mac, next_header};
use tidytcp::wire::ndisc::{NA_SOLICITED, NdiscRepr};
use tidytcp::{Duration, Instant};

const A_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const B_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn config6(last: u8, static_addr: Option<&str>) -> tidytcp::stack::Config {
    let mut c = config(last);
    c.iface.ipv6.static_addr = static_addr.map(|s| s.parse().unwrap());
    c
}

#[allow(irrefutable_let_patterns)] // IPv6-only without dhcpv4: Ipv6 is the only event
fn events(s: &mut Stack<'_>) -> Vec<SlaacEvent> {
    let mut v = Vec::new();
    while let Some(e) = s.take_address_event() {
        if let AddressEvent::Ipv6(e) = e {
            v.push(e);
        }
    }
    v
}

#[test]
fn two_stacks_pass_dad_and_one_defends_its_address() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, Some("2001:db8::7/64")), &mut sa);
    let mut b = Stack::new(config6(2, None), &mut sb);
    let mut link = link(clean(1), 3);
    let mut now = Instant::ZERO;
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    let ea = events(&mut a);
    assert!(
        ea.contains(&SlaacEvent::Usable("2001:db8::7/64".parse().unwrap())),
        "{ea:?}"
    );
    let ll_a = link_local_from_mac(A_MAC);
    assert!(ea.contains(&SlaacEvent::Usable(ipv6::Ipv6Cidr::new(ll_a, 64))));
    assert!(
        events(&mut b).contains(&SlaacEvent::Usable(ipv6::Ipv6Cidr::new(
            link_local_from_mac(B_MAC),
            64
        )))
    );
    // B now wants A's address: A answers B's probe, B reports the duplicate and drops it.
    let mut c = b.interface().config().ipv6;
    c.static_addr = Some("2001:db8::7/64".parse().unwrap());
    b.set_ipv6(c);
    let limit = now + Duration::from_secs(3);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let eb = events(&mut b);
    assert!(
        eb.contains(&SlaacEvent::Duplicate(a6("2001:db8::7"))),
        "{eb:?}"
    );
    let slaac = b.interface().slaac().unwrap();
    assert!(slaac.address(a6("2001:db8::7")).is_none());
    assert!(a.stats().ip.nd_adverts_sent >= 1);
    // A keeps it.
    assert!(
        a.interface()
            .slaac()
            .unwrap()
            .address(a6("2001:db8::7"))
            .is_some()
    );
}

/// Sends one IPv6 packet from A_MAC into the link's end A.
fn send6(link: &mut SimLink, now: Instant, dst_mac: EthernetAddress, ip: Ipv6Repr, payload: &[u8]) {
    send_frame6(link.a(), now, (A_MAC, dst_mac), ip, payload);
}

/// Polls B until `now` reaches `until`, collecting every IPv6 frame it sends to end A.
fn run_b(b: &mut Stack<'_>, link: &mut SimLink, now: &mut Instant, until: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while *now < until {
        b.poll(*now, &mut link.b());
        while let Some((rx, _)) = link.a().receive(*now) {
            rx.consume(|f| {
                let e = EthernetFrame::new_checked(f).unwrap();
                if e.ethertype() == EtherType::Ipv6 {
                    out.push(f.to_vec());
                }
            });
        }
        *now += Duration::from_millis(10);
    }
    out
}

/// The ICMPv6 message in an IPv6 frame, if it is one (no extension headers).
fn parse_icmp(f: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, Icmpv6Repr<'_>)> {
    let p = Ipv6Packet::new_checked(&f[14..]).ok()?;
    let ip = Icmpv6Ip {
        src: p.src_addr(),
        dst: p.dst_addr(),
        hop_limit: p.hop_limit(),
    };
    (p.next_header() == next_header::ICMPV6)
        .then(|| Icmpv6Repr::parse(ip, p.payload()).ok())
        .flatten()
        .map(|r| (ip.src, ip.dst, r))
}

#[test]
fn a_host_resolves_pings_and_gets_a_parameter_problem() {
    let mut sb = storage();
    let mut b = Stack::new(config6(2, None), &mut sb);
    let mut link = link(clean(0), 5);
    let mut now = Instant::ZERO;
    let sent = run_b(&mut b, &mut link, &mut now, Instant::from_secs(3));
    // MLD report, DAD probe, router solicitations.
    assert!(sent.iter().any(|f| f[..2] == [0x33, 0x33]));
    let ll_a = link_local_from_mac(A_MAC);
    let ll_b = link_local_from_mac(B_MAC);
    // Neighbor Solicitation for B's link-local, to its solicited-node group.
    let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
        target: ll_b,
        lladdr: Some(A_MAC),
    });
    let group = ipv6::solicited_node(ll_b);
    let (ip, p) = icmp(ll_a, group, 255, &ns);
    send6(&mut link, now, ipv6::multicast_mac(group), ip, &p);
    let until = now + Duration::from_millis(50);
    let got = run_b(&mut b, &mut link, &mut now, until);
    let na = got.iter().find_map(|f| match parse_icmp(f) {
        Some((
            src,
            dst,
            Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                flags,
                target,
                lladdr,
            }),
        )) => Some((src, dst, flags, target, lladdr, f[..6].to_vec())),
        _ => None,
    });
    let (src, dst, flags, target, lladdr, eth_dst) = na.expect("a neighbour advertisement");
    assert_eq!((src, dst, target, lladdr), (ll_b, ll_a, ll_b, Some(B_MAC)));
    assert!(flags & NA_SOLICITED != 0);
    assert_eq!(eth_dst, A_MAC.0);
    // B learnt A from the solicitation (STALE).
    assert!(b.interface().ndp_cache().get(ll_a).is_some());
    // Echo request, answered with the same data.
    let echo = Icmpv6Repr::EchoRequest {
        ident: 9,
        seq_no: 1,
        data: b"tidytcp over ipv6",
    };
    let (ip, p) = icmp(ll_a, ll_b, 64, &echo);
    send6(&mut link, now, B_MAC, ip, &p);
    let until = now + Duration::from_millis(50);
    let got = run_b(&mut b, &mut link, &mut now, until);
    let reply = got.iter().find_map(|f| match parse_icmp(f) {
        Some((
            s,
            d,
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            },
        )) => Some((s, d, ident, seq_no, data.to_vec())),
        _ => None,
    });
    assert_eq!(
        reply,
        Some((ll_b, ll_a, 9, 1, b"tidytcp over ipv6".to_vec()))
    );
    // A Destination Options header with an unknown option whose type says "discard
    // and send a Parameter Problem" (10xxxxxx): code 2, pointer at the option.
    let opts = [next_header::NO_NEXT, 0, 0x80, 2, 0, 0, 1, 0];
    let ip = Ipv6Repr {
        src: ll_a,
        dst: ll_b,
        next_header: next_header::DEST_OPTS,
        payload_len: 8,
        hop_limit: 64,
    };
    send6(&mut link, now, B_MAC, ip, &opts);
    let until = now + Duration::from_millis(50);
    let got = run_b(&mut b, &mut link, &mut now, until);
    let pp = got.iter().find_map(|f| match parse_icmp(f) {
        Some((_, d, Icmpv6Repr::ParamProblem { code, pointer, .. })) => Some((d, code, pointer)),
        _ => None,
    });
    assert_eq!(pp, Some((ll_a, 2, 42)));
    assert_eq!(b.stats().ip.ipv6_ext_header, 1);
}

#[test]
fn a_tentative_address_claimed_by_another_host_is_not_used() {
    let mut sb = storage();
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(0), 7);
    let mut now = Instant::ZERO;
    // Within DAD (1 s random delay + 1 s probe), another host advertises the address.
    run_b(&mut b, &mut link, &mut now, Instant::from_millis(20));
    let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags: tidytcp::wire::ndisc::NA_OVERRIDE,
        target: a6("2001:db8::2"),
        lladdr: Some(A_MAC),
    });
    let (ip, p) = icmp(link_local_from_mac(A_MAC), ipv6::ALL_NODES, 255, &na);
    send6(&mut link, now, ipv6::multicast_mac(ipv6::ALL_NODES), ip, &p);
    run_b(&mut b, &mut link, &mut now, Instant::from_secs(4));
    let ev = events(&mut b);
    assert!(
        ev.contains(&SlaacEvent::Duplicate(a6("2001:db8::2"))),
        "{ev:?}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, SlaacEvent::Usable(c) if c.address() == a6("2001:db8::2")))
    );
    assert!(
        b.interface()
            .slaac()
            .unwrap()
            .address(a6("2001:db8::2"))
            .is_none()
    );
}

#[test]
fn a_syn_over_ipv6_to_a_closed_port_is_refused_with_a_reset() {
    use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr};
    let mut sb = storage();
    let mut b = Stack::new(config6(2, None), &mut sb);
    let _listener = b.listen(7, 1).unwrap();
    let mut link = link(clean(0), 9);
    let mut now = Instant::ZERO;
    run_b(&mut b, &mut link, &mut now, Instant::from_secs(3));
    let (ll_a, ll_b) = (link_local_from_mac(A_MAC), link_local_from_mac(B_MAC));
    let syn = TcpRepr {
        src_port: 40000,
        // Port 7 listens; 8 does not. The sender is not in the neighbour cache: the reset
        // goes back to the frame's source.
        dst_port: 8,
        seq: SeqNum(1000),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 8192,
        options: TcpOptions::default(),
    };
    let mut seg = vec![0u8; syn.header_len()];
    syn.emit(&mut seg).unwrap();
    let mut sum = ipv6::pseudo_header(ll_a, ll_b, next_header::TCP, seg.len() as u32);
    sum.add_bytes(&seg);
    tidytcp::wire::tcp::set_checksum(&mut seg, sum.finish());
    let ip = Ipv6Repr {
        src: ll_a,
        dst: ll_b,
        next_header: next_header::TCP,
        payload_len: seg.len() as u16,
        hop_limit: 64,
    };
    send6(&mut link, now, B_MAC, ip, &seg);
    let until = now + Duration::from_millis(50);
    let got = run_b(&mut b, &mut link, &mut now, until);
    let rst = got.iter().find_map(|f| {
        let p = Ipv6Packet::new_checked(&f[14..]).ok()?;
        (p.next_header() == next_header::TCP).then(|| {
            let mut sum =
                ipv6::pseudo_header(p.src_addr(), p.dst_addr(), 6, p.payload().len() as u32);
            sum.add_bytes(p.payload());
            assert_eq!(sum.sum(), 0xffff, "reset checksum");
            let t = TcpRepr::parse(&TcpPacket::new_checked(p.payload()).unwrap()).unwrap();
            (p.src_addr(), p.dst_addr(), t.flags, t.ack, f[..6].to_vec())
        })
    });
    let (src, dst, flags, ack, eth_dst) = rst.expect("a reset");
    assert_eq!((src, dst, eth_dst), (ll_b, ll_a, A_MAC.0.to_vec()));
    assert!(flags.contains(TcpFlags::RST | TcpFlags::ACK));
    assert_eq!(ack, SeqNum(1001));
}

#[cfg(feature = "proto-ipv4")]
#[test]
fn renumbering_ipv4_keeps_the_ipv6_addresses() {
    let mut sb = storage();
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(0), 11);
    let mut now = Instant::ZERO;
    run_b(&mut b, &mut link, &mut now, Instant::from_secs(3));
    let usable = |b: &Stack<'_>| {
        b.interface()
            .slaac()
            .unwrap()
            .addresses()
            .filter(|a| a.state != tidytcp::ip::slaac::AddrState::Tentative)
            .count()
    };
    assert_eq!(usable(&b), 2);
    b.set_ipv4("10.0.1.2/24".parse().unwrap());
    let until = now + Duration::from_millis(20);
    run_b(&mut b, &mut link, &mut now, until);
    assert_eq!(usable(&b), 2, "no new DAD: the IPv6 addresses stay usable");
}

/// The MSS of `c` (timestamps given back) if it fits `mtu`, else 0.
fn payload_mss(c: &tidytcp::tcp::Connection, mtu: u16) -> u16 {
    let ts = if c.options().1 { 12 } else { 0 };
    let mss = c.mss() + ts;
    if mss + 60 <= mtu { mss } else { 0 }
}

/// `bytes` each way between A (client) and B (server, port 5000) over IPv6 to `server`
/// on a link with `dir` faults each way; both half-close, read to the end, close; every
/// slot freed. Returns the retransmissions both sides made.
fn transfer6(dir: tidytcp::drivers::DirectionConfig, seed: u64, server: &str, bytes: u64) -> u64 {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, Some("2001:db8::1/64")), &mut sa);
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(dir, seed);
    let mut now = Instant::ZERO;
    // DAD first (one probe, one second), as the addresses are not usable before.
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    let listener = b.listen(5000, 4).unwrap();
    let mut client = Some(a.connect(server.parse().unwrap()).unwrap());
    let mut srv = None;
    let (mut cp, mut sp) = (Pump::default(), Pump::default());
    let limit = now + Duration::from_secs(300);
    loop {
        assert!(
            step(&mut now, &mut a, &mut b, &mut link, limit),
            "seed {seed}: client {cp:?}, server {sp:?}; a={:?} b={:?}",
            a.sockets().map(|s| s.to_string()).collect::<Vec<_>>(),
            b.sockets().map(|s| s.to_string()).collect::<Vec<_>>()
        );
        if srv.is_none() {
            if let Ok((s, peer)) = listener.accept(&mut b) {
                let local = client.as_ref().unwrap().local_addr(&a).unwrap();
                assert_eq!(peer, local, "the server sees the client's IPv6 endpoint");
                assert!(peer.is_ipv6());
                // The socket table lists the IPv6 endpoints as netstat does, and the
                // listener as `ss` lists a dual-stack socket (`[::]` when IPv6-only).
                let table: Vec<String> = b.sockets().map(|i| i.to_string()).collect();
                assert!(
                    table.iter().any(|l| l.contains(&peer.to_string())),
                    "{table:?}"
                );
                let any = if cfg!(feature = "proto-ipv4") {
                    "*"
                } else {
                    "[::]"
                };
                let listener_line = format!("tcp L0        0      0  {any}:5000 ");
                assert!(table[0].starts_with(&listener_line), "{table:?}");
                let l = b.sockets().next().unwrap();
                assert_eq!(l.local, "[::]:5000".parse().unwrap());
                // MTU 1500 less 40 bytes of IPv6 and 20 of TCP (and 12 of timestamps).
                assert_eq!(payload_mss(s.connection(&b).unwrap(), 1500), 1440);
                srv = Some(s);
            }
        }
        if let Some(c) = client.as_mut() {
            if cp.step(c, &mut a, 1, 2, bytes) {
                assert_eq!(cp.got, bytes);
                client.take().unwrap().close(&mut a);
            }
        }
        if let Some(s) = srv.as_mut() {
            if sp.step(s, &mut b, 2, 1, bytes) {
                assert_eq!(sp.got, bytes);
                srv.take().unwrap().close(&mut b);
            }
        }
        if client.is_none() && srv.is_none() && a.in_use() == 0 && b.in_use() == 0 {
            break;
        }
    }
    listener.close(&mut b);
    #[cfg(not(feature = "proto-ipv4"))]
    for s in [&a, &b] {
        let ip = s.stats().ip;
        assert_eq!(
            (ip.arp_in, ip.ipv4_in),
            (0, 0),
            "IPv6-only: no ARP or IPv4 on the link"
        );
    }
    a.stats().tcp.retransmits + b.stats().tcp.retransmits
}

#[test]
fn tcp_over_ipv6_to_a_global_address_through_loss_and_reordering() {
    let dir = tidytcp::drivers::DirectionConfig {
        loss: 0.02,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(3),
        ..clean(2)
    };
    for seed in 1..=4 {
        let rtx = transfer6(dir, seed, "[2001:db8::2]:5000", 300_000);
        assert!(rtx > 0, "seed {seed}: the loss was repaired");
    }
}

#[test]
fn tcp_over_ipv6_between_link_local_addresses() {
    let server = format!("[{}]:5000", link_local_from_mac(B_MAC));
    transfer6(clean(1), 7, &server, 100_000);
}

#[test]
fn a_packet_too_big_lowers_the_mss_of_an_ipv6_connection() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, Some("2001:db8::1/64")), &mut sa);
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(1), 21);
    let mut now = Instant::ZERO;
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    let listener = b.listen(5000, 4).unwrap();
    let mut c = a.connect("[2001:db8::2]:5000".parse().unwrap()).unwrap();
    let limit = now + Duration::from_secs(1);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let (_s, _) = listener.accept(&mut b).unwrap();
    assert_eq!(payload_mss(c.connection(&a).unwrap(), 1500), 1440);
    // A segment of ours as a router would quote it: IPv6 header and the TCP header.
    let conn = c.connection(&a).unwrap();
    let seq = conn.snd_nxt();
    c.write(&mut a, &[7u8; 3000]).unwrap();
    let local = c.local_addr(&a).unwrap();
    let mut quote = vec![0u8; 40 + 20];
    Ipv6Repr {
        src: a6("2001:db8::1"),
        dst: a6("2001:db8::2"),
        next_header: next_header::TCP,
        payload_len: 1460,
        hop_limit: 63,
    }
    .emit(&mut quote)
    .unwrap();
    quote[40..42].copy_from_slice(&local.port().to_be_bytes());
    quote[42..44].copy_from_slice(&5000u16.to_be_bytes());
    quote[44..48].copy_from_slice(&seq.0.to_be_bytes());
    let router = a6("2001:db8::fe");
    let (ip, msg) = icmp(
        router,
        a6("2001:db8::1"),
        64,
        &Icmpv6Repr::PacketTooBig {
            mtu: 1400,
            header: None,
            data: &quote,
        },
    );
    // Into A from "B's side" of the link (the link does not check MAC sources).
    send_frame6(link.b(), now, (B_MAC, A_MAC), ip, &msg);
    let limit = now + Duration::from_millis(20);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    assert_eq!(payload_mss(c.connection(&a).unwrap(), 1400), 1400 - 60);
    assert_eq!(a.stats().tcp.pmtu_updates, 1);
    c.abort(&mut a);
}

/// A router's MTU option (RFC 4861 §6.3.4) caps the segments of IPv6 connections opened
/// after it: MSS 1400 − 60, advertised in the SYN and used to send; IPv4 keeps its MTU.
#[test]
fn an_advertised_link_mtu_caps_the_mss_of_ipv6_connections() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, Some("2001:db8::1/64")), &mut sa);
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(1), 22);
    let mut now = Instant::ZERO;
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    // A Router Advertisement with only an MTU option, into A from the link.
    let mtu_opt = [5u8, 1, 0, 0, 0, 0, 0x05, 0x78]; // type 5, 8 bytes, MTU 1400
    router_advert(&mut link, now, &mtu_opt);
    let limit = now + Duration::from_millis(20);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let listener = b.listen(5000, 4).unwrap();
    let c = a.connect("[2001:db8::2]:5000".parse().unwrap()).unwrap();
    let limit = now + Duration::from_secs(1);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let (s, _) = listener.accept(&mut b).unwrap();
    assert_eq!(payload_mss(c.connection(&a).unwrap(), 1400), 1400 - 60);
    // B heard A's SYN announce the smaller MSS.
    assert_eq!(payload_mss(s.connection(&b).unwrap(), 1400), 1400 - 60);
    #[cfg(feature = "proto-ipv4")]
    ipv4_keeps_the_interface_mtu(&mut now, (&mut a, &mut b), &mut link);
}

/// An IPv4 connection from A still uses the interface's 1500.
#[cfg(feature = "proto-ipv4")]
fn ipv4_keeps_the_interface_mtu(
    now: &mut Instant,
    (a, b): (&mut Stack<'_>, &mut Stack<'_>),
    link: &mut SimLink,
) {
    let c4 = a.connect("10.0.0.2:5000".parse().unwrap()).unwrap();
    let limit = *now + Duration::from_secs(1);
    while step(now, a, b, link, limit) {}
    let conn4 = c4.connection(a).unwrap();
    let ts = if conn4.options().1 { 12 } else { 0 };
    assert_eq!(conn4.mss() + ts, 1460);
}

/// An RA from a router on the link (hop limit 255, from its link-local address) carrying
/// `options`, into A.
fn router_advert(link: &mut SimLink, now: Instant, options: &[u8]) {
    let ra = NdiscRepr::RouterAdvert {
        hop_limit: 64,
        flags: 0,
        router_lifetime: 0,
        reachable_time: 0,
        retrans_time: 0,
        options: tidytcp::wire::ndisc::NdiscOptions::new_checked(options).unwrap(),
    };
    let router_mac = EthernetAddress([2, 0, 0, 0, 0, 0xfe]);
    let router = link_local_from_mac(router_mac);
    let (ip, msg) = icmp(router, ipv6::ALL_NODES, 255, &Icmpv6Repr::Ndisc(ra));
    let macs = (router_mac, ipv6::multicast_mac(ipv6::ALL_NODES));
    send_frame6(link.b(), now, macs, ip, &msg);
}

/// A connection from a SLAAC address is aborted, without a reset, when the address's
/// valid lifetime ends (RFC 4862 §5.5.4: an invalid address is used by no communication);
/// its handle reports `ConnectionAborted`, as after IPv4 renumbering.
#[test]
fn a_connection_ends_with_its_slaac_address() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, None), &mut sa);
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(1), 23);
    let mut now = Instant::ZERO;
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    // Prefix 2001:db8::/64, on-link and autonomous, valid 40 s, preferred 20 s.
    let mut prefix = [3u8, 4, 64, 0xc0, 0, 0, 0, 40, 0, 0, 0, 20, 0, 0, 0, 0].to_vec();
    prefix.extend_from_slice(&a6("2001:db8::").octets());
    router_advert(&mut link, now, &prefix);
    let limit = now + Duration::from_secs(3);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let slaac = events(&mut a).into_iter().find_map(|e| match e {
        SlaacEvent::Usable(c) if !c.address().is_unicast_link_local() => Some(c.address()),
        _ => None,
    });
    let slaac = slaac.expect("no SLAAC address");
    let listener = b.listen(5000, 4).unwrap();
    let mut c = a.connect("[2001:db8::2]:5000".parse().unwrap()).unwrap();
    let limit = now + Duration::from_secs(1);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let (mut s, _) = listener.accept(&mut b).unwrap();
    assert_eq!(c.local_addr(&a).unwrap().ip(), slaac);
    c.write(&mut a, b"before").unwrap();
    let limit = now + Duration::from_secs(1);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut b, &mut buf).unwrap(), 6);
    // Past the valid lifetime, with no new advertisement.
    let limit = now + Duration::from_secs(40);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    assert!(events(&mut a).contains(&SlaacEvent::Removed(slaac)));
    assert_eq!(
        c.write(&mut a, b"after"),
        Err(tidytcp::Error::ConnectionAborted)
    );
    // No reset left A: B's side still stands.
    assert!(
        s.connection(&b)
            .is_ok_and(|c| c.state() == tidytcp::tcp::State::Established)
    );
}

/// Turning IPv6 off aborts the IPv6 connections and leaves the IPv4 ones (in a
/// dual-stack build); dropping a static address aborts only the connections from it.
#[test]
fn reconfiguring_ipv6_aborts_only_the_connections_of_dropped_addresses() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config6(1, Some("2001:db8::1/64")), &mut sa);
    let mut b = Stack::new(config6(2, Some("2001:db8::2/64")), &mut sb);
    let mut link = link(clean(1), 24);
    let mut now = Instant::ZERO;
    while step(&mut now, &mut a, &mut b, &mut link, Instant::from_secs(3)) {}
    let _listener = b.listen(5000, 8).unwrap();
    let mut global = a.connect("[2001:db8::2]:5000".parse().unwrap()).unwrap();
    let ll_b = link_local_from_mac(B_MAC);
    let to_ll = std::net::SocketAddrV6::new(ll_b, 5000, 0, 0);
    let mut local = a.connect(to_ll.into()).unwrap();
    let ipv4 = cfg!(feature = "proto-ipv4");
    let mut v4 = ipv4.then(|| a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
    let limit = now + Duration::from_secs(1);
    while step(&mut now, &mut a, &mut b, &mut link, limit) {}
    for h in [Some(&global), Some(&local), v4.as_ref()]
        .into_iter()
        .flatten()
    {
        assert!(
            h.connection(&a)
                .is_ok_and(|c| c.state() == tidytcp::tcp::State::Established)
        );
    }
    // A new static address: the connection from the old one ends, the link-local one
    // goes on.
    let mut c6 = a.interface().config().ipv6;
    c6.static_addr = Some("2001:db8::11/64".parse().unwrap());
    a.set_ipv6(c6);
    assert_eq!(
        global.write(&mut a, b"x"),
        Err(tidytcp::Error::ConnectionAborted)
    );
    assert_eq!(local.write(&mut a, b"x"), Ok(1));
    // IPv6 off: every IPv6 connection ends; IPv4 goes on.
    c6.enabled = false;
    a.set_ipv6(c6);
    assert_eq!(
        local.write(&mut a, b"x"),
        Err(tidytcp::Error::ConnectionAborted)
    );
    if let Some(v4) = v4.as_mut() {
        assert_eq!(v4.write(&mut a, b"x"), Ok(1));
    }
}
