//! The receive window we advertise (RFC 9293 §3.8.6, §3.8.6.2.2; RFC 1122 §4.2.3.3):
//! its size, a right edge that never moves left, window updates when the user reads,
//! and receiver-side silly window syndrome avoidance.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::wire::tcp::{SeqNum, TcpFlags};

/// The peer's data at offset `off` from `base`.
fn at_off(o: &Open<'_>, base: SeqNum, off: u32, len: usize) -> Seg {
    let mut s = o.seg(TcpFlags::ACK, o.snd, 65535);
    s.seq = base + off;
    s.data = bytes(off as usize + len)[off as usize..].to_vec();
    s
}

/// Reads exactly `n` bytes (they must be there) and polls.
fn read_n<'a>(o: &mut Open<'a>, t: &mut Script<'a>, n: usize) {
    let mut buf = vec![0u8; n];
    let got = o.s.read(&mut t.stack, &mut buf).unwrap();
    assert_eq!(got, n);
    t.poll();
}

/// The window we offer is the free receive buffer (8 KiB here), in the SYN-ACK and
/// after.
#[test]
fn window_is_the_free_buffer() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let _l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.win, 8192);
}

/// RFC 9293 §3.8.6: the right edge (ACK + window) never moves left. While the user
/// reads nothing, every ACK announces the same edge, down to a zero window.
#[test]
fn right_edge_never_moves_left() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    let edge = base + 8192;
    let mut off = 0u32;
    while off < 8192 {
        let len = 1460.min(8192 - off) as usize;
        t.send(at_off(&o, base, off, len));
        off += len as u32;
        t.advance(tidytcp::Duration::from_millis(50));
        for a in drain(&mut t) {
            assert_eq!(a.ack + u32::from(a.win), edge, "edge moved in {a:?}");
        }
    }
    // Full: the window is zero, at the same edge.
    t.send(at_off(&o, base, 0, 1)); // a duplicate draws an ACK at once
    let a = expect_ack(&mut t, edge, 0);
    assert_eq!(a.ack + u32::from(a.win), edge);
}

/// RFC 9293 §3.8.6.2.2 / BSD: when the user reads, a window update is sent once the
/// window can open by two full segments (2 · 1460 here)…
#[test]
fn window_update_after_two_segments_read() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    for k in 0..8u32 {
        t.send(at_off(&o, base, k * 1024, 1024));
    }
    t.advance(tidytcp::Duration::from_millis(50));
    let a = drain(&mut t);
    assert_eq!(a.last().unwrap().ack, base + 8192);
    assert_eq!(a.last().unwrap().win, 0);
    read_n(&mut o, &mut t, 1000);
    t.expect_none();
    read_n(&mut o, &mut t, 1900);
    t.expect_none();
    read_n(&mut o, &mut t, 20); // 2920 = 2 · MSS
    expect_ack(&mut t, base + 8192, 2920);
}

/// …or by half the buffer, whichever is smaller (4 KiB buffer: 2048 bytes).
#[test]
fn window_update_after_half_the_buffer_read() {
    let mut m = mem(4096, 4096);
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    for k in 0..4u32 {
        t.send(at_off(&o, base, k * 1024, 1024));
    }
    drain(&mut t);
    read_n(&mut o, &mut t, 2047);
    t.expect_none();
    read_n(&mut o, &mut t, 1);
    expect_ack(&mut t, base + 4096, 2048);
}

/// RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): a zero window stays zero until it can
/// open by min(half the buffer, one MSS); it never opens by a sliver.
#[test]
fn receiver_sws_keeps_the_window_shut_for_slivers() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    for k in 0..8u32 {
        t.send(at_off(&o, base, k * 1024, 1024));
    }
    drain(&mut t);
    read_n(&mut o, &mut t, 1000);
    t.expect_none();
    // A duplicate draws an ACK at once: still a zero window.
    t.send(at_off(&o, base, 0, 100));
    expect_ack(&mut t, base + 8192, 0);
    read_n(&mut o, &mut t, 459);
    t.send(at_off(&o, base, 0, 100));
    expect_ack(&mut t, base + 8192, 0);
    // 1460 free: one MSS, the window may open (no update of its own yet: below 2 MSS).
    read_n(&mut o, &mut t, 1);
    t.expect_none();
    t.send(at_off(&o, base, 0, 100));
    expect_ack(&mut t, base + 8192, 1460);
}

/// A window that is not zero also moves only in useful steps: reading a little does
/// not move the right edge, reading a segment's worth does.
#[test]
fn receiver_sws_on_an_open_window() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 0, 4000));
    t.advance(tidytcp::Duration::from_millis(50));
    expect_ack(&mut t, base + 4000, 4192);
    read_n(&mut o, &mut t, 1000);
    t.send(at_off(&o, base, 0, 10));
    expect_ack(&mut t, base + 4000, 4192);
    read_n(&mut o, &mut t, 460);
    t.send(at_off(&o, base, 0, 10));
    expect_ack(&mut t, base + 4000, 4192 + 1460);
}

/// The window update goes out even though no data arrives: the peer, stuck at a zero
/// window, is told as soon as the user has read enough (RFC 1122 §4.2.3.3).
#[test]
fn window_update_unblocks_a_stalled_peer() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let mut o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    for k in 0..8u32 {
        t.send(at_off(&o, base, k * 1024, 1024));
    }
    drain(&mut t);
    let all = o.read_all(&mut t);
    assert_eq!(all.len(), 8192);
    assert_eq!(all, bytes(8192));
    expect_ack(&mut t, base + 8192, 8192);
    t.expect_none();
}

/// Out-of-order data does not shrink the window we advertise (the bytes are in the
/// buffer, but the edge is where it was).
#[test]
fn out_of_order_data_keeps_the_window() {
    let mut m = script_storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_passive(&mut t, mss_only(1460));
    let base = o.rcv;
    t.send(at_off(&o, base, 2000, 1000));
    expect_ack(&mut t, base, 8192);
    t.send(at_off(&o, base, 4000, 1000));
    expect_ack(&mut t, base, 8192);
}
