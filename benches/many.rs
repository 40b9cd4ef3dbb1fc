//! Workload 6: bulk transfer while 1 000 other connections are established and idle,
//! against the same transfer with none. `cargo bench --bench many`
mod common;

use common::link::LinkCfg;
use common::{Recorder, Report, criterion, mbps, paired, rounds, smol, tidy};
use criterion::{SamplingMode, Throughput};

const CHUNK: u64 = 16 << 20;
const IDLE: usize = 1000;

fn main() {
    let mut c = criterion();
    let mut t0 = tidy::Bulk::new(LinkCfg::IDEAL, 0);
    let mut t1 = tidy::Bulk::new(LinkCfg::IDEAL, IDLE);
    let mut s0 = smol::Bulk::new(LinkCfg::IDEAL, 0);
    let mut s1 = smol::Bulk::new(LinkCfg::IDEAL, IDLE);
    let recs: [Recorder; 4] = Default::default();
    let mut g = c.benchmark_group("many");
    g.throughput(Throughput::Bytes(CHUNK));
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("tidytcp/0-idle", |b| {
        b.iter_custom(|n| recs[0].time(n, |n| (0..n).for_each(|_| t0.run(CHUNK, false, None))))
    });
    g.bench_function("tidytcp/1000-idle", |b| {
        b.iter_custom(|n| recs[1].time(n, |n| (0..n).for_each(|_| t1.run(CHUNK, false, None))))
    });
    g.bench_function("smoltcp/0-idle", |b| {
        b.iter_custom(|n| recs[2].time(n, |n| (0..n).for_each(|_| s0.run(CHUNK, false, None))))
    });
    g.bench_function("smoltcp/1000-idle", |b| {
        b.iter_custom(|n| recs[3].time(n, |n| (0..n).for_each(|_| s1.run(CHUNK, false, None))))
    });
    g.finish();
    c.final_summary();
    let m: Vec<f64> = recs.iter().map(|r| CHUNK as f64 / r.median(10)).collect();
    let mut r = Report::new("many");
    r.line(format!(
        "Bulk (`write`/`read`, {} MiB per iteration) with {IDLE} other connections \
         established and idle on both stacks, against the same with none.\n",
        CHUNK >> 20
    ));
    r.line("| measure | tidytcp | smoltcp | ratio |");
    r.line("|---|---|---|---|");
    r.line(format!(
        "| throughput, no idle connections | {} | {} | {:.2}× |",
        mbps(m[0]),
        mbps(m[2]),
        m[0] / m[2]
    ));
    r.line(format!(
        "| throughput, {IDLE} idle connections | {} | {} | {:.2}× |",
        mbps(m[1]),
        mbps(m[3]),
        m[1] / m[3]
    ));
    r.line(format!(
        "| with idle / without | {:.0} % | {:.0} % | |",
        100.0 * m[1] / m[0],
        100.0 * m[3] / m[2]
    ));
    let n = rounds();
    let (a0, a1, ra) = paired(
        n,
        || t0.run(CHUNK, false, None),
        || t1.run(CHUNK, false, None),
    );
    let (b0, b1, rb) = paired(
        n,
        || s0.run(CHUNK, false, None),
        || s1.run(CHUNK, false, None),
    );
    let (c1, d1, rc) = paired(
        n,
        || t1.run(CHUNK, false, None),
        || s1.run(CHUNK, false, None),
    );
    let bps = |s: f64| CHUNK as f64 / s;
    r.line(format!(
        "| interleaved: no idle, then {IDLE} idle (each stack against itself) | {} → {} | {} → {} | |",
        mbps(bps(a0)),
        mbps(bps(a1)),
        mbps(bps(b0)),
        mbps(bps(b1))
    ));
    r.line(format!(
        "| interleaved: with idle / without (median of per-round ratios) | **{:.0} %** | {:.0} % | |",
        100.0 / ra,
        100.0 / rb
    ));
    r.line(format!(
        "| interleaved: {IDLE} idle, tidytcp against smoltcp | {} | {} | **{rc:.2}×** |",
        mbps(bps(c1)),
        mbps(bps(d1))
    ));
    r.finish();
}
