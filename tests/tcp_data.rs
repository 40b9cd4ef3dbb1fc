//! Sending data with the test as the peer: the send window (RFC 9293 §3.8.6, §3.10.7.4),
//! Nagle and sender-side SWS avoidance (RFC 1122 §4.2.3.4), PSH.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;
use tidytcp::wire::tcp::{SeqNum, TcpFlags};

/// A connection whose peer advertised `win` bytes in its SYN (MSS 1000, no options).
fn open_with_window<'a>(t: &mut Script<'a>, win: u16) -> Open<'a> {
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(Seg {
        flags: TcpFlags::SYN,
        seq: SeqNum(1000),
        win,
        opts: mss_only(1000),
        ..Default::default()
    });
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1, win = win));
    let s = l.accept(&mut t.stack).unwrap().0;
    Open {
        s,
        l: Some(l),
        iss: sa.seq,
        snd: sa.seq + 1u32,
        rcv: SeqNum(1001),
        port: STACK_PORT,
    }
}

fn big() -> tidytcp::socket::HeapStorage {
    mem(8192, 32768)
}

/// RFC 9293 §3.8.6: never send beyond SND.UNA + SND.WND; each ACK that moves the left
/// edge lets exactly that much more out.
#[test]
fn never_beyond_the_send_window() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 3000);
    o.write(&mut t, 10_000);
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(0, 1000), (1000, 1000), (2000, 1000)]
    );
    t.send(o.ack(o.snd + 1000, 3000));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(3000, 1000)]);
    // An ACK of nothing new with the same window: nothing.
    t.send(o.ack(o.snd + 1000, 3000));
    t.expect_none();
    // The window grows without new data acknowledged: the right edge moves.
    t.send(o.ack(o.snd + 1000, 5000));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(4000, 1000), (5000, 1000)]);
}

/// RFC 9293 §3.8.6: if the peer moves the right edge left (shrinks the window), data
/// already sent beyond it is not resent and no new data goes out until it reopens.
#[test]
fn shrunk_window_stops_new_data() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 5000);
    o.write(&mut t, 8000);
    assert_eq!(drain(&mut t).len(), 5);
    t.send(o.ack(o.snd + 1000, 1000));
    t.expect_none();
    t.send(o.ack(o.snd + 5000, 3000));
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd),
        vec![(5000, 1000), (6000, 1000), (7000, 1000)]
    );
}

/// RFC 9293 §3.10.7.4 (SND.WL1/WL2): the window is taken only from a segment newer than
/// the last one that set it. An old ACK (below SND.UNA) reordered behind a newer one,
/// carrying a zero window, does not close the window.
#[test]
fn old_ack_does_not_update_the_window() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 4000);
    o.write(&mut t, 6000);
    assert_eq!(drain(&mut t).len(), 4);
    t.send(o.ack(o.snd + 2000, 4000));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(4000, 1000), (5000, 1000)]);
    t.send(o.ack(o.snd + 1000, 0));
    assert_eq!(o.conn(&t).send_window(), 4000);
    t.expect_none();
}

/// RFC 9293 §3.10.7.4: a segment with an older SEG.SEQ than SND.WL1 (a duplicate of the
/// peer's earlier data) does not set the window, even with the same SEG.ACK.
#[test]
fn older_sequence_number_does_not_update_the_window() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 4000);
    let ack = o.snd;
    let mut d1 = o.data(ack, &[1; 100]);
    d1.win = 2000;
    let mut d2 = o.data(ack, &[2; 100]);
    d2.win = 6000;
    t.send(d1.clone());
    t.send(d2);
    assert_eq!(o.conn(&t).send_window(), 6000);
    drain(&mut t);
    // d1 again (a duplicate): acknowledged at once, window unchanged.
    t.send(d1);
    expect_ack(&mut t, o.rcv, 8192 - 200);
    assert_eq!(o.conn(&t).send_window(), 6000);
}

/// RFC 9293 §3.10.7.4: same SEG.SEQ as SND.WL1 and SEG.ACK >= SND.WL2: the window is
/// updated (a pure window update from a peer that sends no data).
#[test]
fn pure_window_update_is_taken() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 2000);
    o.write(&mut t, 5000);
    assert_eq!(drain(&mut t).len(), 2);
    t.send(o.ack(o.snd, 2000));
    t.expect_none();
    t.send(o.ack(o.snd, 4000));
    assert_eq!(o.conn(&t).send_window(), 4000);
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(2000, 1000), (3000, 1000)]);
}

