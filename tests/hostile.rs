//! Hostile peers: blind injection into a live transfer (RFC 5961 §§3–5), malformed and
//! lying options, peers that acknowledge what was never sent, shrink or shut their
//! window, or never answer, and every resource in use at once. Each test checks the
//! stack's answer, that it never panics, and that what it delivered is untouched.
//!
//! What the other files already cover is not repeated here: the RFC 5961 rules one
//! segment at a time (`tcp_rfc5961.rs`), MSS 0/1 and window scale > 14
//! (`tcp_options.rs`), overlapping out-of-order segments (`tcp_ack.rs`), probes of a
//! zero window answered for minutes (`tcp_persist.rs`), and SYN floods (`syn_flood.rs`).

mod common;

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use common::data::*;
use common::frames::{Injecting, segment_frame};
use common::script::*;
use common::{config, pump_write};
use tidytcp::drivers::{Direction, DirectionConfig, SimLink, Verdict};
use tidytcp::socket::{HeapStorage, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::tcp::State;
use tidytcp::wire::checksum::pseudo_header;
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, set_checksum};
use tidytcp::{Capacity, Duration, Error, Instant};

// ---------------------------------------------------------------- two stacks and an attacker

/// Two stacks over a `SimLink`, with frames an attacker injects into either side.
struct Pair<'x> {
    a: Stack<'x>,
    b: Stack<'x>,
    link: SimLink,
    now: Instant,
    /// Frames to hand to A (resp. B) before anything from the link.
    to_a: VecDeque<Vec<u8>>,
    to_b: VecDeque<Vec<u8>>,
}

impl<'x> Pair<'x> {
    /// Stacks with `common::config(1)` and `(2)`, changed by `f`.
    fn new(
        sa: &'x mut HeapStorage,
        sb: &'x mut HeapStorage,
        link: SimLink,
        f: impl Fn(&mut Config),
    ) -> Self {
        let (mut ca, mut cb) = (config(1), config(2));
        f(&mut ca);
        f(&mut cb);
        Pair {
            a: Stack::new(ca, sa),
            b: Stack::new(cb, sb),
            link,
            now: Instant::ZERO,
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
        }
    }

    /// Polls both stacks at `now` and moves the clock to the next event; false once
    /// `now` passes `limit`.
    fn step(&mut self, limit: Instant) -> bool {
        let na = self.a.poll(
            self.now,
            &mut Injecting {
                inner: self.link.a(),
                queue: &mut self.to_a,
            },
        );
        let nb = self.b.poll(
            self.now,
            &mut Injecting {
                inner: self.link.b(),
                queue: &mut self.to_b,
            },
        );
        let next = [na, nb, self.link.next_delivery()]
            .into_iter()
            .flatten()
            .min();
        let floor = self.now + Duration::from_micros(1);
        self.now = match next {
            Some(t) if t > self.now => t,
            Some(_) => floor,
            None => self.now + Duration::from_millis(100),
        };
        self.now <= limit
    }
}

/// An Ethernet/IPv4/TCP frame from the stack `10.0.0.{src}` to `10.0.0.{dst}` (MACs
/// `02:00:00:00:00:{src}` and `..:{dst}`, as `common::config` gives them), checksums
/// right: what an attacker on the path, or spoofing one end, would send.
fn spoofed(src: u8, dst: u8, repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let end = |n: u8| {
        (
            EthernetAddress([2, 0, 0, 0, 0, n]),
            Ipv4Addr::new(10, 0, 0, n),
        )
    };
    segment_frame(end(src), end(dst), repr, payload)
}

/// The TCP header of an Ethernet/IPv4/TCP frame.
fn tcp_of(frame: &[u8]) -> Option<TcpRepr> {
    if frame.len() < 34 || frame[12..14] != [8, 0] || frame[23] != 6 {
        return None;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let p = TcpPacket::new_checked(ip.get(ihl..)?).ok()?;
    TcpRepr::parse(&p).ok()
}

/// What the attacker learnt by watching the handshake: both ISNs (the worst case for
/// the defender: a blind attacker would have to guess them too).
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// A's ISN (from its SYN).
    a_iss: Option<SeqNum>,
    /// B's ISN (from its SYN-ACK).
    b_iss: Option<SeqNum>,
    /// Window fields of 0 B advertised after the handshake.
    b_zero_windows: u64,
    /// The latest TSval each side sent, if they use timestamps.
    a_tsval: Option<u32>,
    b_tsval: Option<u32>,
}

fn watch(link: &mut SimLink) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    link.set_filter(Direction::AtoB, move |f| {
        if let Some(r) = tcp_of(f) {
            let mut s = s.lock().unwrap();
            if r.flags == TcpFlags::SYN {
                s.a_iss = Some(r.seq);
            }
            s.a_tsval = r.options.timestamps.map(|t| t.0).or(s.a_tsval);
        }
        Verdict::Pass
    });
    let s = seen.clone();
    link.set_filter(Direction::BtoA, move |f| {
        if let Some(r) = tcp_of(f) {
            let mut s = s.lock().unwrap();
            s.b_tsval = r.options.timestamps.map(|t| t.0).or(s.b_tsval);
            if r.flags.contains(TcpFlags::SYN) {
                s.b_iss = Some(r.seq);
            } else if r.window == 0 && !r.flags.contains(TcpFlags::RST) {
                s.b_zero_windows += 1;
            }
        }
        Verdict::Pass
    });
    seen
}

