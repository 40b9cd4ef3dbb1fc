//! Sender SWS avoidance must not hold data for ever (RFC 9293 §3.8.6.2.1): with nothing in
//! flight and a usable window smaller than both a segment and half the largest window the
//! peer offered, the sender waits — but an override timeout then sends what fits.
//! Found by the `api` fuzz target (a connection sat in FIN-WAIT-1 with data queued and
//! no timer).

mod common;

use common::script::*;
use tidytcp::Duration;
use tidytcp::wire::tcp::TcpOptions;

#[test]
fn small_window_hold_ends_with_the_override_timer() {
    let mut mem = script_storage();
    let mut t = Script::new(&mut mem, script_config());
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    // The peer offers 4096 bytes in its SYN, then shrinks its offer to 682 bytes.
    let (iss, pseq) = t.handshake_passive(
        1000,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::NONE
        },
    );
    let mut s = l.accept(&mut t.stack).unwrap().0;
    t.send(seg!(ACK, seq = pseq, ack = iss + 1, win = 682));
    t.expect_none();
    let data = vec![7u8; 3000];
    assert_eq!(s.write(&mut t.stack, &data).unwrap(), 3000);
    t.poll();
    // 682 < one segment and < 65535 / 2: held for now...
    t.expect_none();
    // ...but not for ever.
    // The override fires after one RTO (200 ms here: the handshake measured a tiny RTT).
    t.advance(Duration::from_millis(300));
    let got = t.expect(seg!(ACK, seq = iss + 1));
    assert_eq!(got.data.len(), 682);
    t.expect_none();
    t.send(seg!(ACK, seq = pseq, ack = iss + 1 + 682, win = 4096));
    let next = t.expect(seg!(ACK, seq = iss + 1 + 682));
    assert_eq!(next.data.len(), 1460);
    s.abort(&mut t.stack);
    l.close(&mut t.stack);
}
