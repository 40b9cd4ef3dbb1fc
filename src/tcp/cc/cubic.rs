//! CUBIC (RFC 9438) in integer arithmetic only, so it builds for cores without an FPU.
//!
//! Windows are in bytes, time in milliseconds. With C = 0.4 segments/s³ the cubic term
//! `C·(t−K)³` in bytes is `SMSS·d³·4/10¹⁰` for `d = |t−K|` in milliseconds. Everything
//! fits 64 bits (no 128-bit arithmetic, which costs kilobytes of flash on a 32-bit core):
//! `d` is capped where its cube would overflow (44 minutes, far beyond where the window
//! stops following the curve), and the term is taken in thousandths of a segment
//! before it is scaled to bytes.

use super::{AckEvent, CongestionControl};
use crate::time::Instant;

/// β_cubic = 0.7, as 7/10.
const BETA_NUM: u64 = 7;
const BETA_DEN: u64 = 10;
/// α_cubic = 3(1−β)/(1+β) = 9/17 (RFC 9438 §4.3).
const ALPHA_NUM: u64 = 9;
const ALPHA_DEN: u64 = 17;

/// The CUBIC controller.
///
/// ```
/// use tidytcp::tcp::cc::{CongestionControl, Cubic};
/// use tidytcp::Instant;
/// let mut c = Cubic::new(14_600);
/// c.on_congestion(100_000, 1000); // ssthresh = 0.7 * cwnd
/// assert_eq!(c.ssthresh(), 10_220);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    /// W_max: the window before the last reduction, bytes (at most a `u32` cwnd).
    w_max: u32,
    /// K in milliseconds (at most cbrt(2^32 · 2.5·10^9) ≈ 2.2·10^6).
    k_ms: u32,
    /// W_max the epoch's curve plateaus at (bytes; W_max or cwnd).
    origin: u32,
    /// Fractional growth carried between ACKs (bytes * cwnd units; below cwnd).
    carry: u32,
    /// Slow start byte counting.
    bytes_acked: u32,
    /// Reno-friendly estimate W_est in bytes, scaled by 2^16 for fractional growth, as
    /// two 32-bit halves (low first): with no 64-bit field the controller needs only
    /// 4-byte alignment, which keeps `Controller` and every connection smaller.
    w_est_fp: [u32; 2],
    /// Start of the current congestion avoidance epoch (`Instant::to_halves`).
    epoch_start: [u32; 2],
}

fn split(v: u64) -> [u32; 2] {
    [v as u32, (v >> 32) as u32]
}

fn join(v: [u32; 2]) -> u64 {
    u64::from(v[0]) | u64::from(v[1]) << 32
}

impl Cubic {
    /// Starts at `initial_window` in slow start.
    pub fn new(initial_window: u32) -> Self {
        Cubic {
            cwnd: initial_window,
            ssthresh: u32::MAX,
            w_max: 0,
            k_ms: 0,
            origin: 0,
            carry: 0,
            bytes_acked: 0,
            w_est_fp: [0; 2],
            epoch_start: [0; 2],
        }
    }

    /// W_max, the window at the last congestion event (bytes).
    pub fn w_max(&self) -> u64 {
        u64::from(self.w_max)
    }

    /// K of RFC 9438 eq. (2), in milliseconds.
    pub fn k_millis(&self) -> u64 {
        u64::from(self.k_ms)
    }

    fn epoch_start(&self) -> Option<Instant> {
        Instant::from_halves(self.epoch_start)
    }

    fn set_epoch_start(&mut self, t: Option<Instant>) {
        self.epoch_start = Instant::to_halves(t);
    }

    /// W_cubic(t) of RFC 9438 eq. (1) in bytes, `t_ms` after the epoch start.
    pub fn w_cubic(&self, t_ms: u64, smss: u32) -> u64 {
        let k = self.k_millis();
        let d = t_ms.abs_diff(k);
        let delta = cubic_term(d, smss);
        let origin = u64::from(self.origin);
        if t_ms >= k {
            origin.saturating_add(delta)
        } else {
            origin.saturating_sub(delta)
        }
    }

    fn start_epoch(&mut self, now: Instant, smss: u32) {
        self.set_epoch_start(Some(now));
        if self.cwnd < self.w_max {
            // K = cbrt((W_max − cwnd_epoch) / C), eq. (2), in ms:
            // d³ = (W_max − cwnd)·10¹⁰ / (4·SMSS), below 2^32 · 2.5·10⁹ < 2^64.
            let num = u64::from(self.w_max - self.cwnd) * 2_500_000_000 / u64::from(smss.max(1));
            self.k_ms = u32::try_from(cbrt_u64(num)).unwrap_or(u32::MAX);
            self.origin = self.w_max;
        } else {
            self.k_ms = 0;
            self.origin = self.cwnd;
        }
        self.w_est_fp = split(u64::from(self.cwnd) << 16);
        self.carry = 0;
    }
}