/// A small xorshift generator for the attacker's guesses.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// One batch of blind segments into a receiver whose next expected byte is `rcv_nxt`
/// and whose peer has acknowledged up to about `acked`, from `src` to `dst` on the
/// connection's ports (`sport` at `src`): each with a sequence number inside the
/// window but not `rcv_nxt` itself, and, where it carries an ACK, an acknowledgment
/// number a blind attacker guessed (anything but the 2 MiB around the right one —
/// RFC 5961 §5 accepts only a window's worth, so a random guess lands there with odds
/// of about 2^-16). With `tsval`, every segment carries a timestamp a little newer than
/// the real sender's (so PAWS lets it through).
#[allow(clippy::too_many_arguments)]
fn blind_batch(
    rng: &mut Rng,
    src: u8,
    dst: u8,
    sport: u16,
    dport: u16,
    rcv_nxt: SeqNum,
    acked: SeqNum,
    tsval: Option<u32>,
) -> Vec<Vec<u8>> {
    let mut in_window = || rcv_nxt + (1 + rng.below(16383));
    let seqs: Vec<SeqNum> = (0..5).map(|_| in_window()).collect();
    let mut bad_ack = || acked + ((1 << 20) + rng.below(u32::MAX - (1 << 21)));
    let acks: Vec<SeqNum> = (0..3).map(|_| bad_ack()).collect();
    let seg = |flags: TcpFlags, seq: SeqNum, ack: SeqNum| TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq,
        ack,
        flags,
        window: 65535,
        options: TcpOptions {
            timestamps: tsval.map(|v| (v.wrapping_add(5), 0)),
            ..TcpOptions::NONE
        },
    };
    let junk = [0xeeu8; 700];
    vec![
        // RFC 5961 §3: a reset in the window, not at RCV.NXT.
        spoofed(src, dst, &seg(TcpFlags::RST, seqs[0], SeqNum(0)), &[]),
        spoofed(
            src,
            dst,
            &seg(TcpFlags::RST | TcpFlags::ACK, seqs[1], acks[0]),
            &[],
        ),
        // RFC 5961 §4: a SYN in the window.
        spoofed(src, dst, &seg(TcpFlags::SYN, seqs[2], SeqNum(0)), &[]),
        // RFC 5961 §5: data (and a FIN) in the window with a guessed ACK.
        spoofed(
            src,
            dst,
            &seg(TcpFlags::ACK | TcpFlags::PSH, seqs[3], acks[1]),
            &junk,
        ),
        spoofed(
            src,
            dst,
            &seg(TcpFlags::ACK | TcpFlags::FIN, seqs[4], acks[2]),
            &junk[..100],
        ),
        // Data without ACK: always dropped (RFC 9293 §3.10.7.4 fifth).
        spoofed(src, dst, &seg(TcpFlags::PSH, rcv_nxt, SeqNum(0)), &junk),
    ]
}

/// RFC 5961 §§3–5 against a live transfer: while 1 MiB goes each way between two stacks,
/// an attacker who knows both ISNs, how far each stream has got and the timestamps in
/// use (the worst case) but must guess acknowledgment numbers sends each side, every
/// millisecond, in-window resets (not at RCV.NXT), in-window SYNs, in-window data and
/// FINs with guessed ACKs, and data without ACK. Both connections survive, every byte
/// arrives as it was written, and both close cleanly; the counters show the attacks
/// were answered with (rate-limited) challenge ACKs or dropped. Run with timestamps
/// (the default) and without, where the RFC 5961 checks are the only defence.
#[test]
fn blind_rst_syn_and_data_injection_into_a_live_transfer() {
    blind_injection(true);
    blind_injection(false);
}

