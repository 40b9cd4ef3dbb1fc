//! Congestion control traces with the test as the receiver, read from
//! `stream.connection(&stack)`: initial window (RFC 6928), slow start with ABC (RFC 3465),
//! congestion avoidance, fast retransmit / fast recovery (RFC 5681 §3.2, NewReno RFC 6582),
//! limited transmit (RFC 3042), RTO (RFC 5681 §3.1), restart after idle (§4.1), and SACK
//! loss recovery (RFC 6675).

mod common;

use common::data::*;
use common::script::*;
use tidytcp::wire::tcp::TcpOptions;
use tidytcp::{Duration, Error};

fn storage() -> tidytcp::socket::HeapStorage {
    mem(65536, 65536)
}

/// A connection with MSS 1000, an RTT of 100 ms (RTO 300 ms) and the peer's window at
/// 65535; `sack` selects SACK.
fn open_cc<'a>(t: &mut Script<'a>, sack: bool) -> Open<'a> {
    let opts = if sack { mss_sack(1000) } else { mss_only(1000) };
    open_passive_rtt(t, opts, Duration::from_millis(100), 65535)
}

/// A duplicate ACK of `ack` (optionally with SACK blocks, offsets from `o.snd`).
fn dupack(o: &Open<'_>, ack: u32, sack: &[(u32, u32)]) -> Seg {
    let mut s = o.ack(o.snd + ack, 65535);
    for &(l, r) in sack {
        s.opts.sack.push(o.snd + l, o.snd + r);
    }
    s
}

fn cwnd(o: &Open<'_>, t: &Script<'_>) -> u32 {
    o.conn(t).cwnd()
}
fn ssthresh(o: &Open<'_>, t: &Script<'_>) -> u32 {
    o.conn(t).ssthresh()
}

// ---------------------------------------------------------------- initial window

/// RFC 6928: IW = min(10·MSS, max(2·MSS, 14600)).
#[test]
fn initial_window_rfc6928() {
    for (mss, iw) in [
        (1000u16, 10_000u32),
        (1460, 14_600),
        (536, 5360),
        (300, 3000),
    ] {
        let mut m = storage();
        let mut t = Script::new(&mut m, script_config());
        let mut o = open_passive(&mut t, mss_only(mss));
        assert_eq!(cwnd(&o, &t), iw, "MSS {mss}");
        o.write(&mut t, 60_000);
        let sent: usize = drain(&mut t).iter().map(|s| s.data.len()).sum();
        assert_eq!(sent as u32, iw, "MSS {mss}: bytes in the first flight");
    }
}

/// RFC 6928 for large segments (jumbo MTU): 2·MSS or 14600, whichever is larger, but
/// never more than 10·MSS.
#[test]
fn initial_window_large_mss() {
    for (mss, iw) in [(4000u16, 14_600u32), (8000, 16_000)] {
        let mut m = storage();
        let mut t = Script::new(&mut m, cfg_with(|c| c.mtu = 9000));
        t.dev.mtu = 9000;
        let o = open_passive(&mut t, mss_only(mss));
        assert_eq!(o.conn(&t).mss(), mss);
        assert_eq!(cwnd(&o, &t), iw, "MSS {mss}");
    }
}

/// The initial window counts payload bytes of a full segment (MSS less timestamps).
#[test]
fn initial_window_with_timestamps() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(
        &mut t,
        TcpOptions {
            mss: Some(1460),
            timestamps: Some((1, 0)),
            ..TcpOptions::NONE
        },
    );
    assert_eq!(cwnd(&o, &t), 14_480);
}

// ---------------------------------------------------------------- slow start / CA

/// RFC 5681 §3.1 with RFC 3465 (ABC, L = 2): in slow start cwnd grows by the bytes
/// acknowledged, at most 2·SMSS per ACK; every ACK lets the window refill.
#[test]
fn slow_start_grows_by_bytes_acked_with_abc() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 60_000);
    assert_eq!(spans(&drain(&mut t), o.snd).len(), 10);
    assert_eq!(
        ssthresh(&o, &t),
        u32::MAX,
        "ssthresh starts arbitrarily high"
    );
    // One segment acknowledged: +1 SMSS, two segments go out.
    t.send(o.ack(o.snd + 1000, 65535));
    assert_eq!(cwnd(&o, &t), 11_000);
    assert_eq!(
        spans(&drain(&mut t), o.snd),
        vec![(10_000, 1000), (11_000, 1000)]
    );
    // Two segments in one ACK: +2 SMSS.
    t.send(o.ack(o.snd + 3000, 65535));
    assert_eq!(cwnd(&o, &t), 13_000);
    assert_eq!(spans(&drain(&mut t), o.snd).len(), 4);
    // Four segments in one ACK (a stretch ACK): still only +2 SMSS (L = 2).
    t.send(o.ack(o.snd + 7000, 65535));
    assert_eq!(cwnd(&o, &t), 15_000);
    assert_eq!(spans(&drain(&mut t), o.snd).len(), 6);
    // A sub-MSS ACK grows by the bytes it covers (byte counting).
    t.send(o.ack(o.snd + 7500, 65535));
    assert_eq!(cwnd(&o, &t), 15_500);
}

