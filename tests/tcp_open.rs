//! Opening connections: active open, passive open, simultaneous open, and the rules of
//! SYN-SENT and SYN-RECEIVED (RFC 9293 §3.5, §3.10.7.3, §3.10.7.4). The test plays the
//! peer and checks each reply, or that there is none.
mod common;

use common::script::*;
use tidytcp::socket::SocketFlags;
use tidytcp::tcp::State;
use tidytcp::wire::tcp::TcpOptions;
use tidytcp::{Duration, Error};

fn mss_only() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        ..TcpOptions::NONE
    }
}

// ---------------------------------------------------------------- active open

/// RFC 9293 §3.10.1 (OPEN call, active), §3.7.1 (MSS from the MTU), RFC 7323 §2.2/§3.2,
/// RFC 2018 §2: the SYN carries MSS = MTU − 40, and window scale, SACK-permitted and
/// timestamps (TSecr 0) as configured; its window is not scaled.
#[test]
fn active_open_syn_carries_configured_options() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    assert_eq!(syn.ack.0, 0);
    assert_eq!(syn.opts.mss, Some(1460));
    // An 8 KiB receive buffer fits the 16-bit window: shift 0, still offered.
    assert_eq!(syn.opts.window_scale, Some(0));
    assert!(syn.opts.sack_permitted);
    let (tsval, tsecr) = syn.opts.timestamps.expect("timestamps offered");
    assert_ne!(tsval, 0);
    assert_eq!(tsecr, 0);
    assert_eq!(syn.win, 8192);
    assert!(syn.data.is_empty());
    assert_eq!(t.state(), State::SynSent);
    assert!(t.flags().contains(SocketFlags::CONNECTING));
    t.expect_none();
    s.abort(&mut t.stack);
    t.poll();
    // RFC 9293 §3.10.5: ABORT in SYN-SENT sends nothing.
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 7323 §2.3: the shift offered is the smallest that lets the window field cover the
/// receive buffer (128 KiB needs a shift of 2).
#[test]
fn active_open_window_scale_fits_the_buffer() {
    let mut mem = tidytcp::socket::HeapStorage::new(2, 1, 128 * 1024, 8192);
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    assert_eq!(syn.opts.window_scale, Some(2));
    assert_eq!(syn.win, 0xffff);
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.7.1 / RFC 1122 §4.2.2.6: the MSS we announce follows the device MTU.
#[test]
fn active_open_mss_follows_device_mtu() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.dev.mtu = 1280;
    t.poll();
    let (s, syn) = t.connect_syn();
    assert_eq!(syn.opts.mss, Some(1240));
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.7.1: the configured MTU (smaller than the device's) bounds the MSS too.
#[test]
fn active_open_mss_follows_configured_mtu() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.mtu = 1000;
    let mut t = Script::new(&mut mem, cfg);
    let (s, syn) = t.connect_syn();
    assert_eq!(syn.opts.mss, Some(960));
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 7323 / RFC 2018: options switched off in the configuration are not offered; the
/// MSS always is (RFC 9293 §3.7.1 SHOULD).
#[test]
fn active_open_without_optional_options() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.window_scaling = false;
    cfg.tcp.sack = false;
    cfg.tcp.timestamps = false;
    let mut t = Script::new(&mut mem, cfg);
    let (s, syn) = t.connect_syn();
    assert_eq!(
        syn.opts,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        }
    );
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 (SYN-SENT, fourth): a SYN-ACK acknowledging our SYN moves us to
/// ESTABLISHED and is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; the options
/// the peer returned are in force.
#[test]
fn active_open_completes_and_negotiates() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(
        SYN | ACK,
        seq = 7000,
        ack = iss + 1,
        win = 1000,
        mss = 1200,
        ws = 3,
        sack_perm,
        ts = (500, syn.opts.timestamps.unwrap().0)
    ));
    let ack = t.expect(seg!(ACK, seq = iss + 1, ack = 7001));
    let (_, ecr) = ack.opts.timestamps.expect("timestamps agreed");
    assert_eq!(ecr, 500);
    assert_eq!(t.state(), State::Established);
    assert!(t.flags().contains(SocketFlags::CONNECTED));
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.options(), (true, true, true));
    assert_eq!(c.window_scales(), (0, 3));
    // 1200 less the 12 bytes of the timestamp option.
    assert_eq!(c.mss(), 1188);
    // The SYN-ACK's window is never scaled (RFC 7323 §2.2).
    assert_eq!(c.send_window(), 1000);
    assert_eq!(s.write(&mut t.stack, b"x"), Ok(1));
    t.poll();
    t.expect(seg!(ACK | PSH, seq = iss + 1, ack = 7001, data = b"x"));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 2, ack = 7001));
    assert_eq!(t.stack.in_use(), 0);
    // Counted once, when sent (it used to count when queued as well).
    assert_eq!(t.stack.stats().tcp.rst_sent, 1);
}

