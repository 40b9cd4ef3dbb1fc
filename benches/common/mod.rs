//! Shared by the benchmarks: the in-memory link, the workloads on both stacks, timing
//! and the ratio report.
#![allow(dead_code)]

pub mod link;
pub mod smol;
pub mod tidy;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Send and receive buffer size of every connection, on both stacks.
pub const BUF: usize = 64 * 1024;

/// One point of a transfer over virtual time.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Virtual time, microseconds.
    pub t_us: u64,
    /// Bytes delivered to the receiving application so far.
    pub delivered: u64,
    /// The sender's congestion window (tidytcp only; 0 for smoltcp).
    pub cwnd: u64,
}

/// Criterion with the settings every benchmark here uses: few, flat samples of long
/// iterations (each iteration moves megabytes or runs hundreds of exchanges).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

/// Wall-time samples of one benchmark (seconds per iteration), kept besides criterion's
/// own statistics so that the ratio of two stacks can be printed in the same run.
#[derive(Default)]
pub struct Recorder(RefCell<Vec<f64>>);

impl Recorder {
    /// Times `f(iters)`, records seconds per iteration, returns the total for criterion.
    pub fn time(&self, iters: u64, f: impl FnOnce(u64)) -> Duration {
        let t = Instant::now();
        f(iters);
        let d = t.elapsed();
        self.0
            .borrow_mut()
            .push(d.as_secs_f64() / iters.max(1) as f64);
        d
    }

    /// Median seconds per iteration over the last `n` samples (criterion's measurement
    /// samples; the earlier ones are its warm-up).
    pub fn median(&self, n: usize) -> f64 {
        let v = self.0.borrow();
        let mut last: Vec<f64> = v[v.len().saturating_sub(n)..].to_vec();
        last.sort_by(f64::total_cmp);
        if last.is_empty() {
            return f64::NAN;
        }
        last[last.len() / 2]
    }
}

/// The machine, for the report: CPU model and core count.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {n} cores")
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A report being built: markdown lines printed at the end of a bench and saved to
/// `target/bench-report/NAME.md` (BENCHMARKS.md is assembled from them).
pub struct Report {
    name: &'static str,
    text: String,
}

impl Report {
    /// A report for the bench `name`.
    pub fn new(name: &'static str) -> Self {
        let mut text = String::new();
        let _ = writeln!(text, "### `{name}`\n");
        let _ = writeln!(
            text,
            "Machine: {}. Date: {}. Command: `cargo bench --bench {name}`.\n",
            machine(),
            today()
        );
        Report { name, text }
    }

    /// Appends a line.
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }

    /// Prints the report and saves it.
    pub fn finish(self) {
        println!("\n{}", self.text);
        let dir = repo_root().join("target/bench-report");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{}.md", self.name)), &self.text);
    }
}

/// The repository root: the benchmarks are a workspace member in `benches/`, and their
/// reports and charts go where the root package's would.
pub fn repo_root() -> &'static std::path::Path {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir)
}

/// Formats bytes per second as MB/s (10^6 bytes).
pub fn mbps(bytes_per_s: f64) -> String {
    format!("{:.0} MB/s", bytes_per_s / 1e6)
}

/// The memcpy + checksum ceiling: per chunk of `chunk` bytes, a copy from the pattern, one
/// checksum pass and a second copy (what a stack must at least do with each byte).
pub struct Ceiling {
    pat: link::Pattern,
    a: Vec<u8>,
    b: Vec<u8>,
    at: u64,
}

impl Ceiling {
    /// Buffers of 64 KiB, like the stacks' rings.
    pub fn new() -> Self {
        Ceiling {
            pat: link::Pattern::new(),
            a: vec![0; BUF],
            b: vec![0; BUF],
            at: 0,
        }
    }

    /// Moves `bytes` through the two copies and the checksum, in 1460-byte segments
    /// (the MSS of both stacks here) through 64 KiB buffers.
    pub fn run(&mut self, bytes: u64) -> u16 {
        let mut acc = 0u16;
        let mut left = bytes;
        while left > 0 {
            let n = (left as usize).min(link::PATTERN_PERIOD);
            self.a[..n].copy_from_slice(self.pat.at(self.at, n));
            let mut off = 0;
            while off < n {
                let m = (n - off).min(1460);
                let seg = &self.a[off..off + m];
                acc ^= tidytcp::wire::checksum::checksum(seg);
                self.b[off..off + m].copy_from_slice(seg);
                off += m;
            }
            std::hint::black_box(&self.b);
            self.at += n as u64;
            left -= n as u64;
        }
        acc
    }
}

