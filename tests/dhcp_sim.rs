//! The DHCPv4 client inside a `Stack`, against a small fake server at the other end of a
//! `SimLink`, in virtual time: it converges through loss, renews and keeps its address,
//! rebinds and drops the address at expiry when the server is gone; and renumbering
//! aborts the connections on the old address without a reset.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::udp::send_from;
use common::*;
use tidytcp::drivers::{Device, Direction, DirectionConfig, RxToken, SimLink, TxToken, Verdict};
use tidytcp::ip::dhcp::{DhcpConfig, DhcpEvent, DhcpState};
use tidytcp::stack::{AddressEvent, Stack};
use tidytcp::wire::dhcpv4::{DhcpPacket, DhcpRepr, MessageType};
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use tidytcp::wire::ipv4::{Ipv4Cidr, Ipv4Packet};
use tidytcp::wire::udp::UdpPacket;
use tidytcp::{Duration, Error, Instant};

const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xfe]);
/// The fake server, as `common::udp::send_from` needs it.
const THIS_SERVER: common::udp::Server = common::udp::Server {
    mac: SERVER_MAC,
    ip: SERVER,
};
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 77);

/// A DHCP server that gives everyone `OFFERED` for `lease` seconds.
struct FakeServer {
    lease: u32,
    running: bool,
    acks: u32,
    unicast_requests: u32,
}

impl FakeServer {
    /// A running server that grants `lease` seconds.
    fn new(lease: u32) -> Self {
        FakeServer {
            lease,
            running: true,
            acks: 0,
            unicast_requests: 0,
        }
    }

    /// Answers every DHCP message waiting at end B by `now`.
    fn serve(&mut self, link: &mut SimLink, now: Instant) {
        while let Some((rx, tx)) = link.b().receive(now) {
            let reply = rx.consume(|f| self.answer(f));
            // Stopped, the DHCP server says nothing; the host still answers ARP.
            if let Some((dst_mac, dst, bytes)) = reply {
                if self.running || dst.is_unspecified() {
                    send_from(tx, THIS_SERVER, dst_mac, dst, 67, 68, &bytes);
                }
            }
        }
    }

    fn answer(&mut self, frame: &[u8]) -> Option<(EthernetAddress, Ipv4Addr, Vec<u8>)> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        let arp = eth.payload();
        if eth.ethertype() == EtherType::Arp && arp.get(24..28) == Some(&SERVER.octets()[..]) {
            // Who has SERVER? Answered, so that the client's TCP can reach it.
            let mut r = arp.get(..28)?.to_vec();
            r[7] = 2;
            r[18..28].copy_from_slice(&arp[8..18]);
            r[8..14].copy_from_slice(&SERVER_MAC.0);
            r[14..18].copy_from_slice(&SERVER.octets());
            return Some((eth.src(), Ipv4Addr::UNSPECIFIED, r));
        }
        if eth.ethertype() != EtherType::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        assert!(udp.checksum_valid(ip.src_addr(), ip.dst_addr()));
        let p = DhcpPacket::new_checked(udp.payload()).ok()?;
        let req = DhcpRepr::parse(&p).ok()?;
        let ty = match req.message_type {
            MessageType::Discover => MessageType::Offer,
            MessageType::Request => {
                if ip.dst_addr() == SERVER {
                    self.unicast_requests += 1;
                }
                let asked = req.requested_ip.unwrap_or(req.ciaddr);
                if asked == OFFERED {
                    self.acks += 1;
                    MessageType::Ack
                } else {
                    MessageType::Nak
                }
            }
            _ => return None,
        };
        let mut r = DhcpRepr::client(ty, req.xid, req.chaddr);
        r.client_id = false;
        r.server_id = Some(SERVER);
        if ty != MessageType::Nak {
            r.yiaddr = OFFERED;
            r.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
            r.router = Some(SERVER);
            r.dns_servers = [Some(SERVER), None, None];
            r.lease_time = Some(self.lease);
        }
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        let (mac, dst) = if req.broadcast {
            (EthernetAddress::BROADCAST, Ipv4Addr::BROADCAST)
        } else {
            (eth.src(), req.ciaddr)
        };
        Some((mac, dst, buf))
    }
}