/// RFC 7323 §2.2, §3.2; RFC 2018 §2: options the SYN-ACK does not return are off, and the
/// ACK carries no timestamp.
#[test]
fn active_open_peer_without_options() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, iss, _) = t.handshake_active(9000, TcpOptions::NONE);
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.options(), (false, false, false));
    assert_eq!(c.window_scales(), (0, 0));
    // No MSS option: 536 (RFC 9293 §3.7.1).
    assert_eq!(c.mss(), 536);
    assert_eq!(t.log.last().unwrap().opts, TcpOptions::NONE);
    assert_eq!(t.log.last().unwrap().seq, iss + 1);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = 9001));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 first: in SYN-SENT an ACK with SEG.ACK =< ISS or > SND.NXT is
/// answered with <SEQ=SEG.ACK><CTL=RST> and dropped; the connection goes on waiting.
#[test]
fn syn_sent_unacceptable_ack_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(SYN | ACK, seq = 300, ack = iss, mss = 1460));
    t.expect(seg!(RST, seq = iss));
    t.expect_none();
    t.send(seg!(ACK, seq = 300, ack = iss + 2));
    t.expect(seg!(RST, seq = iss + 2));
    t.expect_none();
    assert_eq!(t.state(), State::SynSent);
    // The real answer still completes the handshake.
    t.send(seg!(SYN | ACK, seq = 300, ack = iss + 1, mss = 1460));
    t.expect(seg!(ACK, seq = iss + 1, ack = 301));
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = 301));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 first: an unacceptable ACK on a RST is dropped without a reply
/// (never a RST for a RST).
#[test]
fn syn_sent_rst_with_unacceptable_ack_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    t.send(seg!(RST | ACK, seq = 0, ack = syn.seq + 5));
    t.expect_none();
    assert_eq!(t.state(), State::SynSent);
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 second: a RST with an acceptable ACK refuses the connection; the
/// user learns `ConnectionRefused` from `read` and `write`, and the slot is freed once the
/// handle goes.
#[test]
fn syn_sent_rst_with_acceptable_ack_refuses() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send(seg!(RST | ACK, seq = 0, ack = syn.seq + 1));
    t.expect_none();
    let mut buf = [0u8; 8];
    assert_eq!(
        s.read(&mut t.stack, &mut buf),
        Err(Error::ConnectionRefused)
    );
    assert_eq!(s.write(&mut t.stack, b"hi"), Err(Error::ConnectionRefused));
    assert_eq!(s.error(&t.stack), Some(Error::ConnectionRefused));
    assert_eq!(t.state(), State::Closed);
    assert!(t.flags().contains(SocketFlags::ERROR));
    // No more SYNs.
    t.advance(Duration::from_secs(10));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 1);
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 second / RFC 5961 §3: a RST without ACK in SYN-SENT is ignored.
#[test]
fn syn_sent_rst_without_ack_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    t.send(seg!(RST, seq = 0));
    t.expect_none();
    assert_eq!(t.state(), State::SynSent);
    assert_eq!(s.error(&t.stack), None);
    t.send(seg!(SYN | ACK, seq = 10, ack = syn.seq + 1));
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 11));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = syn.seq + 1, ack = 11));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 fifth: with neither SYN nor RST, a segment in SYN-SENT is dropped
/// (its acceptable ACK alone does not open the connection).
#[test]
fn syn_sent_plain_ack_dropped() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    t.send(seg!(ACK, seq = 10, ack = syn.seq + 1, data = b"early"));
    t.expect_none();
    assert_eq!(t.state(), State::SynSent);
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 6298 §5.5 / RFC 1122 §4.2.3.5 / Linux tcp_syn_retries: the SYN is retransmitted
/// with exponential backoff (1 s, 2 s, 4 s, ... capped at max_rto), `syn_retries` times
/// (default 6), always with the same ISS and options; then connect fails with `TimedOut`.
#[test]
fn syn_sent_retries_with_backoff_then_times_out() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let t0 = t.now;
    let (mut s, syn) = t.connect_syn();
    let max_rto = tidytcp::tcp::TcpConfig::default().max_rto;
    let mut at = t0;
    let mut rto = Duration::from_secs(1);
    for _ in 0..6 {
        at += rto;
        t.advance_until_sent(Duration::from_secs(200)).unwrap();
        assert_eq!(t.now, at);
        let again = t.expect(seg!(SYN, seq = syn.seq));
        assert_eq!(again.opts.mss, syn.opts.mss);
        assert_eq!(again.opts.window_scale, syn.opts.window_scale);
        assert!(again.opts.sack_permitted);
        t.expect_none();
        rto = (rto + rto).min(max_rto);
    }
    // Giving up, at the end of the last backoff, sends nothing.
    t.advance(rto - Duration::from_micros(1));
    assert_eq!(s.error(&t.stack), None);
    t.advance(Duration::from_micros(1));
    assert_eq!(t.now, at + rto);
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::TimedOut));
    assert_eq!(t.stack.stats().tcp.timed_out, 1);
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// Config `syn_retries`: two retries, then `TimedOut` at 1 + 2 + 4 s.
#[test]
fn syn_retries_is_configurable() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.syn_retries = 2;
    let mut t = Script::new(&mut mem, cfg);
    let t0 = t.now;
    let (mut s, syn) = t.connect_syn();
    t.advance(Duration::from_secs(1));
    t.expect(seg!(SYN, seq = syn.seq));
    t.advance(Duration::from_secs(2));
    t.expect(seg!(SYN, seq = syn.seq));
    t.advance(Duration::from_millis(3999));
    assert_eq!(s.error(&t.stack), None);
    t.advance(Duration::from_millis(1));
    assert_eq!(t.now, t0 + Duration::from_secs(7));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// `connect_timeout`: an unanswered SYN ends the connection with `TimedOut` exactly when
