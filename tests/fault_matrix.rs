//! The full fault matrix: two stacks over a `SimLink` in virtual time, 1 MiB each way in
//! every cell of loss {0, 1, 10, 30} % × duplication {0, 10} % × reordering {0, 10} % ×
//! corruption {0, 10} %, 20 seeds per cell (640 transfers). The link has 5 ms of latency
//! each way, 10 Mbit/s and a 100-frame queue; a reordered frame is held back 3 ms.
//!
//! Corrupted frames are handed to the stacks (`pass_corrupted`) with one bit flipped, so
//! the IPv4 and TCP checksums must catch every one of them. (With two or more flipped
//! bits the Internet checksum misses some corruptions by design — two flips of the same
//! bit position in opposite directions cancel — and the byte-exact check would then fail
//! for a reason no TCP can help.)
//!
//! Every transfer must arrive byte for byte in both directions, without an error on
//! either connection, end with both sides closed and, after TIME-WAIT, every slot of
//! both stacks free, and finish closing within a bound of virtual time for its cell. The
//! bounds are about twice the worst seed measured (the table the test prints:
//! `cargo test --test fault_matrix -- --nocapture`).
//!
//! The same matrix runs over IPv6 ([`Family`]), with fewer seeds per cell: the stacks
//! first pass DAD on static addresses, then the client connects to the server's. There
//! the faults start once Neighbor Discovery has resolved the server (RFC 4861 sends a
//! fixed three solicitations, which over 30 % loss each way fail 13 % of the time;
//! `tests/ipv6_sim.rs` covers ND itself); afterwards NUD runs through the faults, kept
//! reachable by TCP's progress as ARP is. IPv6 has no header checksum: a flipped bit in
//! an address fails the TCP checksum through the pseudo-header, one elsewhere in the
//! header drops the packet or is harmless.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::net::{Ipv6Addr, SocketAddr};

use common::*;
use tidytcp::drivers::{Direction, DirectionConfig, LinkConfig, SimLink};
use tidytcp::ip::NeighborState;
use tidytcp::socket::TcpStream;
use tidytcp::stack::{Config, Stack};
use tidytcp::tcp::State;
use tidytcp::{Duration, Error, Instant};

const MIB: u64 = 1 << 20;
const SEEDS: u64 = 20;
/// Seeds per cell over IPv6: the matrix is the same, the IPv4 run has the statistics.
const SEEDS_V6: u64 = 3;
const LOSS: [u32; 4] = [0, 1, 10, 30];
/// The percentage of duplication, reordering and corruption when they are on.
const FAULT: u32 = 10;

/// The address family a transfer runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    /// Stack `last`'s address (10.0.0.last or 2001:db8::last), with port 5000.
    fn addr(self, last: u8) -> SocketAddr {
        match self {
            Family::V4 => SocketAddr::from(([10, 0, 0, last], 5000)),
            Family::V6 => SocketAddr::from((v6(last), 5000)),
        }
    }
}

fn v6(last: u8) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last))
}

/// One cell of the matrix, in percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cell {
    loss: u32,
    dup: u32,
    reorder: u32,
    corrupt: u32,
}

impl Cell {
    const CLEAN: Cell = Cell {
        loss: 0,
        dup: 0,
        reorder: 0,
        corrupt: 0,
    };

    fn all() -> Vec<Cell> {
        let mut v = Vec::new();
        for loss in LOSS {
            for dup in [0, FAULT] {
                for reorder in [0, FAULT] {
                    for corrupt in [0, FAULT] {
                        v.push(Cell {
                            loss,
                            dup,
                            reorder,
                            corrupt,
                        });
                    }
                }
            }
        }
        v
    }

