//! Two stacks over a `SimLink` in virtual time: transfers both ways, byte for byte, both
//! ends closed, every slot freed, within a bound on virtual time.

mod common;

use common::*;
use tidytcp::drivers::DirectionConfig;
use tidytcp::stack::Stack;
use tidytcp::tcp::cc::Algorithm;
use tidytcp::{Duration, Instant};

struct Outcome {
    finished: Instant,
    /// When both sides had read everything (before the closing handshake and TIME-WAIT).
    delivered: Instant,
    retransmits: u64,
}

/// `bytes` each way over a link with `dir` faults; both sides half-close when done
/// sending, read to end of stream, then close.
fn transfer(dir: DirectionConfig, seed: u64, bytes: u64, limit: Duration) -> Outcome {
    transfer_with(Algorithm::NewReno, dir, seed, bytes, limit)
}

/// [`transfer`] with congestion control `congestion` on both sides.
fn transfer_with(
    congestion: Algorithm,
    dir: DirectionConfig,
    seed: u64,
    bytes: u64,
    limit: Duration,
) -> Outcome {
    let mut sa = storage();
    let mut sb = storage();
    let (mut ca, mut cb) = (config(1), config(2));
    ca.tcp.congestion = congestion;
    cb.tcp.congestion = congestion;
    let mut a = Stack::new(ca, &mut sa);
    let mut b = Stack::new(cb, &mut sb);
    let mut link = link(dir, seed);
    link.set_logging(std::env::var("SIM_LOG").is_ok());
    let mut now = Instant::ZERO;
    let listener = b.listen(5000, 4).unwrap();
    let mut client = Some(a.connect("10.0.0.2:5000".parse().unwrap()).unwrap());
    let mut server = None;
    let (mut cp, mut sp) = (Pump::default(), Pump::default());
    let limit = Instant::ZERO + limit;
    let mut delivered = None;
    loop {
        let alive = step(&mut now, &mut a, &mut b, &mut link, limit);
        if !alive {
            if let Some(c) = client.as_ref() {
                eprintln!("client conn {:#?}", c.connection(&a));
            }
        }
        assert!(
            alive,
            "seed {seed}: not done by {limit:?}: client {cp:?}, server {sp:?}; a={:?} b={:?}",
            a.sockets().collect::<Vec<_>>(),
            b.sockets().collect::<Vec<_>>()
        );
        if server.is_none() {
            if let Ok((s, _)) = listener.accept(&mut b) {
                server = Some(s);
            }
        }
        let c_done = client
            .as_mut()
            .is_some_and(|c| cp.step(c, &mut a, 1, 2, bytes));
        let s_done = server
            .as_mut()
            .is_some_and(|s| sp.step(s, &mut b, 2, 1, bytes));
        if c_done {
            if cp.got != bytes {
                let c = client.as_ref().unwrap();
                eprintln!(
                    "client state {:?} err {:?} conn {:?}",
                    c.state(&a),
                    c.error(&a),
                    c.connection(&a)
                        .map(|c| (c.peer_closed(), c.write_closed()))
                );
                eprintln!("a stats {:?}", a.stats().tcp);
                for d in link.log() {
                    eprintln!("{:?} {:?} {}", d.at, d.dir, describe(&d.frame));
                }
            }
            assert_eq!(cp.got, bytes);
            client.take().unwrap().close(&mut a);
        }
        if s_done {
            if sp.got != bytes {
                let s = server.as_ref().unwrap();
                eprintln!(
                    "server state {:?} err {:?} conn {:?}",
                    s.state(&b),
                    s.error(&b),
                    s.connection(&b)
                        .map(|c| (c.peer_closed(), c.write_closed()))
                );
                eprintln!("b stats {:?}", b.stats().tcp);
                eprintln!(
                    "recv_queue {} conn {:#?}",
                    s.recv_queue(&b),
                    s.connection(&b)
                );
                for d in link.log() {
                    eprintln!("{:?} {:?} {}", d.at, d.dir, describe(&d.frame));
                }
            }
            assert_eq!(sp.got, bytes);
            server.take().unwrap().close(&mut b);
        }
        if cp.got == bytes && sp.got == bytes && delivered.is_none() {
            delivered = Some(now);
        }
        if client.is_none() && server.is_none() && a.in_use() == 0 && b.in_use() == 0 {
            break;
        }
    }
    listener.close(&mut b);
    let retransmits = a.stats().tcp.retransmits + b.stats().tcp.retransmits;
    if std::env::var("SIM_STATS").is_ok() {
        eprintln!(
            "{congestion:?} a {:?}\n b {:?}",
            a.stats().tcp,
            b.stats().tcp
        );
    }
    Outcome {
        finished: now,
        delivered: delivered.unwrap_or(now),
        retransmits,
    }
}

#[test]
fn one_mib_each_way_clean_link() {
    let o = transfer(clean(5), 1, 1 << 20, Duration::from_secs(200));
    assert_eq!(o.retransmits, 0);
}

#[test]
#[cfg(feature = "cubic")]
fn cubic_one_mib_each_way_clean_and_with_loss() {
    // CUBIC end to end (its unit tests check the curve): every byte arrives, through
    // slow start, losses, recoveries and the cubic growth after them.
    for (loss, seed) in [(0.0, 1u64), (0.01, 2), (0.05, 3), (0.10, 4)] {
        let dir = DirectionConfig { loss, ..clean(20) };
        let o = transfer_with(
            Algorithm::Cubic,
            dir,
            seed,
            1 << 20,
            Duration::from_secs(3600),
        );
        eprintln!(
            "cubic, loss {loss}: done at {:?}, {} retransmits",
            o.finished, o.retransmits
        );
        assert_eq!(o.retransmits == 0, loss == 0.0);
    }
}

#[test]
fn one_mib_each_way_with_loss() {
    for (loss, seeds) in [(0.01, 3u64), (0.10, 3), (0.30, 2)] {
        for seed in 0..seeds {
            let dir = DirectionConfig { loss, ..clean(5) };
            let o = transfer(dir, seed, 1 << 20, Duration::from_secs(3600));
            eprintln!(
                "loss {loss}: seed {seed}: done at {:?}, {} retransmits",
                o.finished, o.retransmits
            );
        }
    }
}

#[test]
#[cfg(feature = "bbr")]
fn bbr_finishes_sooner_than_newreno_at_20_percent_loss() {
    // The relay benchmark's setting (issue 14) in virtual time: 20 % loss both ways, a
    // 10 ms RTT, 1 MiB each way. NewReno halves its window on every loss; the
    // model-based controller keeps the window the measured delivery rate and RTT call
    // for, while SACK/RACK recovery repairs the losses the same way under both. The
    // median over five seeds (one seed, 2, ends in a chain of backed-off timeouts under
    // both, longer under BBR: 14.2 s against 43.2 s).
    let mut newreno = Vec::new();
    let mut bbr = Vec::new();
    for seed in 0..5u64 {
        let dir = DirectionConfig {
            loss: 0.20,
            ..clean(5)
        };
        let limit = Duration::from_secs(3600);
        let n = transfer_with(Algorithm::NewReno, dir, seed, 1 << 20, limit);
        let b = transfer_with(Algorithm::Bbr, dir, seed, 1 << 20, limit);
        eprintln!(
            "seed {seed}: newreno {:?}, bbr {:?}",
            n.delivered, b.delivered
        );
        newreno.push(n.delivered);
        bbr.push(b.delivered);
    }
    newreno.sort();
    bbr.sort();
    assert!(
        bbr[2] < newreno[2],
        "median: bbr {:?} vs newreno {:?}",
        bbr[2],
        newreno[2]
    );
}