fn blind_injection(timestamps: bool) {
    const TOTAL: u64 = 1 << 20;
    let mut sa = common::storage();
    let mut sb = common::storage();
    // 10 Mbit/s: the transfer takes about a second.
    let dir = DirectionConfig {
        rate_bps: 10_000_000,
        ..common::clean(5)
    };
    let mut link = common::link(dir, 7);
    let seen = watch(&mut link);
    let mut p = Pair::new(&mut sa, &mut sb, link, |c| c.tcp.timestamps = timestamps);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let listener = p.b.listen(5000, 4).unwrap();
    let mut client = Some(p.a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
    let cport = client.as_ref().unwrap().local_addr(&p.a).unwrap().port();
    let mut server: Option<TcpStream<'_>> = None;
    let (mut c_sent, mut c_got, mut s_sent, mut s_got) = (0u64, 0u64, 0u64, 0u64);
    let (mut c_eof, mut s_eof) = (false, false);
    let mut next_attack = Instant::ZERO;
    let mut batches = 0;
    let limit = Instant::from_secs(120);
    loop {
        assert!(p.step(limit), "transfer did not finish");
        if server.is_none() {
            server = listener.accept(&mut p.b).ok().map(|(s, _)| s);
        }
        if let Some(c) = client.as_mut() {
            assert_eq!(c.error(&p.a), None, "client connection failed");
            pump_write(c, &mut p.a, 1, &mut c_sent, TOTAL);
            if c_sent == TOTAL {
                c.shutdown_write(&mut p.a).unwrap();
            }
            c_eof = c_eof || common::pump_read(c, &mut p.a, 2, &mut c_got).unwrap();
        }
        if let Some(s) = server.as_mut() {
            assert_eq!(s.error(&p.b), None, "server connection failed");
            pump_write(s, &mut p.b, 2, &mut s_sent, TOTAL);
            if s_sent == TOTAL {
                s.shutdown_write(&mut p.b).unwrap();
            }
            s_eof = s_eof || common::pump_read(s, &mut p.b, 1, &mut s_got).unwrap();
        }
        // The attack, while both streams are still flowing.
        let (Some(c), Some(s)) = (client.as_ref(), server.as_ref()) else {
            continue;
        };
        if p.now >= next_attack && c_got < TOTAL && s_got < TOTAL {
            next_attack = p.now + Duration::from_millis(1);
            batches += 1;
            let k = *seen.lock().unwrap();
            let (a_iss, b_iss) = (k.a_iss.unwrap(), k.b_iss.unwrap());
            // What each receiver expects next: the bytes its user read or holds, after
            // the peer's SYN.
            let b_rcv = a_iss + 1u32 + (s_got + s.recv_queue(&p.b) as u64) as u32;
            let a_rcv = b_iss + 1u32 + (c_got + c.recv_queue(&p.a) as u64) as u32;
            let (a_ts, b_ts) = (k.a_tsval, k.b_tsval);
            let batch = blind_batch(&mut rng, 1, 2, cport, 5000, b_rcv, a_rcv, a_ts);
            p.to_b.extend(batch);
            let batch = blind_batch(&mut rng, 2, 1, 5000, cport, a_rcv, b_rcv, b_ts);
            p.to_a.extend(batch);
        }
        if c_eof && s_eof && c_sent == TOTAL && s_sent == TOTAL {
            break;
        }
    }
    assert_eq!((c_got, s_got), (TOTAL, TOTAL));
    assert!(batches > 500, "only {batches} batches of attacks");
    for st in [p.a.stats().tcp, p.b.stats().tcp] {
        assert_eq!(st.resets, 0, "{st:?}");
        assert_eq!(st.rst_received, 0, "{st:?}");
        assert!(st.challenge_acks > 0, "no challenge ACKs: {st:?}");
        assert!(
            st.dropped_bad_ack >= batches,
            "bad ACKs not all dropped: {st:?}"
        );
        // Answers to the attack are rate limited, so they cannot pose as enough
        // duplicate ACKs to make the real peer retransmit much.
        assert!(
            st.retransmits <= 10,
            "{} retransmissions: {st:?}",
            st.retransmits
        );
    }
    client.take().unwrap().close(&mut p.a);
    server.take().unwrap().close(&mut p.b);
    listener.close(&mut p.b);
    let end = p.now + Duration::from_secs(120);
    while p.a.in_use() + p.b.in_use() > 0 {
        assert!(p.step(end), "slots not freed");
    }
    assert_eq!(p.a.stats().tcp.resets + p.b.stats().tcp.resets, 0);
}

// ---------------------------------------------------------------- back-pressure

/// Every buffer full: the receiving application stops reading for ten minutes while the
/// sender still has most of 1 MiB to send. The receiver's window closes (window 0 on
/// the wire), the sender's buffer fills and `write` says `WouldBlock`, the sender probes
/// the window instead of giving up, and nothing is lost: once the reader resumes, every
/// byte arrives in order.
#[test]
fn a_reader_that_stops_means_back_pressure_not_loss() {
    const TOTAL: u64 = 1 << 20;
    let mut sa = common::storage();
    let mut sb = common::storage();
    let mut link = common::link(common::clean(5), 3);
    let seen = watch(&mut link);
    let mut p = Pair::new(&mut sa, &mut sb, link, |_| {});
    let listener = p.b.listen(5000, 4).unwrap();
    let mut c = p.a.connect("10.0.0.2:5000".parse().unwrap()).unwrap();
    let mut s = loop {
        assert!(p.step(Instant::from_secs(5)));
        if let Ok((s, _)) = listener.accept(&mut p.b) {
            break s;
        }
    };
    let (mut sent, mut got) = (0u64, 0u64);
    // 100 KiB flow normally, then the reader stops.
    while got < 100 * 1024 {
        pump_write(&mut c, &mut p.a, 5, &mut sent, TOTAL);
        common::pump_read(&mut s, &mut p.b, 5, &mut got).unwrap();
        assert!(p.step(Instant::from_secs(10)));
    }
    let paused_at = p.now;
    let resume = paused_at + Duration::from_secs(600);
    while p.step(resume) {
        pump_write(&mut c, &mut p.a, 5, &mut sent, TOTAL);
    }
    // The receive buffer (64 KiB) and the send buffer (64 KiB) are full; nothing more
    // was taken.
    let rx_cap = p.b.rx_buffer_size() as u64;
    let tx_cap = p.a.tx_buffer_size() as u64;
    assert_eq!(s.recv_queue(&p.b) as u64, rx_cap);
    assert_eq!(c.send_queue(&p.a) as u64, tx_cap);
    assert_eq!(sent, got + rx_cap + tx_cap);
    assert_eq!(c.write(&mut p.a, b"more"), Err(Error::WouldBlock));
    assert_eq!(c.state(&p.a), State::Established);
    assert_eq!(c.error(&p.a), None);
    assert!(
        seen.lock().unwrap().b_zero_windows > 0,
        "no zero window sent"
    );
    let probes = p.a.stats().tcp.window_probes;
    assert!(probes >= 5, "{probes} window probes in ten minutes");
    // The reader resumes: everything arrives.
    let limit = p.now + Duration::from_secs(120);
    let mut eof = false;
    while !eof {
        pump_write(&mut c, &mut p.a, 5, &mut sent, TOTAL);
        if sent == TOTAL {
            c.shutdown_write(&mut p.a).unwrap();
        }
        eof = common::pump_read(&mut s, &mut p.b, 5, &mut got).unwrap();
        assert!(
            p.step(limit),
            "stalled at {got} bytes after the reader resumed"
        );
    }
    assert_eq!(got, TOTAL);
    assert_eq!(p.a.stats().tcp.timed_out, 0);
    c.close(&mut p.a);
    s.close(&mut p.b);
    listener.close(&mut p.b);
    let end = p.now + Duration::from_secs(120);
    while p.a.in_use() + p.b.in_use() > 0 {
        assert!(p.step(end), "slots not freed");
    }
}

// ---------------------------------------------------------------- resources

/// Every connection slot in use: `connect` says `Exhausted(Slots)`, and a SYN to the
/// listener is dropped and counted, with SYN cookies on or off — as Linux drops a SYN it
/// cannot take, so that the client retries rather than completing a handshake that is
/// then reset. The connections that hold the slots keep working, and as soon as one slot
/// frees, `connect` works again.
#[test]
fn every_slot_busy() {
    for cookies in [true, false] {
        let mut m = HeapStorage::new(4, 1, 4096, 4096);
        let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.syn_cookies = cookies));
        let l = t.stack.listen(STACK_PORT, 8).unwrap();
        // Two passive connections and two active ones fill the table.
        let mut held = Vec::new();
        for (i, sport) in [40001u16, 40002].into_iter().enumerate() {
            let (iss, pseq) = t.handshake_passive_from(sport, 1000 * i as u32 + 1000);
            held.push((l.accept(&mut t.stack).unwrap().0, sport, iss + 1u32, pseq));
        }
        for dport in [7001u16, 7002] {
            let remote = std::net::SocketAddrV4::new(PEER_IP, dport);
            let s = t.stack.connect(remote.into()).unwrap();
            t.poll();
            let syn = t.recv().expect("SYN");
            t.send(Seg {
                src_port: dport,
                dst_port: syn.src_port,
                flags: TcpFlags::SYN | TcpFlags::ACK,
                seq: SeqNum(9000),
                ack: syn.seq + 1u32,
                ..Default::default()
            });
            t.expect(seg!(ACK, ack = 9001));
            held.push((s, 0, syn.seq + 1u32, SeqNum(9001)));
        }
        assert_eq!(t.stack.in_use(), 4);
        let remote = std::net::SocketAddrV4::new(PEER_IP, 7003);
        let full = Some(Error::Exhausted(Capacity::Slots));
        assert_eq!(t.stack.connect(remote.into()).err(), full);
        assert_eq!(t.stack.connect_from(6000, remote.into()).err(), full);
        // A new SYN to the listener: dropped, no cookie, no slot.
        t.send(seg!(SYN, seq = 50_000, sport = 40100, mss = 1460));
        t.expect_none();
        assert_eq!(t.stack.stats().tcp.syn_dropped, 1);
        assert_eq!(t.stack.stats().tcp.syncookies_sent, 0);
        assert_eq!(t.stack.in_use(), 4);
        // The connections holding the slots still carry data.
        let (s0, sport, snd, _) = &mut held[0];
        s0.write(&mut t.stack, b"still here").unwrap();
        t.poll();
        let d = t.expect(Seg {
            flags: TcpFlags::ACK | TcpFlags::PSH,
            seq: *snd,
            data: b"still here".to_vec(),
            ..Default::default()
        });
        assert_eq!(d.dst_port, *sport);
        // One slot frees: connect works again.
        let (s, ..) = held.pop().unwrap();
        s.abort(&mut t.stack);
        t.poll();
        t.drain();
        assert_eq!(t.stack.in_use(), 3);
        assert!(t.stack.connect(remote.into()).is_ok());
        assert_eq!(t.stack.in_use(), 4);
    }
}

