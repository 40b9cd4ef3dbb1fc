//! Arbitrary bytes as frames into a stack with a listener and connections in many states.
//! Input: a sequence of frames, each prefixed by 2 little-endian bytes: the length in the
//! low 11 bits, and a bit asking the harness to correct the frame's checksums
//! ([`tidytcp_fuzz::FIX_CHECKSUMS`]).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidytcp::Duration;
use tidytcp_fuzz::{FIX_CHECKSUMS, LEN_MASK, fix_checksums, with_world};

fuzz_target!(|data: &[u8]| with_world(|w| {
    let mut rest = data;
    while rest.len() >= 2 {
        let head = u16::from_le_bytes([rest[0], rest[1]]);
        let n = usize::from(head & LEN_MASK).min(rest.len() - 2).min(2000);
        let mut f = rest[2..2 + n].to_vec();
        if head & FIX_CHECKSUMS != 0 {
            fix_checksums(&mut f);
        }
        w.dev.rx.push_back(f);
        rest = &rest[2 + n..];
        if w.dev.rx.len() >= 8 {
            w.poll();
        }
    }
    w.poll();
    w.advance(Duration::from_secs(60));
    assert!(w.stack.in_use() <= w.stack.capacity());
}));
