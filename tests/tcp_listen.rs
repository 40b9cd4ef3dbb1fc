//! Listeners (RFC 9293 §3.10.7.2): the backlog, SYN cookies when the SYN queue is full
//! (RFC 4987 §3.6), segments that are not SYNs, and closing a listener with connections
//! still owned by it.
mod common;

use common::script::*;
use tidytcp::socket::SocketFlags;
use tidytcp::tcp::State;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions};
use tidytcp::{Capacity, Duration, Error};

/// RFC 9293 §3.10.7.2 first: a RST to a listener is ignored.
#[test]
fn rst_to_listener_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(RST, seq = 1));
    t.send(seg!(RST | ACK, seq = 1, ack = 77));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    t.send(seg!(SYN, seq = 1000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.2 second: an ACK to a listener (here one that is no valid SYN cookie)
/// gets <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn ack_to_listener_with_bad_cookie_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(ACK, seq = 1001, ack = 0x1234_5678));
    t.expect(seg!(RST, seq = 0x1234_5678));
    t.send(seg!(ACK | PSH, seq = 1001, ack = 99, data = b"GET /"));
    t.expect(seg!(RST, seq = 99));
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.syncookies_failed, 2);
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.2 second: with cookies off any ACK to a listener gets a RST.
#[test]
fn ack_to_listener_without_cookies_gets_rst() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.syn_cookies = false;
    let mut t = Script::new(&mut mem, cfg);
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(ACK, seq = 1001, ack = 4242));
    t.expect(seg!(RST, seq = 4242));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.2 second: a SYN-ACK to a listener carries an ACK: <SEQ=SEG.ACK>
/// <CTL=RST>, no connection.
#[test]
fn synack_to_listener_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN | ACK, seq = 1000, ack = 3000));
    t.expect(seg!(RST, seq = 3000));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.2 fourth: any other segment (no SYN, RST or ACK) is dropped.
#[test]
fn other_segments_to_listener_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(FIN, seq = 1000));
    t.send(seg!(PSH, seq = 1000, data = b"data"));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

/// Backlog (accept queue): with `backlog` established connections waiting for `accept`,
/// further SYNs are dropped without a reply (Linux: listen overflow; the peer retries);
/// after an accept there is room again.
#[test]
fn accept_queue_full_drops_syn() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    let (iss, pseq) = t.handshake_passive_from(40000, 1000);
    assert_eq!(l.queued(&t.stack), 1);
    t.send(seg!(SYN, seq = 5000, sport = 40001));
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.syn_dropped, 1);
    assert_eq!(t.stack.in_use(), 1);
    let s = l.accept(&mut t.stack).unwrap().0;
    t.send(seg!(SYN, seq = 5000, sport = 40001));
    let sa = t.expect(seg!(SYN | ACK, ack = 5001));
    assert_eq!(sa.dst_port, 40001);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = pseq));
    l.close(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 5001));
    assert_eq!(t.stack.in_use(), 0);
}

/// The backlog also bounds connections in the handshake: with `backlog` embryos and
/// cookies off, a further SYN is dropped (no reply, nothing allocated).
#[test]
fn syn_queue_full_without_cookies_drops_syn() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.syn_cookies = false;
    let mut t = Script::new(&mut mem, cfg);
    let l = t.stack.listen(STACK_PORT, 2).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(SYN, seq = 2000, sport = 40001));
    t.expect(seg!(SYN | ACK, ack = 2001));
    t.send(seg!(SYN, seq = 3000, sport = 40002));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 2);
    assert_eq!(t.stack.stats().tcp.syn_dropped, 1);
    let li = t.stack.sockets().find(|i| i.listener).unwrap();
    assert_eq!((li.recv_queue, li.send_queue), (0, 2));
    l.close(&mut t.stack);
    t.poll();
    assert_eq!(t.drain().len(), 2);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 4987 §3.6 (SYN cookies, on by default), RFC 7323 §2.2/§3.2: with the SYN queue
