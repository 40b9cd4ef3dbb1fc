//! Closing connections: orderly close from either side, simultaneous close, half-close
//! both ways, LAST-ACK, TIME-WAIT, the FIN-WAIT-2 timeout, resets on close, and what the
//! handle reports (RFC 9293 §3.6, §3.10.4, §3.10.7.4; RFC 1122 §4.2.2.13; RFC 1337).
mod common;

use common::script::*;
use tidytcp::socket::SocketFlags;
use tidytcp::tcp::State;
use tidytcp::{Duration, Error};

const MSL2: Duration = Duration::from_secs(60);
const TICK: Duration = Duration::from_micros(1);

/// RFC 9293 §3.6 case 1: we close first. ESTABLISHED → FIN-WAIT-1 (FIN sent) → FIN-WAIT-2
/// (FIN acked) → TIME-WAIT (peer's FIN acked at once) → CLOSED after exactly 2·MSL
/// (default MSL 30 s), and the slot is freed then, not earlier.
#[test]
fn active_close_through_time_wait() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::FinWait1);
    assert!(
        t.flags()
            .contains(SocketFlags::NO_HANDLE | SocketFlags::CANT_SEND_MORE)
    );
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect_none();
    assert_eq!(t.state(), State::FinWait2);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    assert!(t.flags().contains(SocketFlags::CANT_RECV_MORE));
    t.advance(MSL2 - TICK);
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(t.stack.in_use(), 1);
    t.advance(TICK);
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.6 case 1 with config `msl`: TIME-WAIT lasts twice the configured MSL.
#[test]
fn time_wait_follows_configured_msl() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.msl = Duration::from_secs(5);
    let mut t = Script::new(&mut mem, cfg);
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    t.advance(Duration::from_secs(10) - TICK);
    assert_eq!(t.stack.in_use(), 1);
    t.advance(TICK);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 eighth (FIN-WAIT-1): a FIN that also acknowledges our FIN moves us
/// straight to TIME-WAIT.
#[test]
fn fin_wait_1_fin_and_ack_together() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.6 case 2 (figure 13): both close at once. FIN-WAIT-1 + FIN → CLOSING
/// (ACKed), then the ACK of our FIN → TIME-WAIT, 2·MSL, freed.
#[test]
fn simultaneous_close_through_closing() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    // The peer's FIN crossed ours: it acknowledges only up to our FIN.
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::Closing);
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    t.advance(MSL2 - TICK);
    assert_eq!(t.stack.in_use(), 1);
    t.advance(TICK);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.8.1 / RFC 6298: in CLOSING our FIN is retransmitted until acknowledged.
#[test]
fn closing_retransmits_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    assert_eq!(t.state(), State::Closing);
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    assert_eq!(t.state(), State::TimeWait);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.6 case 1 (peer's side) / §3.10.7.4 eighth: the peer closes first. Its FIN
/// is ACKed at once (CLOSE-WAIT), we may still send (half-close), our close sends the FIN
/// (LAST-ACK), and its ACK closes the connection with no TIME-WAIT.
#[test]
fn passive_close_through_last_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    assert_eq!(t.state(), State::CloseWait);
    assert!(t.flags().contains(SocketFlags::CANT_RECV_MORE));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    // Half-close: we keep sending.
    assert_eq!(s.write(&mut t.stack, b"abc"), Ok(3));
    t.poll();
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq + 1,
        data = b"abc"
    ));
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 4));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 4, ack = c.pseq + 1));
    assert_eq!(t.state(), State::LastAck);
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 5));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.8.1: in LAST-ACK the FIN is retransmitted on timeout, same sequence number.
#[test]
fn last_ack_retransmits_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.8.1: in FIN-WAIT-1 the FIN is retransmitted until acknowledged.
#[test]
fn fin_wait_1_retransmits_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::FinWait1);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 (TIME-WAIT, eighth): a retransmitted FIN is ACKed again and the
/// 2·MSL timer restarts from then.
#[test]
fn time_wait_reacks_fin_and_restarts_timer() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.advance(Duration::from_secs(30));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.expect_none();
    // The first deadline passes; the restarted one holds.
    t.advance(MSL2 - TICK);
    assert_eq!(t.state(), State::TimeWait);
    t.advance(TICK);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 1337 (TIME-WAIT assassination, fix 1) / RFC 9293 §3.10.7.4 second: a RST in