/// A full handshake backlog with room in the table: a SYN gets a SYN cookie (RFC 4987
/// §3.6). If the cookie's ACK comes back when no slot is free after all, it is dropped,
/// not reset (Linux, `tcp_abort_on_overflow` off); the client's retransmission carries
/// the same cookie and completes the connection once a slot is free.
#[test]
fn cookie_for_a_full_backlog_waits_for_a_slot() {
    let mut m = HeapStorage::new(2, 1, 4096, 4096);
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.syn_cookies = true));
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    // One handshake in progress fills the backlog of 1.
    t.send(seg!(SYN, seq = 1000, sport = 40001, mss = 1460));
    t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(t.stack.in_use(), 1);
    // The next SYN gets a cookie and no slot.
    t.send(seg!(SYN, seq = 50_000, sport = 40100, mss = 1460));
    let ck = t.expect(seg!(SYN | ACK, ack = 50_001));
    assert_eq!(t.stack.stats().tcp.syncookies_sent, 1);
    assert_eq!(t.stack.in_use(), 1);
    // Meanwhile our own connection takes the last slot.
    let remote = std::net::SocketAddrV4::new(PEER_IP, 7001);
    let mine = t.stack.connect(remote.into()).unwrap();
    t.poll();
    t.recv().expect("SYN");
    assert_eq!(t.stack.in_use(), 2);
    // The cookie returns with data into a full table: dropped, nothing answered.
    let mut ack = seg!(ACK, seq = 50_001, ack = ck.seq + 1u32, sport = 40100);
    ack.data = b"hello".to_vec();
    ack.flags |= TcpFlags::PSH;
    t.send(ack.clone());
    t.expect_none();
    assert_eq!(t.stack.in_use(), 2);
    // A slot frees; the client's retransmission completes the connection.
    mine.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 1);
    t.send(ack);
    assert_eq!(t.stack.stats().tcp.syncookies_ok, 2);
    let (mut s, peer) = l.accept(&mut t.stack).unwrap();
    assert_eq!(peer.port(), 40100);
    let mut buf = [0; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
}