/// full, a SYN gets a stateless SYN-ACK that allocates nothing; its timestamp carries the
/// peer's window scale and SACK-permitted, so the ACK that returns the cookie creates a
/// connection with all options agreed.
#[test]
fn syn_queue_full_answers_with_cookie() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    let embryo = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(t.stack.in_use(), 1);

    let mut syn = seg!(SYN, seq = 7000, sport = 40001);
    syn.opts = linux_syn_opts(123_456);
    t.send(syn);
    let ck = t.expect(seg!(SYN | ACK, ack = 7001));
    assert_eq!(ck.dst_port, 40001);
    assert_eq!(t.stack.in_use(), 1);
    assert_eq!(t.stack.stats().tcp.syncookies_sent, 1);
    assert_eq!(ck.opts.mss, Some(1460));
    assert_eq!(ck.opts.window_scale, Some(0));
    assert!(ck.opts.sack_permitted);
    let (tsv, tse) = ck.opts.timestamps.expect("cookie with timestamps");
    assert_eq!(tse, 123_456);
    assert_eq!(ck.win, 8192);

    let mut ack = seg!(ACK, seq = 7001, ack = ck.seq + 1, sport = 40001);
    ack.opts.timestamps = Some((123_457, tsv));
    t.send(ack);
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.syncookies_ok, 1);
    assert_eq!(t.stack.in_use(), 2);
    let info = t.info_of(40001).unwrap();
    assert_eq!(info.state, State::Established);
    assert!(info.flags.contains(SocketFlags::QUEUED));

    let mut s = l.accept(&mut t.stack).unwrap().0;
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.options(), (true, true, true));
    assert_eq!(c.window_scales(), (0, 7));
    assert_eq!(c.mss(), 1460 - 12);
    // Data flows both ways on the cookie connection.
    let mut d = seg!(
        ACK | PSH,
        seq = 7001,
        ack = ck.seq + 1,
        sport = 40001,
        data = b"hi"
    );
    d.opts.timestamps = Some((123_458, tsv));
    t.send(d);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(2));
    assert_eq!(s.write(&mut t.stack, b"yo"), Ok(2));
    t.poll();
    let out = t.expect(seg!(ACK | PSH, seq = ck.seq + 1, ack = 7003, data = b"yo"));
    assert_eq!(out.dst_port, 40001);
    assert_eq!(out.opts.timestamps.unwrap().1, 123_458);
    s.abort(&mut t.stack);
    l.close(&mut t.stack);
    t.poll();
    let rsts = t.drain();
    assert_eq!(rsts.len(), 2, "{rsts:?}");
    assert!(
        rsts.iter()
            .any(|r| r.dst_port == 40000 && r.seq == embryo.seq + 1 && r.ack.0 == 1001)
    );
    assert!(
        rsts.iter()
            .any(|r| r.dst_port == 40001 && r.seq == ck.seq + 3 && r.ack.0 == 7003)
    );
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 4987 §3.6: without timestamps a cookie can keep only the MSS (from a small
/// table); the connection it creates has no window scaling or SACK.
#[test]
fn cookie_without_timestamps_keeps_only_mss() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(
        SYN,
        seq = 7000,
        sport = 40001,
        mss = 1300,
        ws = 5,
        sack_perm
    ));
    let ck = t.expect(seg!(SYN | ACK, ack = 7001));
    assert_eq!(
        ck.opts,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        }
    );
    t.send(seg!(ACK, seq = 7001, ack = ck.seq + 1, sport = 40001));
    t.expect_none();
    let s = l.accept(&mut t.stack).unwrap().0;
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.options(), (false, false, false));
    assert_eq!(c.mss(), 1300);
    s.abort(&mut t.stack);
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 4987 §3.6: a cookie is good for a limited time only (Linux: about two minutes);
/// an ACK returning an expired one is an ACK to a listener: RST.
#[test]
fn expired_cookie_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(SYN, seq = 7000, sport = 40001));
    let ck = t.expect(seg!(SYN | ACK, ack = 7001));
    t.advance(Duration::from_secs(200));
    t.drain();
    t.send(seg!(ACK, seq = 7001, ack = ck.seq + 1, sport = 40001));
    t.expect(seg!(RST, seq = ck.seq + 1));
    assert!(t.info_of(40001).is_none());
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 4987 §3.6: a cookie is bound to the 4-tuple and the peer's ISN: returned from
/// another port, or with another sequence number, it fails.
#[test]
fn cookie_bound_to_tuple_and_isn() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 1).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(SYN, seq = 7000, sport = 40001));
    let ck = t.expect(seg!(SYN | ACK, ack = 7001));
    t.send(seg!(ACK, seq = 7001, ack = ck.seq + 1, sport = 40002));
    t.expect(seg!(RST, seq = ck.seq + 1));
    t.send(seg!(ACK, seq = 7002, ack = ck.seq + 1, sport = 40001));
    t.expect(seg!(RST, seq = ck.seq + 1));
    assert_eq!(t.stack.in_use(), 1);
    t.send(seg!(ACK, seq = 7001, ack = ck.seq + 1, sport = 40001));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 2);
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// With every connection slot held by a handshake in progress (a SYN flood fills the
/// table this way), a SYN to a listener is answered with a cookie rather than dropped:
/// the slot table is the SYN queue's hard limit. (A table full of established
/// connections drops the SYN instead: `hostile::every_slot_busy`.)
#[test]
fn slot_table_full_answers_with_cookie() {
    let mut mem = tidytcp::socket::HeapStorage::new(2, 1, 4096, 4096);
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 8).unwrap();
    t.send(seg!(SYN, seq = 1000, sport = 40000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(SYN, seq = 2000, sport = 40001));
    t.expect(seg!(SYN | ACK, ack = 2001));
    t.send(seg!(SYN, seq = 3000, sport = 40002));
    let ck = t.expect(seg!(SYN | ACK, ack = 3001));
    assert_eq!(ck.dst_port, 40002);
    assert_eq!(t.stack.stats().tcp.syncookies_sent, 1);
    assert_eq!(t.stack.in_use(), 2);
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// Closing a listener resets every connection it still owns, embryonic (SYN-RECEIVED)
/// or established and waiting in the accept queue, and frees their slots; connections
/// already accepted are not touched.
#[test]
fn closing_listener_resets_queued_and_embryonic() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss_a, pseq_a) = t.handshake_passive_from(40000, 1000);
    let accepted = l.accept(&mut t.stack).unwrap().0;
    let (iss_q, pseq_q) = t.handshake_passive_from(40001, 2000);
    t.send(seg!(SYN, seq = 3000, sport = 40002));
    let emb = t.expect(seg!(SYN | ACK, ack = 3001));
    assert_eq!(t.stack.in_use(), 3);
    l.close(&mut t.stack);
    t.poll();
    let mut rsts = t.drain();
    rsts.sort_by_key(|r| r.dst_port);
    assert_eq!(rsts.len(), 2, "{rsts:?}");
    assert_eq!(rsts[0].dst_port, 40001);
    assert_eq!(rsts[0].flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!((rsts[0].seq, rsts[0].ack), (iss_q + 1, pseq_q));
    assert_eq!(rsts[1].dst_port, 40002);
    assert_eq!(rsts[1].flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!((rsts[1].seq, rsts[1].ack), (emb.seq + 1, SeqNum(3001)));
    assert_eq!(t.stack.in_use(), 1);
    assert_eq!(t.stack.listeners_in_use(), 0);
    assert_eq!(t.info_of(40000).unwrap().state, State::Established);
    // With no listener, a new SYN is refused.
    t.send(seg!(SYN, seq = 9000, sport = 40003));
    t.expect(seg!(RST | ACK, seq = 0, ack = 9001));
    accepted.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss_a + 1, ack = pseq_a));
    assert_eq!(t.stack.in_use(), 0);
}