    fn link(&self, corrupt: bool) -> LinkConfig {
        let p = |x: u32| f64::from(x) / 100.0;
        let dir = DirectionConfig {
            loss: p(self.loss),
            duplicate: p(self.dup),
            reorder: p(self.reorder),
            reorder_delay: Duration::from_millis(3),
            corrupt: if corrupt { p(self.corrupt) } else { 0.0 },
            corrupt_bits: 1,
            latency: Duration::from_millis(5),
            rate_bps: 10_000_000,
            queue_frames: 100,
            ..DirectionConfig::PERFECT
        };
        LinkConfig {
            pass_corrupted: true,
            ..LinkConfig::symmetric(dir)
        }
    }

    /// The most virtual time a transfer in this cell may take until both connections
    /// have finished closing (TIME-WAIT not counted): about twice the worst seed
    /// measured, which was 1.2 s without loss or corruption, 1.9 s at 1 % loss, 20 s at
    /// 10 %, 512 s at 30 %, and with corruption (another 10 % of the frames lost)
    /// 11 s, 21 s, 44 s and 1790 s.
    fn bound(&self) -> Duration {
        Duration::from_secs(match (self.loss, self.corrupt > 0) {
            (0 | 1, false) => 5,
            (0, true) => 30,
            (1, true) => 45,
            (10, false) => 45,
            (10, true) => 90,
            (_, false) => 1200,
            (_, true) => 3600,
        })
    }
}

/// The usual test stack, with the settings this matrix is not about kept out of its
/// way:
///
/// - ARP: ten requests before a neighbour fails (the default is 3: over a link losing
///   30 % each way a resolution then fails 13 % of the time, and `connect` fails with
///   `HostUnreachable`, as in Linux; `tests/ip_sim.rs` covers ARP over lossy links), and
///   no gratuitous announcements, because corruption starts only once both sides have
///   resolved each other (see [`run`]): ARP has no checksum of its own, so a corrupted
///   ARP frame handed over without its FCS (`pass_corrupted`) teaches a wrong address,
///   which on a real link the FCS prevents.
/// - Retransmission limits of 30 (SYN: 20): at 30 % loss and 10 % corruption each way a
///   round trip fails 60 % of the time, so the defaults (15 and 6, as in Linux) rightly
///   give up on some seeds. Giving up is tested elsewhere; here transfers must complete.
///
/// Over IPv6 each stack also has the static address [`v6`]`(last)`.
fn stack_config(last: u8, family: Family) -> Config {
    let mut c = config(last);
    if family == Family::V6 {
        c.iface.ipv6.static_addr = Some(tidytcp::wire::ipv6::Ipv6Cidr::new(v6(last), 64));
    }
    c.tcp.max_retransmits = 30;
    c.tcp.syn_retries = 20;
    c.iface.arp.max_retries = 10;
    c.iface.arp.announcements = 0;
    c
}

/// Both stacks know each other's Ethernet address (over IPv6: A has resolved B, and B
/// has an entry for A, from A's solicitation).
fn resolved(a: &Stack<'_>, b: &Stack<'_>, family: Family) -> bool {
    let reachable = |n: Option<NeighborState>| matches!(n, Some(NeighborState::Reachable { .. }));
    match family {
        Family::V4 => {
            let known =
                |s: &Stack<'_>, ip: [u8; 4]| reachable(s.interface().arp_cache().get(ip.into()));
            known(a, B_IP) && known(b, A_IP)
        }
        Family::V6 => {
            reachable(a.interface().ndp_cache().get(v6(2)))
                && b.interface().ndp_cache().get(v6(1)).is_some()
        }
    }
}

/// Over IPv6, runs both stacks over `link` until their static addresses have passed
/// DAD; returns when.
fn addresses_usable(
    a: &mut Stack<'_>,
    b: &mut Stack<'_>,
    link: &mut SimLink,
    family: Family,
) -> Instant {
    let mut now = Instant::ZERO;
    let usable = |s: &Stack<'_>, last: u8| {
        family == Family::V4 || s.interface().ipv6_source_for(v6(3 - last)) == Some(v6(last))
    };
    while !usable(a, 1) || !usable(b, 2) {
        assert!(
            step(&mut now, a, b, link, Instant::from_secs(10)),
            "DAD did not finish"
        );
    }
    now
}

