//! Segment arrival in a synchronized state, RFC 9293 §3.10.7.4 order: sequence number
//! acceptability (the four cases), RST, SYN, ACK, text, FIN.
mod common;

use common::conn::Conn;
use common::script::*;
use tidytcp::socket::HeapStorage;
use tidytcp::tcp::State;
use tidytcp::{Duration, Error};

/// The peer fills our 8 KiB receive buffer (8 segments of 1 KiB) and gets its ACKs; the
/// window is then zero. Returns the peer's next sequence number.
fn fill_window(t: &mut Script<'_>, c: &Conn) -> tidytcp::wire::tcp::SeqNum {
    let mut seq = c.pseq;
    let chunk = [0x55u8; 1024];
    for _ in 0..8 {
        t.send(seg!(ACK, seq = seq, ack = c.iss + 1, data = &chunk));
        seq += 1024u32;
    }
    let acks = t.drain();
    let last = acks.last().expect("ACKs for the data");
    assert_eq!(last.ack, seq);
    assert_eq!(last.win, 0);
    seq
}

/// RFC 9293 §3.10.7.4 first, case SEG.LEN = 0, RCV.WND = 0: only SEG.SEQ = RCV.NXT is
/// acceptable, and such an ACK is processed (it acknowledges our data) although the window
/// is closed.
#[test]
fn zero_window_ack_at_rcv_nxt_is_processed() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"hello"));
    let nxt = fill_window(&mut t, &c);
    assert_eq!(s.send_queue(&t.stack), 5);
    t.send(seg!(ACK, seq = nxt, ack = c.iss + 6));
    t.expect_none();
    assert_eq!(s.send_queue(&t.stack), 0);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 6, ack = nxt));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 first, SEG.LEN = 0, RCV.WND = 0: any other sequence number is not
/// acceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (window 0), and the ACK field is not
/// processed.
#[test]
fn zero_window_ack_elsewhere_is_unacceptable() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.drain();
    let nxt = fill_window(&mut t, &c);
    t.send(seg!(ACK, seq = nxt + 1, ack = c.iss + 6));
    let a = t.expect(seg!(ACK, seq = c.iss + 6, ack = nxt));
    assert_eq!(a.win, 0);
    assert_eq!(s.send_queue(&t.stack), 5);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 6, ack = nxt));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 first, SEG.LEN > 0, RCV.WND = 0: no data is accepted, but a segment
/// at RCV.NXT still has its ACK processed ("valid ACKs, URGs, and RSTs"); the text is
/// trimmed away and answered with an ACK showing the zero window. Once the user reads, a
/// window update follows.
#[test]
fn zero_window_data_trimmed_ack_processed() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.drain();
    let nxt = fill_window(&mut t, &c);
    t.send(seg!(ACK | PSH, seq = nxt, ack = c.iss + 6, data = b"probe"));
    let a = t.expect(seg!(ACK, seq = c.iss + 6, ack = nxt));
    assert_eq!(a.win, 0);
    assert_eq!(s.send_queue(&t.stack), 0);
    assert_eq!(s.recv_queue(&t.stack), 8192);
    let mut buf = vec![0u8; 8192];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(8192));
    t.poll();
    let upd = t.expect(seg!(ACK, seq = c.iss + 6, ack = nxt));
    assert_eq!(upd.win, 8192);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 6, ack = nxt));
    t.send(seg!(FIN | ACK, seq = nxt, ack = c.iss + 7));
    t.expect(seg!(ACK, seq = c.iss + 7, ack = nxt + 1));
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 first, SEG.LEN = 0, RCV.WND > 0: RCV.NXT =< SEG.SEQ < RCV.NXT +
/// RCV.WND is acceptable; an ACK anywhere in the window is processed without reply.
#[test]
fn empty_segment_inside_window_accepted() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.drain();
    t.send(seg!(ACK, seq = c.pseq + 8191, ack = c.iss + 6));
    t.expect_none();
    assert_eq!(s.send_queue(&t.stack), 0);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 6, ack = c.pseq));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first, SEG.LEN = 0: SEG.SEQ = RCV.NXT + RCV.WND and SEG.SEQ <
/// RCV.NXT are outside: answered with an ACK, ACK field ignored.
#[test]
fn empty_segment_outside_window_gets_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.drain();
    t.send(seg!(ACK, seq = c.pseq + 8192, ack = c.iss + 6));
    t.expect(seg!(ACK, seq = c.iss + 6, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq - 1, ack = c.iss + 6));
    t.expect(seg!(ACK, seq = c.iss + 6, ack = c.pseq));
    t.expect_none();
    assert_eq!(s.send_queue(&t.stack), 5);
    assert_eq!(t.stack.stats().tcp.dropped_out_of_window, 2);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 6, ack = c.pseq));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first, SEG.LEN > 0: a segment starting before RCV.NXT and ending in
