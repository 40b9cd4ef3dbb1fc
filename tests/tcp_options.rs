//! Option handling with the test as the peer: MSS (RFC 9293 §3.7.1, RFC 1122 §4.2.2.6),
//! window scaling (RFC 7323 §2) and timestamps with PAWS (RFC 7323 §3–5).

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions};

// ---------------------------------------------------------------- MSS

/// RFC 9293 §3.7.1 / RFC 1122 §4.2.2.6: the MSS we announce is the MTU less the fixed
/// IPv4 and TCP headers: 1460 on a 1500-byte Ethernet.
#[test]
fn our_mss_is_mtu_less_40() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let _l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.mss, Some(1460));

    // Active open: the SYN carries the same.
    let _c = t.stack.connect(peer().into()).unwrap();
    t.poll();
    let syn = t.expect(seg!(SYN));
    assert_eq!(syn.opts.mss, Some(1460));
}

/// RFC 1122 §4.2.2.6: a smaller link MTU (the device's, or the configured one) lowers
/// the MSS we announce.
#[test]
fn our_mss_follows_a_smaller_mtu() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    t.dev.mtu = 1000;
    let _l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.mss, Some(960));

    let mut m2 = script_storage();
    let mut t2 = Script::new(&mut m2, cfg_with(|c| c.mtu = 576));
    let _l2 = t2.stack.listen(STACK_PORT, 4).unwrap();
    t2.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t2.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.mss, Some(536));
}

/// RFC 9293 §3.7.1: the peer's MSS bounds every segment we send.
#[test]
fn peer_mss_bounds_segments() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1000));
    assert_eq!(o.conn(&t).mss(), 1000);
    o.write(&mut t, 2500);
    expect_data(&mut t, o.snd, 1000, false);
    expect_data(&mut t, o.snd + 1000, 1000, false);
    expect_data(&mut t, o.snd + 2000, 500, true);
    t.expect_none();
}

/// RFC 9293 §3.7.1: without an MSS option the send MSS is 536 (576 - 40).
#[test]
fn absent_mss_means_536() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, TcpOptions::NONE);
    assert_eq!(o.conn(&t).mss(), 536);
    o.write(&mut t, 1200);
    expect_data(&mut t, o.snd, 536, false);
    expect_data(&mut t, o.snd + 536, 536, false);
    expect_data(&mut t, o.snd + 1072, 128, true);
    t.expect_none();
}

/// An MSS of 0, 1 or a few bytes would make the stack send one-byte segments (or none):
/// it is raised to the configured `min_mss` (64), as Linux raises it to its
/// `tcp_min_snd_mss` (CVE-2019-11479).
#[test]
fn tiny_peer_mss_is_clamped_to_min_mss() {
    for mss in [0u16, 1, 8, 40, 63] {
        let mut m = script_storage();
        let mut t = Script::new(&mut m, script_config());
        let mut o = open_passive(&mut t, mss_only(mss));
        assert_eq!(o.conn(&t).mss(), 64, "peer MSS {mss}");
        o.write(&mut t, 200);
        expect_data(&mut t, o.snd, 64, false);
        expect_data(&mut t, o.snd + 64, 64, false);
        expect_data(&mut t, o.snd + 128, 64, false);
        expect_data(&mut t, o.snd + 192, 8, true);
        t.expect_none();
    }
}

/// A `min_mss` from the configuration is what the clamp uses.
#[test]
fn min_mss_is_configurable() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.min_mss = 200));
    let mut o = open_passive(&mut t, mss_only(100));
    assert_eq!(o.conn(&t).mss(), 200);
    o.write(&mut t, 300);
    expect_data(&mut t, o.snd, 200, false);
    expect_data(&mut t, o.snd + 200, 100, true);
}

/// A peer MSS above what our own MTU can carry is capped by the MTU.
#[test]
fn peer_mss_above_our_mtu_is_capped() {
    let mut m = mem(8192, 16384);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(9000));
    assert_eq!(o.conn(&t).mss(), 1460);
    o.write(&mut t, 3000);
    expect_data(&mut t, o.snd, 1460, false);
    expect_data(&mut t, o.snd + 1460, 1460, false);
    expect_data(&mut t, o.snd + 2920, 80, true);
}