/// Dropping a listener handle closes it like `close` (at the next poll).
#[test]
fn dropping_listener_closes_it() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    drop(l);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(t.stack.listeners_in_use(), 0);
    t.send(seg!(SYN, seq = 2000));
    t.expect(seg!(RST | ACK, seq = 0, ack = 2001));
}

/// Listener API: one listener per port (`AddrInUse`), a backlog of 0 or port 0 is
/// `InvalidInput`, listener slots are limited (`Exhausted`), and a port is free again
/// after close.
#[test]
fn listen_errors() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let a = t.stack.listen(80, 4).unwrap();
    assert_eq!(t.stack.listen(80, 4).err(), Some(Error::AddrInUse));
    assert_eq!(t.stack.listen(81, 0).err(), Some(Error::InvalidInput));
    assert_eq!(t.stack.listen(0, 4).err(), Some(Error::InvalidInput));
    let b = t.stack.listen(81, 4).unwrap();
    assert_eq!(
        t.stack.listen(82, 4).err(),
        Some(Error::Exhausted(Capacity::Listeners))
    );
    a.close(&mut t.stack);
    let a2 = t.stack.listen(80, 4).unwrap();
    assert_eq!(a2.port(&t.stack), Ok(80));
    a2.close(&mut t.stack);
    b.close(&mut t.stack);
    assert_eq!(t.stack.listeners_in_use(), 0);
    t.expect_none();
}