/// RFC 5681 §3.1 eq. (4) and the loss window: an RTO sets ssthresh = max(FlightSize/2,
/// 2·SMSS) and cwnd = 1 SMSS; slow start then climbs to ssthresh and congestion
/// avoidance adds one SMSS per cwnd of bytes acknowledged (RFC 3465 §2.1).
#[test]
fn slow_start_then_congestion_avoidance_after_rto() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 60_000);
    drain(&mut t);
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    assert_eq!((cwnd(&o, &t), ssthresh(&o, &t)), (1000, 5000));
    // The receiver had everything but the first segment: one cumulative ACK.
    t.send(o.ack(o.snd + 10_000, 65535));
    assert_eq!(cwnd(&o, &t), 3000, "slow start, at most 2 SMSS per ACK");
    let mut acked = 10_000u32;
    let mut trace = Vec::new();
    for _ in 0..14 {
        drain(&mut t);
        acked += 1000;
        t.send(o.ack(o.snd + acked, 65535));
        trace.push(cwnd(&o, &t));
    }
    assert_eq!(
        trace,
        vec![
            4000, 5000, // slow start up to ssthresh
            5000, 5000, 5000, 5000, 6000, // five ACKs of 1000 for one SMSS at 5000
            6000, 6000, 6000, 6000, 6000, 7000, // six at 6000
            7000,
        ]
    );
}

/// RFC 5681 §3.1: ssthresh is lowered only by the first timeout of a series (a
/// retransmission of the same segment keeps it), while cwnd stays at one segment.
#[test]
fn repeated_rto_keeps_ssthresh() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 20_000);
    drain(&mut t);
    next_send(&mut t);
    assert_eq!((cwnd(&o, &t), ssthresh(&o, &t)), (1000, 5000));
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    assert_eq!((cwnd(&o, &t), ssthresh(&o, &t)), (1000, 5000));
}

/// RFC 5681 eq. (4): ssthresh is never below 2·SMSS.
#[test]
fn ssthresh_floor_is_two_segments() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 1000);
    drain(&mut t);
    next_send(&mut t);
    assert_eq!((cwnd(&o, &t), ssthresh(&o, &t)), (1000, 2000));
}

// ---------------------------------------------------------------- fast retransmit

/// RFC 5681 §3.2: the third duplicate ACK triggers a retransmission of the first
/// unacknowledged segment, with ssthresh = max(FlightSize/2, 2·SMSS) and
/// cwnd = ssthresh + 3·SMSS; the first two do not.
#[test]
fn fast_retransmit_on_third_dupack() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    assert_eq!(drain(&mut t).len(), 10);
    t.send(dupack(&o, 0, &[]));
    t.send(dupack(&o, 0, &[]));
    t.expect_none();
    assert_eq!(cwnd(&o, &t), 10_000);
    t.send(dupack(&o, 0, &[]));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    assert_eq!(ssthresh(&o, &t), 5000);
    assert_eq!(cwnd(&o, &t), 8000);
    let st = t.stack.stats().tcp;
    assert_eq!(
        (st.fast_retransmits, st.dup_acks, st.retransmits),
        (1, 3, 1)
    );
}

/// A duplicate ACK must be a pure ACK with the same window (RFC 5681 §2): ACKs that
/// update the window or carry data are not counted.
#[test]
fn window_updates_and_data_are_not_dupacks() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    drain(&mut t);
    t.send(o.ack(o.snd, 60_000));
    t.send(o.ack(o.snd, 50_000));
    let d = o.data(o.snd, b"x");
    t.send(d);
    let d = o.data(o.snd, b"y");
    t.send(d);
    drain(&mut t);
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 0);
    assert_eq!(t.stack.stats().tcp.dup_acks, 0);
}