/// RFC 9293 §3.7.1 / RFC 7323 §3.2: the MSS counts no options, so with timestamps (12
/// bytes each segment) a full segment carries MSS - 12 bytes of data.
#[test]
fn timestamps_take_twelve_bytes_of_each_segment() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let opts = TcpOptions {
        mss: Some(1460),
        timestamps: Some((100, 0)),
        ..TcpOptions::NONE
    };
    let mut o = open_passive(&mut t, opts);
    assert_eq!(o.conn(&t).mss(), 1448);
    o.write(&mut t, 3000);
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(0, 1448), (1448, 1448), (2896, 104)]
    );
    for s in &segs {
        assert!(s.opts.timestamps.is_some());
        // 20 + 12 bytes of header and the data fit the peer's 1460 + 40.
        assert!(s.data.len() + 12 <= 1460);
    }
}

/// The MSS from the peer's SYN-ACK (active open) bounds our segments too.
#[test]
fn active_open_honours_synack_mss() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let (mut o, _) = open_active(&mut t, mss_only(700), 65535);
    o.write(&mut t, 1500);
    expect_data(&mut t, o.snd, 700, false);
    expect_data(&mut t, o.snd + 700, 700, false);
    expect_data(&mut t, o.snd + 1400, 100, true);
}

// ---------------------------------------------------------------- window scaling

/// RFC 7323 §2.3: the shift we offer is the smallest that lets 16 bits cover the
/// receive buffer: 256 KiB needs 3 (262144 >> 2 is 65536, one too many).
#[test]
fn offered_shift_follows_buffer_size() {
    for (rx, shift) in [
        (8192usize, 0u8),
        (65535, 0),
        (65536, 1),
        (262_144, 3),
        (1 << 20, 5),
    ] {
        let mut m = mem(rx, 4096);
        let mut t = Script::new(&mut m, script_config());
        let _c = t.stack.connect(peer().into()).unwrap();
        t.poll();
        let syn = t.expect(seg!(SYN));
        assert_eq!(syn.opts.window_scale, Some(shift), "rx buffer {rx}");
        // RFC 7323 §2.2: the window in a SYN is never scaled.
        assert_eq!(u32::from(syn.win), (rx as u32).min(65535), "rx buffer {rx}");
    }
}

/// RFC 7323 §2.2, §2.3: with both sides offering, our windows are sent scaled by our
/// shift after the SYN, and the peer's windows are read scaled by its shift.
#[test]
fn scaling_applies_both_ways_after_the_syn() {
    let mut m = mem(262_144, 65536);
    let mut t = Script::new(&mut m, script_config());
    let opts = TcpOptions {
        mss: Some(1000),
        window_scale: Some(4),
        ..TcpOptions::NONE
    };
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(Seg {
        flags: TcpFlags::SYN,
        seq: SeqNum(1000),
        win: 100,
        opts,
        ..Default::default()
    });
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.window_scale, Some(3));
    assert_eq!(sa.win, 65535, "SYN-ACK window is not scaled");
    // The peer's window of 100 in the SYN was not scaled: 100 bytes.
    let iss = sa.seq;
    // The ACK completing the handshake carries window 125 << 4 = 2000 bytes.
    t.send(seg!(ACK, seq = 1001, ack = iss + 1, win = 125));
    let mut s = l.accept(&mut t.stack).unwrap().0;
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.window_scales(), (3, 4));
    assert_eq!(c.send_window(), 2000);
    s.write(&mut t.stack, &bytes(5000)).unwrap();
    t.poll();
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, iss + 1), vec![(0, 1000), (1000, 1000)]);
    // Our ACK of peer data: 262144 - 100 bytes free. Shifting right would move the
    // right edge we advertised 4 bytes left, so the field rounds up (RFC 7323 §2.4,
    // RFC 9293 §3.8.6: never shrink the window; Linux aligns up the same way).
    t.send(seg!(
        ACK | PSH,
        seq = 1001,
        ack = iss + 1,
        win = 125,
        data = [7u8; 100]
    ));
    t.advance(Duration::from_millis(200));
    let segs = drain(&mut t);
    let ack = segs.iter().find(|s| s.ack == SeqNum(1101)).expect("an ACK");
    assert_eq!(ack.win, (262_144 - 100u32).div_ceil(8) as u16);
}

