//! ICMP destination unreachable for our segments (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191):
//! hard errors while connecting, soft errors otherwise, quote validation, and path MTU.
mod common;

use common::script::*;
use tidytcp::tcp::State;
use tidytcp::wire::icmpv4::DstUnreachableCode as Code;
use tidytcp::wire::tcp::TcpOptions;
use tidytcp::{Duration, Error};

/// RFC 1122 §4.2.3.9 (port and protocol unreachable are hard errors) / Linux, BSD: in
/// SYN-SENT a port unreachable quoting our SYN fails the connect with
/// `ConnectionRefused`; no more SYNs are sent.
#[test]
fn port_unreachable_refuses_connect() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send_icmp_unreachable(Code::PortUnreachable, &syn, 0);
    t.expect_none();
    assert_eq!(t.state(), State::Closed);
    let mut buf = [0u8; 4];
    assert_eq!(
        s.read(&mut t.stack, &mut buf),
        Err(Error::ConnectionRefused)
    );
    assert_eq!(s.write(&mut t.stack, b"x"), Err(Error::ConnectionRefused));
    t.advance(Duration::from_secs(10));
    t.expect_none();
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.3.9: protocol unreachable is hard too.
#[test]
fn protocol_unreachable_refuses_connect() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send_icmp_unreachable(Code::ProtocolUnreachable, &syn, 0);
    let mut buf = [0u8; 4];
    assert_eq!(
        s.read(&mut t.stack, &mut buf),
        Err(Error::ConnectionRefused)
    );
    s.close(&mut t.stack);
    t.poll();
    t.expect_none();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.3.9 (host unreachable is soft: "MUST NOT abort the connection") / BSD:
/// the connect goes on retrying; if it then times out, the error reported is the ICMP
/// one, `HostUnreachable`, not `TimedOut`.
#[test]
fn host_unreachable_is_soft_while_connecting() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.syn_retries = 2;
    let mut t = Script::new(&mut mem, cfg);
    let (mut s, syn) = t.connect_syn();
    t.send_icmp_unreachable(Code::HostUnreachable, &syn, 0);
    t.expect_none();
    assert_eq!(t.state(), State::SynSent);
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::WouldBlock));
    t.advance(Duration::from_secs(1));
    t.expect(seg!(SYN, seq = syn.seq));
    t.advance(Duration::from_secs(2));
    t.expect(seg!(SYN, seq = syn.seq));
    t.advance(Duration::from_secs(4));
    t.expect_none();
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::HostUnreachable));
    s.close(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.3.9: a soft error does not stop a connect that then succeeds; it is
/// forgotten, nothing is reported.
#[test]
fn soft_error_then_successful_connect() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send_icmp_unreachable(Code::NetUnreachable, &syn, 0);
    t.send(seg!(SYN | ACK, seq = 300, ack = syn.seq + 1));
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 301));
    assert_eq!(t.state(), State::Established);
    assert_eq!(s.write(&mut t.stack, b"ok"), Ok(2));
    assert_eq!(s.error(&t.stack), None);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 5927 §4.1 / RFC 1122 §4.2.3.9: the quoted sequence number must lie in [SND.UNA,
/// SND.MAX]; a quote outside (a blind attacker's guess) is ignored, even a hard error in
/// SYN-SENT.
#[test]
fn quote_outside_send_window_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let mut forged = syn.clone();
    forged.seq = syn.seq + 2;
    t.send_icmp_unreachable(Code::PortUnreachable, &forged, 0);
    forged.seq = syn.seq - 1;
    t.send_icmp_unreachable(Code::PortUnreachable, &forged, 0);
    assert_eq!(t.state(), State::SynSent);
    assert_eq!(s.error(&t.stack), None);
    assert_eq!(t.stack.stats().tcp.icmp_ignored, 2);
    t.send(seg!(SYN | ACK, seq = 300, ack = syn.seq + 1));
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 301));
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.3.9 (only RFC 5927 §4.1-valid errors count): an error quoting another
/// 4-tuple touches no connection.
#[test]
fn error_for_unknown_connection_ignored() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (s, syn) = t.connect_syn();
    let mut other = syn.clone();
    other.dst_port = 40999;
    t.send_icmp_unreachable(Code::PortUnreachable, &other, 0);
    assert_eq!(t.state(), State::SynSent);
    assert_eq!(t.stack.stats().tcp.icmp_ignored, 1);
    s.abort(&mut t.stack);
    t.poll();
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 5927 §5.2 / Linux / BSD: in ESTABLISHED even port unreachable does not abort the
/// connection (blind reset via ICMP); data goes on flowing.
#[test]
fn established_not_aborted_by_hard_error() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"abc"), Ok(3));
    t.poll();
    let d = t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"abc"));
    t.send_icmp_unreachable(Code::PortUnreachable, &d, 0);
    t.send_icmp_unreachable(Code::HostUnreachable, &d, 0);
    t.send_icmp_unreachable(Code::CommProhibited, &d, 0);
    t.expect_none();
    assert_eq!(t.state(), State::Established);
    assert_eq!(s.error(&t.stack), None);
    t.send(seg!(
        ACK | PSH,
        seq = c.pseq,
        ack = c.iss + 4,
        data = b"def"
    ));
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Ok(3));
    assert_eq!(s.write(&mut t.stack, b"g"), Ok(1));
    t.poll();
    t.expect(seg!(ACK | PSH, seq = c.iss + 4, data = b"g"));
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1122 §4.2.3.9: a soft error on an ESTABLISHED connection is reported if the
/// connection later times out (`HostUnreachable` instead of `TimedOut`).
#[test]
fn soft_error_reported_at_timeout() {
    let mut mem = script_storage();
    let mut cfg = script_config();
    cfg.tcp.max_retransmits = 1;
    let mut t = Script::new(&mut mem, cfg);
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"abc"), Ok(3));
    t.poll();
    let d = t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"abc"));
    t.send_icmp_unreachable(Code::HostUnreachable, &d, 0);
    assert_eq!(s.error(&t.stack), None);
    t.advance(Duration::from_secs(10));
    let out = t.drain();
    assert!(out.iter().any(|x| x.data == b"abc"), "{out:?}");
    assert_eq!(s.error(&t.stack), Some(Error::HostUnreachable));
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut t.stack, &mut buf), Err(Error::HostUnreachable));
    s.close(&mut t.stack);
    t.poll();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1191 §6: fragmentation needed with a next-hop MTU lowers the MSS; the segment that
