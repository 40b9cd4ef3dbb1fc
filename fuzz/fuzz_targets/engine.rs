//! The TCP engine alone: two `tcp::Connection`s on the engine harness of the tests
//! (`tests/common/engine.rs`: byte segments, virtual time, no IP), driven by an arbitrary
//! sequence of user calls, time steps, loss, and forged segments near what each side
//! expects. After every operation: nothing panics, the sequence variables are in order
//! and agree with the send buffer (`Pair::check_invariants`), and every byte read is the
//! next byte of the peer's stream. At the end, with the wire healed and both users gone,
//! both connections must close and be freed.
#![no_main]

#[path = "../../tests/common/engine.rs"]
mod engine;

use arbitrary::Arbitrary;
use engine::{Pair, Side, pattern};
use libfuzzer_sys::fuzz_target;
use tidytcp::Duration;
use tidytcp::tcp::TcpConfig;
use tidytcp::wire::tcp::{SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpRepr};

#[derive(Arbitrary, Debug)]
enum Op {
    /// A opens again (once its connection is gone).
    Connect,
    Write {
        b: bool,
        len: u16,
    },
    /// Reading after every step on (`true`) or off for a side.
    AutoRead {
        b: bool,
        on: bool,
    },
    Shutdown {
        b: bool,
    },
    Close {
        b: bool,
    },
    Abort {
        b: bool,
    },
    /// One round of the harness.
    Step,
    /// Runs for this many milliseconds.
    Advance(u16),
    /// Random loss from now on, in percent (at most 50).
    Loss(u8),
    /// A segment to side `b` as though from its peer.
    Forge(Forged),
}

#[derive(Arbitrary, Debug)]
struct Forged {
    to_b: bool,
    flags: u8,
    /// From the receiver's RCV.NXT.
    seq_off: i32,
    /// From the receiver's SND.UNA.
    ack_off: i32,
    window: u16,
    len: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<(i32, i32)>,
    /// TSval from the receiver's view of the peer's clock, and TSecr.
    ts: Option<(i32, u32)>,
}

fn side(b: bool) -> Side {
    if b { Side::B } else { Side::A }
}

/// Small offsets most of the time, anything sometimes.
fn near(o: i32) -> u32 {
    if o.unsigned_abs() < 1 << 20 {
        (o % 70_000) as u32
    } else {
        o as u32
    }
}

fn forge(p: &mut Pair, f: Forged) {
    let to = side(f.to_b);
    let from = to.peer();
    let base = p.now.total_millis() as u32;
    let Some(c) = p.end(to).conn.as_ref() else {
        return;
    };
    let seq = SeqNum(c.rcv_nxt().0.wrapping_add(near(f.seq_off)));
    let ack = SeqNum(c.snd_una().0.wrapping_add(near(f.ack_off)));
    let (local, remote) = (c.local(), c.remote());
    let mut sack = SackBlocks::EMPTY;
    for (l, r) in f.sack.into_iter().take(4) {
        sack.push(
            SeqNum(c.snd_una().0.wrapping_add(near(l))),
            SeqNum(c.snd_una().0.wrapping_add(near(r))),
        );
    }
    let mut options = TcpOptions {
        mss: f.mss,
        window_scale: f.wscale,
        sack_permitted: f.sack_permitted,
        sack,
        timestamps: f.ts.map(|(v, e)| (base.wrapping_add(v as u32), e)),
    };
    if options.wire_len() > 40 {
        options.sack = SackBlocks::EMPTY;
    }
    // The payload is what the peer's stream holds at that offset, so forged data that is
    // accepted reads like the real peer's (the harness checks every byte read).
    // A SYN starts the peer's stream afresh: its data begins at offset 0 if the receiver
    // takes it (otherwise the data is not taken either).
    let flags = TcpFlags::from_bits_retain(f.flags);
    let syn = flags.contains(TcpFlags::SYN);
    let irs = if syn { seq } else { c.irs() };
    // The first data byte: after the SYN, which takes a sequence number of its own.
    let data = seq.0.wrapping_add(u32::from(syn));
    let len = usize::from(f.len % 1500);
    let payload: Vec<u8> = (0..len)
        .map(|k| {
            let off = data
                .wrapping_sub(irs.0.wrapping_add(1))
                .wrapping_add(k as u32);
            pattern(from, u64::from(off))
        })
        .collect();
    let repr = TcpRepr {
        src_port: remote.port(),
        dst_port: local.port(),
        seq,
        ack,
        flags,
        window: f.window,
        options,
    };
    p.inject(from, repr, &payload);
}

fuzz_target!(|ops: Vec<Op>| {
    let cfg = TcpConfig {
        max_rto: Duration::from_secs(4),
        max_retransmits: 5,
        syn_retries: 3,
        msl: Duration::from_secs(1),
        fin_wait_2_timeout: Duration::from_secs(4),
        ..TcpConfig::default()
    };
    let mut p = Pair::new(cfg, 2048, 2048, 7);
    p.record = false;
    p.connect();
    let mut opens = 0u32;
    // ENGINE_TRACE=1 prints each operation with the states it found (to triage a crash).
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let trace = *TRACE.get_or_init(|| std::env::var_os("ENGINE_TRACE").is_some());
    for op in ops.into_iter().take(256) {
        if trace {
            eprintln!("{:?} A {} B {}: {op:?}", p.now, p.a.state(), p.b.state());
        }
        match op {
            Op::Connect => {
                if p.a.conn.is_none() {
                    opens += 1;
                    p.iss.0 = SeqNum(p.iss.0.0.wrapping_add(opens.wrapping_mul(0x0100_0193)));
                    p.iss.1 = SeqNum(p.iss.1.0.wrapping_add(opens.wrapping_mul(0x0003_0007)));
                    p.connect();
                }
            }
            Op::Write { b, len } => {
                p.write(side(b), usize::from(len));
            }
            Op::AutoRead { b, on } => p.end(side(b)).auto_read = on,
            Op::Shutdown { b } => {
                let _ = p.shutdown(side(b));
            }
            Op::Close { b } => {
                if !p.end(side(b)).user_closed {
                    p.close(side(b));
                }
            }
            Op::Abort { b } => {
                if !p.end(side(b)).user_closed {
                    p.abort(side(b));
                }
            }
            Op::Step => {
                let limit = p.now + Duration::from_secs(60);
                p.step(limit);
            }
            Op::Advance(ms) => p.run_for(Duration::from_millis(u64::from(ms))),
            Op::Loss(x) => p.loss_percent = u32::from(x % 51),
            Op::Forge(f) => forge(&mut p, f),
        }
        p.check_invariants();
    }

    // Heal the wire, let both users go (B's listener too: a SYN still on the wire gets a
    // reset), run time forward: both connections must end and be freed.
    p.loss_percent = 0;
    p.filter = None;
    p.listening = false;
    for s in [Side::A, Side::B] {
        if p.end(s).conn.is_some() && !p.end(s).user_closed {
            p.close(s);
        }
    }
    let end = p.now + Duration::from_secs(900);
    p.run_while(end, |p| p.a.conn.is_some() || p.b.conn.is_some());
    assert!(
        p.a.conn.is_none() && p.b.conn.is_none(),
        "left behind: A {:?}, B {:?}",
        p.a.conn,
        p.b.conn
    );
});
