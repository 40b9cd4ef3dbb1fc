//! Workload 3: request/response of 64 bytes on one connection (Nagle off on both
//! stacks), round trips per second. `cargo bench --bench rr64`
mod common;

use common::{Recorder, Report, criterion, paired, rounds, smol, tidy};
use criterion::Throughput;

fn main() {
    let mut c = criterion();
    let mut t = tidy::Rr::new();
    let mut s = smol::Rr::new();
    let (rt, rs) = (Recorder::default(), Recorder::default());
    let mut g = c.benchmark_group("rr64");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tidytcp", |b| b.iter_custom(|n| rt.time(n, |n| t.run(n))));
    g.bench_function("smoltcp", |b| b.iter_custom(|n| rs.time(n, |n| s.run(n))));
    g.finish();
    c.final_summary();
    let (mt, ms) = (rt.median(10), rs.median(10));
    let mut r = Report::new("rr64");
    r.line("One connection, 64-byte request, 64-byte response, ideal link, Nagle off.\n");
    r.line("| measure | tidytcp | smoltcp | ratio |");
    r.line("|---|---|---|---|");
    r.line(format!(
        "| round trips per second (criterion median) | {:.0} | {:.0} | {:.2}× |",
        1.0 / mt,
        1.0 / ms,
        ms / mt
    ));
    const N: u64 = 2000;
    let (pt, ps, pr) = paired(rounds(), || t.run(N), || s.run(N));
    r.line(format!(
        "| round trips per second, interleaved runs of {N} (ratio: median of per-round ratios) | {:.0} | {:.0} | **{pr:.2}×** |",
        N as f64 / pt,
        N as f64 / ps
    ));
    r.finish();
}
