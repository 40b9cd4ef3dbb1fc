//! Structure-aware: well-formed Ethernet/IPv4/TCP frames with correct checksums aimed at the
//! live connections (sequence and acknowledgment numbers near what each expects), with
//! fuzzed flags, windows, options and payloads, so inputs reach the state machine.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tidytcp::Duration;
use tidytcp::wire::tcp::{SackBlocks, SeqNum, TcpFlags, TcpOptions};
use tidytcp_fuzz::with_world;

#[derive(Arbitrary, Debug)]
struct Seg {
    target: u8,
    flags: u8,
    seq_off: i32,
    ack_off: i32,
    window: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<(i32, i32)>,
    ts: Option<(u32, u32)>,
    payload: Vec<u8>,
    /// Milliseconds to let pass after this segment.
    wait_ms: u16,
}

fuzz_target!(|segs: Vec<Seg>| with_world(|w| {
    if w.peers.is_empty() {
        return;
    }
    for s in segs.into_iter().take(64) {
        let pc = w.peers[usize::from(s.target) % w.peers.len()];
        // Small offsets most of the time, anything sometimes.
        let near = |o: i32| {
            if o.unsigned_abs() < 1 << 20 {
                o % 70_000
            } else {
                o
            }
        };
        let seq = SeqNum(pc.peer_seq.0.wrapping_add(near(s.seq_off) as u32));
        let ack = SeqNum(pc.stack_seq.0.wrapping_add(near(s.ack_off) as u32));
        let mut sack = SackBlocks::EMPTY;
        for (l, r) in s.sack.into_iter().take(4) {
            sack.push(
                SeqNum(pc.stack_seq.0.wrapping_add(near(l) as u32)),
                SeqNum(pc.stack_seq.0.wrapping_add(near(r) as u32)),
            );
        }
        let mut options = TcpOptions {
            mss: s.mss,
            window_scale: s.wscale,
            sack_permitted: s.sack_permitted,
            sack,
            timestamps: s.ts,
        };
        if options.wire_len() > 40 {
            options.sack = SackBlocks::EMPTY;
        }
        let payload = &s.payload[..s.payload.len().min(1460)];
        w.send_full(
            pc.port,
            TcpFlags::from_bits_retain(s.flags),
            seq,
            ack,
            s.window,
            options,
            payload,
        );
        w.dev.tx.clear();
        if s.wait_ms > 0 {
            w.advance(Duration::from_millis(u64::from(s.wait_ms)));
        }
    }
    w.advance(Duration::from_secs(60));
    assert!(w.stack.in_use() <= w.stack.capacity());
}));
