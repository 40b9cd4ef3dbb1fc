//! ACKs for segments that arrive together: one ACK for in-order data received in the same
//! batch (sent in the same poll), but still one immediate duplicate ACK per out-of-order
//! segment (RFC 5681 §4.2), so the sender's fast retransmit keeps working.
mod common;

use common::script::*;
use tidytcp::wire::tcp::{SeqNum, TcpOptions};

const SEG: usize = 1000;

fn established(t: &mut Script<'_>) -> (SeqNum, SeqNum) {
    t.handshake_passive(
        1000,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        },
    )
}

#[test]
fn in_order_batch_gets_one_ack_in_the_same_poll() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, pseq) = established(&mut t);
    let mut conn = l.accept(&mut t.stack).unwrap().0;
    let data = [0x42u8; SEG];
    for k in 0..6u32 {
        let s = seg!(ACK, seq = pseq + k * SEG as u32, ack = iss + 1, data = data);
        t.dev.rx.push_back(peer_frame(&s));
    }
    t.poll();
    // Six segments, one poll, an 8 KiB receive buffer: the ACK goes out at once when it
    // would cover half the buffer (after the fifth); the sixth alone waits for the
    // delayed-ACK timer as a lone segment does.
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq + 5 * SEG as u32));
    t.expect_none();
    t.advance(tidytcp::Duration::from_millis(50));
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq + 6 * SEG as u32));
    t.expect_none();
    let mut buf = [0u8; 8 * SEG];
    assert_eq!(conn.read(&mut t.stack, &mut buf), Ok(6 * SEG));
    t.poll();
    // The window reopened by more than half the buffer: a window update.
    t.expect(seg!(
        ACK,
        seq = iss + 1,
        ack = pseq + 6 * SEG as u32,
        win = 8192
    ));
    t.expect_none();
    // Three more together: one ACK.
    for k in 6..9u32 {
        let s = seg!(ACK, seq = pseq + k * SEG as u32, ack = iss + 1, data = data);
        t.dev.rx.push_back(peer_frame(&s));
    }
    t.poll();
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq + 9 * SEG as u32));
    t.expect_none();
}

#[test]
fn out_of_order_batch_gets_a_dup_ack_each() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, pseq) = established(&mut t);
    let _s = l.accept(&mut t.stack).unwrap().0;
    let data = [0x42u8; SEG];
    // The first segment is lost; the next three arrive together.
    for k in 1..4u32 {
        let s = seg!(ACK, seq = pseq + k * SEG as u32, ack = iss + 1, data = data);
        t.dev.rx.push_back(peer_frame(&s));
    }
    t.poll();
    for _ in 0..3 {
        t.expect(seg!(ACK, seq = iss + 1, ack = pseq));
    }
    t.expect_none();
    // The gap is filled: an ACK for everything at once.
    t.send(seg!(ACK, seq = pseq, ack = iss + 1, data = data));
    t.expect(seg!(ACK, seq = iss + 1, ack = pseq + 4 * SEG as u32));
}