fn quick_dhcp() -> DhcpConfig {
    let mut c = DhcpConfig::new();
    c.host_name = Some("tidy-sim");
    c
}

/// Runs the client stack (end A) and the server (end B) from `*now` to `until`,
/// collecting the stack's address events.
fn run(
    a: &mut Stack<'_>,
    srv: &mut FakeServer,
    link: &mut SimLink,
    now: &mut Instant,
    until: Instant,
    events: &mut Vec<AddressEvent>,
) {
    while *now < until {
        let next = a.poll(*now, &mut link.a());
        while let Some(e) = a.take_address_event() {
            // IPv6's own address events (its link-local address) are not DHCP's.
            #[cfg(feature = "proto-ipv6")]
            if matches!(e, AddressEvent::Ipv6(_)) {
                continue;
            }
            events.push(e);
        }
        srv.serve(link, *now);
        let step = [next, link.next_delivery()]
            .into_iter()
            .flatten()
            .filter(|t| *t > *now)
            .min()
            .unwrap_or(*now + Duration::from_millis(500));
        *now = step.min(*now + Duration::from_millis(500)).min(until);
    }
}

fn lossy(loss: f64) -> DirectionConfig {
    DirectionConfig {
        loss,
        latency: Duration::from_millis(2),
        ..DirectionConfig::PERFECT
    }
}

#[test]
fn converges_through_loss_and_keeps_renewing() {
    for seed in 1..=6u64 {
        let mut sa = storage();
        let mut a = Stack::new(config(1), &mut sa);
        let mut link = link(lossy(0.2), seed);
        let mut srv = FakeServer::new(120);
        let mut now = Instant::ZERO;
        a.enable_dhcp(now, quick_dhcp());
        assert_eq!(a.interface().address(), Ipv4Addr::UNSPECIFIED);
        let mut events = Vec::new();
        run(
            &mut a,
            &mut srv,
            &mut link,
            &mut now,
            Instant::from_secs(100),
            &mut events,
        );
        let c = a.dhcp().unwrap();
        assert!(
            c.lease().is_some(),
            "seed {seed}: not bound: {:?}",
            c.state()
        );
        assert_eq!(a.interface().config().addr, Ipv4Cidr::new(OFFERED, 24));
        assert_eq!(a.interface().config().gateway, Some(SERVER));
        assert_eq!(a.dns_servers()[0], Some(SERVER));
        // Ten minutes: several renewals through loss, never a lost address.
        run(
            &mut a,
            &mut srv,
            &mut link,
            &mut now,
            Instant::from_secs(700),
            &mut events,
        );
        assert!(
            !events.contains(&AddressEvent::Dhcp(DhcpEvent::Lost)),
            "seed {seed}: {events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AddressEvent::Dhcp(DhcpEvent::Renewed(_))))
        );
        assert!(
            srv.unicast_requests >= 5,
            "seed {seed}: renewals are unicast"
        );
        assert_eq!(a.interface().address(), OFFERED);
    }
}