/// the timeout passes (the backed-off retransmission at 3 s is cut short to 2.5 s), not
/// after the two minutes of `syn_retries`.
#[test]
fn connect_timeout_ends_the_handshake_on_time() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let t0 = t.now;
    let mut s = t
        .stack
        .connect_timeout(peer().into(), Duration::from_millis(2500))
        .unwrap();
    t.poll();
    let syn = t.expect(seg!(SYN));
    t.advance(Duration::from_secs(1));
    t.expect(seg!(SYN, seq = syn.seq));
    t.advance(Duration::from_millis(1499));
    assert_eq!(s.error(&t.stack), None);
    t.advance(Duration::from_millis(1));
    assert_eq!(t.now, t0 + Duration::from_millis(2500));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::TimedOut));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(
        t.stack.connect_timeout(peer().into(), Duration::ZERO).err(),
        Some(Error::InvalidInput)
    );
}

/// Data written and a half-close asked for during the handshake are kept: after the
/// SYN-ACK the data goes out with the FIN after it (FIN-WAIT-1), as the connect
/// documentation promises; only a CLOSE in SYN-SENT deletes the connection.
#[test]
fn half_close_in_syn_sent_sends_data_then_fin() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    assert_eq!(s.write(&mut t.stack, b"early"), Ok(5));
    s.shutdown_write(&mut t.stack).unwrap();
    t.poll();
    t.expect_none();
    assert_eq!(s.state(&t.stack), State::SynSent);
    t.send(seg!(SYN | ACK, seq = 7000, ack = syn.seq + 1, mss = 1460));
    let out = t.drain();
    let data: Vec<u8> = out.iter().flat_map(|o| o.data.clone()).collect();
    assert_eq!(data, b"early");
    let fin = out
        .iter()
        .find(|o| o.flags.contains(tidytcp::wire::tcp::TcpFlags::FIN));
    assert_eq!(
        fin.expect("a FIN").seq,
        syn.seq + 1 + 5 - fin.unwrap().data.len() as u32
    );
    assert_eq!(s.state(&t.stack), State::FinWait1);
    s.abort(&mut t.stack);
}

