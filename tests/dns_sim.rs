//! The DNS resolver inside a `Stack`, against a fake server at the other end of a lossy
//! `SimLink` in virtual time: queries are retried until answered, spoofed answers (wrong
//! port, wrong ID) are ignored, and errors say what failed. The server answers AAAA
//! questions too, and over IPv6 to a stack configured for IPv6 only.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::task::Poll;

use common::udp::send_from;
use common::*;
use tidytcp::dns::{DnsError, Family};
use tidytcp::drivers::{Device, DirectionConfig, RxToken, SimLink, TxToken};
use tidytcp::stack::Stack;
use tidytcp::wire::dns::{self, DnsPacket};
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Packet};
use tidytcp::wire::udp::UdpPacket;
use tidytcp::{Duration, Instant};

const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
/// The fake server, as `common::udp::send_from` needs it.
const THIS_SERVER: common::udp::Server = common::udp::Server {
    mac: SERVER_MAC,
    ip: SERVER,
};
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 80);
const ADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x80);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53);

/// Answers A and AAAA queries for `www.test` (and NXDOMAIN for anything else), over
/// IPv4 and IPv6; before each real IPv4 answer it sends two spoofed ones (wrong source
/// port, wrong ID).
struct FakeDns {
    queries: u32,
}

impl FakeDns {
    fn serve(&mut self, link: &mut SimLink, now: Instant) {
        let mut replies = Vec::new();
        let mut frames6 = Vec::new();
        while let Some((rx, _tx)) = link.b().receive(now) {
            rx.consume(|f| {
                frames6.extend(self.answer6(f));
                if let Some(r) = self.answer(f) {
                    if r.2 == 53 {
                        // Spoofs first: another source port, another ID.
                        let mut other_id = r.clone();
                        other_id.4[1] ^= 1;
                        other_id.4[7] = 1;
                        replies.push((r.0, r.1, 5353, r.3, r.4.clone()));
                        replies.push(other_id);
                    }
                    replies.push(r);
                }
            });
        }
        for (dst_mac, dst, sport, dport, msg) in replies {
            let mut port = link.b();
            let tx = port.transmit(now).unwrap();
            send_from(tx, THIS_SERVER, dst_mac, dst, sport, dport, &msg);
        }
        for f in frames6 {
            let mut port = link.b();
            let tx = port.transmit(now).unwrap();
            tx.consume(f.len(), |b| b.copy_from_slice(&f));
        }
    }

    /// The reply to a query `q`: the question, then the answer for `www.test` of the
    /// type asked, or NXDOMAIN.
    fn reply(&mut self, q: &[u8]) -> Option<Vec<u8>> {
        let p = DnsPacket::new_checked(q).ok()?;
        let mut name = [0u8; dns::MAX_NAME_LEN];
        let n = p.read_name(dns::HEADER_LEN, &mut name).ok()?;
        let qtype = u16::from_be_bytes([q[q.len() - 4], q[q.len() - 3]]);
        self.queries += 1;
        let mut msg = q.to_vec();
        msg[2] |= 0x80;
        match (&name[..n], qtype) {
            (b"www.test", dns::TYPE_A) => {
                msg[7] = 1;
                msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                msg.extend_from_slice(&ADDR.octets());
            }
            (b"www.test", dns::TYPE_AAAA) => {
                msg[7] = 1;
                msg.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
                msg.extend_from_slice(&ADDR6.octets());
            }
            _ => msg[3] = dns::RCODE_NXDOMAIN,
        }
        Some(msg)
    }

