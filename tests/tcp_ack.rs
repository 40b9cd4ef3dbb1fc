//! Receiving data with the test as the peer: delayed ACKs (RFC 1122 §4.2.3.2, RFC 5681
//! §4.2), out-of-order reassembly (RFC 9293 §3.10.7.4 seventh) and the SACK blocks we
//! generate (RFC 2018 §4).

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions};

const RX: usize = 65536;

/// 64 KiB receive buffers: a 65535-byte window without scaling.
fn setup() -> tidytcp::socket::HeapStorage {
    mem(RX, 8192)
}

/// The peer's data segment at offset `off` from `base`, `len` bytes of `fill`.
fn at_off(o: &Open<'_>, base: SeqNum, off: u32, len: usize, fill: u8) -> Seg {
    let mut s = o.seg(TcpFlags::ACK, o.snd, 65535);
    s.seq = base + off;
    s.data = vec![fill; len];
    s
}

/// RFC 1122 §4.2.3.2: a single segment is ACKed when the delayed-ACK timer (default
/// 40 ms) expires, not before.
#[test]
fn single_segment_acked_after_the_timer() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let d = o.data(o.snd, &[1; 100]);
    t.send(d);
    t.expect_none();
    t.advance(Duration::from_millis(39));
    t.expect_none();
    t.advance(Duration::from_millis(1));
    // The right edge stays where the SYN-ACK put it: 65535 less the unread 100.
    expect_ack(&mut t, o.rcv, 65535 - 100);
    t.advance(Duration::from_secs(1));
    t.expect_none();
}

/// The delayed-ACK time is configurable.
#[test]
fn delayed_ack_time_is_configurable() {
    let mut m = setup();
    let mut t = Script::new(
        &mut m,
        cfg_with(|c| c.tcp.delayed_ack = Some(Duration::from_millis(200))),
    );
    let mut o = open_passive(&mut t, mss_only(1460));
    let d = o.data(o.snd, &[1; 100]);
    t.send(d);
    t.advance(Duration::from_millis(199));
    t.expect_none();
    t.advance(Duration::from_millis(1));
    expect_ack(&mut t, o.rcv, 65535 - 100);
}

/// RFC 5681 §4.2: an ACK for at least every second full-sized segment, at once.
#[test]
fn every_second_full_segment_is_acked_at_once() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    for round in 1..=3u32 {
        let d = o.data(o.snd, &[1; 1460]);
        t.send(d);
        t.expect_none();
        let d = o.data(o.snd, &[2; 1460]);
        t.send(d);
        // The window: the right edge advertised in the SYN-ACK does not move while the
        // user reads nothing.
        let unread = 2 * 1460 * round;
        expect_ack(&mut t, o.rcv, (65535 - unread) as u16);
        t.expect_none();
    }
}

/// `delayed_ack = None` ACKs every segment at once.
#[test]
fn delayed_ack_off_acks_every_segment() {
    let mut m = setup();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.delayed_ack = None));
    let mut o = open_passive(&mut t, mss_only(1460));
    for _ in 0..3 {
        let d = o.data(o.snd, &[1; 100]);
        t.send(d);
        t.expect(seg!(ACK, ack = o.rcv));
    }
}

/// RFC 5681 §4.2 / RFC 1122: an out-of-order segment is ACKed at once (a duplicate ACK
/// for the sender's fast retransmit).
#[test]
fn out_of_order_segment_is_acked_at_once() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    for k in 1..=3u32 {
        t.send(at_off(&o, base, 1000 * k, 1000, k as u8));
        expect_ack(&mut t, base, 65535);
    }
}

/// RFC 5681 §4.2: a segment that fills (part of) a gap is ACKed at once.
#[test]
fn gap_filling_segment_is_acked_at_once() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 2000, 1000, 3));
    expect_ack(&mut t, base, 65535);
    // Fills the first half of the gap only: still at once.
    t.send(at_off(&o, base, 0, 1000, 1));
    expect_ack(&mut t, base + 1000, 65535 - 1000);
    // Fills the rest: everything up to 3000 is acknowledged, at once.
    t.send(at_off(&o, base, 1000, 1000, 2));
    expect_ack(&mut t, base + 3000, 65535 - 3000);
    // In order again: back to delaying.
    t.send(at_off(&o, base, 3000, 100, 4));
    t.expect_none();
}

/// RFC 9293 §3.10.7.4 / RFC 5681 §4.2: a duplicate (data entirely below RCV.NXT) is
/// ACKed at once, so a sender that lost our ACK learns quickly.
#[test]
fn duplicate_data_is_acked_at_once() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 0, 500, 1));
    t.advance(Duration::from_millis(40));
    expect_ack(&mut t, base + 500, 65535 - 500);
    t.send(at_off(&o, base, 0, 500, 1));
    expect_ack(&mut t, base + 500, 65535 - 500);
    // Partly old, partly new: the new part is in-order data, whose ACK is delayed as
    // usual.
    t.send(at_off(&o, base, 250, 500, 1));
    t.expect_none();
    t.advance(Duration::from_millis(40));
    expect_ack(&mut t, base + 750, 65535 - 750);
}