/// TIME-WAIT, even at exactly RCV.NXT, is ignored.
#[test]
fn time_wait_ignores_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(RST, seq = c.pseq + 1));
    t.send(seg!(RST | ACK, seq = c.pseq + 1, ack = c.iss + 2));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(t.stack.stats().tcp.rst_ignored, 2);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 1337 ("ignore RST segments in TIME-WAIT state") / Linux: a RST inside the window
/// but not at RCV.NXT is ignored as well; no challenge ACK (RFC 5961 §3 protects
/// connections that a RST could end, and this one it cannot).
#[test]
fn time_wait_ignores_in_window_rst_silently() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(RST, seq = c.pseq + 100));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(t.stack.stats().tcp.challenge_acks, 0);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 seventh (TIME-WAIT: ignore the segment text) / RFC 1337: data
/// beyond the peer's FIN does not end TIME-WAIT; as Linux does, it is answered with an
/// ACK of what we hold.
#[test]
fn time_wait_data_is_acked_not_reset() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq + 1,
        ack = c.iss + 2,
        data = b"late"
    ));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.4 (CLOSE in FIN-WAIT-2) and BSD/Linux `fin_wait_2_timeout`: after the
/// user closed, a peer that never sends its FIN does not hold the slot forever; after the
/// timeout (default 60 s) the connection is dropped silently, as both do.
#[test]
fn fin_wait_2_times_out_after_close() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    assert_eq!(t.state(), State::FinWait2);
    t.advance(Duration::from_secs(60) - TICK);
    assert_eq!(t.state(), State::FinWait2);
    t.advance(TICK);
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    // The peer's late FIN meets a closed port.
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(RST, seq = c.iss + 2));
    l.close(&mut t.stack);
}

/// Config `fin_wait_2_timeout`.
#[test]
fn fin_wait_2_timeout_is_configurable() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.fin_wait_2_timeout = Duration::from_secs(5);
    let mut t = Script::new(&mut mem, cfg);
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.advance(Duration::from_secs(5) - TICK);
    assert_eq!(t.state(), State::FinWait2);
    t.advance(TICK);
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// The FIN-WAIT-2 timeout also applies when the user half-closed first and closes later,
/// counted from the close.
#[test]
fn fin_wait_2_timeout_starts_at_close_after_shutdown() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.advance(Duration::from_secs(100));
    assert_eq!(t.state(), State::FinWait2);
    s.close(&mut t.stack);
    t.poll();
    t.advance(Duration::from_secs(60) - TICK);
    assert_eq!(t.state(), State::FinWait2);
    t.advance(TICK);
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13 (half-close): after `shutdown_write` only, the
/// connection may stay in FIN-WAIT-2 as long as the peer likes; we keep receiving, and
/// writing is `BrokenPipe`.
#[test]
fn half_close_ours_keeps_receiving_without_timeout() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    assert!(t.flags().contains(SocketFlags::CANT_SEND_MORE));
    assert_eq!(s.write(&mut t.stack, b"no"), Err(Error::BrokenPipe));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    assert_eq!(t.state(), State::FinWait2);
    t.advance(Duration::from_secs(600));
    t.expect_none();
    assert_eq!(t.state(), State::FinWait2);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 2,
        data = b"still here"
    ));
    let mut buf = [0u8; 32];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(10));
    assert_eq!(&buf[..10], b"still here");
    t.advance(Duration::from_millis(40));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 10));
    t.send(seg!(FIN | ACK, seq = c.pseq + 10, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 11));
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.4 (CLOSE in CLOSE-WAIT) / §3.6: the peer's half-close; we send all we
/// have, then our FIN follows the data.
#[test]
fn half_close_peer_we_keep_sending() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH | FIN,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"bye"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 4));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.set_nodelay(&mut t.stack, true).unwrap();
    for chunk in [&b"one"[..], b"two"] {
        assert_eq!(s.write(&mut t.stack, chunk), Ok(3));
        t.poll();
    }
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq + 4,
        data = b"one"
    ));
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 4,
        ack = c.pseq + 4,
        data = b"two"
    ));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 7, ack = c.pseq + 4));
    t.send(seg!(ACK, seq = c.pseq + 4, ack = c.iss + 8));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.4: a FIN queued behind unsent data goes out on the last data segment.