/// The largest `d` whose cube fits a `u64`: cbrt(2^64 − 1) = 2 642 245.9.
const D_MAX_MS: u64 = 2_642_245;

/// C·d³ in bytes for `d` milliseconds: SMSS·d³·4/10¹⁰, as d³/(2.5·10⁶) thousandths of a
/// segment (below 2^43) times SMSS/1000.
fn cubic_term(d_ms: u64, smss: u32) -> u64 {
    let d = d_ms.min(D_MAX_MS);
    let milli_segments = d * d * d / 2_500_000;
    milli_segments * u64::from(smss) / 1000
}

/// Integer cube root (floor), bit by bit (three bits of `n` per bit of the root).
fn cbrt_u64(n: u64) -> u64 {
    let (mut rest, mut root) = (n, 0u64);
    let mut shift = 63;
    loop {
        root *= 2;
        // (root + 1)³ − root³ for the doubled root, at this bit position.
        let step = 3 * root * (root + 1) + 1;
        if rest >> shift >= step {
            rest -= step << shift;
            root += 1;
        }
        if shift == 0 {
            return root;
        }
        shift -= 3;
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }
    fn on_ack(&mut self, ev: &AckEvent) {
        let smss = ev.smss.max(1);
        if self.cwnd < self.ssthresh {
            self.cwnd = super::newreno::slow_start(self.cwnd, ev);
            return;
        }
        let start = match self.epoch_start() {
            Some(s) => s,
            None => {
                self.start_epoch(ev.now, smss);
                ev.now
            }
        };
        let t_ms = ev.now.saturating_duration_since(start).total_millis();
        let rtt_ms = ev.srtt.map_or(0, |r| r.total_millis());
        let cwnd = u64::from(self.cwnd);
        // Target: W_cubic(t + RTT), kept within [cwnd, 1.5·cwnd] (§4.2).
        let target = self
            .w_cubic(t_ms + rtt_ms, smss)
            .clamp(cwnd, cwnd + cwnd / 2);
        // Reno-friendly estimate (§4.3): W_est += α·(acked/cwnd) segments.
        // Saturating: a jumbo SMSS times a gigabyte acknowledged at once would overflow.
        let inc_fp = ((ALPHA_NUM << 16) * u64::from(ev.acked)).saturating_mul(u64::from(smss))
            / (ALPHA_DEN * cwnd.max(1));
        let w_est_fp = join(self.w_est_fp).saturating_add(inc_fp);
        self.w_est_fp = split(w_est_fp);
        let w_est = w_est_fp >> 16;
        if self.w_cubic(t_ms, smss) < w_est {
            // Reno-friendly region: follow W_est.
            if w_est > cwnd {
                self.cwnd = u32::try_from(w_est).unwrap_or(u32::MAX);
            }
            return;
        }
        // Concave and convex regions (§4.4–4.5): (target − cwnd)/cwnd per SMSS acked.
        let num = (target - cwnd) * u64::from(ev.acked) + u64::from(self.carry);
        let grow = num / cwnd.max(1);
        // Below cwnd, a u32.
        self.carry = u32::try_from(num % cwnd.max(1)).unwrap_or(u32::MAX);
        self.cwnd = u32::try_from(cwnd + grow).unwrap_or(u32::MAX);
    }
    fn on_congestion(&mut self, _flight: u32, smss: u32) {
        let cwnd = u64::from(self.cwnd);
        // Fast convergence (§4.7). Both are at most cwnd, a u32.
        let w_max = if cwnd < u64::from(self.w_max) {
            cwnd * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN)
        } else {
            cwnd
        };
        self.w_max = u32::try_from(w_max).unwrap_or(u32::MAX);
        let reduced = (cwnd * BETA_NUM / BETA_DEN).max(2 * u64::from(smss));
        self.ssthresh = u32::try_from(reduced).unwrap_or(u32::MAX);
        self.cwnd = self.ssthresh;
        self.set_epoch_start(None);
        self.bytes_acked = 0;
    }
    fn on_recovery_end(&mut self, _flight: u32, _smss: u32) {
        self.cwnd = self.ssthresh;
    }
    fn on_timeout(&mut self, flight: u32, smss: u32) {
        // §4.8: the same reduction, then slow start from one segment.
        self.on_congestion(flight, smss);
        self.cwnd = smss;
    }
    fn on_idle_restart(&mut self, initial_window: u32) {
        self.cwnd = self.cwnd.min(initial_window);
        self.set_epoch_start(None);
    }
    fn on_spurious_congestion(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        // As Linux's CUBIC: the window back, W_max as the reduction left it; a new epoch
        // starts from the restored window.
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
        self.set_epoch_start(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn cube_root() {
        assert_eq!(cbrt_u64(0), 0);
        assert_eq!(cbrt_u64(1), 1);
        assert_eq!(cbrt_u64(7), 1);
        assert_eq!(cbrt_u64(8), 2);
        assert_eq!(cbrt_u64(26), 2);
        assert_eq!(cbrt_u64(27), 3);
        assert_eq!(cbrt_u64(1_000_000_000_000_000_000), 1_000_000);
        assert_eq!(cbrt_u64(u64::MAX), D_MAX_MS);
        // Against the definition, around cubes and at random points.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for n in [x, x >> 20, x >> 40, x >> 58] {
                let r = cbrt_u64(n);
                assert!(r * r * r <= n, "{n}");
                let r1 = r + 1;
                assert!(
                    r1.checked_mul(r1)
                        .and_then(|v| v.checked_mul(r1))
                        .is_none_or(|c| c > n),
                    "{n}"
                );
            }
        }
    }

    #[test]
    fn cubic_term_is_exact_to_a_thousandth_of_a_segment() {
        for (d, smss) in [
            (0, 1460),
            (1, 1460),
            (4217, 1000),
            (100_000, 9000),
            (D_MAX_MS, 65_535),
        ] {
            let exact = u128::from(d) * u128::from(d) * u128::from(d) * u128::from(smss) * 4
                / 10_000_000_000;
            let got = u128::from(cubic_term(d, smss));
            assert!(
                got <= exact && exact - got <= u128::from(smss) / 1000 + 1,
                "{d} {smss}"
            );
        }
        // Beyond the cap the term stops growing instead of overflowing.
        assert_eq!(cubic_term(u64::MAX, 1460), cubic_term(D_MAX_MS, 1460));
    }

    #[test]
    fn k_matches_rfc_formula() {
        // W_max = 100 segments, cwnd = 70 after the cut: K = cbrt(30 / 0.4) = 4.217 s.
        let smss = 1000;
        let mut c = Cubic::new(10 * smss);
        c.cwnd = 100 * smss;
        c.on_congestion(100 * smss, smss);
        assert_eq!(c.cwnd(), 70 * smss);
        c.start_epoch(Instant::ZERO, smss);
        assert!(
            (4216..=4218).contains(&c.k_millis()),
            "K = {} ms",
            c.k_millis()
        );
        // At t = K the curve reaches W_max; at t = 0 it equals the reduced window.
        assert!(c.w_cubic(c.k_millis(), smss).abs_diff(100_000) < 10);
        assert!(c.w_cubic(0, smss).abs_diff(70_000) < 100);
    }

    #[test]
    fn growth_trace_follows_the_cubic_function() {
        // An ACK clock at RTT 100 ms, one ACK per segment, after a loss at 100 segments.
        let smss = 1000u32;
        let rtt = Duration::from_millis(100);
        let mut c = Cubic::new(10 * smss);
        c.cwnd = 100 * smss;
        c.on_congestion(100 * smss, smss);
        let mut now = Instant::ZERO;
        let mut worst = 0f64;
        for _round in 0..80 {
            let segs = c.cwnd() / smss;
            for _ in 0..segs {
                c.on_ack(&AckEvent {
                    now,
                    acked: smss,
                    smss,
                    flight: c.cwnd(),
                    srtt: Some(rtt),
                    delivered: smss,
                    rtt: Some(rtt),
                    app_limited: false,
                });
            }
            now += rtt;
            let t = now.total_millis();
            // The window after a round should sit near W_cubic(t) (it targets t + RTT one
            // round ahead, so compare with the curve at t).
            let expect = c.w_cubic(t, smss) as f64;
            let got = f64::from(c.cwnd());
            let err = (got - expect).abs() / expect;
            if t > 500 {
                worst = worst.max(err);
            }
        }
        assert!(
            worst < 0.06,
            "largest deviation from W_cubic: {:.1}%",
            worst * 100.0
        );
        // After ~8 s the window is well past W_max (convex region).
        assert!(c.cwnd() > 100 * smss);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut c = Cubic::new(10_000);
        c.cwnd = 100_000;
        c.on_congestion(0, 1000);
        assert_eq!(c.w_max(), 100_000);
        c.cwnd = 80_000; // a second loss before reaching the old maximum
        c.on_congestion(0, 1000);
        assert_eq!(c.w_max(), 68_000); // 80 000 * (1 + 0.7) / 2
    }

    #[test]
    fn timeout_restarts_from_one_segment() {
        let mut c = Cubic::new(10_000);
        c.cwnd = 50_000;
        c.on_timeout(50_000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 35_000));
    }
}
