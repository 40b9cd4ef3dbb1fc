//! Keep-alive (RFC 1122 §4.2.3.6): off by default; probes with SEG.SEQ = SND.NXT − 1
//! after the idle time, repeated at the interval, reset by any activity; `TimedOut`
//! after `count` unanswered probes.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::tcp::Keepalive;
use tidytcp::wire::tcp::TcpFlags;
use tidytcp::{Duration, Error, Instant};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ka() -> Option<Keepalive> {
    Some(Keepalive {
        idle: secs(10),
        interval: secs(2),
        count: 3,
    })
}

/// Runs the clock to `end`, returning every segment sent with its time.
fn run_until(t: &mut Script<'_>, end: Instant) -> Vec<(Instant, Seg)> {
    let mut out = Vec::new();
    while let Some(at) = t.stack.poll_at() {
        if at > end {
            break;
        }
        t.advance_to_deadline();
        for s in drain(t) {
            out.push((t.now, s));
        }
    }
    t.now = end;
    t.poll();
    for s in drain(t) {
        out.push((t.now, s));
    }
    out
}

fn is_probe(o: &Open<'_>, s: &Seg, snd_nxt: tidytcp::wire::tcp::SeqNum) -> bool {
    s.flags == TcpFlags::ACK && s.seq == snd_nxt - 1u32 && s.data.is_empty() && s.ack == o.rcv
}

/// RFC 1122 §4.2.3.6: keep-alives are off unless asked for; an idle connection stays
/// silent for hours.
#[test]
fn off_by_default() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let end = t.now + secs(5 * 3600);
    let segs = run_until(&mut t, end);
    assert!(segs.is_empty(), "{} segments sent", segs.len());
    assert!(o.s.error(&t.stack).is_none());
    assert_eq!(t.stack.stats().tcp.keepalive_probes, 0);
}

/// The probe: no data, SEG.SEQ = SND.NXT − 1 (an old byte, so the peer must answer),
/// sent after `idle` seconds without activity; an answer keeps the connection and
/// the next probe comes after another idle period.
#[test]
fn probe_after_idle_and_answered() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let t0 = t.now;
    o.s.set_keepalive(&mut t.stack, ka()).unwrap();
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + secs(10));
    assert_eq!(segs.len(), 1);
    assert!(is_probe(&o, &segs[0], o.snd), "{:?}", segs[0]);
    // The peer answers with an ACK of what it has.
    t.send(o.ack(o.snd, 65535));
    t.expect_none();
    let answered = t.now;
    let segs = run_until(&mut t, answered + secs(10) - Duration::from_millis(1));
    assert!(segs.is_empty());
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, answered + secs(10));
    assert!(is_probe(&o, &segs[0], o.snd));
    assert!(o.s.error(&t.stack).is_none());
    assert_eq!(t.stack.stats().tcp.keepalive_probes, 2);
    assert_eq!(t.stack.stats().tcp.retransmits, 0);
    let _ = o.read_all(&mut t);
}

/// Activity (a segment from the peer) restarts the idle time.
#[test]
fn activity_resets_the_idle_timer() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let t0 = t.now;
    o.s.set_keepalive(&mut t.stack, ka()).unwrap();
    t.advance(secs(6));
    let d = o.data(o.snd, b"ping");
    t.send(d);
    let active = t.now;
    assert_eq!(active, t0 + secs(6));
    let segs = run_until(&mut t, active + secs(10) - Duration::from_millis(1));
    // Only the delayed ACK of "ping"; no probe.
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].1.ack, o.rcv);
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, active + secs(10));
    assert!(is_probe(&o, &segs[0], o.snd));
}

/// After `count` unanswered probes, `interval` apart, the connection ends with
/// `TimedOut`; the peer, if it is still there, is reset (as Linux and BSD do).
#[test]
fn unanswered_probes_time_out() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let t0 = t.now;
    o.s.set_keepalive(&mut t.stack, ka()).unwrap();
    let segs = run_until(&mut t, t0 + secs(60));
    let probes: Vec<_> = segs
        .iter()
        .filter(|(_, s)| is_probe(&o, s, o.snd))
        .map(|(at, _)| (*at - t0).total_millis())
        .collect();
    assert_eq!(probes, vec![10_000, 12_000, 14_000]);
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    let rst: Vec<_> = segs
        .iter()
        .filter(|(_, s)| s.flags.contains(TcpFlags::RST))
        .collect();
    assert_eq!(rst.len(), 1, "one reset: {:?}", rst);
    assert_eq!((rst[0].0 - t0).total_millis(), 16_000);
    assert_eq!(rst[0].1.seq, o.snd);
    assert_eq!(segs.len(), 4);
    let mut buf = [0u8; 4];
    assert_eq!(o.s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    assert_eq!(t.stack.stats().tcp.timed_out, 1);
}

/// An answer to a later probe resets the count: a peer that drops a few probes but
/// answers one keeps the connection.
#[test]
fn answer_resets_the_probe_count() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    o.s.set_keepalive(&mut t.stack, ka()).unwrap();
    for _ in 0..4 {
        // Two probes lost, the third answered.
        let (_, p1) = next_send(&mut t);
        let (_, p2) = next_send(&mut t);
        let (_, p3) = next_send(&mut t);
        for p in [&p1, &p2, &p3] {
            assert!(is_probe(&o, &p[0], o.snd));
        }
        t.send(o.ack(o.snd, 65535));
    }
    assert!(o.s.error(&t.stack).is_none());
}

/// Keep-alive from the configuration applies to every new connection; `None` through
/// the handle turns it off again.
#[test]
fn keepalive_from_config_and_off_again() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.keepalive = ka()));
    let mut o = open_passive(&mut t, mss_only(1460));
    let t0 = t.now;
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + secs(10));
    assert!(is_probe(&o, &segs[0], o.snd));
    t.send(o.ack(o.snd, 65535));
    o.s.set_keepalive(&mut t.stack, None).unwrap();
    let end = t.now + secs(3600);
    assert!(run_until(&mut t, end).is_empty());
    assert!(o.s.error(&t.stack).is_none());
}

/// The probe uses SND.NXT − 1 after data was exchanged too (the last byte the peer
/// already acknowledged).
#[test]
fn probe_sequence_after_data() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    o.write(&mut t, 300);
    expect_data(&mut t, o.snd, 300, true);
    t.send(o.ack(o.snd + 300, 65535));
    o.s.set_keepalive(&mut t.stack, ka()).unwrap();
    let (_, segs) = next_send(&mut t);
    assert!(is_probe(&o, &segs[0], o.snd + 300u32), "{:?}", segs[0]);
}