/// RFC 3042 limited transmit: each of the first two duplicate ACKs sends one new
/// segment; cwnd is not changed, and (RFC 5681 §3.2 step 2) these segments do not count
/// in the FlightSize that sets ssthresh.
#[test]
fn limited_transmit() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 20_000);
    assert_eq!(drain(&mut t).len(), 10);
    t.send(dupack(&o, 0, &[]));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(10_000, 1000)]);
    t.send(dupack(&o, 0, &[]));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(11_000, 1000)]);
    assert_eq!(cwnd(&o, &t), 10_000);
    t.send(dupack(&o, 0, &[]));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(0, 1000)]);
    assert_eq!(
        ssthresh(&o, &t),
        5000,
        "FlightSize without limited transmit"
    );
    assert_eq!(cwnd(&o, &t), 8000);
}

/// RFC 5681 §3.2 steps 4–5: each further duplicate ACK inflates cwnd by one SMSS, and
/// new data goes out once cwnd exceeds what is in flight.
#[test]
fn fast_recovery_inflation() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 30_000);
    drain(&mut t);
    for _ in 0..3 {
        t.send(dupack(&o, 0, &[]));
    }
    drain(&mut t);
    // In flight: 12 segments (10 + 2 by limited transmit); cwnd 8000.
    let mut trace = Vec::new();
    for _ in 0..7 {
        t.send(dupack(&o, 0, &[]));
        trace.push((cwnd(&o, &t), spans(&drain(&mut t), o.snd)));
    }
    assert_eq!(
        trace,
        vec![
            (9000, vec![]),
            (10_000, vec![]),
            (11_000, vec![]),
            (12_000, vec![]),
            (13_000, vec![(12_000, 1000)]),
            (14_000, vec![(13_000, 1000)]),
            (15_000, vec![(14_000, 1000)]),
        ]
    );
}

/// RFC 6582 §3.2 step 4 (partial ACK): retransmit the next unacknowledged segment at
/// once, deflate cwnd by the amount acknowledged and add back one SMSS; stay in
/// recovery. Step 3 (full ACK): leave recovery with cwnd = min(ssthresh,
/// max(FlightSize, SMSS) + SMSS).
#[test]
fn newreno_partial_and_full_ack() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    drain(&mut t);
    // Segments 0 and 5 lost: 8 duplicate ACKs (for 1–4 and 6–9).
    for _ in 0..8 {
        t.send(dupack(&o, 0, &[]));
    }
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(0, 1000)]);
    assert_eq!((ssthresh(&o, &t), cwnd(&o, &t)), (5000, 13_000));
    // The retransmitted segment 0 arrives: ACK up to the second hole.
    t.send(o.ack(o.snd + 5000, 65535));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(5000, 1000)]);
    assert_eq!(cwnd(&o, &t), 13_000 - 5000 + 1000);
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 1, "one episode");
    // Full ACK.
    t.send(o.ack(o.snd + 10_000, 65535));
    assert_eq!(cwnd(&o, &t), 2000, "min(5000, max(0, 1000) + 1000)");
    assert_eq!(ssthresh(&o, &t), 5000);
    assert_eq!(t.stack.stats().tcp.retransmits, 2);
}

/// RFC 6582 §3.2 step 3 with data still in flight at the full ACK: cwnd =
/// min(ssthresh, FlightSize + SMSS).
#[test]
fn full_ack_with_data_in_flight() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 30_000);
    drain(&mut t);
    // Segment 0 lost; 11 duplicate ACKs (segments 1–11, two of them sent by limited
    // transmit). cwnd reaches 8000 + 8 · 1000 = 16000: segments 12–15 go out.
    for _ in 0..11 {
        t.send(dupack(&o, 0, &[]));
    }
    let segs = spans(&drain(&mut t), o.snd);
    assert_eq!(segs.first(), Some(&(10_000, 1000)));
    assert!(segs.contains(&(0, 1000)));
    assert_eq!(cwnd(&o, &t), 16_000);
    // The retransmission arrives: everything up to 12000 (the recovery point) is acked;
    // 12000..16000 is still in flight.
    t.send(o.ack(o.snd + 12_000, 65535));
    assert_eq!(cwnd(&o, &t), 5000, "min(ssthresh 5000, 4000 + 1000)");
    // 4000 in flight under a cwnd of 5000: one new segment.
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(16_000, 1000)]);
}

