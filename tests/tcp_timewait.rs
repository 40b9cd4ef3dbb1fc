//! TIME-WAIT and new connections on the same 4-tuple: RFC 1122 §4.2.2.13 (a higher
//! sequence number), RFC 6191 (a newer timestamp), everything else answered by the
//! TIME-WAIT rules; and reuse of TIME-WAIT slots when the table is full.
mod common;

use common::script::*;
use tidytcp::tcp::State;
use tidytcp::wire::tcp::SeqNum;
use tidytcp::{Duration, Error};

/// RFC 1122 §4.2.2.13: a SYN with a sequence number above RCV.NXT for a 4-tuple in
/// TIME-WAIT (no timestamps) starts a new connection to the listener; our new ISS lies
/// above every sequence number of the old incarnation.
#[test]
fn reopen_with_higher_sequence_number() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.advance(Duration::from_secs(5));
    let new_isn = c.pseq + 100_000;
    t.send(seg!(SYN, seq = new_isn, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = new_isn + 1));
    assert!(
        sa.seq > c.iss + 2,
        "new ISS {:?} not above {:?}",
        sa.seq,
        c.iss + 2
    );
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.stack.in_use(), 1);
    t.send(seg!(ACK, seq = new_isn + 1, ack = sa.seq + 1));
    let mut s2 = l.accept(&mut t.stack).unwrap().0;
    let mut buf = [0u8; 4];
    assert_eq!(s2.read(&mut t.stack, &mut buf), Err(Error::WouldBlock));
    s2.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = new_isn + 1));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.2.13 / RFC 9293 §3.10.7.4: a SYN at or below RCV.NXT (no timestamps)
/// may be an old duplicate: it is answered by TIME-WAIT (an ACK), which stays.
#[test]
fn syn_not_above_rcv_nxt_answered_by_time_wait() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(SYN, seq = c.pseq + 1));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.send(seg!(SYN, seq = c.pseq - 1000));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(l.accept(&mut t.stack).err(), Some(Error::WouldBlock));
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// Connection with timestamps (Linux options) taken to TIME-WAIT by our close; returns
/// (our ISS, the peer's next sequence number, the last TSval the peer sent).
fn time_wait_with_timestamps(t: &mut Script<'_>) -> (SeqNum, SeqNum, u32) {
    let (iss, pseq) = t.handshake_passive(1000, linux_syn_opts(10_000));
    assert_eq!(t.state(), State::Established);
    let sockets: Vec<_> = t.stack.sockets().collect();
    assert_eq!(sockets.len(), 2);
    (iss, pseq, 10_001)
}

/// RFC 6191 §2: with timestamps, a SYN whose TSval is newer than TS.Recent reopens the
/// 4-tuple even if its sequence number is lower.
#[test]
fn reopen_with_newer_timestamp() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, pseq, tsv) = time_wait_with_timestamps(&mut t);
    let s = l.accept(&mut t.stack).unwrap().0;
    s.close(&mut t.stack);
    t.poll();
    let fin = t.expect(seg!(FIN | ACK, seq = iss + 1, ack = pseq));
    let our_ts = fin.opts.timestamps.unwrap().0;
    t.send(seg!(
        FIN | ACK,
        seq = pseq,
        ack = iss + 2,
        ts = (tsv + 1, our_ts)
    ));
    t.expect(seg!(ACK, seq = iss + 2, ack = pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    t.advance(Duration::from_secs(1));
    let mut syn = seg!(SYN, seq = 10);
    syn.opts = linux_syn_opts(tsv + 1000);
    t.send(syn);
    let sa = t.expect(seg!(SYN | ACK, ack = 11));
    assert_eq!(sa.opts.timestamps.unwrap().1, tsv + 1000);
    assert_eq!(t.state(), State::SynReceived);
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 6191 §2 / RFC 7323 §5 (PAWS): with timestamps, a SYN whose TSval is not newer
/// does not reopen, even with a higher sequence number; TIME-WAIT answers with an ACK.
#[test]
fn syn_with_old_timestamp_does_not_reopen() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, pseq, tsv) = time_wait_with_timestamps(&mut t);
    let s = l.accept(&mut t.stack).unwrap().0;
    s.close(&mut t.stack);
    t.poll();
    let fin = t.expect(seg!(FIN | ACK, seq = iss + 1, ack = pseq));
    let our_ts = fin.opts.timestamps.unwrap().0;
    t.send(seg!(
        FIN | ACK,
        seq = pseq,
        ack = iss + 2,
        ts = (tsv + 1, our_ts)
    ));
    t.expect(seg!(ACK, seq = iss + 2, ack = pseq + 1));
    let mut syn = seg!(SYN, seq = pseq + 100_000);
    syn.opts = linux_syn_opts(tsv - 5);
    t.send(syn);
    let a = t.expect(seg!(ACK, seq = iss + 2, ack = pseq + 1));
    assert_eq!(a.opts.timestamps.unwrap().1, tsv + 1);
    assert_eq!(t.state(), State::TimeWait);
    assert_eq!(t.stack.in_use(), 1);
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 1122 §4.2.2.13 ("MAY accept a new SYN ... to reopen the connection") needs
/// someone to accept it: with no listener on the port (our side opened actively), a SYN
/// to the TIME-WAIT 4-tuple is answered by TIME-WAIT (ACK), as Linux does, and does not
/// end it.
#[test]
fn no_listener_time_wait_stays() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, iss, pseq) = t.handshake_active(5000, tidytcp::wire::tcp::TcpOptions::NONE);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = iss + 1, ack = pseq));
    t.send(seg!(FIN | ACK, seq = pseq, ack = iss + 2));
    t.expect(seg!(ACK, seq = iss + 2, ack = pseq + 1));
    assert_eq!(t.state(), State::TimeWait);
    t.send(seg!(SYN, seq = pseq + 100_000));
    t.expect(seg!(ACK, seq = iss + 2, ack = pseq + 1));
    t.expect_none();
    assert_eq!(t.state(), State::TimeWait);
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
}

/// A TIME-WAIT connection nobody holds yields its slot when the table is full (as Linux
/// recycles time-wait buckets under pressure), so a new connection can open.
#[test]
fn time_wait_slot_recycled_when_table_full() {
    let mut mem = tidytcp::socket::HeapStorage::new(1, 1, 4096, 4096);
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq));
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(ACK, seq = c.iss + 2, ack = c.pseq + 1));
    assert_eq!(t.stack.in_use(), 1);
    t.send(seg!(SYN, seq = 50, sport = 40001));
    let sa = t.expect(seg!(SYN | ACK, ack = 51));
    assert_eq!(sa.dst_port, 40001);
    assert!(t.info_of(PEER_PORT).is_none());
    assert_eq!(t.info_of(40001).unwrap().state, State::SynReceived);
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}