    /// The frame answering an IPv6 frame: a Neighbor Advertisement for SERVER6, or the
    /// DNS answer over UDP.
    fn answer6(&mut self, f: &[u8]) -> Option<Vec<u8>> {
        use common::v6::{answer_ns, frame6};
        use tidytcp::wire::ipv6::{Ipv6Repr, next_header, pseudo_header};
        use tidytcp::wire::udp::UdpRepr;
        if let Some(na) = answer_ns(f, (SERVER_MAC, SERVER6)) {
            return Some(na);
        }
        let eth = EthernetFrame::new_checked(f).ok()?;
        let ip = tidytcp::wire::ipv6::Ipv6Packet::new_checked(eth.payload()).ok()?;
        if ip.next_header() != next_header::UDP || ip.dst_addr() != SERVER6 {
            return None;
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        let len = ip.payload().len() as u32;
        assert!(udp.checksum_valid_with(pseudo_header(src, dst, next_header::UDP, len)));
        let msg = self.reply(udp.payload())?;
        let mut d = vec![0u8; 8 + msg.len()];
        d[8..].copy_from_slice(&msg);
        let sum = pseudo_header(dst, src, next_header::UDP, d.len() as u32);
        let r = UdpRepr {
            src_port: 53,
            dst_port: udp.src_port(),
        };
        r.emit_with(&mut d, sum).unwrap();
        let repr = Ipv6Repr {
            src: dst,
            dst: src,
            next_header: next_header::UDP,
            payload_len: d.len() as u16,
            hop_limit: 64,
        };
        Some(frame6((SERVER_MAC, eth.src()), repr, &d))
    }

    #[allow(clippy::type_complexity)]
    fn answer(&mut self, f: &[u8]) -> Option<(EthernetAddress, Ipv4Addr, u16, u16, Vec<u8>)> {
        let eth = EthernetFrame::new_checked(f).ok()?;
        if eth.ethertype() == EtherType::Arp {
            // Who has SERVER? A reply, so the stack can send to us.
            let mut r = vec![0u8; 28];
            r[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
            r[8..14].copy_from_slice(&SERVER_MAC.0);
            r[14..18].copy_from_slice(&SERVER.octets());
            r[18..24].copy_from_slice(&eth.src().0);
            r[24..28].copy_from_slice(&eth.payload()[14..18]);
            return Some((eth.src(), Ipv4Addr::UNSPECIFIED, 0, 0, r));
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if eth.ethertype() != EtherType::Ipv4 || ip.protocol() != IpProtocol::Udp {
            return None;
        }
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        assert!(udp.checksum_valid(ip.src_addr(), ip.dst_addr()));
        assert_eq!(udp.dst_port(), 53);
        assert!(udp.src_port() >= 49152, "random source port");
        let msg = self.reply(udp.payload())?;
        Some((eth.src(), ip.src_addr(), 53, udp.src_port(), msg))
    }
}

fn lossy(loss: f64) -> DirectionConfig {
    DirectionConfig {
        loss,
        latency: Duration::from_millis(5),
        ..DirectionConfig::PERFECT
    }
}

/// Resolves `name`, running the link until the answer or 30 s.
fn resolve(
    a: &mut Stack<'_>,
    srv: &mut FakeDns,
    link: &mut SimLink,
    now: &mut Instant,
    name: &str,
) -> Result<Ipv4Addr, DnsError> {
    resolve_ip(a, srv, link, now, name, Family::Ipv4).map(|a| match a {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => panic!("{a} for an IPv4 lookup"),
    })
}

/// Resolves `name` to an address of `family`, running the link until the answer or 30 s.
fn resolve_ip(
    a: &mut Stack<'_>,
    srv: &mut FakeDns,
    link: &mut SimLink,
    now: &mut Instant,
    name: &str,
    family: Family,
) -> Result<IpAddr, DnsError> {
    let q = a.resolve_ip(name, family).unwrap();
    let limit = *now + Duration::from_secs(30);
    loop {
        a.poll(*now, &mut link.a());
        srv.serve(link, *now);
        if let Poll::Ready(r) = a.query_result_ip(&q) {
            return r;
        }
        *now += Duration::from_millis(10);
        assert!(*now < limit, "no result for {name}");
    }
}

#[test]
fn resolves_through_loss_and_says_what_failed() {
    let mut dropped = (0, 0);
    for seed in 1..=5u64 {
        let mut sa = storage();
        let mut a = Stack::new(config(1), &mut sa);
        a.set_dns_servers([Some(SERVER), None, None]);
        let mut link = link(lossy(0.3), seed);
        let mut srv = FakeDns { queries: 0 };
        let mut now = Instant::ZERO;
        let r = resolve(&mut a, &mut srv, &mut link, &mut now, "WWW.test");
        if r == Err(DnsError::TimedOut) {
            // Four attempts all lost (about 0.3^4 with both directions): the error says so.
            continue;
        }
        assert_eq!(r, Ok(ADDR), "seed {seed}");
        dropped.0 += a.resolver().stats().mismatched;
        dropped.1 += a.stats().udp_dropped;
        // The second time comes from the cache: no query.
        let before = srv.queries;
        assert_eq!(
            resolve(&mut a, &mut srv, &mut link, &mut now, "www.test"),
            Ok(ADDR)
        );
        assert_eq!(srv.queries, before);
        let r = resolve(&mut a, &mut srv, &mut link, &mut now, "nosuch.test");
        assert!(
            matches!(r, Err(DnsError::NoSuchName | DnsError::TimedOut)),
            "{r:?}"
        );
    }
    // Spoofed answers: another ID reaches the resolver and is dropped there, another
    // source port is dropped by the stack's UDP input.
    assert!(dropped.0 >= 1 && dropped.1 >= 1, "{dropped:?}");
}

/// A stack configured for IPv6 only (no IPv4 address, a static IPv6 one) asks an IPv6
/// server for AAAA records, through loss: `Either` means IPv6 there.
#[test]
fn aaaa_from_an_ipv6_server_to_an_ipv6_only_stack() {
    let mut answered = 0;
    for seed in 1..=3u64 {
        let mut sa = storage();
        let mut c = config(1);
        c.iface.addr = "0.0.0.0/0".parse().unwrap();
        c.iface.ipv6.static_addr = Some("2001:db8::1/64".parse().unwrap());
        let mut a = Stack::new(c, &mut sa);
        a.set_dns_servers6([Some(SERVER6), None]);
        let mut link = link(lossy(0.2), seed);
        let mut srv = FakeDns { queries: 0 };
        let mut now = Instant::ZERO;
        // DAD first: the address is usable after about a second.
        while a
            .interface()
            .ipv6_source_for(SERVER6)
            .is_none_or(|s| s.is_unicast_link_local())
        {
            a.poll(now, &mut link.a());
            while link.b().receive(now).is_some() {}
            now += Duration::from_millis(10);
            assert!(now < Instant::from_secs(10), "no usable IPv6 address");
        }
        let r = resolve_ip(
            &mut a,
            &mut srv,
            &mut link,
            &mut now,
            "www.test",
            Family::Either,
        );
        if r == Err(DnsError::TimedOut) {
            continue;
        }
        assert_eq!(r, Ok(IpAddr::V6(ADDR6)), "seed {seed}");
        answered += 1;
        let r = resolve_ip(
            &mut a,
            &mut srv,
            &mut link,
            &mut now,
            "www.test",
            Family::Ipv4,
        );
        assert!(
            matches!(r, Ok(IpAddr::V4(ADDR)) | Err(DnsError::TimedOut)),
            "{r:?}"
        );
        let r = resolve_ip(
            &mut a,
            &mut srv,
            &mut link,
            &mut now,
            "no.test",
            Family::Ipv6,
        );
        assert!(
            matches!(r, Err(DnsError::NoSuchName | DnsError::TimedOut)),
            "{r:?}"
        );
    }
    assert!(answered >= 2, "{answered} of 3 answered");
}

#[test]
fn no_answer_times_out_and_no_server_is_an_error() {
    let mut sa = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut link = link(lossy(0.0), 1);
    let q = a.resolve("www.test").unwrap();
    assert_eq!(a.query_result(&q), Poll::Ready(Err(DnsError::NoServer)));
    a.set_dns_servers([Some(SERVER), Some(Ipv4Addr::new(10, 0, 0, 3)), None]);
    let q = a.resolve("www.test").unwrap();
    let mut now = Instant::ZERO;
    let epoch = a.epoch();
    let r = loop {
        let next = a.poll(now, &mut link.a());
        while link.b().receive(now).is_some() {} // nobody answers, not even ARP
        if let Poll::Ready(r) = a.query_result(&q) {
            break r;
        }
        now = next
            .unwrap_or(now + Duration::from_secs(1))
            .max(now + Duration::from_millis(1));
        assert!(now < Instant::from_secs(60));
    };
    assert_eq!(r, Err(DnsError::TimedOut));
    // The end of a query moves the epoch the blocking adapter waits on.
    assert_ne!(a.epoch(), epoch);
}

/// The async form: `AsyncStack::resolve` wakes its task when the answer arrives (the
/// network task's poll moves the socket set's epoch), and `embedded_nal_async::Dns` on
/// `TcpClient` goes through it, for either family.
#[test]
fn async_resolve_and_embedded_nal_dns() {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    use embedded_nal_async::{AddrType, Dns};
    use tidytcp::socket::asynch::AsyncStack;
    use tidytcp::socket::nal::TcpClient;

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let mut sa = storage();
    let mut stack = Stack::new(config(1), &mut sa);
    stack.set_dns_servers([Some(SERVER), None, None]);
    let net: AsyncStack<Stack<'_>, 8, 2> = AsyncStack::new(stack);
    let client = TcpClient::new(&net);
    let mut link = link(lossy(0.0), 1);
    let mut srv = FakeDns { queries: 0 };
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut now = Instant::ZERO;

    let mut lookup = pin!(client.get_host_by_name("www.test", AddrType::IPv4));
    assert!(lookup.as_mut().poll(&mut cx).is_pending());
    let answer = loop {
        let woken = count.0.load(Ordering::SeqCst);
        net.with(|s| s.poll(now, &mut link.a())).unwrap();
        srv.serve(&mut link, now);
        if count.0.load(Ordering::SeqCst) > woken {
            // Only a wake-up brings the task back, as under a real executor.
            if let Poll::Ready(r) = lookup.as_mut().poll(&mut cx) {
                break r;
            }
        }
        now += Duration::from_millis(10);
        assert!(now < Instant::from_secs(30), "no answer");
    };
    assert_eq!(answer, Ok(std::net::IpAddr::V4(ADDR)));
    assert_eq!(srv.queries, 1);
    // From the cache, at once.
    let mut again = pin!(net.resolve("www.test"));
    assert_eq!(again.as_mut().poll(&mut cx), Poll::Ready(Ok(ADDR)));
    let mut v6 = pin!(client.get_host_by_name("www.test", AddrType::IPv6));
    let answer = loop {
        net.with(|s| s.poll(now, &mut link.a())).unwrap();
        srv.serve(&mut link, now);
        if let Poll::Ready(r) = v6.as_mut().poll(&mut cx) {
            break r;
        }
        now += Duration::from_millis(10);
        assert!(now < Instant::from_secs(60), "no answer");
    };
    assert_eq!(answer, Ok(IpAddr::V6(ADDR6)));
    assert_eq!(srv.queries, 2);
}

/// The blocking form: `BlockingStack::resolve` blocks until the stack thread's poll
/// brings the answer (here an address literal and a name without a server).
#[test]
fn blocking_resolve_answers_or_says_why() {
    use tidytcp::socket::blocking::BlockingStack;
    let mut sa = storage();
    let net = BlockingStack::new(Stack::new(config(1), &mut sa));
    let timeout = Some(std::time::Duration::from_secs(30));
    std::thread::scope(|s| {
        let _t = net.spawn_scoped(s, tidytcp::drivers::Loopback::<4>::new());
        assert_eq!(
            net.resolve("10.1.2.3", timeout),
            Ok(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(net.resolve("www.test", timeout), Err(DnsError::NoServer));
    });
}