#[test]
fn without_server_rebinds_then_drops_the_address_at_expiry() {
    let mut sa = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut link = link(lossy(0.0), 1);
    let mut srv = FakeServer::new(120);
    let mut now = Instant::ZERO;
    a.enable_dhcp(now, quick_dhcp());
    let mut events = Vec::new();
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        Instant::from_secs(20),
        &mut events,
    );
    let bound_at = a.dhcp().unwrap().lease().unwrap().acquired;
    // enable_dhcp gave up the configured address first.
    assert_eq!(
        events[0],
        AddressEvent::Changed {
            old: "10.0.0.1/24".parse().unwrap(),
            new: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0)
        }
    );
    assert_eq!(
        events[1..3],
        [
            AddressEvent::Changed {
                old: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0),
                new: Ipv4Cidr::new(OFFERED, 24)
            },
            AddressEvent::Dhcp(DhcpEvent::Bound(*a.dhcp().unwrap().lease().unwrap()))
        ]
    );
    srv.running = false;
    events.clear();
    let t2 = bound_at + Duration::from_secs(105);
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        t2 + Duration::from_secs(1),
        &mut events,
    );
    assert_eq!(a.dhcp().unwrap().state(), DhcpState::Rebinding);
    // A connection on the leased address (its SYN goes unanswered: nobody is there).
    let mut conn = a.connect("10.0.0.254:80".parse().unwrap()).unwrap();
    assert_eq!(conn.local_addr(&a).unwrap().ip(), OFFERED);
    assert!(events.is_empty());
    assert_eq!(a.interface().address(), OFFERED);
    let expiry = bound_at + Duration::from_secs(120);
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        expiry + Duration::from_secs(1),
        &mut events,
    );
    assert_eq!(a.interface().address(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(a.interface().config().gateway, None);
    assert_eq!(a.dns_servers(), &[None; 3]);
    assert!(events.contains(&AddressEvent::Dhcp(DhcpEvent::Lost)));
    // Connections on the lost address end with a local error, no reset sent.
    let mut buf = [0u8; 4];
    assert_eq!(conn.read(&mut a, &mut buf), Err(Error::ConnectionAborted));
    conn.close(&mut a);
    assert_eq!(a.stats().tcp.rst_sent, 0);
    assert_eq!(a.dhcp().unwrap().state(), DhcpState::Selecting);
    // The server comes back: the client gets an address again.
    srv.running = true;
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        expiry + Duration::from_secs(120),
        &mut events,
    );
    assert_eq!(a.interface().address(), OFFERED);
}

#[test]
fn an_address_in_use_is_declined() {
    let mut sa = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut link = link(lossy(0.0), 1);
    // Another host answers ARP probes for the offered address.
    let probes = Arc::new(AtomicU32::new(0));
    let seen = probes.clone();
    link.set_filter(Direction::AtoB, move |f| {
        if f.get(12..14) == Some(&[0x08, 0x06]) && f.get(28..32) == Some(&[0, 0, 0, 0]) {
            seen.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Pass
    });
    let mut srv = FakeServer::new(120);
    let mut now = Instant::ZERO;
    a.enable_dhcp(now, quick_dhcp());
    while probes.load(Ordering::Relaxed) == 0 {
        a.poll(now, &mut link.a());
        srv.serve(&mut link, now);
        now += Duration::from_millis(10);
        assert!(now < Instant::from_secs(10));
    }
    assert_eq!(a.dhcp().unwrap().state(), DhcpState::Probing);
    // The other host's ARP reply: OFFERED is at 02:00:00:00:00:99.
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 0x99, 10, 0, 0, 77, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ];
    link.b().transmit(now).unwrap().consume(14 + 28, |f| {
        EthernetRepr {
            src: EthernetAddress([2, 0, 0, 0, 0, 0x99]),
            dst: EthernetAddress([2, 0, 0, 0, 0, 1]),
            ethertype: EtherType::Arp,
        }
        .emit(f)
        .unwrap();
        f[14..].copy_from_slice(&arp);
    });
    let mut events = Vec::new();
    let until = now + Duration::from_secs(5);
    run(&mut a, &mut srv, &mut link, &mut now, until, &mut events);
    let c = a.dhcp().unwrap();
    assert_eq!(c.stats().declines, 1);
    assert_eq!(c.state(), DhcpState::Init);
    assert!(
        !events.iter().any(|e| matches!(e, AddressEvent::Dhcp(_))),
        "the address was never applied: {events:?}"
    );
    assert_eq!(a.interface().address(), Ipv4Addr::UNSPECIFIED);
    assert!(a.interface().stats().probe_conflicts >= 1);
}