#[test]
fn close_sends_queued_data_then_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"last words"), Ok(10));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(
        ACK | PSH | FIN,
        seq = c.iss + 1,
        ack = c.pseq,
        data = b"last words"
    ));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 12));
    t.expect(seg!(ACK, seq = c.iss + 12, ack = c.pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.6 / RFC 2525 §2.17 / RFC 1122 §4.2.2.13: closing with unread received data
/// resets the connection (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>) and frees the slot.
#[test]
fn close_with_unread_data_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"unread"
    ));
    s.close(&mut t.stack);
    t.poll();
    let out = t.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].flags,
        tidytcp::wire::tcp::TcpFlags::RST | tidytcp::wire::tcp::TcpFlags::ACK
    );
    assert_eq!(out[0].seq, c.iss + 1);
    assert_eq!(out[0].ack, c.pseq + 6);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.5 (ABORT in ESTABLISHED): <SEQ=SND.NXT><CTL=RST>, the slot is freed at
/// once and queued data is dropped.
#[test]
fn abort_sends_rst_and_frees() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"hello"), Ok(5));
    t.poll();
    t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"hello"));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 6, ack = c.pseq));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    // Whatever the peer sends now meets a closed port.
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 6));
    t.expect(seg!(RST, seq = c.iss + 6));
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.5 (ABORT in CLOSE-WAIT) sends a RST too.
#[test]
fn abort_in_close_wait_sends_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.4 (CLOSE in SYN-SENT): delete the TCB, send nothing; a SYN-ACK that
/// arrives later finds a closed port.
#[test]
fn close_in_syn_sent_sends_nothing() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    t.advance(Duration::from_secs(3));
    t.expect_none();
    t.send(seg!(SYN | ACK, seq = 10, ack = syn.seq + 1));
    t.expect(seg!(RST, seq = syn.seq + 1));
}

/// RFC 1122 §4.2.2.13 / RFC 9293 §3.10.7.4 seventh (BSD, Linux): new data arriving after
/// the user closed (FIN-WAIT-1, no handle to read it) resets the connection:
/// <SEQ=SEG.ACK><CTL=RST>, and the slot is freed.
#[test]
fn data_after_close_in_fin_wait_1_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"more"
    ));
    t.expect(seg!(RST, seq = c.iss + 1));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// As above in FIN-WAIT-2.
#[test]
fn data_after_close_in_fin_wait_2_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 2,
        data = b"more"
    ));
    t.expect(seg!(RST, seq = c.iss + 2));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(t.stack.stats().tcp.rst_sent, 1);
    l.close(&mut t.stack);
}

/// RFC 1122 §4.2.2.13: a duplicate of data already received before the close is not
/// "new data": it is ACKed, no reset.
#[test]
fn old_data_after_close_is_not_reset() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"abc"
    ));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 3));
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 2,
        data = b"abc"
    ));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 3));
    // An unacceptable segment is dropped whole: its ACK of our FIN is not taken
    // (RFC 9293 §3.10.7.4 first).
    assert_eq!(t.state(), State::FinWait1);
    t.send(seg!(ACK, seq = c.pseq + 3, ack = c.iss + 2));
    assert_eq!(t.state(), State::FinWait2);
    t.send(seg!(FIN | ACK, seq = c.pseq + 3, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 4));
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 second (CLOSE-WAIT): a RST ends the connection; writing reports
/// `ConnectionReset`.
#[test]
fn rst_in_close_wait() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(RST, seq = c.pseq + 1));
    t.expect_none();
    assert_eq!(s.state(&t.stack), State::Closed);
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 second (CLOSING, LAST-ACK, TIME-WAIT: "enter CLOSED, delete TCB"):
/// a RST in LAST-ACK frees the slot at once.
#[test]
fn rst_in_last_ack_frees() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(RST, seq = c.pseq + 1));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// As above in CLOSING.
#[test]
fn rst_in_closing_frees() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::Closing);
    t.send(seg!(RST, seq = c.pseq + 1));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 second (FIN-WAIT-1/2 with a handle): the RST is reported to the
