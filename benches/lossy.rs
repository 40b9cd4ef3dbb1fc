//! Workload 5: bulk transfer over a link with 1 % and 5 % seeded loss (both directions),
//! 10 ms RTT, 100 Mbit/s: goodput in virtual time (protocol efficiency) and in wall time.
//! Also draws `docs/lossy-5pct.svg` (delivered bytes over virtual time for both stacks,
//! and tidytcp's congestion window). `cargo bench --bench lossy`
mod common;

use std::time::Instant;

use common::link::LinkCfg;
use common::{Recorder, Report, Sample, criterion, mbps, paired, rounds, smol, tidy};
use criterion::{SamplingMode, Throughput};

/// Bytes of the deterministic report pass per stack and loss rate.
const PASS: u64 = 8 << 20;
/// Bytes per criterion iteration (on a connection that stays up between iterations).
const CHUNK: u64 = 1 << 20;

fn link(loss_ppm: u32) -> LinkCfg {
    LinkCfg {
        latency_us: 5_000,
        rate_bps: 100_000_000,
        loss_ppm,
        seed: 42,
    }
}

struct Pass {
    virt_s: f64,
    wall_s: f64,
    lost: u64,
    trace: Vec<Sample>,
}

fn pass_tidy(loss: u32) -> Pass {
    let mut b = tidy::Bulk::new(link(loss), 0);
    let t0 = b.pair.now;
    let mut trace = Vec::new();
    let w = Instant::now();
    b.run(PASS, false, Some(&mut trace));
    // Time from the start of the transfer; at most one point per 20 ms for the chart.
    let mut last = None;
    trace.retain_mut(|p| {
        p.t_us -= t0;
        let keep = last.is_none_or(|l| p.t_us >= l + 20_000);
        if keep {
            last = Some(p.t_us);
        }
        keep
    });
    trace.insert(
        0,
        Sample {
            t_us: 0,
            delivered: 0,
            cwnd: 0,
        },
    );
    Pass {
        wall_s: w.elapsed().as_secs_f64(),
        virt_s: (b.pair.now - t0) as f64 / 1e6,
        lost: b.lost(),
        trace,
    }
}

fn pass_smol(loss: u32) -> Pass {
    let mut b = smol::Bulk::new(link(loss), 0);
    let t0 = b.pair.now;
    let mut trace = Vec::new();
    let w = Instant::now();
    b.run(PASS, false, Some(&mut trace));
    // Time from the start of the transfer; at most one point per 20 ms for the chart.
    let mut last = None;
    trace.retain_mut(|p| {
        p.t_us -= t0;
        let keep = last.is_none_or(|l| p.t_us >= l + 20_000);
        if keep {
            last = Some(p.t_us);
        }
        keep
    });
    trace.insert(
        0,
        Sample {
            t_us: 0,
            delivered: 0,
            cwnd: 0,
        },
    );
    Pass {
        wall_s: w.elapsed().as_secs_f64(),
        virt_s: (b.pair.now - t0) as f64 / 1e6,
        lost: b.lost(),
        trace,
    }
}