/// was too big is sent again at once in pieces that fit, and later segments fit too.
#[test]
fn frag_needed_lowers_mss() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    s.set_nodelay(&mut t.stack, true).unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(s.write(&mut t.stack, &data), Ok(3000));
    t.poll();
    let first = t.drain();
    assert_eq!(first[0].data.len(), 1460);
    t.send_icmp_unreachable(Code::FragNeeded, &first[0], 1000);
    let again = t.drain();
    let lens: Vec<usize> = again.iter().map(|x| x.data.len()).collect();
    assert_eq!(lens, vec![960, 960, 960, 120], "{again:?}");
    assert_eq!(again[0].seq, c.iss + 1);
    assert_eq!(again[0].data, &data[..960]);
    assert_eq!(s.connection(&t.stack).unwrap().mss(), 960);
    assert_eq!(t.stack.stats().tcp.pmtu_updates, 1);
    t.send(seg!(ACK, seq = c.pseq, ack = c.iss + 3001));
    let more = vec![7u8; 2000];
    assert_eq!(s.write(&mut t.stack, &more), Ok(2000));
    t.poll();
    let next = t.drain();
    assert!(next.iter().all(|x| x.data.len() <= 960), "{next:?}");
    assert_eq!(next.iter().map(|x| x.data.len()).sum::<usize>(), 2000);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1191 §5/§6: an MTU that does not lower the MSS changes nothing; one below 68 (or
/// the 0 of an old router) is not believed; a quote outside the window is ignored.
#[test]
fn frag_needed_not_believed() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, mut s, c) = t.established_passive(1000);
    assert_eq!(s.write(&mut t.stack, b"abc"), Ok(3));
    t.poll();
    let d = t.expect(seg!(ACK | PSH, seq = c.iss + 1, data = b"abc"));
    t.send_icmp_unreachable(Code::FragNeeded, &d, 1500);
    t.send_icmp_unreachable(Code::FragNeeded, &d, 60);
    t.send_icmp_unreachable(Code::FragNeeded, &d, 0);
    let mut far = d.clone();
    far.seq = c.iss + 100;
    t.send_icmp_unreachable(Code::FragNeeded, &far, 600);
    t.expect_none();
    assert_eq!(s.connection(&t.stack).unwrap().mss(), 1460);
    assert_eq!(t.stack.stats().tcp.pmtu_updates, 0);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 1191 §3: in SYN-SENT the lowered MSS applies to the connection once open.
#[test]
fn frag_needed_during_handshake() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (mut s, syn) = t.connect_syn();
    t.send_icmp_unreachable(Code::FragNeeded, &syn, 576);
    t.expect_none();
    let mut sa = seg!(SYN | ACK, seq = 300, ack = syn.seq + 1);
    sa.opts = TcpOptions {
        mss: Some(1460),
        ..TcpOptions::NONE
    };
    t.send(sa);
    t.expect(seg!(ACK, seq = syn.seq + 1, ack = 301));
    s.set_nodelay(&mut t.stack, true).unwrap();
    assert_eq!(s.write(&mut t.stack, &[1u8; 1000]), Ok(1000));
    t.poll();
    let out = t.drain();
    assert!(out.iter().all(|x| x.data.len() <= 536), "{out:?}");
    assert_eq!(out.iter().map(|x| x.data.len()).sum::<usize>(), 1000);
    s.abort(&mut t.stack);
    t.poll();
    t.drain();
    assert_eq!(t.stack.in_use(), 0);
}
