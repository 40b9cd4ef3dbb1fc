//! Two stacks over a `SimLink` in virtual time: a matrix of link faults (loss,
//! duplication, reordering, corruption) with several seeds, the option negotiation
//! matrix, and what SACK buys under loss.
//!
//! Every transfer is checked byte for byte, both ends are closed, and every slot is
//! freed. Each case asserts a bound on the virtual time the transfer took, derived from
//! measurements (`cargo test --release --test sim_matrix -- --nocapture` prints the
//! table) with a margin. Debug builds run fewer seeds than release builds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use tidytcp::drivers::{Direction, DirectionConfig, LinkConfig, LinkStats, SimLink, Verdict};
use tidytcp::socket::TcpStream;
use tidytcp::stack::{Config, Stack, Stats};
use tidytcp::wire::tcp::{TcpPacket, TcpRepr};
use tidytcp::{Duration, Instant};

/// Seeds per cell: fewer in debug builds to keep `cargo test` quick.
const SEEDS: u64 = if cfg!(debug_assertions) { 4 } else { 16 };
/// Seeds for the SACK comparison at 10 % and 30 % loss (a sum over seeds: see
/// `sack_effectiveness`).
const SACK_SEEDS: (u64, u64) = if cfg!(debug_assertions) {
    (40, 80)
} else {
    (96, 160)
};

const MIB: u64 = 1 << 20;

/// One transfer to run.
#[derive(Clone)]
struct Case {
    a: Config,
    b: Config,
    link: LinkConfig,
    seed: u64,
    /// Bytes from the client (A) to the server (B), and back.
    up: u64,
    down: u64,
    /// Give up (fail) after this much virtual time.
    limit: Duration,
}

/// What happened.
struct Outcome {
    /// Both sides had every byte, the end of stream, and had closed their handles.
    done: Instant,
    /// Both stacks had freed every slot (TIME-WAIT over).
    freed: Instant,
    a: Stats,
    b: Stats,
    ab: LinkStats,
    ba: LinkStats,
    /// Options agreed as (client, server) views: (wscale, ts, sack).
    opts: ((bool, bool, bool), (bool, bool, bool)),
    scales: ((u8, u8), (u8, u8)),
    /// TCP payload bytes the client put on the link, and those delivered to B.
    payload_sent_ab: u64,
    payload_delivered_ab: u64,
    /// Every segment delivered in either direction (only when `keep_segments`).
    segments: Vec<TcpRepr>,
    /// Calls to `connect` it took (a handshake can fail when ARP does).
    connects: u32,
}

impl Outcome {
    fn retransmits(&self) -> u64 {
        self.a.tcp.retransmits + self.b.tcp.retransmits
    }
}