/// user as `ConnectionReset`.
#[test]
fn rst_in_fin_wait_2_reported_to_handle() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.send(seg!(RST, seq = c.pseq));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    assert!(t.flags().contains(SocketFlags::ERROR));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 eighth / handle contract: after the peer's FIN, `read` returns the
/// buffered data first, then `Ok(0)` for good.
#[test]
fn read_after_fin_gives_data_then_eof() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"abcdef"
    ));
    t.send(seg!(FIN | ACK, seq = c.pseq + 6, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 7));
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(4));
    assert_eq!(&buf, b"abcd");
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"ef");
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 7));
    t.send(seg!(ACK, seq = c.pseq + 7, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// Handle contract (RFC 9293 §3.10.7.4 second: "any outstanding RECEIVEs ... should
/// receive reset responses"): data that arrived before a RST is still read, then the
/// error; writing reports it at once.
#[test]
fn read_after_rst_gives_data_then_error() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"abc"
    ));
    t.send(seg!(RST, seq = c.pseq + 3));
    t.expect_none();
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::ConnectionReset));
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    assert_eq!(t.stack.stats().tcp.resets, 1);
    s.close(&mut t.stack);
    t.poll();
    // A closed connection is not reset again.
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 R2 / RFC 1122 §4.2.3.5: when retransmissions give up, buffered data is still
/// read, then `TimedOut`; the peer is told with a RST (as BSD's tcp_drop does).
#[test]
fn read_after_timeout_gives_data_then_error() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.max_retransmits = 2;
    let mut t = Script::new(&mut mem, cfg);
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"abc"
    ));
    assert_eq!(s.write(&mut t.stack, b"ping"), Ok(4));
    t.poll();
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq + 3,
        data = b"ping"
    ));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq + 3,
        data = b"ping"
    ));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq + 3,
        data = b"ping"
    ));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(RST | ACK, seq = c.iss + 5, ack = c.pseq + 3));
    t.expect_none();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::TimedOut));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// Handle contract: writing after our own `shutdown_write` is `BrokenPipe`; a second
/// shutdown is harmless and sends no second FIN.
#[test]
fn write_after_shutdown_is_broken_pipe() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.expect_none();
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::BrokenPipe));
    assert_eq!(s.write_with(&mut t.stack, |_| 0), Err(Error::BrokenPipe));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 2, ack = c.pseq));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// Dropping a handle closes the connection like `close` (FIN at the next poll).
#[test]
fn dropping_the_handle_closes() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    drop(s);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    assert!(t.flags().contains(SocketFlags::NO_HANDLE));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// The socket table (`netstat`) follows a connection through its states and flags.
#[test]
fn socket_table_shows_states_and_flags() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let lines: Vec<_> = t.stack.sockets().collect();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].listener);
    assert_eq!(lines[0].state, State::Listen);
    assert_eq!(lines[0].flags, SocketFlags::LISTENING);
    assert_eq!(lines[0].local.port(), STACK_PORT);

    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    let li = t.stack.sockets().find(|i| i.listener).unwrap();
    assert_eq!((li.recv_queue, li.send_queue), (0, 1));
    assert_eq!(t.info().unwrap().state, State::SynReceived);
    assert_eq!(t.flags(), SocketFlags::CONNECTING);

    t.send(seg!(ACK | PSH, seq = 1001, ack = sa.seq + 1, data = b"hi"));
    let li = t.stack.sockets().find(|i| i.listener).unwrap();
    assert_eq!((li.recv_queue, li.send_queue), (1, 0));
    let info = t.info().unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.flags, SocketFlags::CONNECTED | SocketFlags::QUEUED);
    assert_eq!(info.recv_queue, 2);
    assert_eq!(info.local.port(), STACK_PORT);
    assert_eq!(info.remote, Some(peer().into()));

    let mut s = l.accept(&mut t.stack).unwrap().0;
    assert_eq!(t.flags(), SocketFlags::CONNECTED);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(2));
    assert_eq!(s.write(&mut t.stack, b"xyz"), Ok(3));
    t.poll();
    t.drain();
    assert_eq!(t.info().unwrap().send_queue, 3);
    t.send(seg!(FIN | ACK, seq = 1003, ack = sa.seq + 4));
    assert_eq!(t.info().unwrap().send_queue, 0);
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(
        t.flags(),
        SocketFlags::CONNECTED | SocketFlags::CANT_RECV_MORE
    );
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.state(), State::LastAck);
    assert_eq!(
        t.flags(),
        SocketFlags::CONNECTED
            | SocketFlags::CANT_RECV_MORE
            | SocketFlags::CANT_SEND_MORE
            | SocketFlags::NO_HANDLE
    );
    t.send(seg!(ACK, seq = 1004, ack = sa.seq + 5));
    assert!(t.info().is_none());
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
    assert_eq!(t.stack.sockets().count(), 0);
}