/// Every connection of `s`, if any, is in TIME-WAIT.
fn only_time_wait(s: &Stack<'_>) -> bool {
    s.sockets()
        .all(|i| i.listener || i.state == State::TimeWait)
}

/// What one transfer did.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    /// Both sides had read every byte and the end of stream, and had closed.
    done: Duration,
    /// Both connections had finished closing (CLOSED or TIME-WAIT).
    closed: Duration,
    /// Both stacks had every slot free.
    freed: Duration,
    retransmits: u64,
    /// Segments and packets the stacks dropped for a bad checksum.
    checksum_drops: u64,
    duplicated: u64,
    reordered: u64,
    corrupted: u64,
}

/// Reads what is there, checking every byte against stream `key`; true at end of stream.
fn drain<'a>(
    s: &mut TcpStream<'a>,
    stack: &mut Stack<'a>,
    key: u64,
    got: &mut u64,
    what: &str,
) -> bool {
    loop {
        let start = *got;
        let mut bad = None;
        let r = s.read_with(stack, |d| {
            bad = d
                .iter()
                .enumerate()
                .find(|&(k, &b)| b != pattern(key, start + k as u64))
                .map(|(k, _)| start + k as u64);
            d.len()
        });
        assert!(
            bad.is_none(),
            "{what}: byte {bad:?} differs from what was sent"
        );
        match r {
            Ok(0) => return true,
            Ok(n) => *got += n as u64,
            Err(Error::WouldBlock) => return false,
            Err(e) => panic!("{what}: read failed at byte {got}: {e:?}"),
        }
    }
}