/// RFC 7323 §2.2: scaling is used only if both sides offered it. A peer that does not
/// offer it gets no WS option back, and every window is unscaled (at most 65535).
#[test]
fn no_scaling_unless_the_peer_offers() {
    let mut m = mem(262_144, 65536);
    let mut t = Script::new(&mut m, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1000, win = 3000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.window_scale, None);
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1, win = 3000));
    let mut s = l.accept(&mut t.stack).unwrap().0;
    assert_eq!(s.connection(&t.stack).unwrap().window_scales(), (0, 0));
    assert_eq!(s.connection(&t.stack).unwrap().send_window(), 3000);
    s.write(&mut t.stack, &bytes(5000)).unwrap();
    t.poll();
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, sa.seq + 1),
        vec![(0, 1000), (1000, 1000), (2000, 1000)]
    );
    assert!(segs.iter().all(|s| s.win == 65535));
}

/// RFC 7323 §2.2: we offer scaling on our SYN; a SYN-ACK without it turns scaling off
/// for both directions.
#[test]
fn active_open_without_peer_scaling() {
    let mut m = mem(262_144, 65536);
    let mut t = Script::new(&mut m, script_config());
    let (mut o, syn) = open_active(&mut t, mss_only(1000), 2000);
    assert_eq!(syn.opts.window_scale, Some(3));
    assert_eq!(o.conn(&t).window_scales(), (0, 0));
    assert_eq!(o.conn(&t).send_window(), 2000);
    o.write(&mut t, 5000);
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000), (1000, 1000)]);
    assert!(segs.iter().all(|s| s.win == 65535));
}

/// RFC 7323 §2.2: the window field of the peer's SYN-ACK is not scaled, even though
/// scaling is agreed; the next ACK's is.
#[test]
fn synack_window_is_not_scaled() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let opts = TcpOptions {
        mss: Some(1000),
        window_scale: Some(2),
        ..TcpOptions::NONE
    };
    let (mut o, _) = open_active(&mut t, opts, 2000);
    assert_eq!(o.conn(&t).window_scales(), (1, 2));
    assert_eq!(o.conn(&t).send_window(), 2000);
    o.write(&mut t, 12000);
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000), (1000, 1000)]);
    // The same field value in an ACK now means 2000 << 2 = 8000 bytes.
    t.send(o.ack(o.snd + 2000, 2000));
    assert_eq!(o.conn(&t).send_window(), 8000);
    let segs = drain(&mut t);
    let sent: usize = segs.iter().map(|s| s.data.len()).sum();
    assert_eq!(sent, 8000);
}

/// RFC 7323 §2.3: a shift above 14 is taken as 14.
#[test]
fn peer_shift_above_14_is_clamped() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let opts = TcpOptions {
        mss: Some(1000),
        window_scale: Some(20),
        ..TcpOptions::NONE
    };
    let o = open_passive(&mut t, opts);
    assert_eq!(o.conn(&t).window_scales().1, 14);
    // The ACK completing the handshake had window 65535 << 14.
    assert_eq!(o.conn(&t).send_window(), 65535 << 14);
}

/// Window scaling off in our configuration: no WS option offered or accepted.
#[test]
fn scaling_disabled_in_config() {
    let mut m = mem(262_144, 65536);
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.window_scaling = false));
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460, ws = 7));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.window_scale, None);
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1, win = 1000));
    let s = l.accept(&mut t.stack).unwrap().0;
    // The peer's window is taken as is: 1000 bytes, not 1000 << 7.
    assert_eq!(s.connection(&t.stack).unwrap().send_window(), 1000);
    let _c = t.stack.connect(peer().into()).unwrap();
    t.poll();
    let syn = t.expect(seg!(SYN));
    assert_eq!(syn.opts.window_scale, None);
}

// ---------------------------------------------------------------- timestamps

fn ts_opts(tsval: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1000),
        timestamps: Some((tsval, 0)),
        ..TcpOptions::NONE
    }
}

/// A segment from the peer with timestamps.
fn with_ts(mut s: Seg, tsval: u32, tsecr: u32) -> Seg {
    s.opts.timestamps = Some((tsval, tsecr));
    s
}

