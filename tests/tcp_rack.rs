//! RACK-TLP (RFC 8985) with the test as the receiver: the reordering window instead of
//! three SACKed segments, lost retransmissions found by data sent after them, the tail
//! loss probe (new data, or the last segment again) and its congestion response, and
//! the switch that turns it all off.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;

fn storage() -> tidytcp::socket::HeapStorage {
    mem(65536, 65536)
}

/// MSS 1000 with SACK, an RTT of 100 ms (SRTT 100 ms, RTO 300 ms), peer window 65535.
fn open_rack<'a>(t: &mut Script<'a>) -> Open<'a> {
    let o = open_passive_rtt(t, mss_sack(1000), Duration::from_millis(100), 65535);
    assert!(o.conn(t).options().2, "SACK negotiated");
    o
}

/// Opens with [`open_rack`], sends `n` bytes at once and lets one RTT pass: the first
/// ACK is due.
fn sent_one_rtt_ago<'a>(t: &mut Script<'a>, n: usize) -> Open<'a> {
    let mut o = open_rack(t);
    o.write(t, n);
    drain(t);
    t.now += Duration::from_millis(100);
    o
}

/// A duplicate ACK of `ack` with SACK blocks, offsets from `o.snd`.
fn sack_ack(o: &Open<'_>, ack: u32, sack: &[(u32, u32)]) -> Seg {
    let mut s = o.ack(o.snd + ack, 65535);
    for &(l, r) in sack {
        s.opts.sack.push(o.snd + l, o.snd + r);
    }
    s
}

/// One segment SACKed above a hole: RFC 6675 would wait for two more; RACK retransmits
/// once the reordering window (a quarter of SRTT: 25 ms) has passed.
#[test]
fn one_sacked_segment_is_enough_after_the_reordering_window() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_rack(&mut t);
    o.write(&mut t, 4000);
    assert_eq!(drain(&mut t).len(), 4);
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(1000, 2000)]));
    // Within the window it may still be reordering: nothing yet.
    t.expect_none();
    let sacked_at = t.now;
    let (at, segs) = next_send(&mut t);
    assert_eq!(at - sacked_at, Duration::from_millis(25));
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    let st = t.stack.stats().tcp;
    assert_eq!((st.fast_retransmits, st.timeouts), (1, 0));
}

/// The same with RACK-TLP off: RFC 6675 alone waits for the retransmission timeout.
#[test]
fn without_rack_one_sacked_segment_waits_for_the_rto() {
    let mut m = storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.rack_tlp = false));
    let mut o = open_rack(&mut t);
    o.write(&mut t, 4000);
    let sent_at = t.now;
    drain(&mut t);
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(1000, 2000)]));
    t.expect_none();
    let (at, segs) = next_send(&mut t);
    assert_eq!(at - sent_at, Duration::from_millis(300));
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    let st = t.stack.stats().tcp;
    assert_eq!((st.fast_retransmits, st.timeouts, st.tlp_probes), (0, 1, 0));
}

/// A reordering that resolves inside the window costs nothing: the late segment's ACK
/// closes the hole before the window ends, and nothing is retransmitted.
#[test]
fn reordering_inside_the_window_is_not_a_loss() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = sent_one_rtt_ago(&mut t, 4000);
    t.send(sack_ack(&o, 0, &[(1000, 2000)]));
    t.now += Duration::from_millis(10);
    t.send(o.ack(o.snd + 2000, 65535));
    t.expect_none();
    t.send(o.ack(o.snd + 4000, 65535));
    t.advance(Duration::from_secs(2));
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.stack.stats().tcp.retransmits, 0);
}

/// RFC 8985 §6: a retransmission is lost when data sent after it arrives. Segment 0 is
/// lost, retransmitted by fast recovery, and lost again; new data sent after the
/// retransmission is SACKed, so segment 0 goes a third time at once, without waiting for
/// the retransmission timer.
#[test]
fn a_lost_retransmission_is_found_by_later_data() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_rack(&mut t);
    o.write(&mut t, 15_000);
    assert_eq!(drain(&mut t).len(), 10, "the initial window");
    t.now += Duration::from_millis(100);
    let mut sent = Vec::new();
    for r in 2..=4u32 {
        t.send(sack_ack(&o, 0, &[(1000, r * 1000)]));
        sent.extend(spans(&drain(&mut t), o.snd));
    }
    // Limited transmit (RFC 3042) sends 10 000 and 11 000 on the first two duplicates;
    // the third starts recovery with segment 0.
    assert_eq!(sent, vec![(10_000, 1000), (11_000, 1000), (0, 1000)]);
    // The rest of the first flight arrives; pipe falls and new data leaves (12 000 on),
    // after the retransmission.
    sent.clear();
    for r in 5..=12u32 {
        t.send(sack_ack(&o, 0, &[(1000, r * 1000)]));
        sent.extend(spans(&drain(&mut t), o.snd));
    }
    assert!(
        sent.iter().all(|s| s.0 >= 12_000) && !sent.is_empty(),
        "only new data: {sent:?}"
    );
    assert_eq!(t.stack.stats().tcp.lost_retransmits, 0);
    // Data sent after the retransmission arrives; segment 0 still has not.
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(1000, 13_000)]));
    let again = spans(&drain(&mut t), o.snd);
    assert_eq!(
        again.first(),
        Some(&(0, 1000)),
        "segment 0 again: {again:?}"
    );
    let st = t.stack.stats().tcp;
    assert_eq!((st.lost_retransmits, st.timeouts), (1, 0));
    // It arrives: everything up to the SACKed data is acknowledged.
    t.send(o.ack(o.snd + 13_000, 65535));
    assert_eq!(o.conn(&t).snd_una(), o.snd + 13_000);
}

