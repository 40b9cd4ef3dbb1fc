//! The retransmission timer (RFC 6298), Karn's rule, backoff, and giving up
//! (RFC 9293 §3.8.3 R2, RFC 5482 user timeout).

mod common;

use common::data::*;
use common::script::*;
use tidytcp::tcp::TcpConfig;
use tidytcp::{Duration, Error};

fn msec(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A connection whose handshake took 100 ms: SRTT 100 ms, RTTVAR 50 ms, RTO 300 ms.
fn open_100ms<'a>(t: &mut Script<'a>) -> Open<'a> {
    open_passive_rtt(t, mss_only(1000), msec(100), 65535)
}

/// RFC 6298 §2.1: before any RTT sample the RTO is 1 s; the SYN is retransmitted 1 s
/// after it was sent, then after 2 s (§5.5 backoff).
#[test]
fn initial_rto_is_one_second() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let t0 = t.now;
    let s = t.stack.connect(peer().into()).unwrap();
    assert_eq!(
        s.connection(&t.stack).unwrap().rto(&TcpConfig::default()),
        Duration::from_secs(1)
    );
    t.poll();
    let syn = t.expect(seg!(SYN));
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + Duration::from_secs(1));
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].seq, syn.seq);
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + Duration::from_secs(3));
    assert_eq!(segs[0].seq, syn.seq);
}

/// RFC 6298 §2.2: the first sample R sets SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR.
/// The first data segment is retransmitted exactly one RTO after it was sent.
#[test]
fn first_sample_sets_the_rto() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    assert_eq!(o.conn(&t).srtt(), Some(msec(100)));
    assert_eq!(o.conn(&t).rto(&TcpConfig::default()), msec(300));
    let t0 = t.now;
    o.write(&mut t, 500);
    expect_data(&mut t, o.snd, 500, true);
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + msec(300));
    assert_eq!(spans(&segs, o.snd), vec![(0, 500)]);
    assert_eq!(t.stack.stats().tcp.retransmits, 1);
    assert_eq!(t.stack.stats().tcp.timeouts, 1);
}

/// RFC 6298 §2.3: later samples smooth: RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R|, then
/// SRTT = 7/8·SRTT + 1/8·R. With R = 200 ms: RTTVAR 62.5 ms, SRTT 112.5 ms, RTO 362.5 ms.
#[test]
fn later_samples_smooth() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 500);
    expect_data(&mut t, o.snd, 500, true);
    t.advance(msec(200));
    t.send(o.ack(o.snd + 500, 65535));
    assert_eq!(o.conn(&t).srtt(), Some(Duration::from_micros(112_500)));
    assert_eq!(
        o.conn(&t).rto(&TcpConfig::default()),
        Duration::from_micros(362_500)
    );
    let t1 = t.now;
    o.write(&mut t, 500);
    expect_data(&mut t, o.snd + 500, 500, true);
    let (at, _) = next_send(&mut t);
    assert_eq!(at, t1 + Duration::from_micros(362_500));
}

/// RFC 6298 §2.4: the RTO is never below `min_rto` (200 ms by default), however short
/// the RTT.
#[test]
fn rto_floor_is_min_rto() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive_rtt(&mut t, mss_only(1000), msec(2), 65535);
    assert_eq!(o.conn(&t).rto(&TcpConfig::default()), msec(200));
    let t0 = t.now;
    o.write(&mut t, 100);
    drain(&mut t);
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t0 + msec(200));
    assert_eq!(segs.len(), 1);

    // A configured floor is used instead.
    let mut m2 = script_storage();
    let mut t2 = Script::new(&mut m2, cfg_with(|c| c.tcp.min_rto = msec(50)));
    let mut o2 = open_passive_rtt(&mut t2, mss_only(1000), msec(2), 65535);
    let t0 = t2.now;
    o2.write(&mut t2, 100);
    drain(&mut t2);
    let (at, _) = next_send(&mut t2);
    assert_eq!(at, t0 + msec(50));
}

/// RFC 6298 §5.5: each expiry doubles the RTO, up to `max_rto` (§2.5).
#[test]
fn backoff_doubles_up_to_max_rto() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_rto = Duration::from_secs(4)));
    let mut o = open_100ms(&mut t);
    let mut last = t.now;
    o.write(&mut t, 500);
    drain(&mut t);
    let mut gaps = Vec::new();
    for _ in 0..8 {
        let (at, segs) = next_send(&mut t);
        assert_eq!(
            spans(&segs, o.snd),
            vec![(0, 500)],
            "one retransmission each time"
        );
        gaps.push((at - last).total_millis());
        last = at;
    }
    assert_eq!(gaps, vec![300, 600, 1200, 2400, 4000, 4000, 4000, 4000]);
}