// ---------------------------------------------------------------- malformed options

/// The raw bytes of `s` with `opts` as its option list (padded with EOL to a multiple of
/// four) and a data offset to match.
fn with_raw_options(s: &Seg, opts: &[u8]) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: s.src_port,
        dst_port: s.dst_port,
        seq: s.seq,
        ack: s.ack,
        flags: s.flags,
        window: s.win,
        options: TcpOptions::NONE,
    };
    let mut h = vec![0u8; 20];
    repr.emit(&mut h).unwrap();
    let mut o = opts.to_vec();
    while o.len() % 4 != 0 {
        o.push(0);
    }
    h[12] = (((20 + o.len()) / 4) as u8) << 4 | (h[12] & 0x0f);
    h.extend_from_slice(&o);
    h.extend_from_slice(&s.data);
    h
}

/// Option lists no parser can walk: a length of 0 (would loop forever), of 1 (shorter
/// than its own kind and length bytes), or one that runs past the header; also a kind
/// byte with its length byte missing.
const BROKEN_OPTIONS: [&[u8]; 5] = [
    &[2, 0, 5, 0xb4],
    &[8, 1, 0, 0],
    &[1, 1, 2, 4, 5, 0xb4, 3, 9, 7],
    &[4, 2, 8, 12, 0, 0, 0, 1, 0, 0],
    &[1, 1, 1, 30],
];

/// RFC 9293 §3.1 (MUST-7: "be prepared to handle an illegal option length"): a segment
/// whose option list cannot be walked is dropped and counted — on an established
/// connection its data is not taken and nothing is answered, and the connection goes on
/// as if it never came.
#[test]
fn broken_option_lists_are_dropped_and_counted() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    for (k, opts) in BROKEN_OPTIONS.iter().enumerate() {
        let mut s = o.seg(TcpFlags::ACK | TcpFlags::PSH, o.snd, 65535);
        s.data = b"not for you".to_vec();
        t.send_raw_tcp(&with_raw_options(&s, opts), false);
        t.expect_none();
        assert_eq!(
            t.stack.stats().tcp.dropped_bad_options,
            k as u64 + 1,
            "options {opts:?}"
        );
    }
    assert!(o.read_all(&mut t).is_empty());
    // The connection is unharmed: the real data at the same sequence number is taken.
    let d = o.data(o.snd, b"for you");
    t.send(d);
    assert_eq!(o.read_all(&mut t), b"for you");
    assert_eq!(o.conn(&t).state(), State::Established);
    assert_eq!(t.stack.stats().tcp.resets, 0);
}

/// The same broken option lists on SYNs to a listener: no SYN-ACK, no slot, no RST.
/// A SYN whose options can be walked but whose MSS option has the wrong length (3 or 6
/// bytes) is accepted with that option ignored, as Linux and BSD do: the MSS is then
/// the default 536.
#[test]
fn broken_options_on_a_syn() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    for opts in BROKEN_OPTIONS {
        let s = seg!(SYN, seq = 1000);
        t.send_raw_tcp(&with_raw_options(&s, opts), false);
        t.expect_none();
    }
    assert_eq!(t.stack.stats().tcp.dropped_bad_options, 5);
    assert_eq!(t.stack.in_use(), 0);
    for (k, bad_mss) in [&[2u8, 3, 5][..], &[2, 6, 5, 0xb4, 0, 0]]
        .iter()
        .enumerate()
    {
        let sport = 41000 + k as u16;
        let s = seg!(SYN, seq = 1000, sport = sport);
        t.send_raw_tcp(&with_raw_options(&s, bad_mss), false);
        let sa = t.expect(seg!(SYN | ACK, ack = 1001));
        t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1u32, sport = sport));
        let mut c = l.accept(&mut t.stack).unwrap().0;
        assert_eq!(c.connection(&t.stack).unwrap().mss(), 536);
        c.write(&mut t.stack, &[7; 1000]).unwrap();
        t.poll();
        let first = t.recv().unwrap();
        assert_eq!(first.data.len(), 536);
        t.drain();
        c.abort(&mut t.stack);
        t.poll();
        t.drain();
    }
}

/// A SYN-ACK whose option list cannot be walked, answering our active open, is dropped
/// like any other such segment: no ACK, no connection, the SYN is sent again when its
/// timer fires, and a proper SYN-ACK then completes the handshake.
#[test]
fn broken_options_on_a_syn_ack() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let (s, syn) = t.connect_syn();
    let synack = |seq: u32| Seg {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        seq: SeqNum(seq),
        ack: syn.seq + 1u32,
        ..Default::default()
    };
    for opts in BROKEN_OPTIONS {
        t.send_raw_tcp(&with_raw_options(&synack(7000), opts), false);
        t.expect_none();
    }
    assert_eq!(t.stack.stats().tcp.dropped_bad_options, 5);
    assert_eq!(s.state(&t.stack), State::SynSent);
    let (_, again) = next_send(&mut t);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].flags, again[0].seq), (TcpFlags::SYN, syn.seq));
    t.send(synack(7000));
    t.expect(seg!(ACK, seq = syn.seq + 1u32, ack = 7001));
    assert_eq!(s.state(&t.stack), State::Established);
}

