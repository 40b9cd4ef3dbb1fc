//! An arbitrary sequence of operations on two stacks over a faulty link — connect, listen,
//! accept, write, read, shutdown, close, abort, drop, advance time, change faults — with
//! invariants checked after each step: nothing panics, every byte read is the next byte its
//! writer sent (delivered bytes are a prefix of sent bytes), and at the end, with the link
//! healed and time run forward, every slot on both sides is free.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tidytcp::drivers::{Direction, DirectionConfig, LinkConfig, SimLink};
use tidytcp::socket::{HeapStorage, SocketSet, TcpListener, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::{Duration, Error, Instant};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Listen(bool),
    Connect(bool),
    Accept(bool),
    Write {
        side: bool,
        idx: u8,
        len: u16,
    },
    Read {
        side: bool,
        idx: u8,
        max: u16,
    },
    Shutdown {
        side: bool,
        idx: u8,
    },
    Close {
        side: bool,
        idx: u8,
    },
    Abort {
        side: bool,
        idx: u8,
    },
    Drop {
        side: bool,
        idx: u8,
    },
    Advance(u16),
    Faults {
        loss: u8,
        dup: u8,
        reorder: u8,
        corrupt: u8,
    },
}

struct Stream<'a> {
    h: TcpStream<'a>,
    key_out: u64,
    key_in: u64,
    sent: u64,
    got: u64,
}

fn config(last: u8) -> Config {
    let mut c = Config::new(
        format!("02:00:00:00:00:{last:02x}").parse().unwrap(),
        format!("10.0.0.{last}/24").parse().unwrap(),
        [last; 16],
    );
    // Short timers: every state a run reaches ends within a few dozen deadlines.
    c.tcp.max_retransmits = 5;
    c.tcp.syn_retries = 3;
    c.tcp.max_rto = Duration::from_secs(4);
    c.tcp.msl = Duration::from_secs(1);
    c.tcp.fin_wait_2_timeout = Duration::from_secs(4);
    c
}

thread_local! {
    /// The two stacks' storage, reused by every run (`Stack::new` resets the slots; only
    /// slot generations carry over): small buffers, so windows fill within a few
    /// segments, and no allocating and zeroing per run.
    static STORAGE: RefCell<(HeapStorage, HeapStorage)> = RefCell::new((
        HeapStorage::new(6, 1, 1024, 1024),
        HeapStorage::new(6, 1, 1024, 1024),
    ));
}