/// RFC 9293 §3.10.7.4 eighth (LAST-ACK): the peer did not get our ACK of its FIN and
/// sends the FIN again; it is old now and is ACKed, LAST-ACK stays.
#[test]
fn last_ack_reacks_retransmitted_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::LastAck);
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 fifth (FIN-WAIT-1: "if the FIN segment is now acknowledged, then
/// enter FIN-WAIT-2"): an ACK of part of the data only leaves us in FIN-WAIT-1.
#[test]
fn fin_wait_1_partial_ack_stays() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"0123456789"), Ok(10));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(
        ACK | PSH | FIN,
        seq = c.iss + 1,
        ack = c.pseq,
        data = b"0123456789"
    ));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 6));
    assert_eq!(t.state(), State::FinWait1);
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 11));
    assert_eq!(t.state(), State::FinWait1);
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 12));
    assert_eq!(t.state(), State::FinWait2);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 12));
    t.expect(seg!(ACK, seq = c.iss + 12, ack = c.pseq + 1));
    t.advance(MSL2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.6 / RFC 2525 §2.17 in CLOSE-WAIT: data the user never read makes close a
/// reset even after the peer's FIN (Linux: data_was_unread).
#[test]
fn close_with_unread_data_in_close_wait_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH | FIN,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"unread"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 7));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq + 7));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.5 (ABORT in TIME-WAIT: "respond with ok and delete the TCB", no RST).
#[test]
fn abort_in_time_wait_sends_nothing() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(s.state(&t.stack), State::TimeWait);
    s.abort(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// `shutdown(Shutdown::Read)` (BSD `soshutdown(SHUT_RD)`): what was received and not read
/// is discarded, so is what arrives later, the window stays open, `read` returns end of
/// stream, and the peer is told nothing. A later close is orderly (a FIN, not the reset
/// that unread data would cause).
#[test]
fn shutdown_read_discards_and_reads_end_of_stream() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 1,
        data = b"unread"
    ));
    t.advance(Duration::from_millis(500));
    let first = t.drain().pop().expect("the ACK of the first data");
    assert_eq!(s.recv_queue(&t.stack), 6);
    s.shutdown(&mut t.stack, tidytcp::socket::Shutdown::Read)
        .unwrap();
    assert_eq!(s.recv_queue(&t.stack), 0);
    t.expect_none();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    // More data: taken (acknowledged, window open), discarded.
    let big = vec![b'x'; 3000];
    let mut seq = c.pseq + 6;
    for chunk in big.chunks(1000) {
        let mut d = seg!(ACK, seq = seq, ack = c.iss + 1);
        d.data = chunk.to_vec();
        t.send(d);
        seq += chunk.len() as u32;
    }
    t.advance(Duration::from_millis(500));
    let acks = t.drain();
    let last = acks.last().expect("an ACK for the data");
    assert_eq!(last.ack, seq);
    // The discarded bytes do not close the window: it is wider than with 6 bytes held.
    assert!(last.win > first.win, "{} vs {}", last.win, first.win);
    assert_eq!(s.recv_queue(&t.stack), 0);
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    // Writing still works; closing sends a FIN, not a RST.
    assert_eq!(s.write(&mut t.stack, b"bye"), Ok(3));
    s.close(&mut t.stack);
    t.poll();
    let out = t.drain();
    assert!(
        out.iter()
            .all(|o| !o.flags.contains(tidytcp::wire::tcp::TcpFlags::RST))
    );
    assert!(
        out.iter()
            .any(|o| o.flags.contains(tidytcp::wire::tcp::TcpFlags::FIN))
    );
    l.close(&mut t.stack);
}