/// A pending delayed ACK rides on the data we send: no separate ACK follows.
#[test]
fn delayed_ack_piggybacks_on_data() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let d = o.data(o.snd, b"request");
    t.send(d);
    t.expect_none();
    assert_eq!(o.read_all(&mut t), b"request");
    o.write(&mut t, 8);
    let r = expect_data(&mut t, o.snd, 8, true);
    assert_eq!(r.ack, o.rcv);
    t.advance(Duration::from_millis(100));
    t.expect_none();
}

/// RFC 9293 §3.10.7.4 eighth: the peer's FIN is ACKed at once.
#[test]
fn fin_is_acked_at_once() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let mut d = o.data(o.snd, b"last words");
    d.flags |= TcpFlags::FIN;
    t.send(d);
    t.expect(seg!(ACK, ack = o.rcv + 1u32));
}

// ---------------------------------------------------------------- reassembly

/// Out-of-order segments are held and delivered in order once the gap fills.
#[test]
fn reassembly_delivers_in_order() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    let all = bytes(3000);
    let piece = |off: usize| {
        let mut s = at_off(&o, base, off as u32, 1000, 0);
        s.data = all[off..off + 1000].to_vec();
        s
    };
    let (p0, p1, p2) = (piece(0), piece(1000), piece(2000));
    t.send(p2);
    t.send(p1);
    assert!(
        o.read_all(&mut t).is_empty(),
        "nothing readable before the gap fills"
    );
    t.send(p0);
    assert_eq!(o.read_all(&mut t), all);
    assert_eq!(t.stack.stats().tcp.ooo_segments, 2);
}

/// Eight holes at once (the receive buffer tracks eight out-of-order ranges), filled in
/// reverse order; every byte arrives.
#[test]
fn eight_holes_fill_in_any_order() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    let all = bytes(16_000);
    let piece = |o: &Open<'_>, k: u32| {
        let mut s = at_off(o, base, k * 1000, 1000, 0);
        s.data = all[k as usize * 1000..(k as usize + 1) * 1000].to_vec();
        s
    };
    for k in (1..16).step_by(2) {
        let s = piece(&o, k);
        t.send(s);
        expect_ack(&mut t, base, 65535);
    }
    assert_eq!(t.stack.stats().tcp.ooo_segments, 8);
    assert_eq!(t.stack.stats().tcp.ooo_dropped, 0);
    for k in (0..16).step_by(2).rev() {
        let s = piece(&o, k);
        t.send(s);
    }
    let a = drain(&mut t);
    assert_eq!(a.last().unwrap().ack, base + 16_000);
    o.rcv = base + 16_000;
    assert_eq!(o.read_all(&mut t), all);
}

/// A ninth disjoint range does not fit the range table: it is dropped and counted
/// (the sender will retransmit it), and the eight held ranges are unharmed.
#[test]
fn ninth_range_is_dropped_and_counted() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    let all = bytes(18_000);
    let piece = |o: &Open<'_>, k: u32| {
        let mut s = at_off(o, base, k * 1000, 1000, 0);
        s.data = all[k as usize * 1000..(k as usize + 1) * 1000].to_vec();
        s
    };
    for k in (1..18).step_by(2) {
        let s = piece(&o, k);
        t.send(s);
        expect_ack(&mut t, base, 65535);
    }
    assert_eq!(t.stack.stats().tcp.ooo_dropped, 1);
    for k in (0..18).step_by(2) {
        let s = piece(&o, k);
        t.send(s);
    }
    drain(&mut t);
    // Segment 17 was dropped: RCV.NXT stops at 17000 until it comes again.
    let s = piece(&o, 17);
    t.send(s);
    let a = drain(&mut t);
    assert_eq!(a.last().unwrap().ack, base + 18_000);
    o.rcv = base + 18_000;
    assert_eq!(o.read_all(&mut t), all);
}

/// Overlapping retransmissions that carry *different* bytes (a broken or hostile
/// sender): for each byte, the copy received first is kept, as BSD's reassembly does
/// (a later segment's overlap with held data is trimmed away).
#[test]
fn overlap_first_received_bytes_win() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 1000, 1000, b'A'));
    t.send(at_off(&o, base, 500, 1000, b'B'));
    t.send(at_off(&o, base, 0, 1000, b'C'));
    t.send(at_off(&o, base, 0, 2500, b'D'));
    let mut want = vec![b'C'; 500];
    want.extend(vec![b'B'; 500]);
    want.extend(vec![b'A'; 1000]);
    want.extend(vec![b'D'; 500]);
    o.rcv = base + 2500;
    assert_eq!(o.read_all(&mut t), want);
}

