//! Resets for segments no connection accepts (RFC 9293 §3.10.7.1, §3.5.2), and never a
//! reset for a reset.
mod common;

use common::script::*;
use tidytcp::Duration;

/// RFC 9293 §3.10.7.1: a SYN to a closed port (no ACK bit) gets
/// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, the SYN counting one.
#[test]
fn syn_to_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(SYN, seq = 0xffff_fff0u32, mss = 1460));
    let r = t.expect(seg!(RST | ACK, seq = 0, ack = 0xffff_fff1u32));
    assert_eq!((r.src_port, r.dst_port), (STACK_PORT, PEER_PORT));
    assert_eq!(r.seq.0, 0);
    assert_eq!(r.opts, tidytcp::wire::tcp::TcpOptions::NONE);
    assert!(r.data.is_empty());
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.no_socket, 1);
    assert_eq!(t.stack.stats().tcp.rst_sent, 1);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.1: with the ACK bit, the reset is <SEQ=SEG.ACK><CTL=RST> (no ACK).
#[test]
fn ack_to_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(ACK, seq = 500, ack = 0x8000_0001u32));
    let r = t.expect(seg!(RST, seq = 0x8000_0001u32));
    assert_eq!(r.ack.0, 0);
    t.expect_none();
}

/// RFC 9293 §3.10.7.1: data without ACK: the reset acknowledges SEG.SEQ + SEG.LEN.
#[test]
fn data_without_ack_to_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(PSH, seq = 100, data = b"twelve bytes"));
    t.expect(seg!(RST | ACK, seq = 0, ack = 112));
    t.expect_none();
}

/// RFC 9293 §3.10.7.1 / §3.4: SEG.LEN counts the SYN and the FIN as well as the data.
#[test]
fn syn_fin_data_to_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(SYN | FIN, seq = 100, data = b"abc"));
    t.expect(seg!(RST | ACK, seq = 0, ack = 105));
    t.send(seg!(FIN, seq = 200));
    t.expect(seg!(RST | ACK, seq = 0, ack = 201));
    t.expect_none();
}

/// RFC 9293 §3.10.7.1: with ACK, data and FIN do not matter: <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn fin_ack_with_data_to_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(FIN | ACK | PSH, seq = 100, ack = 9999, data = b"abc"));
    t.expect(seg!(RST, seq = 9999));
    t.expect_none();
}

/// RFC 9293 §3.10.7.1 ("an incoming segment containing a RST is discarded") / §3.5.2:
/// never a reset for a reset, with or without ACK, data or SYN.
#[test]
fn never_rst_for_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(RST, seq = 100));
    t.send(seg!(RST | ACK, seq = 100, ack = 200));
    t.send(seg!(RST | SYN, seq = 100));
    t.send(seg!(RST | ACK, seq = 100, ack = 200, data = b"why"));
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.no_socket, 4);
    assert_eq!(t.stack.stats().tcp.rst_sent, 0);
}

/// RFC 9293 §3.10.7.1: "closed" means no connection for the 4-tuple and no listener on
/// the port: a listener on another port, or a connection with another peer port, does not
/// take the segment.
#[test]
fn other_port_or_peer_port_is_closed() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    t.send(seg!(SYN, seq = 10, dport = 81));
    let r = t.expect(seg!(RST | ACK, seq = 0, ack = 11));
    assert_eq!((r.src_port, r.dst_port), (81, PEER_PORT));
    t.send(seg!(ACK, seq = 10, ack = 20, sport = 40999));
    let r = t.expect(seg!(RST, seq = 20));
    assert_eq!((r.src_port, r.dst_port), (STACK_PORT, 40999));
    t.expect_none();
    s.abort(&mut t.stack);
    t.poll();
    t.expect(seg!(RST | ACK, seq = c.iss + 1, ack = c.pseq));
    l.close(&mut t.stack);
    assert_eq!(t.stack.in_use(), 0);
}

/// RFC 9293 §3.10.7.1: once a connection is gone (here after LAST-ACK), its port is
/// closed to the old peer's segments.
#[test]
fn segment_after_connection_ended_gets_rst() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let (l, s, c) = t.established_passive(1000);
    l.close(&mut t.stack);
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 1));
    t.expect(seg!(ACK, seq = c.iss + 1, ack = c.pseq + 1));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = c.iss + 1, ack = c.pseq + 1));
    t.send(seg!(ACK, seq = c.pseq + 1, ack = c.iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    // A retransmitted FIN after the end.
    t.send(seg!(FIN | ACK, seq = c.pseq, ack = c.iss + 2));
    t.expect(seg!(RST, seq = c.iss + 2));
    t.expect_none();
}

/// RFC 9293 §3.1 / RFC 1122 §4.2.2.7: a segment with a bad checksum is discarded, not
/// answered, even on a closed port.
#[test]
fn bad_checksum_never_answered() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let f = peer_frame(&seg!(SYN, seq = 1));
    let mut tcp = f[34..].to_vec();
    tcp[16] ^= 0x55;
    t.send_raw_tcp(&tcp, true);
    t.advance(Duration::from_millis(10));
    t.expect_none();
    assert_eq!(t.stack.stats().tcp.dropped_checksum, 1);
    assert_eq!(t.stack.stats().tcp.no_socket, 0);
}