/// RFC 7323 §3.2: once negotiated, every segment we send carries TSopt: data, pure
/// ACKs, FIN. Our TSval counts milliseconds (§5.4).
#[test]
fn tsopt_on_every_segment() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(100));
    o.write(&mut t, 1500);
    let d1 = expect_data(&mut t, o.snd, 988, false);
    let d2 = expect_data(&mut t, o.snd + 988, 512, true);
    let (v1, e1) = d1.opts.timestamps.unwrap();
    assert_eq!(e1, 101, "TSecr echoes the TSval of the handshake's ACK");
    assert_eq!(d2.opts.timestamps.unwrap().0, v1);
    t.advance(Duration::from_millis(100));
    let s = with_ts(o.data(o.snd + 1500, b"abc"), 200, v1);
    t.send(s);
    t.advance(Duration::from_millis(50)); // delayed ACK
    let a = expect_ack(&mut t, o.rcv, 8192 - 3);
    let (v2, e2) = a.opts.timestamps.unwrap();
    assert_eq!(e2, 200);
    assert_eq!(v2.wrapping_sub(v1), 140, "TSval ticks in milliseconds");
    o.s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    let fin = t.expect(seg!(FIN | ACK, seq = o.snd + 1500));
    assert!(fin.opts.timestamps.is_some());
}

/// RFC 7323 §4.3: with delayed ACKs, TSecr echoes the earliest unacknowledged segment's
/// TSval (TS.Recent is updated only from a segment at or before Last.ACK.sent).
#[test]
fn tsecr_echoes_the_earliest_segment_of_a_delayed_ack() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(100));
    let ack = o.snd;
    let s1 = with_ts(o.data(ack, &[1; 988]), 300, 0);
    t.send(s1);
    t.expect_none();
    let s2 = with_ts(o.data(ack, &[2; 988]), 301, 0);
    t.send(s2);
    let a = expect_ack(&mut t, o.rcv, 8192 - 1976);
    assert_eq!(a.opts.timestamps.unwrap().1, 300);
}

/// RFC 7323 §4.3 (C): an out-of-order segment does not update TS.Recent; the segment
/// that fills the hole does, and its TSval is echoed.
#[test]
fn tsecr_after_a_hole_is_filled() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, ts_opts(100));
    let base = o.rcv;
    t.send(with_ts(
        seg!(ACK, seq = base + 500, ack = o.snd, data = [9u8; 500]),
        400,
        0,
    ));
    let a = t.expect(seg!(ACK, ack = base));
    assert_eq!(a.opts.timestamps.unwrap().1, 101, "old TS.Recent echoed");
    t.send(with_ts(
        seg!(ACK, seq = base, ack = o.snd, data = [8u8; 500]),
        401,
        0,
    ));
    let a = t.expect(seg!(ACK, ack = base + 1000));
    assert_eq!(a.opts.timestamps.unwrap().1, 401);
}

/// RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent is an old duplicate:
/// it is dropped (its data never reaches the user) and answered with an ACK.
#[test]
fn paws_drops_an_old_duplicate_and_acks() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(1_000_000));
    let s = with_ts(o.data(o.snd, b"fresh"), 1_000_010, 0);
    t.send(s);
    // A segment with the next sequence number but an old timestamp (a wrapped duplicate).
    let old = with_ts(
        seg!(ACK | PSH, seq = o.rcv, ack = o.snd, data = *b"stale"),
        999_000,
        0,
    );
    t.send(old);
    let a = expect_ack(&mut t, o.rcv, 8192 - 5);
    assert_eq!(a.opts.timestamps.unwrap().1, 1_000_010);
    assert_eq!(t.stack.stats().tcp.dropped_paws, 1);
    assert_eq!(o.read_all(&mut t), b"fresh");
}

/// PAWS tolerates one tick, as Linux does (TCP_PAWS_WINDOW): a segment reordered behind
/// a newer one by less than a millisecond is not an old duplicate. Two ticks are.
#[test]
fn paws_tolerates_one_tick_of_reordering() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(1_000_000));
    // TS.Recent becomes 1 000 011; the next segment carries a TSval one tick older
    // (sent just before, overtaken on the way): accepted.
    t.send(with_ts(
        seg!(ACK | PSH, seq = o.rcv, ack = o.snd, data = *b"aa"),
        1_000_011,
        0,
    ));
    t.send(with_ts(
        seg!(ACK | PSH, seq = o.rcv + 2, ack = o.snd, data = *b"bb"),
        1_000_010,
        0,
    ));
    assert_eq!(t.stack.stats().tcp.dropped_paws, 0);
    o.rcv += 4u32;
    assert_eq!(o.read_all(&mut t), b"aabb");
    // Two ticks older than TS.Recent (still 1 000 011) is dropped.
    t.send(with_ts(
        seg!(ACK | PSH, seq = o.rcv, ack = o.snd, data = *b"cc"),
        1_000_009,
        0,
    ));
    assert_eq!(t.stack.stats().tcp.dropped_paws, 1);
}

