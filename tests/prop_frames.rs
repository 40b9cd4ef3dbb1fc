//! Any byte sequence handed to the stack as a frame is processed without panic: random
//! bytes, and valid frames with random bytes changed (so that inputs get past the
//! Ethernet and IP checks into TCP), against a stack with a listener and a live connection.

mod common;

use common::script::*;
use proptest::prelude::*;
use tidytcp::wire::tcp::TcpOptions;

fn valid_frames() -> Vec<Vec<u8>> {
    let ok = seg!(ACK | PSH, seq = 1001, ack = 0, data = b"hello");
    let syn = seg!(
        SYN,
        seq = 5000,
        mss = 1460,
        ws = 7,
        sack_perm,
        ts = (1, 0),
        sport = 41000
    );
    let sack = seg!(
        ACK,
        seq = 1001,
        ack = 1,
        sack = [(10, 20), (30, 40)],
        ts = (5, 6)
    );
    vec![peer_frame(&ok), peer_frame(&syn), peer_frame(&sack)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_frames_never_panic(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 1..8)) {
        let mut mem = script_storage();
        let mut t = Script::new(&mut mem, script_config());
        let l = t.stack.listen(STACK_PORT, 4).unwrap();
        let _ = t.handshake_passive(1000, TcpOptions { mss: Some(1460), ..TcpOptions::NONE });
        for f in frames {
            t.dev.rx.push_back(f);
        }
        t.poll();
        t.advance(tidytcp::Duration::from_secs(5));
        prop_assert!(t.stack.in_use() <= t.stack.capacity());
        l.close(&mut t.stack);
    }

    #[test]
    fn mutated_valid_frames_never_panic(which in 0usize..3, edits in proptest::collection::vec((0usize..200, any::<u8>()), 1..12), fix_tcp_checksum in any::<bool>()) {
        let mut mem = script_storage();
        let mut t = Script::new(&mut mem, script_config());
        let l = t.stack.listen(STACK_PORT, 4).unwrap();
        let (iss, _) = t.handshake_passive(1000, TcpOptions { mss: Some(1460), ..TcpOptions::NONE });
        let mut f = valid_frames()[which].clone();
        // Make the first frame's ACK right for the live connection.
        if which != 1 {
            f[34 + 8..34 + 12].copy_from_slice(&(iss.0.wrapping_add(1)).to_be_bytes());
        }
        for (at, v) in edits {
            let at = 34 + at % (f.len() - 34);
            f[at] = v;
        }
        if fix_tcp_checksum {
            let tcp = f[34..].to_vec();
            f = raw_frame(&tcp, false);
        }
        t.dev.rx.push_back(f);
        t.poll();
        t.advance(tidytcp::Duration::from_secs(2));
        prop_assert!(t.stack.in_use() <= t.stack.capacity());
        l.close(&mut t.stack);
    }
}