/// `connect_timeout` bounds the handshake only: once established, data may stay
/// unacknowledged past it (the configured user timeout, none here, applies again).
#[test]
fn connect_timeout_does_not_outlive_the_handshake() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let mut s = t
        .stack
        .connect_timeout(peer().into(), Duration::from_secs(2))
        .unwrap();
    t.poll();
    let syn = t.expect(seg!(SYN));
    let mut synack = seg!(SYN | ACK, seq = 7000, ack = syn.seq + 1, mss = 1460);
    synack.dst_port = syn.src_port;
    t.send(synack);
    t.expect(seg!(ACK, ack = 7001));
    assert_eq!(s.state(&t.stack), State::Established);
    s.write(&mut t.stack, b"unanswered").unwrap();
    t.poll();
    t.drain();
    t.advance(Duration::from_secs(10));
    assert_eq!(s.error(&t.stack), None);
    assert_eq!(s.state(&t.stack), State::Established);
    s.abort(&mut t.stack);
}

/// RFC 9293 §3.10.7.3: a SYN-ACK carrying data opens the connection and delivers the
/// data; the ACK covers it.
#[test]
fn syn_ack_with_data_delivers_it() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send(seg!(
        SYN | ACK,
        seq = 100,
        ack = syn.seq + 1,
        data = b"hello"
    ));
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 106));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = syn.seq + 1, ack = 106));
    assert_eq!(t.stack.in_use(), 0);
}

// ---------------------------------------------------------------- simultaneous open

/// RFC 9293 §3.5 figure 8: the SYNs cross. SYN-SENT + SYN → SYN-RECEIVED, answered with
/// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (the same ISS); the peer's SYN-ACK then moves us to
/// ESTABLISHED.
#[test]
fn simultaneous_open_syns_cross() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(SYN, seq = 300, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    assert_eq!(sa.opts.mss, Some(1460));
    assert_eq!(t.state(), State::SynReceived);
    t.expect_none();
    // The peer, in SYN-RECEIVED too, answers our SYN with its SYN-ACK.
    t.send(seg!(SYN | ACK, seq = 300, ack = iss + 1, mss = 1460));
    assert_eq!(t.state(), State::Established);
    assert_eq!(s.write(&mut t.stack, b"go"), Ok(2));
    t.poll();
    let d = t.drain();
    assert!(
        d.iter()
            .all(|x| !x.flags.contains(tidytcp::wire::tcp::TcpFlags::SYN)),
        "{d:?}"
    );
    assert_eq!(d.last().unwrap().data, b"go");
    assert_eq!(d.last().unwrap().seq, iss + 1);
    assert_eq!(d.last().unwrap().ack.0, 301);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 3, ack = 301));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.5 figure 8: after crossing SYNs a plain ACK of our SYN completes it too.
#[test]
fn simultaneous_open_completed_by_ack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(SYN, seq = 300));
    t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    t.send(seg!(ACK, seq = 301, ack = iss + 1));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = 301));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 6298 §5.4 in SYN-RECEIVED after a simultaneous open: the SYN-ACK is retransmitted
