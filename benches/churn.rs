//! Workload 4: connect, one byte each way, close, until the slots are free again;
//! connections per second. Virtual time jumps over TIME-WAIT. `cargo bench --bench churn`
mod common;

use common::{Recorder, Report, criterion, paired, rounds, smol, tidy};
use criterion::Throughput;

fn main() {
    let mut c = criterion();
    let mut t = tidy::Churn::new();
    let mut s = smol::Churn::new();
    let (rt, rs) = (Recorder::default(), Recorder::default());
    let mut g = c.benchmark_group("churn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tidytcp", |b| {
        b.iter_custom(|n| {
            rt.time(n, |n| {
                t.run(n);
            })
        })
    });
    g.bench_function("smoltcp", |b| {
        b.iter_custom(|n| {
            rs.time(n, |n| {
                s.run(n);
            })
        })
    });
    g.finish();
    c.final_summary();
    let vt = t.run(1) as f64 / 1e6;
    let vs = s.run(1) as f64 / 1e6;
    let (mt, ms) = (rt.median(10), rs.median(10));
    let mut r = Report::new("churn");
    r.line(
        "Client connects, sends one byte, the server answers one byte, the client closes, \
         the server reads end of stream and closes; the next connection starts when both \
         slots are free again (the client's after TIME-WAIT, which virtual time jumps over).\n",
    );
    r.line("| measure | tidytcp | smoltcp | ratio |");
    r.line("|---|---|---|---|");
    r.line(format!(
        "| connections per second, wall time (criterion median) | {:.0} | {:.0} | {:.2}× |",
        1.0 / mt,
        1.0 / ms,
        ms / mt
    ));
    const N: u64 = 300;
    let (pt, ps, pr) = paired(
        rounds(),
        || {
            t.run(N);
        },
        || {
            s.run(N);
        },
    );
    r.line(format!(
        "| connections per second, interleaved runs of {N} (ratio: median of per-round ratios) | {:.0} | {:.0} | **{pr:.2}×** |",
        N as f64 / pt,
        N as f64 / ps
    ));
    r.line(format!(
        "| virtual time per connection (mostly TIME-WAIT) | {vt:.3} s | {vs:.3} s | |"
    ));
    r.finish();
}