impl Default for Ceiling {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs one 1 GiB pass of `f` and returns its wall time.
pub fn once(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// True when criterion was asked only to check that the benches run (`--test`, as
/// `cargo test --benches` does), or `BENCH_SHORT` is set: skip the long report passes.
pub fn quick() -> bool {
    std::env::var_os("BENCH_SHORT").is_some()
        || std::env::args().any(|a| a == "--test" || a == "--list" || a == "--profile-time")
}

/// Workloads 1 and 2: bulk transfer on both stacks and the ceiling, criterion samples of
/// `CHUNK` bytes per iteration, then one 1 GiB pass each for the report.
pub fn bulk_bench(name: &'static str, zero_copy: bool) {
    use criterion::{SamplingMode, Throughput};
    const CHUNK: u64 = 16 << 20;
    const GIB: u64 = 1 << 30;
    let mut c = criterion();
    let mut t = tidy::Bulk::new(link::LinkCfg::IDEAL, 0);
    let mut s = smol::Bulk::new(link::LinkCfg::IDEAL, 0);
    let mut ceil = Ceiling::new();
    let (rt, rs, rc) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(CHUNK));
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("tidytcp", |b| {
        b.iter_custom(|n| rt.time(n, |n| (0..n).for_each(|_| t.run(CHUNK, zero_copy, None))))
    });
    g.bench_function("smoltcp", |b| {
        b.iter_custom(|n| rs.time(n, |n| (0..n).for_each(|_| s.run(CHUNK, zero_copy, None))))
    });
    g.bench_function("ceiling", |b| {
        b.iter_custom(|n| {
            rc.time(n, |n| {
                (0..n).for_each(|_| {
                    std::hint::black_box(ceil.run(CHUNK));
                })
            })
        })
    });
    g.finish();
    c.final_summary();

    let api = if zero_copy {
        "`write_with`/`read_with` vs smoltcp `send`/`recv` closures"
    } else {
        "`write`/`read` vs smoltcp `send_slice`/`recv_slice`"
    };
    let mut r = Report::new(name);
    r.line(format!(
        "One connection, 64 KiB buffers, MTU 1500, software checksums, ideal link; {api}; \
         every byte checked at the receiver."
    ));
    r.line("");
    let n = 10;
    let (mt, ms, mc) = (rt.median(n), rs.median(n), rc.median(n));
    let bps = |sec: f64| CHUNK as f64 / sec;
    r.line("| measure | tidytcp | smoltcp | ratio | ceiling | tidytcp / ceiling |");
    r.line("|---|---|---|---|---|---|");
    r.line(format!(
        "| criterion median, {} MiB per iteration | {} | {} | {:.2}× | {} | {:.0} % |",
        CHUNK >> 20,
        mbps(bps(mt)),
        mbps(bps(ms)),
        ms / mt,
        mbps(bps(mc)),
        100.0 * mc / mt
    ));
    let (pt, ps, pr) = paired(
        rounds(),
        || t.run(CHUNK, zero_copy, None),
        || s.run(CHUNK, zero_copy, None),
    );
    let (_, pc, prc) = paired(
        rounds(),
        || t.run(CHUNK, zero_copy, None),
        || {
            std::hint::black_box(ceil.run(CHUNK));
        },
    );
    r.line(format!(
        "| interleaved runs, {} MiB each, medians (ratio: median of per-round ratios) | {} | {} | **{:.2}×** | {} | {:.0} % |",
        CHUNK >> 20,
        mbps(bps(pt)),
        mbps(bps(ps)),
        pr,
        mbps(bps(pc)),
        100.0 * prc
    ));
    let (f0, g0) = (t.frames(), s.frames());
    let (u0, v0) = (t.pair.turns, s.pair.turns);
    t.run(CHUNK, zero_copy, None);
    s.run(CHUNK, zero_copy, None);
    let (f1, g1) = (t.frames(), s.frames());
    r.line(format!(
        "| polls of each stack per {} MiB | {} | {} | | | |",
        CHUNK >> 20,
        t.pair.turns - u0,
        s.pair.turns - v0
    ));
    r.line(format!(
        "| frames per {} MiB, data way / ACK way | {} / {} | {} / {} | | | |",
        CHUNK >> 20,
        f1.0 - f0.0,
        f1.1 - f0.1,
        g1.0 - g0.0,
        g1.1 - g0.1
    ));
    if !quick() {
        let dt = once(|| t.run(GIB, zero_copy, None));
        let ds = once(|| s.run(GIB, zero_copy, None));
        let dc = once(|| {
            std::hint::black_box(ceil.run(GIB));
        });
        let g = |d: Duration| GIB as f64 / d.as_secs_f64();
        r.line(format!(
            "| one 1 GiB pass | {} ({:.2} s) | {} ({:.2} s) | {:.2}× | {} | {:.0} % |",
            mbps(g(dt)),
            dt.as_secs_f64(),
            mbps(g(ds)),
            ds.as_secs_f64(),
            ds.as_secs_f64() / dt.as_secs_f64(),
            mbps(g(dc)),
            100.0 * dc.as_secs_f64() / dt.as_secs_f64()
        ));
    }
    r.finish();
}

/// Interleaved timing for the ratio: `rounds` times, one run of `a` then one of `b`
/// (order alternating), so that load from other processes on a shared machine hits both
/// alike. Returns the median seconds of `a`, of `b`, and the median of the per-round
/// ratios `b / a` (how many times faster `a` is).
pub fn paired(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64, f64) {
    let mut ta = Vec::new();
    let mut tb = Vec::new();
    let mut ratio = Vec::new();
    for k in 0..rounds.max(1) {
        let (x, y) = if k % 2 == 0 {
            let x = once(&mut a).as_secs_f64();
            (x, once(&mut b).as_secs_f64())
        } else {
            let y = once(&mut b).as_secs_f64();
            (once(&mut a).as_secs_f64(), y)
        };
        ta.push(x);
        tb.push(y);
        ratio.push(y / x);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (med(&mut ta), med(&mut tb), med(&mut ratio))
}

/// Rounds of [`paired`] for the reports (fewer in quick mode).
pub fn rounds() -> usize {
    if let Some(n) = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if quick() { 3 } else { 21 }
}