/// PSH is set on the segment that empties the send buffer (the last of a write), not on
/// the ones before it (RFC 9293 §3.9.1, as BSD and Linux do).
#[test]
fn psh_on_the_last_segment_of_a_write() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.write(&mut t, 3500);
    expect_data(&mut t, o.snd, 1000, false);
    expect_data(&mut t, o.snd + 1000, 1000, false);
    expect_data(&mut t, o.snd + 2000, 1000, false);
    expect_data(&mut t, o.snd + 3000, 500, true);
    // A write of exactly one full segment: PSH on it.
    t.send(o.ack(o.snd + 3500, 65535));
    o.write(&mut t, 1000);
    expect_data(&mut t, o.snd + 3500, 1000, true);
}

/// Two writes before the stack polls are one stream: one segment, PSH at its end.
#[test]
fn writes_coalesce_into_one_segment() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let o = open_with_window(&mut t, 65535);
    let mut s = o.s;
    s.write(&mut t.stack, b"hello ").unwrap();
    s.write(&mut t.stack, b"world").unwrap();
    t.poll();
    let d = expect_data(&mut t, o.snd, 11, true);
    assert_eq!(d.data, b"hello world");
}

/// RFC 1122 §4.2.3.4 (Nagle): a short segment goes out at once on an idle connection;
/// further short writes wait while it is unacknowledged, then go out together.
#[test]
fn nagle_holds_small_writes_while_one_is_in_flight() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.write(&mut t, 10);
    expect_data(&mut t, o.snd, 10, true);
    o.write(&mut t, 10);
    o.write(&mut t, 10);
    t.expect_none();
    t.advance(Duration::from_millis(100));
    t.expect_none();
    t.send(o.ack(o.snd + 10, 65535));
    expect_data(&mut t, o.snd + 10, 20, true);
    t.expect_none();
}

/// `set_nodelay(true)` turns Nagle off: every short write goes out at once.
#[test]
fn nodelay_sends_small_writes_at_once() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.s.set_nodelay(&mut t.stack, true).unwrap();
    for i in 0..4u32 {
        o.write(&mut t, 10);
        expect_data(&mut t, o.snd + 10 * i, 10, true);
    }
    // And back on.
    o.s.set_nodelay(&mut t.stack, false).unwrap();
    o.write(&mut t, 10);
    t.expect_none();
}

/// Nagle off for every connection through the configuration (`nagle = false`).
#[test]
fn nagle_off_in_config() {
    let mut m = big();
    let mut t = Script::new(&mut m, cfg_with(|c| c.tcp.nagle = false));
    let mut o = open_with_window(&mut t, 65535);
    assert!(o.conn(&t).nodelay());
    o.write(&mut t, 10);
    o.write(&mut t, 10);
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 10), (10, 10)]);
}

/// Nagle holds only short segments: full segments queued behind a short one in flight
/// go out, the short tail waits.
#[test]
fn nagle_sends_full_segments_and_holds_the_tail() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.write(&mut t, 10);
    expect_data(&mut t, o.snd, 10, true);
    o.write(&mut t, 2500);
    expect_data(&mut t, o.snd + 10, 1000, false);
    expect_data(&mut t, o.snd + 1010, 1000, false);
    t.expect_none();
    t.send(o.ack(o.snd + 10, 65535));
    expect_data(&mut t, o.snd + 2010, 500, true);
}

/// Minshall's refinement (as Linux): when only full-sized segments are in flight, a
/// short write is not delayed: the classic rule's stall behind a delayed ACK is avoided.
#[test]
fn nagle_lets_a_short_segment_follow_full_ones() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.write(&mut t, 2000);
    expect_data(&mut t, o.snd, 1000, false);
    expect_data(&mut t, o.snd + 1000, 1000, true);
    o.write(&mut t, 10);
    expect_data(&mut t, o.snd + 2000, 10, true);
    o.write(&mut t, 10);
    t.expect_none();
}