/// Data beyond the advertised window is not stored (RFC 9293 §3.10.7.4 trims it).
#[test]
fn data_beyond_the_window_is_trimmed() {
    let mut m = mem(4096, 4096);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 0, 3000, 1));
    t.send(at_off(&o, base, 3000, 3000, 2));
    let a = drain(&mut t);
    assert_eq!(a.last().unwrap().ack, base + 4096);
    assert_eq!(a.last().unwrap().win, 0);
    o.rcv = base + 4096;
    let got = o.read_all(&mut t);
    assert_eq!(got.len(), 4096);
    assert!(got[3000..].iter().all(|&b| b == 2));
}

// ---------------------------------------------------------------- SACK blocks

fn sack_opts(ts: bool) -> TcpOptions {
    mss_sack_ts(1460, ts.then_some(100))
}

fn with_ts(mut s: Seg, ts: bool, v: u32) -> Seg {
    if ts {
        s.opts.timestamps = Some((v, 0));
    }
    s
}

fn blocks(s: &Seg, base: SeqNum) -> Vec<(u32, u32)> {
    s.opts
        .sack
        .as_slice()
        .iter()
        .map(|&(l, r)| (l - base, r - base))
        .collect()
}

/// RFC 2018 §4: the first block holds the most recently received segment, the others
/// repeat the most recently reported blocks; at most 4 blocks without timestamps.
#[test]
fn sack_blocks_newest_first_four_without_timestamps() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, sack_opts(false));
    assert_eq!(o.conn(&t).options(), (false, false, true));
    let base = o.rcv;
    let mut want: Vec<(u32, u32)> = Vec::new();
    for k in [2u32, 4, 6, 8, 10] {
        t.send(at_off(&o, base, k * 1000, 1000, 1));
        let a = expect_ack(&mut t, base, 65535);
        want.insert(0, (k * 1000, k * 1000 + 1000));
        want.truncate(4);
        assert_eq!(blocks(&a, base), want, "after the segment at {k}000");
    }
    // A segment joining [2000,3000) and [4000,5000): the merged block comes first.
    t.send(at_off(&o, base, 3000, 1000, 1));
    let a = expect_ack(&mut t, base, 65535);
    assert_eq!(
        blocks(&a, base),
        vec![(2000, 5000), (10_000, 11_000), (8000, 9000), (6000, 7000)]
    );
}

/// RFC 2018 §3: with timestamps (12 bytes) the option has room for 3 blocks.
#[test]
fn sack_blocks_three_with_timestamps() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, sack_opts(true));
    assert_eq!(o.conn(&t).options(), (false, true, true));
    let base = o.rcv;
    for (i, k) in [2u32, 4, 6, 8].into_iter().enumerate() {
        t.send(with_ts(
            at_off(&o, base, k * 1000, 1000, 1),
            true,
            200 + i as u32,
        ));
    }
    let a = drain(&mut t);
    let last = a.last().unwrap();
    assert_eq!(
        blocks(last, base),
        vec![(8000, 9000), (6000, 7000), (4000, 5000)]
    );
    assert!(last.opts.timestamps.is_some());
}

/// The block for a segment that lands in the middle of held data (a duplicate of an
/// out-of-order segment) is that range; when the gap closes, SACK blocks stop.
#[test]
fn sack_blocks_stop_when_the_gap_closes() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, sack_opts(false));
    let base = o.rcv;
    t.send(at_off(&o, base, 1000, 1000, 1));
    let a = expect_ack(&mut t, base, 65535);
    assert_eq!(blocks(&a, base), vec![(1000, 2000)]);
    t.send(at_off(&o, base, 0, 1000, 1));
    let a = expect_ack(&mut t, base + 2000, 65535 - 2000);
    assert!(a.opts.sack.is_empty());
}

/// The partial fill of a gap: the ACK moves, and blocks above it are still reported.
#[test]
fn sack_blocks_after_a_partial_fill() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, sack_opts(false));
    let base = o.rcv;
    t.send(at_off(&o, base, 2000, 1000, 1));
    t.send(at_off(&o, base, 4000, 1000, 1));
    drain(&mut t);
    t.send(at_off(&o, base, 0, 1000, 1));
    let a = expect_ack(&mut t, base + 1000, 65535 - 1000);
    assert_eq!(blocks(&a, base), vec![(4000, 5000), (2000, 3000)]);
}

/// No SACK option unless both sides agreed on it (RFC 2018 §2).
#[test]
fn no_sack_blocks_without_sack_permitted() {
    let mut m = setup();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 1000, 1000, 1));
    let a = expect_ack(&mut t, base, 65535);
    assert!(a.opts.sack.is_empty());

    let mut m2 = setup();
    let mut t2 = Script::new(&mut m2, cfg_with(|c| c.tcp.sack = false));
    let o2 = open_passive(&mut t2, sack_opts(false));
    assert!(!o2.conn(&t2).options().2);
    t2.send(at_off(&o2, o2.rcv, 1000, 1000, 1));
    let a = expect_ack(&mut t2, o2.rcv, 65535);
    assert!(a.opts.sack.is_empty());
}