/// on timeout with the same ISS.
#[test]
fn simultaneous_open_synack_retransmitted_with_same_iss() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(SYN, seq = 300));
    t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    let at = t.now;
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    assert!(t.now > at);
    t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    t.advance_until_sent(Duration::from_secs(200)).unwrap();
    t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    t.send(seg!(ACK, seq = 301, ack = iss + 1));
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = 301));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 second, SYN-RECEIVED from an active open: a RST refuses the
/// connection (`ConnectionRefused`).
#[test]
fn simultaneous_open_reset_refuses() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send(seg!(SYN, seq = 300));
    t.expect(seg!(SYN | ACK, seq = syn.seq, ack = 301));
    t.send(seg!(RST, seq = 301));
    t.expect_none();
    let mut buf = [0u8; 4];
    assert_eq!(
        s.read(&mut t.stack, &mut buf),
        Err(Error::ConnectionRefused)
    );
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

// ---------------------------------------------------------------- passive open

/// RFC 9293 §3.10.7.2 (LISTEN, third), RFC 7323 §2.2/§3.2, RFC 2018: the SYN-ACK is
/// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and returns exactly the options the SYN offered,
/// echoing its TSval.
#[test]
fn passive_open_synack_returns_offered_options() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(
        SYN,
        seq = 1000,
        mss = 1400,
        ws = 7,
        sack_perm,
        ts = (4242, 0)
    ));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(sa.opts.mss, Some(1460));
    assert_eq!(sa.opts.window_scale, Some(0));
    assert!(sa.opts.sack_permitted);
    assert_eq!(sa.opts.timestamps.unwrap().1, 4242);
    assert_eq!(sa.win, 8192);
    assert_eq!(t.state(), State::SynReceived);
    assert!(t.flags().contains(SocketFlags::CONNECTING));
    assert_eq!(l.accept(&mut t.stack).err(), Some(Error::WouldBlock));
    let tsv = sa.opts.timestamps.unwrap().0;
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1, ts = (4243, tsv)));
    t.expect_none();
    let s = l.accept(&mut t.stack).unwrap().0;
    let c = s.connection(&t.stack).unwrap();
    assert_eq!(c.options(), (true, true, true));
    assert_eq!(c.window_scales(), (0, 7));
    assert_eq!(c.mss(), 1400 - 12);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 7323 §2.2, §3.2; RFC 2018 §2: a SYN without those options gets a SYN-ACK without
/// them.
#[test]
fn passive_open_synack_without_unoffered_options() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    assert_eq!(
        sa.opts,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        }
    );
    l.close(&mut t.stack);
    t.poll();
    // The embryo is reset and freed with the listener.
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED): an ACK outside SND.UNA < SEG.ACK =< SND.NXT
/// gets <SEQ=SEG.ACK><CTL=RST>; the embryo stays and the right ACK still completes it.
#[test]
fn syn_received_bad_ack_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 7));
    t.expect(seg!(RST, seq = sa.seq + 7));
    t.send(seg!(ACK, seq = 1001, ack = sa.seq));
    t.expect(seg!(RST, seq = sa.seq));
    t.expect_none();
    assert_eq!(t.state(), State::SynReceived);
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1));
    t.expect_none();
    let s = l.accept(&mut t.stack).unwrap().0;
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first (a retransmitted SYN is old: answer with an ACK — in
/// SYN-RECEIVED the SYN-ACK): a duplicate SYN gets the SYN-ACK again, same ISS, and no
/// second embryo.
#[test]
fn syn_received_duplicate_syn_retransmits_synack() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.advance(Duration::from_millis(300));
    t.send(seg!(SYN, seq = 1000, mss = 1460));
    let again = t.expect(seg!(SYN | ACK, seq = sa.seq, ack = 1001));
    assert_eq!(again.opts.mss, Some(1460));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 1);
    l.close(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 6298 §5.4 / RFC 9293 §3.8.1: the SYN-ACK is retransmitted on timeout with backoff;
/// after `syn_retries` the embryo is freed silently (Linux: no RST when a request
/// expires) and the listener goes on.
#[test]
fn syn_received_synack_retransmitted_then_embryo_freed() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.syn_retries = 3;
    let mut t = Script::new(&mut mem, cfg);
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let t0 = t.now;
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    for secs in [1, 3, 7] {
        t.advance_until_sent(Duration::from_secs(200)).unwrap();
        assert_eq!(t.now, t0 + Duration::from_secs(secs));
        t.expect(seg!(SYN | ACK, seq = sa.seq, ack = 1001));
        t.expect_none();
    }
    t.advance(t0 + Duration::from_secs(15) - t.now - Duration::from_micros(1));
    assert_eq!(t.stack.in_use(), 1);
    t.advance(Duration::from_micros(1));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(l.accept(&mut t.stack).err(), Some(Error::WouldBlock));
    // The late ACK now meets only the listener: its cookie check fails, RST.
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1));
    t.expect(seg!(RST, seq = sa.seq + 1));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 second (SYN-RECEIVED, passive): a RST at RCV.NXT returns the
