//! Blind in-window attacks (RFC 5961, as folded into RFC 9293 §3.10.7.4): RSTs accepted
//! only at exactly RCV.NXT, challenge ACKs for in-window RSTs and for SYNs, ACK
//! acceptability, and the per-connection challenge ACK rate limit.
mod common;

use common::script::*;
use tidytcp::tcp::State;
use tidytcp::wire::tcp::{TcpFlags, TcpOptions};
use tidytcp::{Duration, Error};

/// RFC 5961 §3.2 (1st bullet of the mitigation): a RST whose sequence number is exactly
/// RCV.NXT resets the connection.
#[test]
fn rst_at_rcv_nxt_resets() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(RST, seq = c.pseq));
    t.expect_none();
    assert_eq!(s.state(&t.stack), State::Closed);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    assert_eq!(t.stack.stats().tcp.rst_received, 1);
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §3.2: a RST inside the window but not at RCV.NXT is answered with a challenge
/// ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; the connection lives on.
#[test]
fn rst_in_window_gets_challenge_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    t.send(seg!(RST, seq = c.pseq + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(RST | ACK, seq = c.pseq + 8191, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.stack.stats().tcp.challenge_acks, 2);
    assert_eq!(s.write(&mut t.stack, b"alive"), Ok(5));
    t.poll();
    t.expect(seg!(
        ACK | PSH,
        seq = c.iss + 1,
        ack = c.pseq,
        data = b"alive"
    ));
    // The peer's true RST (after the challenge) is at RCV.NXT and works.
    t.send(seg!(RST, seq = c.pseq));
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §3.2 / RFC 9293 §3.10.7.4 first: a RST outside the window is dropped silently
/// (no ACK, never a RST for a RST).
#[test]
fn rst_out_of_window_silently_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(RST, seq = c.pseq + 8192));
    t.send(seg!(RST, seq = c.pseq - 1));
    t.send(seg!(RST | ACK, seq = c.pseq + 0x4000_0000, ack = c.iss + 1));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.stack.stats().tcp.rst_ignored, 3);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §3.2 in the closing states: a FIN-WAIT-2 connection with a handle is reset
/// only by the exact RST; an in-window one gets a challenge ACK.
#[test]
fn rst_rules_hold_in_fin_wait_2() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 2));
    t.send(seg!(RST, seq = c.pseq + 10));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq));
    assert_eq!(t.state(), State::FinWait2);
    t.send(seg!(RST, seq = c.pseq));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §4.2 / RFC 9293 §3.10.7.4 fourth: a SYN in a synchronized state, in the
/// window, gets a challenge ACK; the connection is not reset and the SYN's data is not
/// taken.
#[test]
fn syn_in_window_gets_challenge_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(SYN, seq = c.pseq + 100, data = b"x"));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    assert_eq!(s.recv_queue(&t.stack), 0);
    assert_eq!(t.stack.stats().tcp.challenge_acks, 1);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §4.2: the SYN rule holds at exactly RCV.NXT too (a new SYN from a rebooted
/// peer lands there by chance): challenge ACK, no reset.
#[test]
fn syn_at_rcv_nxt_gets_challenge_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(SYN, seq = c.pseq, mss = 1460));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::Established);
    t.send(seg!(SYN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §4.2 ("irrespective of the sequence number"): a SYN outside the window is
/// answered with an ACK as well, never a reset.
#[test]
fn syn_out_of_window_gets_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(SYN, seq = c.pseq + 100_000));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(SYN, seq = 5));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §4.2 in CLOSE-WAIT: same rule after the peer's FIN.
#[test]
fn syn_in_close_wait_gets_challenge_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(SYN, seq = c.pseq + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    assert_eq!(t.state(), State::CloseWait);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §5.2 / RFC 9293 §3.10.7.4 fifth: an ACK of something not yet sent (SEG.ACK >
/// SND.NXT) is answered with an ACK and the segment dropped, its data too.
#[test]
fn ack_beyond_snd_nxt_acked_and_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"abc"), Ok(3));
    t.poll();
    t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"abc"));
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 5, data = b"bogus"));
    t.expect(seg!(ACK, seq = c.iss + 4, ack = c.pseq));
    t.expect_none();
    assert_eq!(s.recv_queue(&t.stack), 0);
    assert_eq!(s.send_queue(&t.stack), 3);
    assert_eq!(t.stack.stats().tcp.dropped_bad_ack, 1);
    // SEG.ACK = SND.NXT is fine.
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 4, data = b"good"));
    assert_eq!(s.recv_queue(&t.stack), 4);
    assert_eq!(s.send_queue(&t.stack), 0);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §5.2: an ACK older than SND.UNA − MAX.SND.WND is answered with an ACK and the