// ---------------------------------------------------------------- lying SACK and timestamps

/// SACK blocks that lie: reversed, reaching past anything sent, or wrapping half the
/// sequence space. They are ignored — nothing is marked as held by the receiver, so
/// after a timeout every unacknowledged byte is sent again — and the connection is
/// unharmed.
#[test]
fn lying_sack_blocks_are_ignored() {
    let mut m = mem(16384, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_sack(1000), Duration::from_millis(100), 65535);
    o.write(&mut t, 5000);
    assert_eq!(drain(&mut t).len(), 5);
    let base = o.snd;
    let lies: [&[(u32, u32)]; 5] = [
        // Reversed.
        &[(4000, 2000)],
        // Past SND.MAX.
        &[(2000, 9000)],
        &[(3000, 5001), (1500, 1000)],
        // Below SND.UNA, and not first (so no D-SACK).
        &[(4000, 3000), (0, 500)],
        // Half the sequence space wide, ending past SND.MAX.
        &[(2000, 2000 + (1 << 31))],
    ];
    t.advance(Duration::from_millis(100));
    // The first segment is ACKed; each lie comes with a window update (no dupack).
    for (k, lie) in lies.iter().enumerate() {
        let mut a = o.ack(base + 1000, 60000 + k as u16);
        for &(l, r) in *lie {
            a.opts.sack.push(base + l, base + r);
        }
        t.send(a);
    }
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 0);
    // The retransmission timer fires: every byte not cumulatively acknowledged goes
    // again, none skipped as "SACKed"; the peer acknowledges each as it comes.
    let (_, mut segs) = next_send(&mut t);
    let mut acked = 1000u32;
    let mut resent = Vec::new();
    loop {
        for (off, len) in spans(&segs, base) {
            resent.push(off);
            if off == acked {
                acked += len as u32;
            }
        }
        if acked == 5000 {
            break;
        }
        t.send(o.ack(base + acked, 65535));
        segs = drain(&mut t);
        if segs.is_empty() {
            segs = next_send(&mut t).1;
        }
    }
    resent.sort();
    resent.dedup();
    assert_eq!(resent, vec![1000, 2000, 3000, 4000]);
    t.send(o.ack(base + 5000, 65535));
    assert_eq!(o.conn(&t).in_flight(), 0);
    assert_eq!(o.conn(&t).state(), State::Established);
}

/// Timestamps echoing the future (RFC 7323 §4): a TSecr ahead of our clock, or zero,
/// would give a negative or meaningless RTT; such samples are not taken, the RTT and
/// RTO stay what the real round trips (100 ms) make them, and the data flows.
#[test]
fn timestamps_echoing_the_future_are_not_rtt_samples() {
    let mut m = mem(16384, 65536);
    let mut t = Script::new(&mut m, script_config());
    let opts = TcpOptions {
        mss: Some(1000),
        timestamps: Some((100, 0)),
        ..TcpOptions::NONE
    };
    let mut o = open_passive_rtt(&mut t, opts, Duration::from_millis(100), 65535);
    let srtt0 = o.conn(&t).srtt().expect("handshake RTT");
    let mss = o.conn(&t).mss() as u32;
    let mut tsval = 1000u32;
    let mut acked = 0u32;
    for round in 0..20u32 {
        // Three segments; only the first is timed by sequence number, so the ACKs of
        // the other two can only be timed by their echoed timestamps.
        o.write(&mut t, 3 * mss as usize);
        let segs = drain(&mut t);
        assert_eq!(segs.len(), 3);
        for (k, seg) in segs.iter().enumerate() {
            let (ts, _) = seg.opts.timestamps.unwrap();
            t.advance(Duration::from_millis(if k == 0 { 100 } else { 1 }));
            acked += mss;
            tsval += 10;
            let mut a = o.ack(o.snd + acked, 65535);
            let ecr = match (round + k as u32) % 3 {
                0 => ts.wrapping_add(1_000_000),
                1 => ts.wrapping_add(1 << 31),
                _ => 0,
            };
            a.opts.timestamps = Some((tsval, ecr));
            t.send(a);
            t.expect_none();
        }
    }
    let c = o.conn(&t);
    assert_eq!(c.in_flight(), 0);
    let srtt = c.srtt().unwrap();
    assert!(
        srtt >= Duration::from_millis(90) && srtt <= Duration::from_millis(110),
        "SRTT {srtt:?} (after the handshake {srtt0:?})"
    );
    let rto = c.rto(&tidytcp::tcp::TcpConfig::default());
    assert!(rto <= Duration::from_millis(500), "RTO {rto:?}");
}

// ---------------------------------------------------------------- lying and silent peers