/// the window is acceptable; only its new part is kept ("only the new parts are
/// processed"), and the overlap is not delivered twice.
#[test]
fn segment_overlapping_left_edge_is_trimmed() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 1, data = b"abcd"));
    t.send(seg!(
        ACK,
        seq = c.pseq + 2,
        ack = c.iss + 1,
        data = b"cdefgh"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 8));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(8));
    assert_eq!(&buf[..8], b"abcdefgh");
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq + 8));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first: a segment starting in the window and running past its right
/// edge is acceptable; what lies beyond the window is trimmed off.
#[test]
fn segment_overlapping_right_edge_is_trimmed() {
    let mut mem = HeapStorage::new(2, 1, 1024, 1024);
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    let data: Vec<u8> = (0..1400u32).map(|i| i as u8).collect();
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 1, data = &data));
    t.advance(Duration::from_millis(40));
    let a = t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1024));
    assert_eq!(a.win, 0);
    let mut buf = vec![0u8; 2048];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(1024));
    assert_eq!(&buf[..1024], &data[..1024]);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first: data wholly beyond the window is not acceptable: ACK, drop.
#[test]
fn segment_beyond_window_gets_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK,
        seq = c.pseq + 8192,
        ack = c.iss + 1,
        data = b"far"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.expect_none();
    assert_eq!(s.recv_queue(&t.stack), 0);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::WouldBlock));
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first / RFC 5681 §4.2: an old duplicate (already received) is not
/// acceptable and is ACKed at once (not delayed), so a peer that lost our ACK learns.
#[test]
fn old_duplicate_acked_at_once() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 1, data = b"abc"));
    t.expect_none();
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 1, data = b"abc"));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 3));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::WouldBlock));
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4: the RST check (second) comes before the SYN check (fourth): a
/// SYN|RST at exactly RCV.NXT resets the connection.
#[test]
fn rst_checked_before_syn() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(SYN | RST, seq = c.pseq));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4: the RST check comes before the ACK check: a RST at RCV.NXT resets
/// whatever its ACK field says.
#[test]
fn rst_checked_before_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(RST | ACK, seq = c.pseq, ack = c.iss + 1000));
    t.expect_none();
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return": data
/// without ACK is not delivered and not answered.
#[test]
fn segment_without_ack_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(PSH, seq = c.pseq, data = b"noack"));
    t.send(seg!(FIN, seq = c.pseq));
    t.expect_none();
    assert_eq!(s.recv_queue(&t.stack), 0);
    assert_eq!(t.state(), State::Established);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"ack"
    ));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 fifth, seventh, eighth in order: one segment that acknowledges our
/// data, carries text and a FIN: all three take effect, one ACK covers text and FIN.
#[test]
fn ack_text_fin_in_one_segment() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"req"), Ok(3));
    t.poll();
    t.drain();
    t.send(seg!(
        ACK | PSH | FIN,
        seq = c.pseq,
        ack = c.iss + 4,
        data = b"resp"
    ));
    t.expect(seg!(ACK, seq = c.iss + 4, ack = c.pseq + 5));
    t.expect_none();
    assert_eq!(s.send_queue(&t.stack), 0);
    assert_eq!(t.state(), State::CloseWait);
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(4));
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 4, ack = c.pseq + 5));
    t.send(seg!(ACK, seq = c.pseq + 5, ack = c.iss + 5));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 eighth: a FIN beyond a gap is not processed until the gap fills
/// ("if the FIN bit is set ... and the segment is in sequence"); the out-of-order segment
/// gets an immediate duplicate ACK (RFC 5681 §4.2).
#[test]
fn out_of_order_fin_waits_for_the_gap() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | FIN,
        seq = c.pseq + 3,
        ack = c.iss + 1,
        data = b"def"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::Established);
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::WouldBlock));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 1, data = b"abc"));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 7));
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 7));
    t.send(seg!(ACK, seq = c.pseq + 7, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 seventh (CLOSE-WAIT: "this should not occur ... ignore the segment
/// text"): data after the peer's FIN is not delivered.
#[test]
fn data_after_peer_fin_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(
        ACK,
        seq = c.pseq + 1,
        ack = c.iss + 1,
        data = b"ghost"
    ));
    assert_eq!(s.recv_queue(&t.stack), 0);
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    let fin = t.drain().into_iter().last().unwrap();
    assert_eq!(
        fin.flags,
        tidytcp::wire::tcp::TcpFlags::FIN | tidytcp::wire::tcp::TcpFlags::ACK
    );
    assert_eq!(fin.ack, c.pseq + 1);
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 eighth: a retransmitted FIN in CLOSE-WAIT is old: it is ACKed again
/// and changes nothing.
#[test]
fn duplicate_fin_in_close_wait_reacked() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    assert_eq!(t.state(), State::CloseWait);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first ("special allowance should be made to accept valid ACKs,
/// URGs, and RSTs" when RCV.WND is zero): a RST at RCV.NXT resets a connection whose
/// window is closed.
#[test]
fn zero_window_rst_at_rcv_nxt_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    let nxt = fill_window(&mut t, &c);
    t.send(seg!(RST, seq = nxt + 1));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    t.send(seg!(RST, seq = nxt));
    t.expect_none();
    let mut buf = vec![0u8; 10_000];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(8192));
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}