fn pattern(key: u64, i: u64) -> u8 {
    ((i ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8
}

/// An address's bits for the stream key: an IPv4 address as its 32 bits, an IPv6 one
/// folded to 64.
fn ip_bits(ip: std::net::IpAddr) -> u64 {
    match ip {
        std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
        std::net::IpAddr::V6(a) => {
            let x = u128::from(a);
            (x as u64) ^ ((x >> 64) as u64)
        }
    }
}

fn key(set: &SocketSet<'_>, s: &TcpStream<'_>, outbound: bool) -> u64 {
    let (l, r) = (s.local_addr(set).unwrap(), s.peer_addr(set).unwrap());
    let (a, b) = if outbound { (l, r) } else { (r, l) };
    (ip_bits(a.ip()) << 32)
        ^ (u64::from(a.port()) << 16)
        ^ u64::from(b.port())
        ^ (ip_bits(b.ip()) << 7)
}

fn stream<'a>(set: &SocketSet<'a>, h: TcpStream<'a>) -> Stream<'a> {
    let (key_out, key_in) = (key(set, &h, true), key(set, &h, false));
    Stream {
        h,
        key_out,
        key_in,
        sent: 0,
        got: 0,
    }
}

fn read_some<'a>(st: &mut Stream<'a>, set: &mut SocketSet<'a>, max: usize) {
    let start = st.got;
    let key = st.key_in;
    let mut bad = None;
    let r = st.h.read_with(set, |d| {
        let n = d.len().min(max.max(1));
        for (k, &b) in d[..n].iter().enumerate() {
            if b != pattern(key, start + k as u64) {
                bad = Some(start + k as u64);
                break;
            }
        }
        n
    });
    assert!(
        bad.is_none(),
        "byte {:?} of a stream differs from what was sent",
        bad
    );
    if let Ok(n) = r {
        st.got += n as u64;
    }
}

/// Runs both stacks and the link from `now` to `end` (or until `done`), polling a stack
/// only when its deadline has come or a frame has arrived for it: a poll with nothing
/// to do is most of the cost of a run otherwise.
fn drive(
    a: &mut Stack<'_>,
    b: &mut Stack<'_>,
    link: &mut SimLink,
    now: &mut Instant,
    end: Instant,
    done: impl Fn(&Stack<'_>, &Stack<'_>) -> bool,
) {
    let due = |t: Option<Instant>, now: Instant| t.is_some_and(|t| t <= now);
    let (mut na, mut nb) = (Some(*now), Some(*now));
    while *now < end && !done(a, b) {
        if due(na, *now) || due(link.next_delivery_in(Direction::BtoA), *now) {
            na = a.poll(*now, &mut link.a());
        }
        if due(nb, *now) || due(link.next_delivery_in(Direction::AtoB), *now) {
            nb = b.poll(*now, &mut link.b());
        }
        let next = [na, nb, link.next_delivery()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        *now = next.max(*now + Duration::from_micros(1)).min(end);
    }
}

fuzz_target!(|ops: Vec<Op>| STORAGE.with_borrow_mut(|(ma, mb)| run(ops, ma, mb)));

fn run(ops: Vec<Op>, ma: &mut HeapStorage, mb: &mut HeapStorage) {
    let mut a = Stack::new(config(1), ma);
    let mut b = Stack::new(config(2), mb);
    let dir = DirectionConfig {
        latency: Duration::from_millis(2),
        ..DirectionConfig::PERFECT
    };
    let mut link = SimLink::new(
        LinkConfig {
            pass_corrupted: true,
            ..LinkConfig::symmetric(dir)
        },
        1,
    );
    let mut now = Instant::ZERO;
    let mut listeners: [Option<TcpListener<'_>>; 2] = [None, None];
    let mut streams: [Vec<Stream<'_>>; 2] = [Vec::new(), Vec::new()];

    for op in ops.into_iter().take(200) {
        match op {
            Op::Listen(side) => {
                let stack = if side { &mut b } else { &mut a };
                if listeners[usize::from(side)].is_none() {
                    listeners[usize::from(side)] = stack.listen(80, 4).ok();
                }
            }
            Op::Connect(side) => {
                let (stack, peer) = if side {
                    (&mut b, "10.0.0.1:80")
                } else {
                    (&mut a, "10.0.0.2:80")
                };
                if let Ok(h) = stack.connect(peer.parse().unwrap()) {
                    let s = stream(stack, h);
                    streams[usize::from(side)].push(s);
                }
            }
            Op::Accept(side) => {
                let stack = if side { &mut b } else { &mut a };
                if let Some(l) = listeners[usize::from(side)].as_ref() {
                    if let Ok((h, _)) = l.accept(stack) {
                        let s = stream(stack, h);
                        streams[usize::from(side)].push(s);
                    }
                }
            }
            Op::Write { side, idx, len } => {
                let stack = if side { &mut b } else { &mut a };
                let v = &mut streams[usize::from(side)];
                if !v.is_empty() {
                    let i = usize::from(idx) % v.len();
                    let st = &mut v[i];
                    let (key, start) = (st.key_out, st.sent);
                    let r = st.h.write_with(stack, |buf| {
                        let n = buf.len().min(usize::from(len));
                        for (k, b) in buf[..n].iter_mut().enumerate() {
                            *b = pattern(key, start + k as u64);
                        }
                        n
                    });
                    if let Ok(n) = r {
                        st.sent += n as u64;
                    }
                }
            }
            Op::Read { side, idx, max } => {
                let stack = if side { &mut b } else { &mut a };
                let v = &mut streams[usize::from(side)];
                if !v.is_empty() {
                    let i = usize::from(idx) % v.len();
                    read_some(&mut v[i], stack, usize::from(max));
                }
            }
            Op::Shutdown { side, idx } => {
                let stack = if side { &mut b } else { &mut a };
                let v = &mut streams[usize::from(side)];
                if !v.is_empty() {
                    let i = usize::from(idx) % v.len();
                    let _ = v[i].h.shutdown_write(stack);
                }
            }
            Op::Close { side, idx } | Op::Abort { side, idx } | Op::Drop { side, idx } => {
                let stack = if side { &mut b } else { &mut a };
                let v = &mut streams[usize::from(side)];
                if !v.is_empty() {
                    let i = usize::from(idx) % v.len();
                    let st = v.swap_remove(i);
                    match op {
                        Op::Close { .. } => st.h.close(stack),
                        Op::Abort { .. } => st.h.abort(stack),
                        _ => drop(st.h),
                    }
                }
            }
            Op::Advance(ms) => {
                let end = now + Duration::from_millis(u64::from(ms));
                drive(&mut a, &mut b, &mut link, &mut now, end, |_, _| false);
                now = end;
            }
            Op::Faults {
                loss,
                dup,
                reorder,
                corrupt,
            } => {
                let p = |x: u8| f64::from(x % 51) / 100.0;
                let d = DirectionConfig {
                    loss: p(loss),
                    duplicate: p(dup),
                    reorder: p(reorder),
                    corrupt: p(corrupt),
                    ..dir
                };
                *link.config_mut() = LinkConfig {
                    pass_corrupted: true,
                    ..LinkConfig::symmetric(d)
                };
            }
        }
        a.poll(now, &mut link.a());
        b.poll(now, &mut link.b());
        for (side, v) in streams.iter_mut().enumerate() {
            let stack = if side == 1 { &mut b } else { &mut a };
            for st in v.iter_mut() {
                read_some(st, stack, usize::MAX);
            }
        }
    }

    // Heal the link, let everyone go, and run time forward: every slot must come free.
    *link.config_mut() = LinkConfig::symmetric(dir);
    for (side, v) in streams.iter_mut().enumerate() {
        let stack = if side == 1 { &mut b } else { &mut a };
        for st in v.drain(..) {
            st.h.close(stack);
        }
    }
    for (side, l) in listeners.iter_mut().enumerate() {
        let stack = if side == 1 { &mut b } else { &mut a };
        if let Some(l) = l.take() {
            l.close(stack);
        }
    }
    let end = now + Duration::from_secs(600);
    drive(&mut a, &mut b, &mut link, &mut now, end, |a, b| {
        a.in_use() + b.in_use() == 0
    });
    if a.in_use() + b.in_use() > 0 {
        for c in a.connections().chain(b.connections()) {
            eprintln!("{c:#?}");
        }
    }
    assert_eq!(
        (a.in_use(), b.in_use()),
        (0, 0),
        "slots left behind: {:?} {:?}",
        a.sockets().collect::<Vec<_>>(),
        b.sockets().collect::<Vec<_>>()
    );
    let _ = Error::WouldBlock;
}