/// segment dropped; one within MAX.SND.WND of SND.UNA is an ordinary old ACK and its data
/// is taken.
#[test]
fn ack_too_old_acked_and_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    // MAX.SND.WND is the peer's 65535 from its SYN.
    t.send(seg!(
        ACK,
        seq = c.pseq,
        ack = c.iss + 1 - 65536,
        data = b"old"
    ));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    t.expect_none();
    assert_eq!(s.recv_queue(&t.stack), 0);
    t.send(seg!(
        ACK,
        seq = c.pseq,
        ack = c.iss + 1 - 65535,
        data = b"fine"
    ));
    assert_eq!(s.recv_queue(&t.stack), 4);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §7: challenge ACKs are rate limited (config `challenge_ack_limit`, default 10
/// per second, per connection); after a second the budget is back.
#[test]
fn challenge_acks_rate_limited() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    for k in 0..15u32 {
        t.send(seg!(RST, seq = c.pseq + 1 + k));
    }
    let acks = t.drain();
    assert_eq!(acks.len(), 10, "{acks:?}");
    assert!(
        acks.iter()
            .all(|a| a.flags == TcpFlags::ACK && a.ack == c.pseq)
    );
    assert_eq!(t.stack.stats().tcp.challenge_acks_suppressed, 5);
    // SYNs share the budget.
    t.send(seg!(SYN, seq = c.pseq + 50));
    t.expect_none();
    t.advance(Duration::from_secs(1));
    t.send(seg!(RST, seq = c.pseq + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq));
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §7 (config `challenge_ack_limit`): the limit is configurable.
#[test]
fn challenge_ack_limit_is_configurable() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.challenge_ack_limit = 2;
    let mut t = Script::new(&mut mem, cfg);
    let (l, s, c) = t.established_passive(1000);
    for k in 0..5u32 {
        t.send(seg!(SYN, seq = c.pseq + k));
    }
    assert_eq!(t.drain().len(), 2);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 5961 §7 / CVE-2016-5696: the budget is per connection, so one connection's
/// challenges tell nothing about another's and do not use up its budget.
#[test]
fn challenge_ack_budget_is_per_connection() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s1, c) = t.established_passive(1000);
    let opts = TcpOptions {
        mss: Some(1460),
        ..TcpOptions::NONE
    };
    let mut syn = seg!(SYN, seq = 5000, sport = 40001);
    syn.opts = opts;
    t.send(syn);
    let sa = t.expect(seg!(SYN | ACK, ack = 5001));
    t.send(seg!(ACK, seq = 5001, ack = sa.seq + 1, sport = 40001));
    let s2 = l.accept(&mut t.stack).unwrap().0;
    for k in 0..12u32 {
        t.send(seg!(RST, seq = c.pseq + 1 + k));
    }
    assert_eq!(t.drain().len(), 10);
    for k in 0..12u32 {
        t.send(seg!(RST, seq = 5002 + k, sport = 40001));
    }
    let acks = t.drain();
    assert_eq!(acks.len(), 10);
    assert!(acks.iter().all(|a| a.dst_port == 40001 && a.ack.0 == 5001));
    s1.abort(&mut t.stack);
    s2.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 first / Linux: out-of-window segments carrying data are always
/// answered (they are not part of an ACK loop); pure ACKs out of window share the rate
/// limit.
#[test]
fn out_of_window_acks_limited_but_data_always_answered() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    for _ in 0..15 {
        t.send(seg!(ACK, seq = c.pseq + 9000, ack = c.iss + 1));
    }
    assert_eq!(t.drain().len(), 10);
    for _ in 0..15 {
        t.send(seg!(ACK, seq = c.pseq + 9000, ack = c.iss + 1, data = b"d"));
    }
    assert_eq!(t.drain().len(), 15);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 fourth, TIME-WAIT: a SYN that may not reopen (old sequence number)
/// gets an ACK; TIME-WAIT stays.
#[test]
fn old_syn_in_time_wait_gets_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(SYN, seq = 500));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(t.stack.in_use(), 1);
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 7323 §3.2 ("a RST segment ... is acceptable with or without a timestamp") and §5
/// (RSTs are not subject to PAWS): on a connection with timestamps, a RST at RCV.NXT
/// without a timestamp, or with an old one, still resets.
#[test]
fn rst_accepted_without_or_with_old_timestamp() {
    for with_old_ts in [false, true] {
        let mut mem = script_storage();
        let mut t = Script::new(&mut mem, script_config());
        let l = t.stack.listen(STACK_PORT, 4).unwrap();
        let (iss, pseq) = t.handshake_passive(1000, linux_syn_opts(50_000));
        let mut s = l.accept(&mut t.stack).unwrap().0;
        assert!(s.connection(&t.stack).unwrap().options().1);
        // A non-RST segment without a timestamp is dropped (RFC 7323 §3.2).
        t.send(seg!(ACK, seq = pseq, ack = iss + 1, data = b"x"));
        assert_eq!(s.recv_queue(&t.stack), 0);
        assert_eq!(t.stack.stats().tcp.dropped_missing_ts, 1);
        let mut rst = seg!(RST, seq = pseq);
        if with_old_ts {
            rst.opts.timestamps = Some((1, 0));
        }
        t.send(rst);
        t.expect_none();
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::ConnectionReset));
        s.close(&mut t.stack);
        l.close(&mut t.stack);
        t.poll();
        assert_eq!(t.stack.in_use(), 0);
    }
}