/// The TCP header and payload length of an Ethernet/IPv4/TCP frame, if it is one.
fn tcp_of(frame: &[u8]) -> Option<(TcpRepr, usize)> {
    if frame.len() < 34 || frame[12..14] != [8, 0] || frame[14 + 9] != 6 {
        return None;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let seg = ip.get(ihl..total.min(ip.len()))?;
    let p = TcpPacket::new_checked(seg).ok()?;
    let r = TcpRepr::parse(&p).ok()?;
    Some((r, p.payload().len()))
}

fn run(case: &Case, keep_segments: bool) -> Outcome {
    let mut sa = storage();
    let mut sb = storage();
    let mut a = Stack::new(case.a, &mut sa);
    let mut b = Stack::new(case.b, &mut sb);
    let mut link = SimLink::new(case.link, case.seed);
    link.set_logging(true);
    let sent_ab = Arc::new(AtomicU64::new(0));
    let counter = sent_ab.clone();
    link.set_filter(Direction::AtoB, move |f| {
        if let Some((_, n)) = tcp_of(f) {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
        Verdict::Pass
    });
    let mut delivered_ab = 0u64;
    let mut segments = Vec::new();
    let mut now = Instant::ZERO;
    let limit = Instant::ZERO + case.limit;
    let listener = b.listen(5000, 4).unwrap();
    let mut client = Some(a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
    let mut server: Option<tidytcp::socket::TcpStream<'_>> = None;
    let (mut c_sent, mut c_got, mut s_sent, mut s_got) = (0u64, 0u64, 0u64, 0u64);
    let (mut c_eof, mut s_eof, mut c_shut, mut s_shut) = (false, false, false, false);
    let mut opts = None;
    let mut c_opts = None;
    let mut done = None;
    let mut connects = 1u32;
    let mut reconnect_at = None;
    let seed = case.seed;
    loop {
        let alive = step(&mut now, &mut a, &mut b, &mut link, limit);
        for d in link.take_log() {
            if let Some((r, n)) = tcp_of(&d.frame) {
                if d.dir == Direction::AtoB {
                    delivered_ab += n as u64;
                }
                if keep_segments {
                    segments.push(r);
                }
            }
        }
        if !alive {
            if let Some(c) = client.as_ref() {
                eprintln!("client: {:?} {:#?}", c.error(&a), c.connection(&a));
            }
            if let Some(s) = server.as_ref() {
                eprintln!("server: {:#?}", s.connection(&b));
            }
        }
        assert!(
            alive,
            "seed {seed}: not done by {limit:?}: client sent {c_sent} got {c_got}, server sent \
             {s_sent} got {s_got}; a={:?} b={:?} link={link:?}",
            a.sockets().collect::<Vec<_>>(),
            b.sockets().collect::<Vec<_>>()
        );
        if server.is_none() {
            if let Ok((s, _)) = listener.accept(&mut b) {
                server = Some(s);
            }
        }
        if c_opts.is_none() && client.as_ref().is_some_and(|c| c.error(&a).is_some()) {
            // The handshake failed: ARP for the peer went unanswered three times (13 %
            // of the time at 30 % loss each way), and connect reports HostUnreachable as
            // Linux's does. An application tries again later (after the ARP cache's
            // 20 s hold of the failed entry); so does this one.
            let c = client.take().unwrap();
            assert_eq!(
                c.error(&a),
                Some(tidytcp::Error::HostUnreachable),
                "seed {seed}"
            );
            c.close(&mut a);
            (c_sent, c_got, c_eof, c_shut) = (0, 0, false, false);
            connects += 1;
            assert!(connects <= 5, "seed {seed}: five failed connects");
            reconnect_at = Some(now + Duration::from_secs(21));
        }
        if reconnect_at.is_some_and(|t| now >= t) {
            reconnect_at = None;
            client = Some(a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
        }
        if let Some(c) = client.as_mut() {
            if c_opts.is_none() {
                if let Ok(conn) = c.connection(&a) {
                    if conn.state().is_synchronized() {
                        c_opts = Some((conn.options(), conn.window_scales()));
                    }
                }
            }
            pump_write(c, &mut a, seed * 2 + 1, &mut c_sent, case.up);
            if c_sent == case.up && !c_shut {
                c.shutdown_write(&mut a).unwrap();
                c_shut = true;
            }
            if !c_eof {
                c_eof = match pump_read(c, &mut a, seed * 2 + 2, &mut c_got) {
                    Ok(e) => e,
                    Err(e) => panic!(
                        "seed {seed}: client failed with {e:?} at {now:?}: {:#?}",
                        c.connection(&a)
                    ),
                };
            }
        }
        if let Some(s) = server.as_mut() {
            if opts.is_none() {
                let conn = s.connection(&b).unwrap();
                opts = Some((conn.options(), conn.window_scales()));
            }
            pump_write(s, &mut b, seed * 2 + 2, &mut s_sent, case.down);
            if s_sent == case.down && !s_shut {
                s.shutdown_write(&mut b).unwrap();
                s_shut = true;
            }
            if !s_eof {
                s_eof = pump_read(s, &mut b, seed * 2 + 1, &mut s_got).unwrap();
            }
        }
        if c_eof && c_shut && client.is_some() {
            assert_eq!(c_got, case.down, "seed {seed}: client got");
            client.take().unwrap().close(&mut a);
        }
        if s_eof && s_shut && server.is_some() {
            assert_eq!(s_got, case.up, "seed {seed}: server got");
            server.take().unwrap().close(&mut b);
        }
        if done.is_none() && client.is_none() && reconnect_at.is_none() && server.is_none() {
            done = Some(now);
        }
        if done.is_some() && a.in_use() == 0 && b.in_use() == 0 {
            break;
        }
    }
    listener.close(&mut b);
    assert_eq!(a.in_use() + b.in_use(), 0);
    assert_eq!(b.listeners_in_use(), 0);
    let (c_opts, c_scales) = c_opts.expect("client never synchronized");
    let (s_opts, s_scales) = opts.expect("server never accepted");
    Outcome {
        done: done.unwrap(),
        freed: now,
        a: a.stats(),
        b: b.stats(),
        ab: link.stats(Direction::AtoB),
        ba: link.stats(Direction::BtoA),
        opts: (c_opts, s_opts),
        scales: (c_scales, s_scales),
        payload_sent_ab: sent_ab.load(Ordering::Relaxed),
        payload_delivered_ab: delivered_ab,
        segments,
        connects,
    }
}

fn dir(loss: f64, dup: f64, reorder: f64, corrupt: f64) -> DirectionConfig {
    DirectionConfig {
        loss,
        duplicate: dup,
        reorder,
        reorder_delay: Duration::from_millis(3),
        corrupt,
        // One flipped bit: always caught by the Internet checksum. (Two flips in the
        // same bit position of different 16-bit words cancel out in the ones'
        // complement sum; the Ethernet FCS is what catches those on a real link.)
        corrupt_bits: 1,
        ..clean(5)
    }
}

/// The configuration of stack `last`. At 30 % loss each way (ARP included, whose
/// failed entries are held down for 20 s), twelve retransmissions in a row fail often
/// enough that BSD's limit of 12 (the default) ends about one 1 MiB transfer in a
/// hundred with `TimedOut`, as it should; these runs test the transfer, not the give-up
/// policy (tests/tcp_rto.rs does), so they use Linux's default of 15 (tcp_retries2),
/// with which 200 seeds all complete.
fn heavy_loss_config(last: u8, loss: f64) -> Config {
    let mut c = config(last);
    if loss >= 0.2 {
        c.tcp.max_retransmits = 15;
    }
    c
}

/// One cell of the fault matrix: 1 MiB each way for every seed; prints a table row per
/// run and asserts the bound on virtual time.
fn cell(loss: f64, dup: f64, reorder: f64, corrupt: f64, bound: Duration) {
    println!(
        "{:>5} {:>5} {:>7} {:>7} {:>4} {:>12} {:>12} {:>8} {:>8} {:>4} {:>6}",
        "loss",
        "dup",
        "reorder",
        "corrupt",
        "seed",
        "done (s)",
        "freed (s)",
        "rexmits",
        "chk-drop",
        "conn",
        "undone"
    );
    for seed in 0..SEEDS {
        let mut link = LinkConfig::symmetric(dir(loss, dup, reorder, corrupt));
        link.pass_corrupted = corrupt > 0.0;
        let case = Case {
            a: heavy_loss_config(1, loss),
            b: heavy_loss_config(2, loss),
            link,
            seed,
            up: MIB,
            down: MIB,
            limit: bound + Duration::from_secs(600),
        };
        let o = run(&case, false);
        let done = o.done - Instant::ZERO;
        let chk = o.a.tcp.dropped_checksum
            + o.b.tcp.dropped_checksum
            + u64::from(o.a.ip.bad_checksum)
            + u64::from(o.b.ip.bad_checksum);
        let undone = o.a.tcp.spurious_recoveries + o.b.tcp.spurious_recoveries;
        println!(
            "{:>5.2} {:>5.2} {:>7.2} {:>7.2} {:>4} {:>12.3} {:>12.3} {:>8} {:>8} {:>4} {:>6}",
            loss,
            dup,
            reorder,
            corrupt,
            seed,
            done.total_micros() as f64 / 1e6,
            (o.freed - Instant::ZERO).total_micros() as f64 / 1e6,
            o.retransmits(),
            chk,
            o.connects,
            undone
        );
        assert!(
            done <= bound,
            "loss {loss} dup {dup} reorder {reorder} corrupt {corrupt} seed {seed}: \
             took {done:?}, bound {bound:?}"
        );
        // TIME-WAIT (2·MSL = 60 s) is all that may follow, after the FIN exchange, which
        // a lossy link may make retransmit a few times (seed 13 at 30 % loss: 2.4 s).
        assert!(
            o.freed - o.done <= Duration::from_secs(61 + if loss > 0.1 { 5 } else { 0 }),
            "slots freed late"
        );
        if loss == 0.0 && dup == 0.0 && reorder == 0.0 && corrupt == 0.0 {
            assert_eq!(o.retransmits(), 0, "retransmissions on a perfect link");
        }
        if corrupt > 0.0 {
            assert!(o.ab.corrupted + o.ba.corrupted > 0);
            assert!(
                chk > 0,
                "corrupted frames reached the stacks and were caught"
            );
        }
        if dup > 0.0 {
            assert!(o.ab.duplicated + o.ba.duplicated > 0);
        }
        if reorder > 0.0 {
            assert!(o.ab.reordered + o.ba.reordered > 0);
        }
        if reorder > 0.0 && loss == 0.0 && dup == 0.0 && corrupt == 0.0 {
            // Nothing is lost: every fast recovery is spurious, and timestamps show it
            // whenever the retransmission left a millisecond after the original.
            let recoveries = o.a.tcp.fast_retransmits + o.b.tcp.fast_retransmits;
            assert!(undone > 0 || recoveries == 0, "no recovery undone");
            assert!(undone <= recoveries);
        }
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// Bounds: the worst case measured over the 16 release seeds (the table), times about
// three.

#[test]
fn clean_link() {
    // Measured: 0.285 s.
    cell(0.0, 0.0, 0.0, 0.0, secs(1));
}

#[test]
fn loss_1_percent() {
    // Measured: 0.63–1.17 s (RFC 6675 alone, without RACK-TLP: 0.70–1.65 s).
    cell(0.01, 0.0, 0.0, 0.0, secs(5));
}

#[test]
fn loss_10_percent() {
    // Measured: 2.7–5.2 s (RFC 6675 alone: 7.7–12.8 s).
    cell(0.10, 0.0, 0.0, 0.0, secs(40));
}

#[test]
fn loss_20_percent() {
    // The loss benchmark's setting (scripts/relay.sh, issue 14), in virtual time: every
    // seed must finish. Measured: 7.6–22.3 s, median 11.4 s (before the retransmission
    // log, F-RTO and the D-SACK undo: 7.6–20.0 s, median 14.4 s).
    cell(0.20, 0.0, 0.0, 0.0, secs(90));
}

#[test]
fn loss_30_percent() {
    // Measured: 32–462 s over these seeds (RFC 6675 alone: 83–323 s; 787 s at worst over
    // 200 others): long chains of backed-off retransmission timeouts, which RACK-TLP
    // shortens on most seeds and cannot prevent when the retransmissions and probes are
    // lost too.
    cell(0.30, 0.0, 0.0, 0.0, secs(1200));
}

#[test]
fn duplication() {
    // Measured: 0.285 s, no retransmissions.
    cell(0.0, 0.10, 0.0, 0.0, secs(1));
}

#[test]
fn reordering() {
    // Measured: 0.35–0.95 s, with 29–40 of the fast recoveries each run found spurious
    // and undone (before the undo: 1.15–1.63 s).
    cell(0.0, 0.0, 0.10, 0.0, secs(4));
}

#[test]
fn corruption() {
    // Measured: 2.9–6.7 s.
    cell(0.0, 0.0, 0.0, 0.05, secs(20));
}

#[test]
fn everything_at_once() {
    // Measured: 3.3–5.9 s (before the undo of spurious recoveries: 2.6–6.4 s).
    cell(0.05, 0.05, 0.05, 0.05, secs(45));
}

// ---------------------------------------------------------------- option matrix

/// Each of window scaling, timestamps and SACK on or off in each stack's
/// configuration (64 combinations): the connection agrees on exactly what both offer,
/// both ends see the same, and 256 KiB each way arrives over a link losing 1 %.
#[test]
fn option_negotiation_matrix() {
    let mut runs = 0;
    for bits in 0u32..64 {
        let on = |k: u32| bits & (1 << k) != 0;
        let mut a = config(1);
        let mut b = config(2);
        (a.tcp.window_scaling, a.tcp.timestamps, a.tcp.sack) = (on(0), on(1), on(2));
        (b.tcp.window_scaling, b.tcp.timestamps, b.tcp.sack) = (on(3), on(4), on(5));
        let case = Case {
            a,
            b,
            link: LinkConfig::symmetric(dir(0.01, 0.0, 0.0, 0.0)),
            seed: u64::from(bits),
            up: 256 * 1024,
            down: 256 * 1024,
            limit: secs(600),
        };
        let o = run(&case, false);
        let want = (on(0) && on(3), on(1) && on(4), on(2) && on(5));
        assert_eq!(o.opts.0, want, "client view, combination {bits:06b}");
        assert_eq!(o.opts.1, want, "server view, combination {bits:06b}");
        // 64 KiB buffers: shift 1 each way when scaling is agreed.
        let scales = if want.0 { (1, 1) } else { (0, 0) };
        assert_eq!(o.scales, (scales, scales), "combination {bits:06b}");
        assert!(o.done - Instant::ZERO < secs(60), "combination {bits:06b}");
        runs += 1;
    }
    assert_eq!(runs, 64);
}

/// A peer that offers none of the options gets plain RFC 9293 TCP: no option but MSS
/// on the SYNs, no option at all after them, windows unscaled (at most 65535).
#[test]
fn plain_tcp_with_a_peer_offering_nothing() {
    let mut b = config(2);
    (b.tcp.window_scaling, b.tcp.timestamps, b.tcp.sack) = (false, false, false);
    let case = Case {
        a: config(1),
        b,
        link: LinkConfig::symmetric(dir(0.02, 0.0, 0.0, 0.0)),
        seed: 7,
        up: 256 * 1024,
        down: 256 * 1024,
        limit: secs(600),
    };
    let o = run(&case, true);
    assert_eq!(o.opts, ((false, false, false), (false, false, false)));
    assert_eq!(o.scales, ((0, 0), (0, 0)));
    let mut syns = 0;
    for r in &o.segments {
        let opts = r.options;
        if r.flags.contains(tidytcp::wire::tcp::TcpFlags::SYN) {
            syns += 1;
            assert!(opts.mss.is_some(), "SYN without MSS: {r:?}");
            if r.src_port == 5000 {
                // The server's SYN-ACK offers nothing.
                assert_eq!(opts.window_scale, None);
                assert_eq!(opts.timestamps, None);
                assert!(!opts.sack_permitted);
            }
        } else {
            assert_eq!(opts.mss, None);
            assert_eq!(opts.timestamps, None, "TSopt after the handshake: {r:?}");
            assert!(opts.sack.is_empty(), "SACK blocks without SACK: {r:?}");
        }
    }
    assert!(syns >= 2);
    assert!(o.segments.len() > 300);
}

// ---------------------------------------------------------------- SACK effectiveness

/// One way (1 MiB from A to B) so that every retransmitted byte and every lost payload
/// byte belong to the same direction.
fn one_way(loss: f64, ack_loss: f64, sack: bool, seed: u64) -> Outcome {
    let mut a = heavy_loss_config(1, loss);
    let mut b = heavy_loss_config(2, loss);
    a.tcp.sack = sack;
    b.tcp.sack = sack;
    let case = Case {
        a,
        b,
        link: LinkConfig {
            a_to_b: dir(loss, 0.0, 0.0, 0.0),
            b_to_a: dir(ack_loss, 0.0, 0.0, 0.0),
            ..LinkConfig::default()
        },
        seed,
        up: MIB,
        down: 0,
        limit: secs(3600),
    };
    run(&case, false)
}

/// With SACK, the sender retransmits little more than the link lost, and the same
/// seeds finish sooner than without SACK. Single seeds go either way, because the time a
/// lossy run takes is dominated by chains of retransmission timeouts (each doubling the
/// RTO) that SACK cannot prevent; the time comparison is over the sum of many seeds.
/// `max_ratio` bounds retransmitted/lost payload bytes per run, with four segments of
/// slack (with ACKs lost too, an RTO after a lost ACK resends data that had arrived).
fn sack_effectiveness(loss: f64, ack_loss: f64, seeds: u64, max_ratio: f64) {
    println!(
        "{:>5} {:>4} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6} {:>10} {:>10}",
        "loss",
        "seed",
        "lost",
        "rexmit",
        "ratio",
        "SACK (s)",
        "lost/nS",
        "ratio/nS",
        "rexmit/nS",
        "no SACK (s)"
    );
    let (mut t_sack, mut t_plain, mut wins) = (0u64, 0u64, 0);
    let (mut r_sack, mut r_plain) = (0u64, 0u64);
    for seed in 0..seeds {
        let s = one_way(loss, ack_loss, true, 100 + seed);
        let p = one_way(loss, ack_loss, false, 100 + seed);
        assert!(s.opts.0.2 && s.opts.1.2);
        assert!(!p.opts.0.2 && !p.opts.1.2);
        let lost = s.payload_sent_ab - s.payload_delivered_ab;
        let rexmit = s.a.tcp.retransmitted_bytes;
        let p_lost = p.payload_sent_ab - p.payload_delivered_ab;
        let p_rexmit = p.a.tcp.retransmitted_bytes;
        let ts = (s.done - Instant::ZERO).total_micros();
        let tp = (p.done - Instant::ZERO).total_micros();
        let ratio = rexmit as f64 / lost.max(1) as f64;
        println!(
            "{:>5.2} {:>4} {:>10} {:>10} {:>6.2} {:>10.3} {:>10} {:>6.2} {:>10} {:>10.3}",
            loss,
            seed,
            lost,
            rexmit,
            ratio,
            ts as f64 / 1e6,
            p_lost,
            p_rexmit as f64 / p_lost.max(1) as f64,
            p_rexmit,
            tp as f64 / 1e6,
        );
        assert!(lost > 0, "the link lost nothing");
        // Every lost byte must be sent again (lost data is never ACKed otherwise).
        assert!(rexmit >= lost.saturating_sub(4 * 1448), "seed {seed}");
        assert!(
            rexmit as f64 <= lost as f64 * max_ratio + 4.0 * 1448.0,
            "seed {seed}: {rexmit} bytes retransmitted for {lost} lost"
        );
        t_sack += ts;
        t_plain += tp;
        r_sack += rexmit;
        r_plain += p_rexmit;
        wins += usize::from(ts < tp);
    }
    println!(
        "loss {loss}: SACK {:.1} s, no SACK {:.1} s in total; SACK faster in {wins} of {seeds} \
         runs; retransmitted {r_sack} vs {r_plain} bytes",
        t_sack as f64 / 1e6,
        t_plain as f64 / 1e6
    );
    assert!(t_sack < t_plain, "SACK slower over the same seeds");
    // Within 2 %: at 30 % loss RACK resends a retransmission as soon as data sent after
    // it arrives, and F-RTO gives back the window, which costs about 1 % more bytes per
    // byte lost than go-back-N without SACK (see `sack_effectiveness_30_percent`).
    assert!(
        r_sack as f64 <= r_plain as f64 * 1.02,
        "SACK retransmitted more over the same seeds: {r_sack} against {r_plain}"
    );
}

/// 10 % loss each way. Measured over 96 seeds: SACK faster in 80 runs, 16 % less time
/// in total, at most 1.18 bytes retransmitted per byte lost.
#[test]
fn sack_effectiveness_10_percent() {
    sack_effectiveness(0.10, 0.10, SACK_SEEDS.0, 1.3);
}

/// 30 % loss of the data segments, ACKs not lost. (With 30 % loss each way, ACK losses
/// make timeout chains so long that they swamp what SACK changes: over 80 seeds the two
/// took the same total time, though SACK still retransmitted 11 % fewer bytes.)
/// Measured over 160 seeds, SACK with RACK-TLP: faster in 158 runs, 60 % less time in
/// total (3 589 s against 8 906 s; RFC 6675 alone took 7 726 s). RACK resends some
/// data the peer held, which RFC 6675's patience never did: up to 1.14 bytes
/// retransmitted per byte lost (RFC 6675 alone: 1.01), 10 % more bytes in total, still
/// fewer than without SACK. With the log of retransmissions (lost ones resent at once),
/// F-RTO and the D-SACK undo (issue 14), over the 80 debug seeds: 1 434 s against
/// 1 935 s before and 4 450 s without SACK, for 1.082 bytes retransmitted per byte lost
/// (1.067 before, 1.077 without SACK): 0.75 % more bytes in total than without SACK.
#[test]
fn sack_effectiveness_30_percent() {
    sack_effectiveness(0.30, 0.0, SACK_SEEDS.1, 1.2);
}

// ---------------------------------------------------------------- ARP failure

/// Moves `total` bytes from `c` (on `a`) to `s` (on `b`), checking them, by `limit`.
#[allow(clippy::too_many_arguments)]
fn exchange<'x, 'y>(
    c: &mut TcpStream<'x>,
    a: &mut Stack<'x>,
    s: &mut TcpStream<'y>,
    b: &mut Stack<'y>,
    link: &mut SimLink,
    now: &mut Instant,
    (sent, got): (&mut u64, &mut u64),
    total: u64,
    limit: Instant,
) {
    while *got < total {
        pump_write(c, a, 9, sent, total);
        pump_read(s, b, 9, got).unwrap();
        assert!(
            step(now, a, b, link, limit),
            "stalled at {got} of {total} bytes: {:?}",
            c.connection(a)
        );
    }
}

/// The neighbour entry fails (ARP unanswered) while the connection has new data and
/// nothing in flight. The segment that could not be sent is treated as lost: the
/// retransmission timer brings the connection back, and once ARP works again the data
/// flows. (Before, nothing was armed and the connection stalled for good.)
#[test]
fn arp_failure_does_not_stall_a_connection() {
    let mut sa = storage();
    let mut sb = storage();
    let mut a = Stack::new(config(1), &mut sa);
    let mut b = Stack::new(config(2), &mut sb);
    let mut link = link(clean(5), 1);
    let mut now = Instant::ZERO;
    let listener = b.listen(5000, 4).unwrap();
    let mut c = a.connect("10.0.0.2:5000".parse().unwrap()).unwrap();
    let mut s = loop {
        assert!(step(
            &mut now,
            &mut a,
            &mut b,
            &mut link,
            Instant::from_secs(5)
        ));
        if let Ok((s, _)) = listener.accept(&mut b) {
            break s;
        }
    };
    let (mut sent, mut got) = (0u64, 0u64);
    let lim = now + Duration::from_secs(5);
    exchange(
        &mut c,
        &mut a,
        &mut s,
        &mut b,
        &mut link,
        &mut now,
        (&mut sent, &mut got),
        10_000,
        lim,
    );
    // ARP stops working; the entries expire during 70 s of silence.
    fn no_arp(f: &[u8]) -> Verdict {
        if f.get(12..14) == Some(&[0x08, 0x06][..]) {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    }
    link.set_filter(Direction::AtoB, no_arp);
    link.set_filter(Direction::BtoA, no_arp);
    let t1 = now + Duration::from_secs(70);
    while step(&mut now, &mut a, &mut b, &mut link, t1) {}
    // Data while the stale entries are re-probed (unanswered): it still flows.
    let lim = now + Duration::from_secs(5);
    exchange(
        &mut c,
        &mut a,
        &mut s,
        &mut b,
        &mut link,
        &mut now,
        (&mut sent, &mut got),
        20_000,
        lim,
    );
    // Then B goes silent altogether (nothing acknowledges A's data, which would
    // otherwise confirm the neighbour): the probes fail; new data then finds the
    // neighbour failed and cannot go out.
    link.set_filter(Direction::BtoA, |_| Verdict::Drop);
    let t2 = now + Duration::from_secs(70);
    while step(&mut now, &mut a, &mut b, &mut link, t2) {}
    pump_write(&mut c, &mut a, 9, &mut sent, 30_000);
    // The stale entry waits the probe delay (5 s) for advice; three unanswered unicast
    // polls, then three broadcast requests, a second apart, fail it.
    let t3 = now + Duration::from_secs(12);
    while step(&mut now, &mut a, &mut b, &mut link, t3) {}
    assert!(got < 30_000);
    let entry = a
        .interface()
        .arp_cache()
        .get(std::net::Ipv4Addr::from(B_IP));
    assert!(
        matches!(entry, Some(tidytcp::ip::NeighborState::Failed { .. })),
        "{entry:?}"
    );
    let conn = c.connection(&a).unwrap();
    assert!(conn.poll_at().is_some(), "no timer to retry: {conn:?}");
    // ARP works again.
    link.clear_filter(Direction::AtoB);
    link.clear_filter(Direction::BtoA);
    let lim = now + Duration::from_secs(120);
    exchange(
        &mut c,
        &mut a,
        &mut s,
        &mut b,
        &mut link,
        &mut now,
        (&mut sent, &mut got),
        30_000,
        lim,
    );
    assert!(c.error(&a).is_none());
    c.abort(&mut a);
    s.abort(&mut b);
    listener.close(&mut b);
}