/// RFC 7323 §5.5: after 24 days of idleness TS.Recent is no longer trusted: a segment
/// with an "old" TSval is accepted and its TSval becomes TS.Recent.
#[test]
fn paws_gives_up_after_24_days_idle() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(1_000_000));
    t.advance(Duration::from_secs(25 * 24 * 3600));
    let s = with_ts(o.data(o.snd, b"late"), 5, 0);
    t.send(s);
    assert_eq!(t.stack.stats().tcp.dropped_paws, 0);
    assert_eq!(o.read_all(&mut t), b"late");
    t.advance(Duration::from_millis(100));
    let a = expect_ack(&mut t, o.rcv, 8192);
    assert_eq!(a.opts.timestamps.unwrap().1, 5);
}

/// …but 23 days is not enough: the segment is still dropped by PAWS.
#[test]
fn paws_still_applies_before_24_days() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(1_000_000));
    t.advance(Duration::from_secs(23 * 24 * 3600));
    let s = with_ts(o.data(o.snd, b"late"), 5, 0);
    t.send(s);
    assert_eq!(t.stack.stats().tcp.dropped_paws, 1);
    expect_ack(&mut t, o.rcv - 4, 8192);
}

/// RFC 7323 §5.2 / §3.2: a RST is not subject to PAWS, and may come without TSopt.
#[test]
fn rst_is_not_subject_to_paws() {
    for tsopt in [Some((5u32, 0u32)), None] {
        let mut m = script_storage();
        let mut t = Script::new(&mut m, script_config());
        let o = open_passive(&mut t, ts_opts(1_000_000));
        let mut rst = o.seg(TcpFlags::RST, SeqNum(0), 0);
        rst.opts.timestamps = tsopt;
        t.send(rst);
        t.expect_none();
        assert_eq!(
            o.s.error(&t.stack),
            Some(tidytcp::Error::ConnectionReset),
            "RST with {tsopt:?}"
        );
    }
}

/// RFC 7323 §3.2: once timestamps are agreed, a non-RST segment without TSopt is
/// silently dropped.
#[test]
fn segment_without_tsopt_is_dropped() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(100));
    let s = o.data(o.snd, b"no ts");
    t.send(s);
    t.advance(Duration::from_millis(300));
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.dropped_missing_ts, 1);
    assert!(o.read_all(&mut t).is_empty());
}

/// RFC 7323 §3.2: timestamps are used only if both SYNs carried TSopt.
#[test]
fn no_timestamps_unless_both_offer() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1000));
    o.write(&mut t, 10);
    let d = expect_data(&mut t, o.snd, 10, true);
    assert_eq!(d.opts.timestamps, None);
    assert_eq!(o.conn(&t).options(), (false, false, false));

    let mut m2 = script_storage();
    let mut t2 = Script::new(&mut m2, cfg_with(|c| c.tcp.timestamps = false));
    let l = t2.stack.listen(STACK_PORT, 4).unwrap();
    t2.send(seg!(SYN, seq = 1, mss = 1000, ts = (5, 0)));
    let sa = t2.expect(seg!(SYN | ACK, ack = 2));
    assert_eq!(sa.opts.timestamps, None);
    l.close(&mut t2.stack);
}

/// RFC 7323 §4.1 / RFC 6298 §2.3: the RTT is measured from TSecr. The handshake took
/// no virtual time (a sample of 1 µs); a 30 ms sample then gives
/// SRTT = 7/8 · 1 µs + 1/8 · 30 ms.
#[test]
fn rtt_measured_from_tsecr() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, ts_opts(100));
    assert_eq!(o.conn(&t).srtt(), Some(Duration::from_micros(1)));
    o.write(&mut t, 100);
    let d = expect_data(&mut t, o.snd, 100, true);
    t.advance(Duration::from_millis(30));
    let (v, _) = d.opts.timestamps.unwrap();
    t.send(with_ts(o.ack(o.snd + 100, 65535), 150, v));
    assert_eq!(o.conn(&t).srtt(), Some(Duration::from_micros(1 + 3750)));
}
