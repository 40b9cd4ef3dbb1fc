//! Regression tests for engine bugs found by running the examples against Linux over a
//! TAP device (scripts/interop.sh). Each reproduces the problem without a TAP device.
mod common;

use common::script::*;
use tidytcp::wire::tcp::{SeqNum, TcpOptions};

/// `s` with one SACK block `[base + from, base + to)`.
fn with_sack(mut s: Seg, base: SeqNum, from: u32, to: u32) -> Seg {
    s.opts.sack.push(base + from, base + to);
    s
}

/// With SACK, a copy of an earlier ACK (the network duplicated it) is not a duplicate
/// acknowledgment (RFC 6675 §2: only an ACK that SACKs new data is). Counting copies
/// made the stack fast-retransmit and halve its window without any loss, as happened
/// through the fault injector's 5 % duplication against Linux.
#[test]
fn copies_of_a_sack_ack_are_not_duplicate_acks() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let opts = TcpOptions {
        mss: Some(1000),
        sack_permitted: true,
        ..TcpOptions::NONE
    };
    let (iss, pseq) = t.handshake_passive(1000, opts);
    let mut s = l.accept(&mut t.stack).unwrap().0;
    s.set_nodelay(&mut t.stack, true).unwrap();
    assert_eq!(s.write(&mut t.stack, &[7u8; 6000]).unwrap(), 6000);
    t.poll();
    let base = iss + 1u32;
    for k in 0..6u32 {
        let d = t.recv().expect("six segments in the initial window");
        assert_eq!((d.seq, d.data.len()), (base + k * 1000, 1000));
    }
    t.expect_none();

    // Segment 2 is lost; the ACK for segment 1 SACKs segment 3. Then the network hands
    // over three copies of that ACK.
    let sack_ack = with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        2000,
        3000,
    );
    t.send(sack_ack.clone());
    for _ in 0..3 {
        t.send(sack_ack.clone());
    }
    t.expect_none();

    // Real duplicate ACKs, each SACKing one more segment, do start recovery.
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        2000,
        4000,
    ));
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        2000,
        5000,
    ));
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        2000,
        6000,
    ));
    let rtx = t.recv().expect("a fast retransmission");
    assert_eq!((rtx.seq, rtx.data.len()), (base + 1000u32, 1000));
    s.abort(&mut t.stack);
    l.close(&mut t.stack);
}

/// RFC 6675 §5: an ACK that moves the cumulative point *and* SACKs new data is also a
/// duplicate ACK; if IsLost(HighACK + 1) then holds, recovery starts at once. Seen
/// against Linux through reordering: the late segment filled one hole, the ACK for it
/// showed three segments SACKed above the next hole, and the stack waited for a
/// retransmission timeout instead of retransmitting.
#[test]
fn cumulative_ack_with_new_sack_can_start_recovery() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let opts = TcpOptions {
        mss: Some(1000),
        sack_permitted: true,
        ..TcpOptions::NONE
    };
    let (iss, pseq) = t.handshake_passive(1000, opts);
    let mut s = l.accept(&mut t.stack).unwrap().0;
    s.set_nodelay(&mut t.stack, true).unwrap();
    assert_eq!(s.write(&mut t.stack, &[7u8; 6000]).unwrap(), 6000);
    t.poll();
    let base = iss + 1u32;
    for _ in 0..6 {
        t.recv().expect("six segments in the initial window");
    }
    // Segment 1 is late, segment 2 lost; 3 and 4 arrive.
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        3000,
        4000,
    ));
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 1000u32),
        base,
        3000,
        5000,
    ));
    t.expect_none();
    // Segment 1 arrives, then 5: the ACK moves to segment 2 and SACKs 3 to 5.
    t.send(with_sack(
        seg!(ACK, seq = pseq, ack = base + 2000u32),
        base,
        3000,
        6000,
    ));
    let rtx = t.recv().expect("segment 2 retransmitted at once");
    assert_eq!((rtx.seq, rtx.data.len()), (base + 2000u32, 1000));
    s.abort(&mut t.stack);
    l.close(&mut t.stack);
}