/// One transfer over `family`: the client on A connects to the server on B, both write
/// 1 MiB and half-close, read to the end of the stream, then close.
fn run(cell: Cell, seed: u64, family: Family) -> Outcome {
    let what = format!("{cell:?} seed {seed} {family:?}");
    let mut sa = storage();
    let mut sb = storage();
    let mut a = Stack::new(stack_config(1, family), &mut sa);
    let mut b = Stack::new(stack_config(2, family), &mut sb);
    // Corruption starts once ARP is done (see `stack_config`), over IPv6 every fault
    // once ND is (see the module documentation). The link draws the same random numbers
    // whatever its probabilities, so switching them on changes no other decision.
    let first = if family == Family::V6 {
        Cell::CLEAN
    } else {
        cell
    };
    let mut link = SimLink::new(first.link(false), seed);
    let mut corrupting = false;
    let start = addresses_usable(&mut a, &mut b, &mut link, family);
    let mut now = start;
    let limit = start + cell.bound() + Duration::from_secs(120);
    let listener = b.listen(5000, 4).unwrap();
    let mut client = Some(a.connect(family.addr(2)).unwrap());
    let mut server: Option<TcpStream<'_>> = None;
    let (up, down) = (2 * seed + 1, 2 * seed + 2);
    let (mut c_sent, mut c_got, mut s_sent, mut s_got) = (0u64, 0u64, 0u64, 0u64);
    let (mut c_shut, mut s_shut, mut c_eof, mut s_eof) = (false, false, false, false);
    let (mut done, mut closed) = (None, None);
    let freed = loop {
        // `step` polls both stacks at `polled`, then moves the clock on.
        let polled = now;
        let alive = step(&mut now, &mut a, &mut b, &mut link, limit);
        assert!(
            alive,
            "{what}: not finished by {limit:?}: client sent {c_sent} got {c_got}, server sent \
             {s_sent} got {s_got}; a={:?} b={:?} {link:?}",
            a.sockets().collect::<Vec<_>>(),
            b.sockets().collect::<Vec<_>>()
        );
        if !corrupting && resolved(&a, &b, family) {
            *link.config_mut() = cell.link(true);
            corrupting = true;
        }
        if server.is_none() {
            server = listener.accept(&mut b).ok().map(|(s, _)| s);
        }
        if let Some(c) = client.as_mut() {
            assert_eq!(c.error(&a), None, "{what}: client failed");
            pump_write(c, &mut a, up, &mut c_sent, MIB);
            if c_sent == MIB && !c_shut {
                c.shutdown_write(&mut a).unwrap();
                c_shut = true;
            }
            if !c_eof {
                c_eof = drain(c, &mut a, down, &mut c_got, &what);
            }
            if c_eof && c_shut {
                assert_eq!(c_got, MIB, "{what}: client got");
                client.take().unwrap().close(&mut a);
            }
        }
        if let Some(s) = server.as_mut() {
            assert_eq!(s.error(&b), None, "{what}: server failed");
            pump_write(s, &mut b, down, &mut s_sent, MIB);
            if s_sent == MIB && !s_shut {
                s.shutdown_write(&mut b).unwrap();
                s_shut = true;
            }
            if !s_eof {
                s_eof = drain(s, &mut b, up, &mut s_got, &what);
            }
            if s_eof && s_shut {
                assert_eq!(s_got, MIB, "{what}: server got");
                server.take().unwrap().close(&mut b);
            }
        }
        if done.is_none() && s_shut && client.is_none() && server.is_none() {
            done = Some(polled);
        }
        if closed.is_none() && done.is_some() && only_time_wait(&a) && only_time_wait(&b) {
            closed = Some(polled);
        }
        if done.is_some() && a.in_use() == 0 && b.in_use() == 0 {
            break polled;
        }
    };
    listener.close(&mut b);
    b.poll(now, &mut link.b());
    assert_eq!((a.in_use(), b.in_use()), (0, 0), "{what}: slots in use");
    assert_eq!(b.listeners_in_use(), 0, "{what}: listener slot in use");
    let (sa, sb) = (a.stats(), b.stats());
    let (ab, ba) = (link.stats(Direction::AtoB), link.stats(Direction::BtoA));
    Outcome {
        done: done.unwrap() - start,
        closed: closed.unwrap() - start,
        freed: freed - start,
        retransmits: sa.tcp.retransmits + sb.tcp.retransmits,
        checksum_drops: sa.tcp.dropped_checksum
            + sb.tcp.dropped_checksum
            + u64::from(sa.ip.bad_checksum)
            + u64::from(sb.ip.bad_checksum),
        duplicated: ab.duplicated + ba.duplicated,
        reordered: ab.reordered + ba.reordered,
        corrupted: ab.corrupted + ba.corrupted,
    }
}

