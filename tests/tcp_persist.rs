//! The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): probing a zero window.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::tcp::TcpConfig;
use tidytcp::{Duration, Error};

/// A connection (MSS 1000, RTT 100 ms) whose peer took 2000 bytes of a 5000-byte write
/// and then closed its window. Returns it with everything sent so far drained.
fn zero_window<'a>(t: &mut Script<'a>) -> Open<'a> {
    let mut o = open_passive_rtt(t, mss_only(1000), Duration::from_millis(100), 2000);
    o.write(t, 5000);
    assert_eq!(spans(&drain(t), o.snd), vec![(0, 1000), (1000, 1000)]);
    t.advance(Duration::from_millis(100));
    t.send(o.ack(o.snd + 2000, 0));
    t.expect_none();
    o
}

/// RFC 9293 §3.8.6.1: with a zero window and data waiting, the sender probes with one
/// byte beyond the window (the next byte of the stream, as BSD does), and backs off
/// exponentially between unanswered-in-effect probes, up to 60 s.
#[test]
fn zero_window_probes_with_backoff() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = zero_window(&mut t);
    let rto = o.conn(&t).rto(&TcpConfig::default());
    let mut last = t.now;
    let mut gaps = Vec::new();
    for _ in 0..12 {
        let (at, segs) = next_send(&mut t);
        if segs.is_empty() {
            continue; // another timer (ARP) of the stack
        }
        assert_eq!(segs.len(), 1);
        let p = &segs[0];
        assert_eq!(p.seq, o.snd + 2000, "probe at SND.NXT");
        assert_eq!(
            p.data,
            bytes(2001)[2000..],
            "one byte: the next of the stream"
        );
        gaps.push(at - last);
        last = at;
        // The peer answers: still no room.
        t.send(o.ack(o.snd + 2000, 0));
        t.expect_none();
    }
    assert_eq!(gaps[0], rto);
    for w in gaps.windows(2) {
        let want = Duration::from_micros((w[0].total_micros() * 2).min(60_000_000));
        assert_eq!(w[1], want, "gaps {gaps:?}");
    }
    assert_eq!(*gaps.last().unwrap(), Duration::from_secs(60));
    assert!(t.stack.stats().tcp.window_probes >= 10);
    assert_eq!(
        t.stack.stats().tcp.retransmits,
        0,
        "probes are not retransmissions"
    );
}

/// RFC 1122 §4.2.2.17: a zero window may be held indefinitely while the receiver keeps
/// answering; the connection survives many minutes, then resumes when the window opens
/// and delivers every byte.
#[test]
fn zero_window_held_for_minutes_then_resumes() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = zero_window(&mut t);
    let t0 = t.now;
    let mut probes = 0;
    while t.now - t0 < Duration::from_secs(20 * 60) {
        let (_, segs) = next_send(&mut t);
        for s in segs {
            assert_eq!(s.data.len(), 1);
            probes += 1;
            t.send(o.ack(o.snd + 2000, 0));
        }
    }
    assert!(probes >= 20, "{probes} probes in 20 minutes");
    assert!(o.s.error(&t.stack).is_none(), "connection survived");
    // The window opens: the rest goes out at once.
    t.send(o.ack(o.snd + 2000, 4000));
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(2000, 1000), (3000, 1000), (4000, 1000)]
    );
    let mut data = Vec::new();
    for s in &segs {
        data.extend_from_slice(&s.data);
    }
    assert_eq!(data, bytes(5000)[2000..]);
}

/// A window update from the peer (no probe needed) stops the persist timer and data
/// flows at once.
#[test]
fn window_update_ends_persist() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = zero_window(&mut t);
    t.advance(Duration::from_millis(50));
    t.send(o.ack(o.snd + 2000, 3000));
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(2000, 1000), (3000, 1000), (4000, 1000)]
    );
    assert_eq!(t.stack.stats().tcp.window_probes, 0);
}

/// The peer takes the probe byte when its window reopens: the ACK covers it, and
/// sending continues right after it.
#[test]
fn probe_byte_accepted() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = zero_window(&mut t);
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(2000, 1)]);
    t.send(o.ack(o.snd + 2001, 3000));
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(2001, 1000), (3001, 1000), (4001, 999)]
    );
}

/// A peer that vanishes while our data waits on its zero window: unanswered probes
/// count like retransmissions, and the connection ends with `TimedOut`.
#[test]
fn vanished_peer_during_persist_times_out() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_retransmits = 5));
    let o = zero_window(&mut t);
    let t0 = t.now;
    let mut probes = 0;
    while o.s.error(&t.stack).is_none() {
        let (_, segs) = next_deadline(&mut t);
        probes += segs.iter().filter(|s| s.data.len() == 1).count();
        assert!(t.now - t0 < Duration::from_secs(600), "never timed out");
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    assert_eq!(probes, 5);
    t.advance(Duration::from_secs(3600));
    assert!(
        drain(&mut t).iter().all(|s| s.data.is_empty()),
        "no probes after the timeout"
    );
}

/// With the default limit a silent peer ends the connection too, within minutes
/// (12 probes with 60 s at most between them).
#[test]
fn vanished_peer_default_limit() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = zero_window(&mut t);
    let t0 = t.now;
    while o.s.error(&t.stack).is_none() {
        next_deadline(&mut t);
        assert!(t.now - t0 < Duration::from_secs(15 * 60), "never timed out");
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
}

/// A zero window from the start (in the SYN): the first write is probed, not sent.
#[test]
fn zero_window_from_the_handshake() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), Duration::from_millis(100), 0);
    o.write(&mut t, 100);
    t.expect_none();
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1)]);
    t.send(o.ack(o.snd + 1, 1000));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(1, 99)]);
}