/// Copies of one duplicate ACK — made by a duplicating network, or sent on purpose — are
/// one duplicate ACK when SACK is in use (RFC 6675 §2: a duplicate ACK is one that SACKs
/// data not SACKed before; Linux and FreeBSD count them so): three copies do not fake a
/// loss and trigger a fast retransmit, three ACKs with new SACK information do.
#[test]
fn copies_of_one_dupack_do_not_fake_a_loss_with_sack() {
    let mut m = mem(16384, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_sack(1000), Duration::from_millis(100), 65535);
    o.write(&mut t, 6000);
    assert_eq!(drain(&mut t).len(), 6);
    let base = o.snd;
    t.advance(Duration::from_millis(100));
    t.send(o.ack(base + 1000, 65535));
    let dupack = |r: u32| {
        let mut a = o.ack(base + 1000, 65535);
        a.opts.sack.push(base + 2000, base + r);
        a
    };
    for _ in 0..4 {
        t.send(dupack(3000));
    }
    t.expect_none();
    let st = t.stack.stats().tcp;
    assert_eq!((st.dup_acks, st.fast_retransmits), (1, 0));
    // Each with something new: the third one starts the recovery.
    t.send(dupack(4000));
    t.expect_none();
    t.send(dupack(5000));
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 1);
    let rtx = drain(&mut t);
    assert_eq!(spans(&rtx, base).first(), Some(&(1000, 1000)), "{rtx:?}");
}

/// A peer that acknowledges data never sent, over and over, during a transfer: each such
/// ACK is dropped (its data too) and counted, the answers to them are rate limited
/// (RFC 5961 §7), SND.UNA never moves past what was sent, and the real ACKs that follow
/// still work.
#[test]
fn acks_of_data_never_sent_are_dropped_and_rate_limited() {
    let mut m = mem(16384, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 65535);
    o.write(&mut t, 3000);
    assert_eq!(drain(&mut t).len(), 3);
    let mut answers = 0;
    for k in 0..200u32 {
        let mut a = o.ack(o.snd + 3001 + k * 977, 65535);
        a.data = vec![0xab; 10];
        t.send(a);
        answers += drain(&mut t).len();
        assert_eq!(o.conn(&t).in_flight(), 3000);
    }
    let st = t.stack.stats().tcp;
    assert_eq!(st.dropped_bad_ack, 200);
    assert!(
        answers <= 10,
        "{answers} answers to 200 bad ACKs in one instant"
    );
    assert!(o.read_all(&mut t).is_empty(), "data of a bad ACK was taken");
    // A second later the budget is back; the real ACK is taken.
    t.advance(Duration::from_secs(1));
    drain(&mut t);
    t.send(o.ack(o.snd + 3000, 65535));
    assert_eq!(o.conn(&t).in_flight(), 0);
    let d = o.data(o.snd + 3000, b"real");
    t.send(d);
    assert_eq!(o.read_all(&mut t), b"real");
}

/// A peer that shrinks its window to zero with 4000 bytes in flight beyond the new right
/// edge (RFC 9293 §3.8.6: strongly discouraged, but a sender must cope): no data goes
/// into the closed window, the sender probes it as long as it stays shut (answered
/// probes keep the connection up), and when it opens everything not acknowledged is
/// sent again, once, in order.
#[test]
fn window_shrunk_to_zero_with_data_in_flight() {
    let mut m = mem(16384, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 5000);
    o.write(&mut t, 8000);
    assert_eq!(spans(&drain(&mut t), o.snd).len(), 5);
    t.advance(Duration::from_millis(100));
    t.send(o.ack(o.snd + 1000, 0));
    t.expect_none();
    let t0 = t.now;
    let mut probes = 0;
    while t.now - t0 < Duration::from_secs(300) {
        let (_, segs) = next_send(&mut t);
        for s in &segs {
            assert!(s.data.len() <= 1, "data sent into a closed window: {s:?}");
            assert_eq!(s.seq, o.snd + 1000, "probe not at SND.UNA");
            probes += 1;
        }
        t.send(o.ack(o.snd + 1000, 0));
        drain(&mut t);
    }
    assert!(probes >= 5, "{probes} probes in five minutes");
    assert_eq!(o.s.error(&t.stack), None);
    // The window opens: bytes 1000..8000 follow, in order, once each.
    let mut acked = 1000u32;
    t.send(o.ack(o.snd + acked, 4000));
    let mut got = Vec::new();
    let limit = t.now + Duration::from_secs(30);
    let mut pending = drain(&mut t);
    while acked < 8000 {
        if pending.is_empty() {
            pending = next_deadline(&mut t).1;
        }
        for s in std::mem::take(&mut pending) {
            if s.data.is_empty() {
                continue;
            }
            assert_eq!(s.seq, o.snd + acked, "out of order: {s:?}");
            acked += s.data.len() as u32;
            got.extend_from_slice(&s.data);
            t.send(o.ack(o.snd + acked, 4000));
        }
        pending.extend(drain(&mut t));
        assert!(t.now < limit, "stalled at {acked}");
    }
    assert_eq!(got, bytes(8000)[1000..]);
}

/// A zero window held forever by a peer that answers every probe: RFC 9293 §3.8.6.1
/// (MUST-37) keeps the connection open for as long as the user wants it — but not past
/// a user timeout (RFC 5482: data stayed unacknowledged that long; Linux ends such a
/// connection too), which then ends it with `TimedOut`.
#[test]
fn zero_window_forever_ends_at_the_user_timeout() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 2000);
    o.s.set_user_timeout(&mut t.stack, Some(Duration::from_secs(120)))
        .unwrap();
    o.write(&mut t, 5000);
    drain(&mut t);
    t.advance(Duration::from_millis(100));
    t.send(o.ack(o.snd + 2000, 0));
    let t0 = t.now;
    while o.s.error(&t.stack).is_none() {
        let (_, segs) = next_deadline(&mut t);
        if !segs.is_empty() && o.s.error(&t.stack).is_none() {
            t.send(o.ack(o.snd + 2000, 0));
        }
        assert!(
            t.now - t0 <= Duration::from_secs(120 + 61),
            "still open at {:?}",
            t.now - t0
        );
    }
    assert!(t.now - t0 >= Duration::from_secs(120), "ended early");
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    assert_eq!(o.s.write(&mut t.stack, b"x"), Err(Error::TimedOut));
}