/// connection to LISTEN: the embryo is freed without a word, the user never sees it.
#[test]
fn syn_received_reset_frees_embryo_silently() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(RST, seq = 1001));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(l.accept(&mut t.stack).err(), Some(Error::WouldBlock));
    // The listener still works.
    t.send(seg!(SYN, seq = 5000));
    t.expect(seg!(SYN | ACK, ack = 5001));
    l.close(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 first: in SYN-RECEIVED a RST outside the window is dropped
/// silently; the embryo survives.
#[test]
fn syn_received_out_of_window_rst_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(RST, seq = 1001 + 100_000));
    t.expect_none();
    t.send(seg!(RST, seq = 900));
    t.expect_none();
    assert_eq!(t.state(), State::SynReceived);
    t.send(seg!(ACK, seq = 1001, ack = sa.seq + 1));
    let s = l.accept(&mut t.stack).unwrap().0;
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1001));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 fourth (SYN-RECEIVED, passive): a SYN in the window returns the
/// connection to LISTEN; the embryo is dropped and the peer's next SYN starts afresh.
#[test]
fn syn_received_in_window_syn_drops_embryo() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(SYN, seq = 1500));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    t.send(seg!(SYN, seq = 1500));
    let sa = t.expect(seg!(SYN | ACK, ack = 1501));
    t.send(seg!(ACK, seq = 1501, ack = sa.seq + 1));
    let s = l.accept(&mut t.stack).unwrap().0;
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1501));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth then seventh): the ACK completing the
/// handshake may carry data; it is delivered after accept.
#[test]
fn handshake_ack_with_data() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(
        ACK | PSH,
        seq = 1001,
        ack = sa.seq + 1,
        data = b"GET /"
    ));
    let mut s = l.accept(&mut t.stack).unwrap().0;
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"GET /");
    t.advance(Duration::from_millis(40));
    t.expect(seg!(ACK, seq = sa.seq + 1, ack = 1006));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1006));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 eighth (SYN-RECEIVED): a FIN on the completing ACK moves the
/// connection to CLOSE-WAIT; the accepted stream reads end of stream.
#[test]
fn handshake_ack_with_fin_goes_to_close_wait() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(FIN | ACK, seq = 1001, ack = sa.seq + 1));
    t.expect(seg!(ACK, seq = sa.seq + 1, ack = 1002));
    assert_eq!(t.state(), State::CloseWait);
    let mut s = l.accept(&mut t.stack).unwrap().0;
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = sa.seq + 1, ack = 1002));
    t.send(seg!(ACK, seq = 1002, ack = sa.seq + 2));
    t.expect_none();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.4 second: a RST on an ESTABLISHED connection still in the accept