/// Runs every (cell, seed) over `family` on all cores; the outcomes of each cell in seed
/// order.
fn run_all(cells: &[Cell], seeds: u64, family: Family) -> Vec<Vec<Outcome>> {
    let jobs: Vec<(usize, u64)> = (0..cells.len())
        .flat_map(|c| (0..seeds).map(move |s| (c, s)))
        .collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![Vec::new(); cells.len()]);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|sc| {
        for _ in 0..workers {
            sc.spawn(|| {
                while let Some(&(c, seed)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let o = run(cells[c], seed, family);
                    results.lock().unwrap()[c].push((seed, o));
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|mut v| {
            v.sort_by_key(|&(s, _)| s);
            v.into_iter().map(|(_, o)| o).collect()
        })
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.total_micros() as f64 / 1e6
}

/// What is wrong with one outcome, if anything.
fn check(cell: &Cell, o: &Outcome) -> Vec<String> {
    let mut bad = Vec::new();
    if o.closed > cell.bound() {
        bad.push(format!(
            "closed at {:?}, bound {:?}",
            o.closed,
            cell.bound()
        ));
    }
    // Once both have closed only TIME-WAIT (2·MSL = 60 s) may hold a slot.
    if o.freed - o.closed > Duration::from_secs(60) {
        bad.push(format!(
            "slots freed {:?} after closing",
            o.freed - o.closed
        ));
    }
    let perfect = cell.loss == 0 && cell.dup == 0 && cell.reorder == 0 && cell.corrupt == 0;
    if perfect && o.retransmits > 0 {
        bad.push(format!(
            "{} retransmissions on a perfect link",
            o.retransmits
        ));
    }
    // Duplication alone loses nothing: copies of an ACK are not duplicate ACKs with
    // SACK (RFC 6675 §2), so nothing is retransmitted but, at most, a SYN-ACK answering
    // a copy of the SYN.
    if cell.loss == 0 && cell.reorder == 0 && cell.corrupt == 0 && o.retransmits > 2 {
        bad.push(format!(
            "{} retransmissions with duplication only",
            o.retransmits
        ));
    }
    // Each fault that is on happened, and only those.
    for (name, pct, n) in [
        ("duplicated", cell.dup, o.duplicated),
        ("reordered", cell.reorder, o.reordered),
        ("corrupted", cell.corrupt, o.corrupted),
    ] {
        if (pct > 0) != (n > 0) {
            bad.push(format!("{n} frames {name} at {pct} %"));
        }
    }
    // Corrupted frames reached the stacks and the checksums caught them (the byte-exact
    // check shows that none got through; a flip in the Ethernet header or in the FCS
    // itself is dropped or harmless without a checksum failing).
    if (cell.corrupt > 0) != (o.checksum_drops > 0) {
        bad.push(format!("{} checksum failures", o.checksum_drops));
    }
    bad
}

#[test]
fn one_mib_each_way_in_every_cell_of_the_fault_matrix() {
    matrix(Family::V4, SEEDS);
}

#[test]
fn one_mib_each_way_in_every_cell_of_the_fault_matrix_over_ipv6() {
    matrix(Family::V6, SEEDS_V6);
}

/// Runs every cell with `seeds` seeds over `family`, prints the table, and fails with
/// every outcome [`check`] finds wrong.
fn matrix(family: Family, seeds: u64) {
    let cells = Cell::all();
    assert_eq!(cells.len(), 32);
    let results = run_all(&cells, seeds, family);
    println!("{family:?}");
    println!(
        "{:>5} {:>4} {:>7} {:>7} | {:>7} {:>6} | {:>8} {:>8} | {:>8} | {:>8} | {:>5}",
        "loss",
        "dup",
        "reorder",
        "corrupt",
        "rexmit",
        "rexmit",
        "done",
        "done",
        "closed",
        "chk-drop",
        "bound"
    );
    println!(
        "{:>5} {:>4} {:>7} {:>7} | {:>7} {:>6} | {:>8} {:>8} | {:>8} | {:>8} | {:>5}",
        "%", "%", "%", "%", "mean", "max", "mean s", "max s", "max s", "mean", "s"
    );
    let mut failures = Vec::new();
    for (cell, runs) in cells.iter().zip(&results) {
        assert_eq!(runs.len(), seeds as usize);
        let n = runs.len() as f64;
        let mean = |f: &dyn Fn(&Outcome) -> f64| runs.iter().map(f).sum::<f64>() / n;
        let max = |f: &dyn Fn(&Outcome) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        println!(
            "{:>5} {:>4} {:>7} {:>7} | {:>7.1} {:>6} | {:>8.3} {:>8.3} | {:>8.3} | {:>8.1} | {:>5}",
            cell.loss,
            cell.dup,
            cell.reorder,
            cell.corrupt,
            mean(&|o| o.retransmits as f64),
            max(&|o| o.retransmits as f64),
            mean(&|o| secs(o.done)),
            max(&|o| secs(o.done)),
            max(&|o| secs(o.closed)),
            mean(&|o| o.checksum_drops as f64),
            secs(cell.bound()),
        );
        for (seed, o) in runs.iter().enumerate() {
            for why in check(cell, o) {
                failures.push(format!("{cell:?} seed {seed}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