/// RFC 5681 §3.1: a timeout during fast recovery ends it; cwnd is one segment.
#[test]
fn rto_during_recovery_collapses_cwnd() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    drain(&mut t);
    for _ in 0..3 {
        t.send(dupack(&o, 0, &[]));
    }
    drain(&mut t);
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    assert_eq!(cwnd(&o, &t), 1000);
    assert_eq!(t.stack.stats().tcp.timeouts, 1);
}

/// RFC 6582 §4 (`recover`): after an RTO, duplicate ACKs for data sent before it do not
/// start a fast retransmit (the losses are already being repaired by go-back-N).
#[test]
fn no_fast_retransmit_for_losses_before_an_rto() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    drain(&mut t);
    next_send(&mut t); // RTO: segment 0 again
    // The receiver got segment 0 (and nothing else): ACK 1000, go-back-N goes on.
    t.send(o.ack(o.snd + 1000, 65535));
    assert_eq!(
        spans(&drain(&mut t), o.snd),
        vec![(1000, 1000), (2000, 1000)]
    );
    // Late duplicates of the first flight's segments arrive at the receiver.
    for _ in 0..4 {
        t.send(dupack(&o, 1000, &[]));
    }
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 0);
}

/// Once everything sent before the RTO is acknowledged, a new loss is fast
/// retransmitted again.
#[test]
fn fast_retransmit_again_after_recover_is_passed() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 30_000);
    drain(&mut t);
    next_send(&mut t);
    t.send(o.ack(o.snd + 10_000, 65535)); // all of the first flight
    let segs = spans(&drain(&mut t), o.snd);
    assert_eq!(segs, vec![(10_000, 1000), (11_000, 1000), (12_000, 1000)]);
    for _ in 0..3 {
        t.send(dupack(&o, 10_000, &[]));
    }
    let segs = spans(&drain(&mut t), o.snd);
    assert!(segs.contains(&(10_000, 1000)), "fast retransmit: {segs:?}");
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 1);
}

// ---------------------------------------------------------------- idle restart

/// RFC 5681 §4.1: after an idle period longer than the RTO, cwnd restarts from the
/// initial window; a shorter pause keeps it.
#[test]
fn restart_after_idle() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, false);
    // Grow cwnd and acknowledge everything. (The second ACK finds the window less
    // than half used and does not grow it: cwnd validation, as Linux.)
    o.write(&mut t, 10_000);
    drain(&mut t);
    t.send(o.ack(o.snd + 5000, 65535));
    t.send(o.ack(o.snd + 10_000, 65535));
    assert_eq!(cwnd(&o, &t), 12_000);
    // A pause shorter than the RTO (300 ms): cwnd kept.
    t.advance(Duration::from_millis(200));
    o.write(&mut t, 12_000);
    assert_eq!(drain(&mut t).len(), 12);
    t.send(o.ack(o.snd + 22_000, 65535));
    assert_eq!(cwnd(&o, &t), 14_000);
    // Idle for a second: back to the initial window.
    t.advance(Duration::from_secs(1));
    o.write(&mut t, 20_000);
    assert_eq!(drain(&mut t).len(), 10);
    assert_eq!(cwnd(&o, &t), 10_000);
}

// ---------------------------------------------------------------- SACK recovery

/// RFC 6675 §5: with SACK, the third duplicate ACK (or IsLost) starts recovery with
/// cwnd = ssthresh = FlightSize/2, retransmits the first hole, and sends more only
/// while pipe < cwnd.
#[test]
fn sack_recovery_retransmits_the_hole_and_respects_pipe() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, true);
    assert!(o.conn(&t).options().2);
    o.write(&mut t, 10_000);
    drain(&mut t);
    t.send(dupack(&o, 0, &[(1000, 2000)]));
    t.send(dupack(&o, 0, &[(1000, 3000)]));
    t.expect_none();
    t.send(dupack(&o, 0, &[(1000, 4000)]));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(0, 1000)]);
    assert_eq!((ssthresh(&o, &t), cwnd(&o, &t)), (5000, 5000));
    // More SACKs: the remaining holes are not lost (nothing SACKed above 10000 would
    // make them so) and there is no new data: nothing to send.
    for r in 5..=10u32 {
        t.send(dupack(&o, 0, &[(1000, r * 1000)]));
    }
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.retransmits, 1);
    // The retransmission arrives: full ACK, recovery over.
    t.send(o.ack(o.snd + 10_000, 65535));
    t.expect_none();
    assert_eq!(o.conn(&t).in_flight(), 0);
}

