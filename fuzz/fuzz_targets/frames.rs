//! Arbitrary bytes as frames into a stack with a listener and connections in many states.
//! Input: a sequence of frames, each prefixed by a 2-byte length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidytcp::Duration;
use tidytcp_fuzz::with_world;

fuzz_target!(|data: &[u8]| with_world(|w| {
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]))
            .min(rest.len() - 2)
            .min(2000);
        w.dev.rx.push_back(rest[2..2 + n].to_vec());
        rest = &rest[2 + n..];
        if w.dev.rx.len() >= 8 {
            w.poll();
        }
    }
    w.poll();
    w.advance(Duration::from_secs(60));
    assert!(w.stack.in_use() <= w.stack.capacity());
}));