/// RFC 6298 §5.1–5.3: the timer runs while data is outstanding, restarts when an ACK
/// acknowledges new data, and stops when everything is acknowledged.
#[test]
fn timer_restarts_on_ack_and_stops_when_all_acked() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 2000);
    assert_eq!(drain(&mut t).len(), 2);
    t.advance(msec(250));
    let t1 = t.now;
    t.send(o.ack(o.snd + 1000, 65535));
    // The ACK was a fresh 250 ms sample: SRTT 118.75 ms, RTTVAR 75 ms, RTO 418.75 ms.
    let rto = o.conn(&t).rto(&TcpConfig::default());
    assert_eq!(rto, Duration::from_micros(418_750));
    let (at, segs) = next_send(&mut t);
    assert_eq!(at, t1 + rto);
    assert_eq!(spans(&segs, o.snd), vec![(1000, 1000)]);
    t.send(o.ack(o.snd + 2000, 65535));
    assert_eq!(
        o.conn(&t).poll_at(),
        None,
        "no timer with nothing outstanding"
    );
    t.advance(Duration::from_secs(30));
    t.expect_none();
}

/// RFC 6298 §5.4 / RFC 5681 §3.1: an RTO retransmits the first unacknowledged segment
/// only (the window is one segment), then slow start resumes from SND.UNA (go-back-N).
#[test]
fn rto_resends_from_snd_una() {
    let mut m = mem(8192, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 5000);
    assert_eq!(drain(&mut t).len(), 5);
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    t.send(o.ack(o.snd + 1000, 65535));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(1000, 1000), (2000, 1000)]);
}

/// Karn's algorithm (RFC 6298 §3): the ACK of a retransmitted segment gives no RTT
/// sample (without timestamps one cannot tell which copy it acknowledges).
#[test]
fn karn_no_sample_from_a_retransmission() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 500);
    drain(&mut t);
    let (_, segs) = next_send(&mut t);
    assert_eq!(segs.len(), 1);
    t.advance(msec(50));
    t.send(o.ack(o.snd + 500, 65535));
    assert_eq!(o.conn(&t).srtt(), Some(msec(100)), "no sample taken");
    // The next segment, sent once, is timed again.
    o.write(&mut t, 500);
    drain(&mut t);
    t.advance(msec(100));
    t.send(o.ack(o.snd + 1000, 65535));
    assert_eq!(o.conn(&t).srtt(), Some(msec(100)));
    // RTTVAR = 3/4 · 50 + 1/4 · 0 = 37.5 ms; RTO = 100 + 4 · 37.5 = 250 ms.
    assert_eq!(o.conn(&t).rto(&TcpConfig::default()), msec(250));
}

/// RFC 9293 §3.8.3 (R2) / BSD's TCP_MAXRXTSHIFT: after `max_retransmits`
/// retransmissions the connection gives up with `TimedOut`, reported to the handle, and
/// sends nothing more — never retransmitting forever.
#[test]
fn gives_up_after_max_retransmits() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_retransmits = 3));
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 500);
    drain(&mut t);
    for _ in 0..3 {
        let (_, segs) = next_send(&mut t);
        assert_eq!(spans(&segs, o.snd), vec![(0, 500)]);
    }
    // The fourth expiry: give up. BSD's tcp_drop resets a synchronized peer.
    let (_, segs) = next_send(&mut t);
    assert_eq!(segs.len(), 1);
    assert!(segs[0].flags.contains(tidytcp::wire::tcp::TcpFlags::RST));
    assert_eq!(segs[0].seq, o.snd + 500);
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    let mut buf = [0u8; 8];
    assert_eq!(o.s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    assert_eq!(o.s.write(&mut t.stack, b"x"), Err(Error::TimedOut));
    assert_eq!(t.stack.stats().tcp.timed_out, 1);
    assert_eq!(t.stack.stats().tcp.retransmits, 3);
    t.advance(Duration::from_secs(3600));
    t.expect_none();
    o.s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// The default limit is 15 retransmissions (Linux's tcp_retries2), with the RTO
/// capped at 60 s: the connection is dead in well under an hour.
#[test]
fn default_limit_ends_within_bounded_time() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    let t0 = t.now;
    o.write(&mut t, 500);
    drain(&mut t);
    let mut n = 0;
    while o.s.error(&t.stack).is_none() {
        let (_, segs) = next_deadline(&mut t);
        if segs.iter().any(|s| !s.data.is_empty()) {
            n += 1;
        }
        assert!(t.now - t0 < Duration::from_secs(3600));
    }
    assert_eq!(n, 15);
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    // 0.3 + 0.6 + ... + 38.4 (eight doublings) + 8 × 60 s.
    let total = (0..8).map(|k| 300u64 << k).sum::<u64>() + 8 * 60_000;
    assert_eq!((t.now - t0).total_millis(), total);
}

