//! A seeded fault relay: forwards Ethernet frames between two TAP devices, through a
//! [`Faulty`] injector on one of them, so that whatever sits behind the two TAPs (Linux
//! talking to tidytcp, or Linux talking to Linux) sees the same faults from the same
//! seed. `scripts/relay.sh` builds the namespaces and bridges around it and runs the
//! loss benchmark; `scripts/interop.sh` uses it for its 20 % loss checks.
//!
//! ```text
//! relay --a TAP --b TAP [--faults loss=20%,dup=1%,reorder=2%,delay=1ms,seed=7]
//! ```
//!
//! Frames from `a` to `b` suffer the `rx` faults of the injector, frames from `b` to `a`
//! its `tx` faults: the same configuration both ways, from one generator. The TAPs must
//! exist (persistent, `ip tuntap add`) or are created. One thread owns each TAP; frames
//! cross between them over channels, so neither waits for the other's traffic. With
//! `--report S` it prints the fault counts to stderr every S seconds.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use tidytcp::drivers::{Device, FaultConfig, Faulty, RxToken, Tap, TapWaker, TxToken};
use tidytcp::{Duration, Instant};

const USAGE: &str = "relay --a TAP --b TAP [--faults loss=P%,dup=P%,reorder=P%,delay=Nms,seed=N] \
                     [--report SECONDS]";

/// Frames drained from one device per wake-up before looking at the other queue.
const BURST: usize = 64;

fn usage_exit(msg: &str) -> ! {
    eprintln!("{msg}\nusage: {USAGE}");
    std::process::exit(2)
}

fn percent(v: &str) -> Option<f64> {
    let p = v.strip_suffix('%').unwrap_or(v).parse::<f64>().ok()? / 100.0;
    (0.0..=1.0).contains(&p).then_some(p)
}

/// `loss=20%,dup=1%,reorder=2%,delay=1ms,seed=7`, any subset.
fn parse_faults(spec: &str) -> Option<(FaultConfig, u64)> {
    let mut cfg = FaultConfig::NONE;
    let mut seed = 1;
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('=')? {
            ("loss", v) => cfg.loss = percent(v)?,
            ("dup", v) => cfg.duplicate = percent(v)?,
            ("reorder", v) => cfg.reorder = percent(v)?,
            ("delay", v) => {
                cfg.reorder_delay = Duration::from_millis(v.strip_suffix("ms")?.parse().ok()?)
            }
            ("seed", v) => seed = v.parse().ok()?,
            _ => return None,
        }
    }
    Some((cfg, seed))
}

struct Options {
    a: String,
    b: String,
    faults: FaultConfig,
    seed: u64,
    report: Option<StdDuration>,
}

fn parse_options() -> Options {
    let mut o = Options {
        a: String::new(),
        b: String::new(),
        faults: FaultConfig::NONE,
        seed: 1,
        report: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(k) = args.next() {
        let v = args
            .next()
            .unwrap_or_else(|| usage_exit(&format!("{k} needs a value")));
        match k.as_str() {
            "--a" => o.a = v,
            "--b" => o.b = v,
            "--faults" => {
                (o.faults, o.seed) =
                    parse_faults(&v).unwrap_or_else(|| usage_exit(&format!("bad --faults {v}")))
            }
            "--report" => match v.parse::<f64>() {
                Ok(s) if s > 0.0 => o.report = Some(StdDuration::from_secs_f64(s)),
                _ => usage_exit(&format!("bad --report {v}")),
            },
            _ => usage_exit(&format!("unknown option {k}")),
        }
    }
    if o.a.is_empty() || o.b.is_empty() {
        usage_exit("--a and --b are required");
    }
    o
}

fn open(name: &str) -> Tap {
    let tap = Tap::open(name).unwrap_or_else(|e| {
        eprintln!("relay: cannot open TAP {name}: {e}");
        std::process::exit(1)
    });
    if let Err(e) = tap.set_up() {
        eprintln!("relay: cannot bring {name} up: {e}");
        std::process::exit(1)
    }
    tap
}

/// Sends one frame out of `dev`; a full device drops it, as a full queue would.
fn send<D: Device>(dev: &mut D, now: Instant, frame: &[u8]) {
    if let Some(tx) = dev.transmit(now) {
        tx.consume(frame.len(), |b| b.copy_from_slice(frame));
    }
}

/// Moves up to [`BURST`] received frames from `dev` to `out`; whether any moved.
fn drain<D: Device>(dev: &mut D, now: Instant, out: &Sender<Vec<u8>>) -> bool {
    let mut moved = false;
    for _ in 0..BURST {
        let Some((rx, _)) = dev.receive(now) else {
            break;
        };
        if out.send(rx.consume(|f| f.to_vec())).is_err() {
            break;
        }
        moved = true;
    }
    moved
}

/// Side `b`: a plain TAP. Frames it reads go to `to_a`, frames from `from_a` go out.
fn run_b(mut tap: Tap, from_a: Receiver<Vec<u8>>, to_a: Sender<Vec<u8>>, wake_a: TapWaker) {
    let start = StdInstant::now();
    loop {
        let now = elapsed(start);
        while let Ok(frame) = from_a.try_recv() {
            send(&mut tap, now, &frame);
        }
        if drain(&mut tap, now, &to_a) {
            wake_a.wake();
            continue;
        }
        if tap.wait(None).is_err() {
            return;
        }
    }
}

fn elapsed(start: StdInstant) -> Instant {
    Instant::from_micros(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX))
}

fn main() {
    let o = parse_options();
    let a = open(&o.a);
    let b = open(&o.b);
    let (wake_a, wake_b) = (a.waker(), b.waker());
    let (a_to_b, b_from_a) = channel::<Vec<u8>>();
    let (b_to_a, a_from_b) = channel::<Vec<u8>>();
    thread::spawn(move || run_b(b, b_from_a, b_to_a, wake_a));

    // Side `a`, behind the injector: its receive faults hit a -> b, its transmit
    // faults b -> a.
    let mut a = Faulty::new(a, o.faults, o.faults, o.seed);
    eprintln!(
        "ready: relay {} <-> {}, faults {:?} seed {}",
        o.a, o.b, o.faults, o.seed
    );
    let start = StdInstant::now();
    let mut last_report = StdInstant::now();
    loop {
        let now = elapsed(start);
        while let Ok(frame) = a_from_b.try_recv() {
            send(&mut a, now, &frame);
        }
        if drain(&mut a, now, &a_to_b) {
            wake_b.wake();
            continue;
        }
        if o.report.is_some_and(|r| last_report.elapsed() >= r) {
            last_report = StdInstant::now();
            eprintln!("faults a->b: {:?}", a.rx_stats());
            eprintln!("faults b->a: {:?}", a.tx_stats());
        }
        // Held frames (reordered, duplicated) are due by `poll_at`.
        let timeout = a
            .poll_at()
            .map(|at| StdDuration::from_micros(at.saturating_duration_since(now).total_micros()));
        let timeout = match (timeout, o.report) {
            (Some(t), Some(r)) => Some(t.min(r)),
            (t, r) => t.or(r),
        };
        if a.device().wait(timeout).is_err() {
            return;
        }
    }
}
