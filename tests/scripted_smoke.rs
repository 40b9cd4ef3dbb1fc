//! Smoke test of the scripted-segment harness.
mod common;

use common::script::*;
use tidytcp::wire::tcp::TcpOptions;

#[test]
fn passive_open_data_and_close() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, mut pseq) = t.handshake_passive(
        1000,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        },
    );
    let mut s = l.accept(&mut t.stack).unwrap().0;
    t.send(seg!(ACK | PSH, seq = pseq, ack = iss + 1, data = b"hello"));
    pseq += 5u32;
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut t.stack, &mut buf).unwrap(), 5);
    // Delayed ACK: nothing at once, an ACK after the timer.
    t.expect_none();
    t.advance(tidytcp::Duration::from_millis(50));
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq));
    // The peer closes; we ACK its FIN at once, then close ourselves.
    t.send(seg!(FIN | ACK, seq = pseq, ack = iss + 1));
    t.expect(seg!(ACK, ack = pseq + 1u32));
    s.close(&mut t.stack);
    t.poll();
    t.expect(seg!(FIN | ACK, seq = iss + 1, ack = pseq + 1u32));
    t.send(seg!(ACK, seq = pseq + 1u32, ack = iss + 2));
    assert_eq!(t.stack.in_use(), 0);
    l.close(&mut t.stack);
}

#[test]
fn rst_for_closed_port() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    t.send(seg!(SYN, seq = 500));
    t.expect(seg!(RST | ACK, seq = 0, ack = 501));
    t.send(seg!(ACK, seq = 500, ack = 777));
    t.expect(seg!(RST, seq = 777));
    t.send(seg!(RST, seq = 500));
    t.expect_none();
}