/// RFC 5482 / RFC 9293 §3.8.3: with a user timeout, the connection ends with
/// `TimedOut` once data has gone unacknowledged that long, even though the
/// retransmission limit is far away. The backed-off RTO is cut short to end at the user
/// timeout (as Linux's `tcp_clamp_rto_to_user_timeout`), not at the next expiry.
#[test]
fn user_timeout_ends_the_connection() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.s.set_user_timeout(&mut t.stack, Some(Duration::from_secs(2)))
        .unwrap();
    let t0 = t.now;
    o.write(&mut t, 500);
    drain(&mut t);
    // Expiries at 0.3 and 0.9 s, then the next one (2.1 s) clamped to 2 s.
    let (_, s1) = next_send(&mut t);
    let (_, s2) = next_send(&mut t);
    assert_eq!((s1.len(), s2.len()), (1, 1));
    assert!(o.s.error(&t.stack).is_none());
    let (at, _) = next_send(&mut t);
    assert_eq!(at, t0 + msec(2000));
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    t.advance(Duration::from_secs(600));
    t.expect_none();
}

/// The user timeout from the configuration applies to new connections.
#[test]
fn user_timeout_from_config() {
    let mut m = script_storage();
    let mut t = Script::new(
        &mut m,
        cfg_with(|c| c.tcp.user_timeout = Some(Duration::from_secs(1))),
    );
    let mut o = open_100ms(&mut t);
    let t0 = t.now;
    o.write(&mut t, 500);
    drain(&mut t);
    while o.s.error(&t.stack).is_none() {
        next_deadline(&mut t);
        assert!(t.now - t0 <= Duration::from_secs(3));
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
    assert!(t.now - t0 >= Duration::from_secs(1));
}

/// Progress (ACKs of new data) keeps the user timeout from firing: it measures how long
/// data stays unacknowledged, not the age of the connection.
#[test]
fn user_timeout_resets_on_progress() {
    let mut m = mem(8192, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_100ms(&mut t);
    o.s.set_user_timeout(&mut t.stack, Some(Duration::from_secs(1)))
        .unwrap();
    let mut acked = 0u32;
    for _ in 0..10 {
        o.write(&mut t, 1000);
        drain(&mut t);
        t.advance(msec(250));
        acked += 1000;
        t.send(o.ack(o.snd + acked, 65535));
        drain(&mut t);
    }
    assert!(o.s.error(&t.stack).is_none());
}

/// RFC 1122 §4.2.3.9: an ICMP host unreachable is a soft error, reported only if the
/// connection then times out.
#[test]
fn soft_error_reported_on_timeout() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_retransmits = 2));
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 500);
    drain(&mut t);
    icmp_unreachable(&mut t, 1, STACK_PORT, PEER_PORT, o.snd);
    assert!(o.s.error(&t.stack).is_none(), "a soft error does not abort");
    while o.s.error(&t.stack).is_none() {
        next_deadline(&mut t);
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::HostUnreachable));
}

/// …but once the peer acknowledges new data the error is stale: a later timeout reports
/// `TimedOut` (Linux clears its soft error on every ACK of new data).
#[test]
fn soft_error_forgotten_after_progress() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_retransmits = 2));
    let mut o = open_100ms(&mut t);
    o.write(&mut t, 500);
    drain(&mut t);
    icmp_unreachable(&mut t, 1, STACK_PORT, PEER_PORT, o.snd);
    t.send(o.ack(o.snd + 500, 65535));
    o.write(&mut t, 500);
    drain(&mut t);
    while o.s.error(&t.stack).is_none() {
        next_deadline(&mut t);
    }
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
}