/// A FIN is not held back by Nagle (Linux and BSD send it at once).
#[test]
fn nagle_does_not_hold_the_fin() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    o.write(&mut t, 10);
    expect_data(&mut t, o.snd, 10, true);
    o.write(&mut t, 10);
    t.expect_none();
    o.s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    let f = t.expect(seg!(FIN | ACK | PSH, seq = o.snd + 10));
    assert_eq!(f.data.len(), 10);
}

/// RFC 1122 §4.2.3.4 / RFC 9293 §3.8.6.2.1 (sender SWS avoidance): with more data
/// queued, a segment shorter than a full one is sent only if it is at least half the
/// largest window the peer ever offered.
#[test]
fn sender_sws_waits_for_a_useful_window() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 1600);
    o.write(&mut t, 5000);
    let segs = drain(&mut t);
    // 600 bytes would fit, but 600 < 1600 / 2.
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)]);
    // The window slides by 1000: again one full segment, and 600 held.
    t.send(o.ack(o.snd + 1000, 1600));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(1000, 1000)]);
    // The right edge moves to 3400: one full segment, 400 held (< 800).
    t.send(o.ack(o.snd + 1800, 1600));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(2000, 1000)]);
    // 800 usable (half of the largest window): sent.
    t.send(o.ack(o.snd + 2200, 1600));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(3000, 800)]);
}

/// RFC 1122 §4.2.3.4 (c): a peer whose whole window is smaller than our MSS gets
/// segments of its window's size (at least half of the largest window).
#[test]
fn window_smaller_than_mss_is_used() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 700);
    o.write(&mut t, 3000);
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 700)]);
    t.send(o.ack(o.snd + 700, 700));
    let segs = drain(&mut t);
    assert_eq!(spans(&segs, o.snd), vec![(700, 700)]);
}

/// RFC 1122 §4.2.3.4 (d): data held back by sender SWS avoidance with nothing in flight
/// (no ACK will come to clock it out) is sent when an override timeout expires, as BSD's
/// persist timer and Linux's probe timer do. Without it the connection would stall.
#[test]
fn sender_sws_override_timeout() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 1600);
    o.write(&mut t, 5000);
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(0, 1000)]);
    // Everything acknowledged, but the peer's buffer is still partly full: 600 bytes.
    t.send(o.ack(o.snd + 1000, 600));
    t.expect_none();
    t.advance(Duration::from_secs(5));
    let segs = drain(&mut t);
    assert_eq!(
        spans(&segs, o.snd).first(),
        Some(&(1000, 600)),
        "held data never sent: {segs:?}"
    );
}

/// Data queued before the handshake completes (active open) goes out right after it.
#[test]
fn data_written_in_syn_sent_follows_the_handshake() {
    let mut m = big();
    let mut t = Script::new(&mut m, script_config());
    let mut s = t.stack.connect(peer().into()).unwrap();
    s.write(&mut t.stack, b"early").unwrap();
    t.poll();
    let syn = t.expect(seg!(SYN));
    assert!(syn.data.is_empty(), "no data on the SYN");
    t.send(Seg {
        dst_port: syn.src_port,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        seq: SeqNum(5000),
        ack: syn.seq + 1u32,
        opts: mss_only(1000),
        ..Default::default()
    });
    let d = t.expect(seg!(ACK | PSH, seq = syn.seq + 1u32, ack = 5001));
    assert_eq!(d.data, b"early");
    t.expect_none();
}

/// The bytes on the wire are the bytes written, in order, across segment boundaries
/// and the ring's wrap-around.
#[test]
fn payload_bytes_are_the_written_bytes() {
    let mut m = mem(8192, 4096);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_with_window(&mut t, 65535);
    let all = bytes(20_000);
    let mut written = 0;
    let mut got = Vec::new();
    while got.len() < all.len() {
        if written < all.len() {
            if let Ok(n) = o.s.write(&mut t.stack, &all[written..]) {
                written += n;
            }
        }
        t.poll();
        for s in drain(&mut t) {
            assert_eq!(s.seq, o.snd + got.len() as u32);
            got.extend_from_slice(&s.data);
        }
        t.send(o.ack(o.snd + got.len() as u32, 65535));
    }
    assert_eq!(got, all);
}