/// RFC 8985 §7: the tail of a flight is lost and no ACK comes. Two SRTTs (plus 2 ms)
/// after the last ACK, before the 300 ms RTO, the last segment goes again as a probe;
/// its ACK, with no D-SACK, shows that the probe repaired a loss, and the window is
/// reduced as for a fast retransmit.
#[test]
fn tail_loss_probe_resends_the_last_segment() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = sent_one_rtt_ago(&mut t, 3000);
    t.send(o.ack(o.snd + 1000, 65535));
    t.expect_none();
    let acked_at = t.now;
    let (at, segs) = next_send(&mut t);
    assert_eq!(at - acked_at, Duration::from_millis(202));
    assert_eq!(spans(&segs, o.snd), vec![(2000, 1000)], "the last segment");
    let st = t.stack.stats().tcp;
    assert_eq!((st.tlp_probes, st.timeouts), (1, 0));
    // Segment 1 was lost too: the probe's ACK SACKs segment 2, and in recovery RACK
    // needs no reordering window for what the probe overtook.
    let before = o.conn(&t).cwnd();
    t.send(sack_ack(&o, 1000, &[(2000, 3000)]));
    let rtx = spans(&drain(&mut t), o.snd);
    t.advance(Duration::from_millis(30));
    let rtx: Vec<_> = rtx
        .into_iter()
        .chain(spans(&drain(&mut t), o.snd))
        .collect();
    assert_eq!(rtx, vec![(1000, 1000)]);
    t.send(o.ack(o.snd + 3000, 65535));
    assert!(
        o.conn(&t).cwnd() < before,
        "a loss was repaired: the window shrinks"
    );
    assert_eq!(t.stack.stats().tcp.timeouts, 0);
}

/// The ACK of segment 2 and segment 3 itself were lost: the probe (segment 3 again)
/// alone repairs the tail, its ACK carries no D-SACK, and the congestion response of RFC
/// 8985 §7.4 follows.
#[test]
fn a_probe_that_repairs_the_tail_reduces_the_window() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = sent_one_rtt_ago(&mut t, 4000);
    t.send(o.ack(o.snd + 2000, 65535));
    let before = o.conn(&t).cwnd();
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(3000, 1000)]);
    t.send(o.ack(o.snd + 4000, 65535));
    assert!(o.conn(&t).cwnd() < before);
    let st = t.stack.stats().tcp;
    assert_eq!((st.tlp_probes, st.tlp_recoveries, st.timeouts), (1, 1, 0));
}

/// Everything arrived and only the ACKs were lost: the receiver reports the probe as a
/// duplicate (D-SACK) and the window stays as it was.
#[test]
fn a_probe_reported_as_duplicate_leaves_the_window() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = sent_one_rtt_ago(&mut t, 4000);
    t.send(o.ack(o.snd + 2000, 65535));
    let before = o.conn(&t).cwnd();
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(3000, 1000)]);
    // D-SACK: the first block lies below the cumulative ACK (RFC 2883).
    t.send(sack_ack(&o, 4000, &[(3000, 4000)]));
    assert_eq!(o.conn(&t).cwnd(), before);
    let st = t.stack.stats().tcp;
    assert_eq!((st.tlp_recoveries, st.dsacks), (0, 1));
}

/// RFC 8985 §7.3: with unsent data the receive window takes, the probe is new data
/// (here held back by the congestion window), not a retransmission.
#[test]
fn tail_loss_probe_prefers_new_data() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_rack(&mut t);
    o.write(&mut t, 11_000);
    let sent_at = t.now;
    assert_eq!(
        spans(&drain(&mut t), o.snd).len(),
        10,
        "cwnd holds the last 1000"
    );
    let (at, segs) = next_send(&mut t);
    assert_eq!(at - sent_at, Duration::from_millis(202));
    assert_eq!(spans(&segs, o.snd), vec![(10_000, 1000)]);
    assert_eq!(t.stack.stats().tcp.retransmits, 0);
}

/// A single segment in flight: the probe would wait for the peer's delayed ACK too
/// (2·SRTT + 200 ms), later than the RTO, so the RTO resends it as before.
#[test]
fn no_probe_when_it_would_not_beat_the_rto() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_rack(&mut t);
    o.write(&mut t, 500);
    let sent_at = t.now;
    drain(&mut t);
    let (at, segs) = next_send(&mut t);
    assert_eq!(at - sent_at, Duration::from_millis(300));
    assert_eq!(spans(&segs, o.snd), vec![(0, 500)]);
    let st = t.stack.stats().tcp;
    assert_eq!((st.tlp_probes, st.timeouts), (0, 1));
}