#[test]
fn renumbering_aborts_connections_on_the_old_address_without_reset() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut a = Stack::new(config(1), &mut sa);
    let mut b = Stack::new(config(2), &mut sb);
    let mut link = link(clean(1), 1);
    let listener = b.listen(80, 2).unwrap();
    let mut now = Instant::ZERO;
    let limit = Instant::from_secs(5);
    let mut client = a.connect("10.0.0.2:80".parse().unwrap()).unwrap();
    let mut server = loop {
        assert!(step(&mut now, &mut a, &mut b, &mut link, limit));
        if let Ok((s, _)) = listener.accept(&mut b) {
            break s;
        }
    };
    let rsts = Arc::new(AtomicU32::new(0));
    let seen = rsts.clone();
    link.set_filter(Direction::AtoB, move |f| {
        // IPv4, TCP, RST flag.
        if f.get(12..14) == Some(&[8, 0])
            && f.get(23) == Some(&6)
            && f.get(47).is_some_and(|x| x & 4 != 0)
        {
            seen.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Pass
    });
    let epoch = a.epoch();
    a.set_ipv4("10.0.0.9/24".parse().unwrap());
    assert_ne!(a.epoch(), epoch, "waiters on the socket set wake up");
    assert_eq!(
        a.take_address_event(),
        Some(AddressEvent::Changed {
            old: "10.0.0.1/24".parse().unwrap(),
            new: "10.0.0.9/24".parse().unwrap()
        })
    );
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut a, &mut buf), Err(Error::ConnectionAborted));
    assert_eq!(client.write(&mut a, b"x"), Err(Error::ConnectionAborted));
    for _ in 0..50 {
        step(&mut now, &mut a, &mut b, &mut link, limit);
    }
    assert_eq!(rsts.load(Ordering::Relaxed), 0);
    // The peer still thinks it is connected (no reset); new connections use the new address.
    assert_eq!(server.read(&mut b, &mut buf), Err(Error::WouldBlock));
    let c2 = a.connect("10.0.0.2:80".parse().unwrap()).unwrap();
    assert_eq!(c2.local_addr(&a).unwrap().ip(), Ipv4Addr::new(10, 0, 0, 9));
    client.close(&mut a);
    c2.abort(&mut a);
    server.abort(&mut b);
    listener.close(&mut b);
}

/// A device whose link state the test sets.
struct Flappy<'l> {
    port: tidytcp::drivers::SimPort<'l>,
    up: bool,
}

impl Device for Flappy<'_> {
    type RxToken<'t>
        = <tidytcp::drivers::SimPort<'static> as Device>::RxToken<'t>
    where
        Self: 't;
    type TxToken<'t>
        = tidytcp::drivers::SimTxToken<'t>
    where
        Self: 't;
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.port.receive(now)
    }
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.port.transmit(now)
    }
    fn capabilities(&self) -> tidytcp::drivers::DeviceCaps {
        self.port.capabilities()
    }
    fn link_up(&mut self) -> bool {
        self.up
    }
}

#[test]
fn link_up_again_confirms_the_lease_with_init_reboot() {
    let mut sa = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut link = link(lossy(0.0), 1);
    let mut srv = FakeServer::new(600);
    let mut now = Instant::ZERO;
    a.enable_dhcp(now, quick_dhcp());
    let mut events = Vec::new();
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        Instant::from_secs(10),
        &mut events,
    );
    assert_eq!(a.interface().address(), OFFERED);
    assert_eq!(srv.acks, 1);
    events.clear();
    // Link down for a while: nothing is sent, the address stays.
    for s in 10..20 {
        let t = Instant::from_secs(s);
        a.poll(
            t,
            &mut Flappy {
                port: link.a(),
                up: false,
            },
        );
        srv.serve(&mut link, t);
    }
    assert_eq!(a.interface().address(), OFFERED);
    // Up again: a REQUEST for the address we have (INIT-REBOOT), ACKed.
    let t = Instant::from_secs(20);
    a.poll(
        t,
        &mut Flappy {
            port: link.a(),
            up: true,
        },
    );
    assert_eq!(a.dhcp().unwrap().state(), DhcpState::Rebooting);
    now = t;
    run(
        &mut a,
        &mut srv,
        &mut link,
        &mut now,
        Instant::from_secs(25),
        &mut events,
    );
    assert_eq!(srv.acks, 2);
    assert_eq!(a.dhcp().unwrap().state(), DhcpState::Bound);
    assert!(
        matches!(events[..], [AddressEvent::Dhcp(DhcpEvent::Renewed(_))]),
        "{events:?}"
    );
    assert_eq!(a.interface().address(), OFFERED);
}