/// queue frees it; accept then finds nothing.
#[test]
fn queued_connection_reset_before_accept() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (_, pseq) = t.handshake_passive(1000, mss_only());
    assert!(t.flags().contains(SocketFlags::QUEUED));
    t.send(seg!(RST, seq = pseq));
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
    assert_eq!(l.accept(&mut t.stack).err(), Some(Error::WouldBlock));
    l.close(&mut t.stack);
}

/// RFC 9293 §3.10.7.4 first: our handshake ACK was lost and the peer retransmits its
/// SYN-ACK; in ESTABLISHED it is old (below RCV.NXT) and is answered with an ACK.
#[test]
fn retransmitted_synack_after_open_is_reacked() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, iss, pseq) = t.handshake_active(7000, mss_only());
    t.send(seg!(SYN | ACK, seq = 7000, ack = iss + 1, mss = 1460));
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq));
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = iss + 1, ack = pseq));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.2 (SEND in SYN-SENT: "queue the data for transmission after entering
/// ESTABLISHED"): data written before the handshake completes follows it, starting at
/// ISS + 1.
#[test]
fn data_written_in_syn_sent_follows_handshake() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    assert_eq!(s.write(&mut t.stack, b"early"), Ok(5));
    t.poll();
    t.expect_none();
    t.send(seg!(SYN | ACK, seq = 300, ack = syn.seq + 1, mss = 1460));
    let out = t.drain();
    let data = out.iter().find(|x| !x.data.is_empty()).expect("the data");
    assert_eq!(data.data, b"early");
    assert_eq!(data.seq, syn.seq + 1);
    assert_eq!(data.ack.0, 301);
    assert!(out.iter().all(|x| x.ack.0 == 301 && x.seq == syn.seq + 1));
    t.send(seg!(ACK, seq = 301, ack = syn.seq + 6));
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = syn.seq + 6, ack = 301));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.2 third (without TCP Fast Open, as Linux): data on a SYN is not
/// taken; the SYN-ACK acknowledges the SYN only and the peer sends the data again.
#[test]
fn data_on_syn_not_acknowledged() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(seg!(SYN, seq = 1000, mss = 1460, data = b"early"));
    let sa = t.expect(seg!(SYN | ACK, ack = 1001));
    t.send(seg!(
        ACK | PSH,
        seq = 1001,
        ack = sa.seq + 1,
        data = b"early"
    ));
    let mut s = l.accept(&mut t.stack).unwrap().0;
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"early");
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = sa.seq + 1, ack = 1006));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.4 (CLOSE in SYN-RECEIVED: the FIN may wait until ESTABLISHED): after
/// crossing SYNs the user closes; when the peer ACKs our SYN the FIN goes out
/// (FIN-WAIT-1), and the close runs its course.
#[test]
fn close_in_syn_received_sends_fin_after_open() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let iss = syn.seq;
    t.send(seg!(SYN, seq = 300));
    t.expect(seg!(SYN | ACK, seq = iss, ack = 301));
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.state(), State::SynReceived);
    t.send(seg!(ACK, seq = 301, ack = iss + 1));
    t.expect(seg!(FIN | ACK, seq = iss + 1, ack = 301));
    assert_eq!(t.state(), State::FinWait1);
    t.send(seg!(FIN | ACK, seq = 301, ack = iss + 2));
    t.expect(seg!(ACK, seq = iss + 2, ack = 302));
    assert_eq!(t.state(), State::TimeWait);
    t.advance(Duration::from_secs(60));
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.3 (SYN-SENT, "continue processing at the sixth step ... Otherwise
/// ..." and the FIN of the eighth): a SYN-ACK that also carries a FIN opens the
/// connection straight into CLOSE-WAIT.
#[test]
fn syn_ack_with_fin_goes_to_close_wait() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send(seg!(SYN | ACK | FIN, seq = 100, ack = syn.seq + 1));
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 102));
    assert_eq!(t.state(), State::CloseWait);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(0));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = syn.seq + 1, ack = 102));
    t.send(seg!(ACK, seq = 102, ack = syn.seq + 2));
    assert_eq!(t.stack.in_use(), 0);
}