/// The same peer after our user has closed the connection (FIN queued behind data the
/// peer will never take): nobody will ever read the outcome, so the connection no
/// longer gets the indefinite patience of MUST-37 (RFC 9293 §3.8.6.1 leaves this to
/// "resource management concerns", RFC 6429): it probes with back-off as usual, and once
/// as many probes as retransmissions are allowed have gone unfruitful the slot is
/// freed, as Linux frees orphaned connections stuck in persist. Otherwise a peer could
/// pin every slot for ever.
#[test]
fn zero_window_forever_after_close_frees_the_slot() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 2000);
    o.write(&mut t, 5000);
    drain(&mut t);
    t.advance(Duration::from_millis(100));
    t.send(o.ack(o.snd + 2000, 0));
    let Open { s, l, .. } = o;
    s.close(&mut t.stack);
    l.unwrap().close(&mut t.stack);
    t.poll();
    let t0 = t.now;
    let mut probes = 0;
    while t.stack.in_use() > 0 {
        let (_, segs) = next_deadline(&mut t);
        for p in &segs {
            assert!(
                p.data.len() <= 1 && !p.flags.contains(TcpFlags::FIN),
                "{p:?}"
            );
            probes += 1;
        }
        if !segs.is_empty() && t.stack.in_use() > 0 {
            t.send(Seg {
                seq: SeqNum(1001),
                ..seg!(ACK, ack = segs[0].seq, win = 0)
            });
        }
        assert!(
            t.now - t0 <= Duration::from_secs(20 * 60),
            "slot still held at {:?}",
            t.now - t0
        );
    }
    let max = u32::from(tidytcp::tcp::TcpConfig::default().max_retransmits);
    assert!(probes as u32 >= max, "{probes} probes");
}

/// A peer that completes the handshake and then never acknowledges anything: the user's
/// writes fill the send buffer (`WouldBlock`), the retransmissions back off, and after
/// the retransmission limit the connection ends with `TimedOut` — reported by `write`
/// and `read` — and a RST; closing the handle then frees the slot at once.
#[test]
fn a_peer_that_never_acks() {
    let mut m = mem(4096, 8192);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 65535);
    let mut written = 0;
    loop {
        match o.s.write(&mut t.stack, &[0x5a; 1000]) {
            Ok(n) => written += n,
            Err(e) => {
                assert_eq!(e, Error::WouldBlock);
                break;
            }
        }
    }
    assert_eq!(written, 8192);
    let t0 = t.now;
    let mut rst = None;
    while o.s.error(&t.stack).is_none() {
        let (_, segs) = next_deadline(&mut t);
        rst = segs
            .into_iter()
            .find(|s| s.flags.contains(TcpFlags::RST))
            .or(rst);
        assert!(t.now - t0 < Duration::from_secs(30 * 60), "never gave up");
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    let rst = rst.expect("no RST when giving up");
    assert_eq!(rst.seq, o.snd + 8192);
    assert_eq!(o.s.write(&mut t.stack, b"x"), Err(Error::TimedOut));
    let mut buf = [0u8; 8];
    assert_eq!(o.s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    let Open { s, l, .. } = o;
    s.close(&mut t.stack);
    l.unwrap().close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// A checksum-failing segment that overlaps bytes held out of order, with other bytes in
/// the overlap, changes nothing: the fused receive path writes only into free window
/// space, never over held data, so what a later good segment completes is still the
/// first copy of every byte (see `tidytcp::buf`). Bytes already in order never change
/// either.
#[test]
fn bad_checksum_overlap_leaves_held_and_delivered_bytes_alone() {
    let mut m = mem(16384, 4096);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    let (port, ack) = (o.port, o.snd);
    let at = |off: u32, len: usize, fill: u8| Seg {
        dst_port: port,
        flags: TcpFlags::ACK,
        seq: base + off,
        ack,
        data: vec![fill; len],
        ..Default::default()
    };
    // In order, unread: 0..500 'a'. Held out of order: 1000..2000 'b'.
    t.send(at(0, 500, b'a'));
    t.send(at(1000, 1000, b'b'));
    drain(&mut t);
    // 'X' over all of it and both gaps, one payload bit flipped after the checksum was
    // computed: staged into the gaps, then dropped at the checksum.
    let mut raw = with_raw_options(&at(0, 2500, b'X'), &[]);
    let mut sum = pseudo_header(PEER_IP, STACK_IP, 6, raw.len() as u16);
    sum.add_bytes(&raw);
    set_checksum(&mut raw, sum.finish());
    raw[20 + 1200] ^= 0x10;
    t.send_raw_tcp(&raw, true);
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.dropped_checksum, 1);
    // The good retransmission with 'c' fills the gaps; only the gaps take its bytes.
    t.send(at(0, 2500, b'c'));
    o.rcv = base + 2500;
    let mut want = vec![b'a'; 500];
    want.extend(vec![b'c'; 500]);
    want.extend(vec![b'b'; 1000]);
    want.extend(vec![b'c'; 500]);
    assert_eq!(o.read_all(&mut t), want);
}