fn main() {
    let mut c = criterion();
    let mut g = c.benchmark_group("lossy");
    g.throughput(Throughput::Bytes(CHUNK));
    g.sampling_mode(SamplingMode::Flat);
    let mut recs = Vec::new();
    for (pct, ppm) in [(1, 10_000u32), (5, 50_000)] {
        let mut t = tidy::Bulk::new(link(ppm), 0);
        let mut s = smol::Bulk::new(link(ppm), 0);
        let (rt, rs) = (Recorder::default(), Recorder::default());
        g.bench_function(format!("tidytcp/{pct}%"), |b| {
            b.iter_custom(|n| rt.time(n, |n| (0..n).for_each(|_| t.run(CHUNK, false, None))))
        });
        g.bench_function(format!("smoltcp/{pct}%"), |b| {
            b.iter_custom(|n| rs.time(n, |n| (0..n).for_each(|_| s.run(CHUNK, false, None))))
        });
        recs.push((pct, rt, rs, t, s));
    }
    g.finish();
    c.final_summary();

    let mut r = Report::new("lossy");
    r.line(format!(
        "One connection, 10 ms RTT, 100 Mbit/s, seeded loss in both directions (after the \
         handshake), NewReno (tidytcp) and Reno (smoltcp `socket-tcp-reno`). Virtual-time \
         goodput from one deterministic {} MiB pass per case; wall time from the same pass \
         and from criterion ({} MiB per iteration on a connection kept open).\n",
        PASS >> 20,
        CHUNK >> 20
    ));
    r.line("| loss | measure | tidytcp | smoltcp | ratio |");
    r.line("|---|---|---|---|---|");
    for (pct, rt, rs, t, s) in &mut recs {
        let ppm = *pct as u32 * 10_000;
        let (a, b) = (pass_tidy(ppm), pass_smol(ppm));
        let gv = |p: &Pass| PASS as f64 / p.virt_s;
        let gw = |p: &Pass| PASS as f64 / p.wall_s;
        r.line(format!(
            "| {pct} % | goodput in virtual time | {:.2} Mbit/s ({:.1} s) | {:.2} Mbit/s ({:.1} s) | **{:.2}×** |",
            gv(&a) * 8e-6,
            a.virt_s,
            gv(&b) * 8e-6,
            b.virt_s,
            gv(&a) / gv(&b)
        ));
        r.line(format!(
            "| {pct} % | goodput in wall time, report pass | {} | {} | {:.2}× |",
            mbps(gw(&a)),
            mbps(gw(&b)),
            gw(&a) / gw(&b)
        ));
        let (pt, ps, pr) = paired(
            rounds(),
            || t.run(CHUNK, false, None),
            || s.run(CHUNK, false, None),
        );
        r.line(format!(
            "| {pct} % | goodput in wall time, interleaved runs of {} MiB (ratio: median of per-round ratios) | {} | {} | **{pr:.2}×** |",
            CHUNK >> 20,
            mbps(CHUNK as f64 / pt),
            mbps(CHUNK as f64 / ps)
        ));
        let (mt, ms) = (rt.median(10), rs.median(10));
        r.line(format!(
            "| {pct} % | goodput in wall time, criterion median | {} | {} | {:.2}× |",
            mbps(CHUNK as f64 / mt),
            mbps(CHUNK as f64 / ms),
            ms / mt
        ));
        r.line(format!(
            "| {pct} % | frames lost by the link in the pass | {} | {} | |",
            a.lost, b.lost
        ));
        if *pct == 5 {
            let path = common::repo_root().join("docs/lossy-5pct.svg");
            match plot(&path, &a.trace, &b.trace) {
                Ok(()) => r.line(format!("\nChart written to `{}`.", path.display())),
                Err(e) => r.line(format!("\nChart failed: {e}")),
            }
        }
    }
    r.finish();
}

fn plot(
    path: &std::path::Path,
    tidy: &[Sample],
    smol: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    let t_max = tidy.iter().chain(smol).map(|s| s.t_us).max().unwrap_or(1) as f64 / 1e6;
    let t0 = tidy
        .first()
        .map_or(0, |s| s.t_us)
        .min(smol.first().map_or(0, |s| s.t_us)) as f64
        / 1e6;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(380);
    let mut ch = ChartBuilder::on(&top)
        .caption(
            "5 % loss, 10 ms RTT: bytes delivered over virtual time",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..(t_max - t0), 0.0..mib(PASS) * 1.05)?;
    ch.configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("delivered (MiB)")
        .draw()?;
    ch.draw_series(LineSeries::new(
        tidy.iter()
            .map(|s| (s.t_us as f64 / 1e6 - t0, mib(s.delivered))),
        &BLUE,
    ))?
    .label("tidytcp")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    ch.draw_series(LineSeries::new(
        smol.iter()
            .map(|s| (s.t_us as f64 / 1e6 - t0, mib(s.delivered))),
        &RED,
    ))?
    .label("smoltcp")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    ch.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    let t_tidy = tidy.last().map_or(1, |s| s.t_us) as f64 / 1e6 - t0;
    let cw_max = tidy.iter().map(|s| s.cwnd).max().unwrap_or(1) as f64 / 1024.0;
    let mut ch2 = ChartBuilder::on(&bottom)
        .caption("tidytcp congestion window", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_tidy.max(0.001), 0.0..cw_max * 1.1)?;
    ch2.configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("cwnd (KiB)")
        .draw()?;
    ch2.draw_series(LineSeries::new(
        tidy.iter()
            .map(|s| (s.t_us as f64 / 1e6 - t0, s.cwnd as f64 / 1024.0)),
        &BLUE,
    ))?;
    root.present()?;
    Ok(())
}