/// RFC 6675 §4 NextSeg: only the holes the scoreboard shows lost are retransmitted —
/// never a SACKed segment — and new data follows when pipe allows.
#[test]
fn sack_recovery_retransmits_only_holes_then_new_data() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, true);
    o.write(&mut t, 40_000);
    assert_eq!(drain(&mut t).len(), 10);
    // Segments 0, 3 and 6 lost; the rest arrive, each drawing a SACK.
    let mut sent = Vec::new();
    let arrivals: [&[(u32, u32)]; 7] = [
        &[(1000, 2000)],
        &[(1000, 3000)],
        &[(4000, 5000), (1000, 3000)],
        &[(4000, 6000), (1000, 3000)],
        &[(7000, 8000), (4000, 6000), (1000, 3000)],
        &[(7000, 9000), (4000, 6000), (1000, 3000)],
        &[(7000, 10_000), (4000, 6000), (1000, 3000)],
    ];
    for blocks in arrivals {
        t.send(dupack(&o, 0, blocks));
        sent.extend(spans(&drain(&mut t), o.snd));
    }
    let rtx: Vec<_> = sent.iter().filter(|s| s.0 < 10_000).collect();
    assert_eq!(rtx, vec![&(0, 1000), &(3000, 1000), &(6000, 1000)]);
    // Nothing SACKed was sent again; new data did go out.
    assert!(sent.iter().any(|s| s.0 >= 10_000), "no new data: {sent:?}");
    assert_eq!(
        t.stack.stats().tcp.retransmitted_bytes,
        3000,
        "exactly the three holes"
    );
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 1);
}

/// RFC 6675 §5: with SACK the window is not inflated per duplicate ACK (pipe does the
/// accounting), and a partial ACK does not deflate it.
#[test]
fn sack_recovery_keeps_cwnd_at_ssthresh() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_cc(&mut t, true);
    o.write(&mut t, 10_000);
    drain(&mut t);
    for r in 2..=9u32 {
        t.send(dupack(&o, 0, &[(1000, r * 1000)]));
    }
    drain(&mut t);
    assert_eq!(cwnd(&o, &t), 5000);
    t.send(o.ack(o.snd + 5000, 65535));
    assert_eq!(cwnd(&o, &t), 5000);
}

/// RFC 6675 §5.1 / RFC 2018 §8: after an RTO, go-back-N skips what the receiver holds
/// (SACKed) instead of sending it again.
#[test]
fn rto_skips_sacked_data() {
    let mut m = storage();
    // RACK would call the holes lost after its reordering window (tests/tcp_rack.rs);
    // this is about the RTO, so RFC 6675 alone.
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.rack_tlp = false));
    let mut o = open_cc(&mut t, true);
    o.write(&mut t, 6000);
    drain(&mut t);
    // Segments 0, 2, 3 and 5 lost; 1 and 4 SACKed. Two duplicate ACKs and 2000 bytes
    // SACKed: not enough to call anything lost (RFC 6675 IsLost), no recovery.
    t.send(dupack(&o, 0, &[(1000, 2000)]));
    t.send(dupack(&o, 0, &[(4000, 5000), (1000, 2000)]));
    t.expect_none();
    let (_, segs) = next_send(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    let mut sent = Vec::new();
    t.send(dupack(&o, 2000, &[(4000, 5000)]));
    sent.extend(spans(&drain(&mut t), o.snd));
    t.send(o.ack(o.snd + 5000, 65535));
    sent.extend(spans(&drain(&mut t), o.snd));
    assert_eq!(sent, vec![(2000, 1000), (3000, 1000), (5000, 1000)]);
    t.send(o.ack(o.snd + 6000, 65535));
    assert_eq!(t.stack.stats().tcp.retransmitted_bytes, 4000);
}

/// The connection reports `TimedOut` if recovery never succeeds (the peer vanished
/// mid-recovery): fast retransmit does not retransmit forever.
#[test]
fn recovery_with_a_dead_peer_times_out() {
    let mut m = storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.max_retransmits = 4));
    let mut o = open_cc(&mut t, false);
    o.write(&mut t, 10_000);
    drain(&mut t);
    for _ in 0..3 {
        t.send(dupack(&o, 0, &[]));
    }
    t.advance(Duration::from_secs(120));
    assert_eq!(o.s.error(&t.stack), Some(Error::TimedOut));
}
