//! A model-based controller in the manner of BBR (draft-cardwell-iccrg-bbr-congestion-control,
//! version 1), without pacing: the stack has no pacing timer, so the model sets only the
//! congestion window, `cwnd ≈ gain × BtlBw × RTprop`.
//!
//! - **Delivery rate.** The connection reports, with every ACK, the bytes it newly
//!   delivered (cumulatively acknowledged or SACKed, [`AckEvent::delivered`]). The
//!   controller sums them over a *round*, a span of at least RTprop (1 ms at least), and takes
//!   `delivered / elapsed` as the round's sample. This is the interval of
//!   draft-cheng-iccrg-delivery-rate-estimation measured on the ACK side only: no state
//!   per segment, at the price of one sample per round instead of one per ACK. A round
//!   during which the sender ran out of data ([`AckEvent::app_limited`]) only counts if
//!   it raises the estimate.
//! - **BtlBw** is a windowed maximum of the samples over the last [`BW_ROUNDS`] rounds
//!   (three-entry running max); **RTprop** a minimum of the RTT samples, kept for
//!   [`MIN_RTT_WINDOW_US`].
//! - **Phases.** Startup doubles the window each round (`cwnd` grows by what is
//!   delivered while below 2.89 × BDP) until the bandwidth stops growing by a quarter
//!   for three rounds; Drain holds `cwnd` at one BDP until the flight fits it; ProbeBw
//!   cycles the gain 2 × {5/4, 3/4, 1, 1, 1, 1, 1, 1} per round; ProbeRtt drops to four
//!   segments for 200 ms when RTprop has not been refreshed for ten seconds.
//!
//! **Loss.** A loss detected by SACK, RACK or duplicate ACKs does not cut the window:
//! the retransmission still happens (the connection's RFC 6675/RACK recovery runs under
//! this `cwnd`), but the rate stays that of the model, so random loss does not shrink it.
//! Congestion still bounds it: the flight never exceeds twice the measured BDP (plus
//! three segments), so a full bottleneck queue is at most one BDP deep; when competing
//! traffic takes a share of the bottleneck, the delivery rate falls and the windowed
//! maximum follows within ten rounds. A retransmission timeout collapses the window to
//! one segment (the model then regrows it by what is delivered, doubling per round up
//! to the target), so a path that stops answering is not flooded.

use super::{AckEvent, CongestionControl};

/// Startup's gain 2/ln 2 ≈ 2.89, in 1/256.
const HIGH_GAIN: u32 = 739;
/// Unity gain in 1/256.
const UNIT: u32 = 256;
/// ProbeBw's window gain 2 (in 1/256), multiplied by the cycle's phase gain.
const CWND_GAIN: u32 = 512;
/// The pacing gain cycle of ProbeBw (in 1/256), applied here to the window.
const CYCLE: [u32; 8] = [320, 192, 256, 256, 256, 256, 256, 256];
/// Rounds the bandwidth maximum is kept.
pub const BW_ROUNDS: u32 = 10;
/// How long an RTprop sample stays valid, microseconds (10 s).
pub const MIN_RTT_WINDOW_US: u32 = 10_000_000;
/// Time spent in ProbeRtt, microseconds (200 ms).
const PROBE_RTT_US: u32 = 200_000;
/// Segments kept in flight during ProbeRtt, and the floor of the window.
const MIN_SEGMENTS: u32 = 4;
/// Rounds without 25 % bandwidth growth that end Startup.
const FULL_BW_ROUNDS: u8 = 3;
/// The shortest round, microseconds: below a millisecond the ACKs of one round are too
/// few (and a poll loop's jitter too large) for a rate.
const MIN_ROUND_US: u32 = 1_000;

/// The phase of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Exponential growth until the bandwidth stops growing.
    Startup,
    /// Drain the queue Startup built: one BDP until the flight fits.
    Drain,
    /// Steady state at the measured bandwidth, probing up and down each cycle.
    ProbeBw,
    /// A few segments in flight for 200 ms to measure the propagation RTT again.
    ProbeRtt,
}

/// One entry of the windowed maximum: a rate (bytes/s) and the round it was seen in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct BwEntry {
    rate: u32,
    round: u32,
}

/// The BBR controller (cargo feature `bbr`).
///
/// ```
/// use tidytcp::tcp::cc::{AckEvent, Bbr, CongestionControl};
/// use tidytcp::{Duration, Instant};
/// let mut c = Bbr::new(14_600);
/// let ev = AckEvent {
///     now: Instant::from_millis(10),
///     acked: 1460,
///     smss: 1460,
///     flight: 14_600,
///     srtt: Some(Duration::from_millis(10)),
///     delivered: 1460,
///     rtt: Some(Duration::from_millis(10)),
///     app_limited: false,
/// };
/// c.on_delivery(&ev);
/// assert_eq!(c.cwnd(), 16_060); // Startup: grows by what was delivered
/// c.on_congestion(16_060, 1460); // a random loss does not cut the window
/// assert_eq!(c.cwnd(), 16_060);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bbr {
    cwnd: u32,
    /// The window before the last timeout, for an undo.
    prior_cwnd: u32,
    /// Windowed maximum of the delivery rate: best, second best, third best.
    bw: [BwEntry; 3],
    /// RTprop in microseconds (`u32::MAX` before the first sample).
    min_rtt_us: u32,
    /// When RTprop was last set (microseconds, wrapping).
    min_rtt_stamp: u32,
    /// Rounds counted so far.
    round: u32,
    /// Start of the current round (microseconds, wrapping).
    round_start: u32,
    /// Bytes delivered in the current round.
    round_delivered: u32,
    /// The bandwidth Startup last saw grow by a quarter (bytes/s).
    full_bw: u32,
    /// When ProbeRtt ends (microseconds, wrapping).
    probe_rtt_end: u32,
    phase: Phase,
    /// Rounds without growth in Startup.
    full_bw_count: u8,
    /// Index into [`CYCLE`].
    cycle: u8,
    /// A round is running (its start is set).
    round_open: bool,
    /// The sender ran out of data during the current round.
    round_app_limited: bool,
}

/// Microseconds of `ev.now`, wrapping at 2^32 (71 minutes): only differences are used.
fn stamp(ev: &AckEvent) -> u32 {
    ev.now.total_micros() as u32
}

impl Bbr {
    /// Starts in Startup at `initial_window`.
    pub fn new(initial_window: u32) -> Self {
        Bbr {
            cwnd: initial_window,
            prior_cwnd: initial_window,
            bw: [BwEntry::default(); 3],
            min_rtt_us: u32::MAX,
            min_rtt_stamp: 0,
            round: 0,
            round_start: 0,
            round_delivered: 0,
            full_bw: 0,
            probe_rtt_end: 0,
            phase: Phase::Startup,
            full_bw_count: 0,
            cycle: 0,
            round_open: false,
            round_app_limited: false,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// BtlBw, the windowed maximum delivery rate in bytes per second (0 before the first
    /// round ends).
    pub fn bandwidth(&self) -> u32 {
        self.bw[0].rate
    }

    /// RTprop in microseconds, once measured.
    pub fn min_rtt_micros(&self) -> Option<u32> {
        (self.min_rtt_us != u32::MAX).then_some(self.min_rtt_us)
    }

    /// Rounds counted so far.
    pub fn rounds(&self) -> u32 {
        self.round
    }

    /// The bandwidth-delay product in bytes, once both are measured. RTprop counts as
    /// at least a millisecond, the shortest round: below that the host's polling and
    /// the ACKs it batches (Linux's aggregation allowance in its BBR) set the window,
    /// not the path.
    pub fn bdp(&self) -> Option<u32> {
        let rtt = self.min_rtt_micros()?.max(MIN_ROUND_US);
        if self.bw[0].rate == 0 {
            return None;
        }
        let bdp = u64::from(self.bw[0].rate) * u64::from(rtt) / 1_000_000;
        Some(u32::try_from(bdp).unwrap_or(u32::MAX))
    }

    /// The window the model aims at: `gain` (in 1/256) × BDP, plus three segments for
    /// delayed and stretched ACKs above unity gain, at least [`MIN_SEGMENTS`].
    fn target(&self, gain: u32, smss: u32) -> Option<u32> {
        let bdp = u64::from(self.bdp()?);
        let extra = if gain > UNIT { 3 * u64::from(smss) } else { 0 };
        let t = bdp * u64::from(gain) / u64::from(UNIT) + extra;
        Some(
            u32::try_from(t)
                .unwrap_or(u32::MAX)
                .max(MIN_SEGMENTS.saturating_mul(smss)),
        )
    }

    /// The window gain of the current phase (1/256).
    fn cwnd_gain(&self) -> u32 {
        match self.phase {
            Phase::Startup => HIGH_GAIN,
            Phase::Drain => UNIT,
            Phase::ProbeBw => CWND_GAIN * CYCLE[usize::from(self.cycle) % CYCLE.len()] / UNIT,
            Phase::ProbeRtt => 0,
        }
    }

    /// An RTT sample into RTprop; an expired RTprop starts ProbeRtt.
    fn update_min_rtt(&mut self, ev: &AckEvent) {
        let now = stamp(ev);
        let expired = now.wrapping_sub(self.min_rtt_stamp) > MIN_RTT_WINDOW_US;
        if let Some(rtt) = ev.rtt {
            let us = u32::try_from(rtt.total_micros()).unwrap_or(u32::MAX).max(1);
            if us <= self.min_rtt_us || expired {
                self.min_rtt_us = us;
                self.min_rtt_stamp = now;
            }
        }
        if expired && self.min_rtt_us != u32::MAX && self.phase != Phase::ProbeRtt {
            self.phase = Phase::ProbeRtt;
            self.prior_cwnd = self.cwnd;
            self.probe_rtt_end = now.wrapping_add(PROBE_RTT_US);
        }
    }

    /// Adds the delivered bytes to the round; at the round's end, the rate sample.
    /// Returns, if a round ended, whether it was application-limited.
    fn update_round(&mut self, ev: &AckEvent) -> Option<bool> {
        let now = stamp(ev);
        if !self.round_open {
            self.round_open = true;
            self.round_start = now;
            self.round_delivered = 0;
            self.round_app_limited = ev.app_limited;
            return None;
        }
        self.round_delivered = self.round_delivered.saturating_add(ev.delivered);
        self.round_app_limited |= ev.app_limited;
        // RTprop, not the smoothed RTT: the queue the window builds would stretch a
        // round as fast as it runs.
        let srtt = ev.srtt.map_or(0, |d| d.total_micros());
        let len = self
            .min_rtt_micros()
            .unwrap_or(u32::try_from(srtt).unwrap_or(u32::MAX))
            .max(MIN_ROUND_US);
        let elapsed = now.wrapping_sub(self.round_start);
        if elapsed < len {
            return None;
        }
        let rate = u64::from(self.round_delivered) * 1_000_000 / u64::from(elapsed.max(1));
        let rate = u32::try_from(rate).unwrap_or(u32::MAX);
        let app_limited = self.round_app_limited;
        self.round = self.round.wrapping_add(1);
        if !app_limited || rate >= self.bw[0].rate {
            self.bw_sample(rate);
        }
        self.round_start = now;
        self.round_delivered = 0;
        self.round_app_limited = ev.app_limited;
        Some(app_limited)
    }

    /// A round's rate into the windowed maximum (Kathleen Nichols' running max: the
    /// best, second and third best of the window, each younger than the one before).
    fn bw_sample(&mut self, rate: u32) {
        let e = BwEntry {
            rate,
            round: self.round,
        };
        let age = |x: BwEntry| self.round.wrapping_sub(x.round);
        if rate >= self.bw[0].rate || age(self.bw[2]) > BW_ROUNDS {
            self.bw = [e; 3];
            return;
        }
        if rate >= self.bw[1].rate {
            self.bw[1] = e;
            self.bw[2] = e;
        } else if rate >= self.bw[2].rate {
            self.bw[2] = e;
        }
        // Expire the best once it leaves the window; the others move up.
        if age(self.bw[0]) > BW_ROUNDS {
            self.bw = [self.bw[1], self.bw[2], e];
            if age(self.bw[0]) > BW_ROUNDS {
                self.bw = [self.bw[1], e, e];
            }
        } else if self.bw[1] == self.bw[0] && age(self.bw[1]) > BW_ROUNDS / 4 {
            // A quarter of the window without a second best: take this one.
            self.bw[1] = e;
            self.bw[2] = e;
        } else if self.bw[2] == self.bw[1] && age(self.bw[2]) > BW_ROUNDS / 2 {
            self.bw[2] = e;
        }
    }

    /// The phase transitions that happen at the end of a round, and ProbeRtt's exit.
    /// `round_end`: `Some(app_limited)` when a round ended with this ACK.
    fn update_phase(&mut self, ev: &AckEvent, round_end: Option<bool>) {
        let smss = ev.smss.max(1);
        match self.phase {
            Phase::Startup if round_end == Some(false) => {
                let bw = self.bw[0].rate;
                if u64::from(bw) * 4 >= u64::from(self.full_bw) * 5 {
                    self.full_bw = bw;
                    self.full_bw_count = 0;
                } else {
                    self.full_bw_count = self.full_bw_count.saturating_add(1);
                    if self.full_bw_count >= FULL_BW_ROUNDS {
                        self.phase = Phase::Drain;
                    }
                }
            }
            Phase::Drain if self.target(UNIT, smss).is_some_and(|t| ev.flight <= t) => {
                self.enter_probe_bw();
            }
            Phase::ProbeBw if round_end.is_some() => {
                self.cycle = (self.cycle + 1) % CYCLE.len() as u8;
            }
            Phase::ProbeRtt => {
                self.cwnd = self.cwnd.min(MIN_SEGMENTS.saturating_mul(smss));
                if (stamp(ev).wrapping_sub(self.probe_rtt_end) as i32) >= 0 {
                    self.min_rtt_stamp = stamp(ev);
                    self.cwnd = self.cwnd.max(self.prior_cwnd);
                    if self.full_bw_count >= FULL_BW_ROUNDS {
                        self.enter_probe_bw();
                    } else {
                        self.phase = Phase::Startup;
                    }
                }
            }
            _ => {}
        }
    }

    fn enter_probe_bw(&mut self) {
        self.phase = Phase::ProbeBw;
        // Start after the probing phase, as the draft does when it picks at random
        // among the others; deterministic here.
        self.cycle = 2;
    }

    /// The window step: grow by what was delivered, up to the model's target.
    fn update_cwnd(&mut self, ev: &AckEvent) {
        if self.phase == Phase::ProbeRtt {
            return;
        }
        let smss = ev.smss.max(1);
        let grown = self.cwnd.saturating_add(ev.delivered);
        self.cwnd = match self.target(self.cwnd_gain(), smss) {
            None => grown,
            Some(t) if self.phase == Phase::Startup => {
                if self.cwnd < t {
                    grown
                } else {
                    self.cwnd
                }
            }
            Some(t) => grown.min(t),
        }
        .max(MIN_SEGMENTS.saturating_mul(smss));
    }
}

impl CongestionControl for Bbr {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        // Not used by the model; loss recovery reads it as "no reduction".
        if self.phase == Phase::Startup {
            u32::MAX
        } else {
            self.cwnd
        }
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }
    fn on_ack(&mut self, _ev: &AckEvent) {
        // Everything happens in `on_delivery`, which sees every ACK.
    }
    fn on_delivery(&mut self, ev: &AckEvent) {
        self.update_min_rtt(ev);
        let round_end = self.update_round(ev);
        self.update_phase(ev, round_end);
        self.update_cwnd(ev);
    }
    fn on_congestion(&mut self, _flight: u32, _smss: u32) {
        // Random loss is not a signal for the model: keep the window.
    }
    fn on_recovery_end(&mut self, _flight: u32, _smss: u32) {}
    fn on_timeout(&mut self, _flight: u32, smss: u32) {
        self.prior_cwnd = self.cwnd;
        self.cwnd = smss;
    }
    fn on_idle_restart(&mut self, initial_window: u32) {
        // No pacing: a whole window at once after idle would be a burst.
        self.cwnd = self.cwnd.min(initial_window);
    }
    fn on_spurious_congestion(&mut self, prior_cwnd: u32, _prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Duration, Instant};

    const SMSS: u32 = 1000;

    /// Drives `c` over a link that delivers `per_ms` bytes each millisecond with a
    /// propagation RTT of `rtt_ms`, for `ms` milliseconds from `*now`: one ACK per
    /// millisecond, each with an RTT sample of `rtt_ms` plus the queue the window builds.
    fn drive(c: &mut Bbr, now: &mut Instant, ms: u64, per_ms: u32, rtt_ms: u64, app_limited: bool) {
        for _ in 0..ms {
            *now += Duration::from_millis(1);
            let bdp = per_ms * rtt_ms as u32;
            let queue_ms = u64::from(c.cwnd().saturating_sub(bdp) / per_ms.max(1));
            let rtt = Duration::from_millis(rtt_ms + queue_ms);
            c.on_delivery(&AckEvent {
                now: *now,
                acked: per_ms,
                smss: SMSS,
                flight: c.cwnd(),
                srtt: Some(rtt),
                delivered: per_ms,
                rtt: Some(rtt),
                app_limited,
            });
        }
    }

    #[test]
    fn startup_grows_by_delivered_and_ignores_random_loss() {
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 3, SMSS, 10, false);
        assert_eq!(c.phase(), Phase::Startup);
        assert_eq!(c.cwnd(), 13 * SMSS);
        c.on_congestion(13 * SMSS, SMSS);
        assert_eq!(c.cwnd(), 13 * SMSS);
        c.on_recovery_end(13 * SMSS, SMSS);
        assert_eq!(c.cwnd(), 13 * SMSS);
    }

    #[test]
    fn converges_to_twice_the_bdp() {
        // 100 kB/s (100 bytes per ms... in 1000-byte segments: one segment per ms), RTT
        // 20 ms: BDP 20 segments.
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 2_000, SMSS, 20, false);
        assert_eq!(c.phase(), Phase::ProbeBw);
        assert_eq!(c.min_rtt_micros(), Some(20_000));
        let bw = c.bandwidth();
        assert!((950_000..=1_050_000).contains(&bw), "bandwidth {bw}");
        let bdp = c.bdp().unwrap();
        assert!((19 * SMSS..=21 * SMSS).contains(&bdp), "bdp {bdp}");
        // 2 x BDP + 3 segments, within the cycle's 3/4 .. 5/4.
        let w = c.cwnd();
        assert!((15 * SMSS..=55 * SMSS).contains(&w), "cwnd {w}");
    }

    #[test]
    fn bandwidth_maximum_expires_when_the_path_slows() {
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 2_000, 4 * SMSS, 5, false);
        let fast = c.bandwidth();
        assert!(fast >= 3_800_000, "bandwidth {fast}");
        // Competing traffic takes three quarters of the bottleneck.
        drive(&mut c, &mut now, 2_000, SMSS, 5, false);
        let slow = c.bandwidth();
        assert!(slow <= 1_100_000, "bandwidth {slow}");
        assert!(
            c.cwnd() <= 2 * 5 * SMSS * 5 / 4 + 3 * SMSS + SMSS,
            "cwnd {}",
            c.cwnd()
        );
    }

    #[test]
    fn app_limited_rounds_do_not_lower_the_estimate() {
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 1_000, 2 * SMSS, 10, false);
        let bw = c.bandwidth();
        drive(&mut c, &mut now, 1_000, SMSS / 10, 10, true);
        assert_eq!(c.bandwidth(), bw);
    }

    #[test]
    fn timeout_collapses_and_the_model_regrows() {
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 1_000, SMSS, 10, false);
        let before = c.cwnd();
        c.on_timeout(before, SMSS);
        assert_eq!(c.cwnd(), SMSS);
        drive(&mut c, &mut now, 1, SMSS, 10, false);
        assert_eq!(c.cwnd(), MIN_SEGMENTS * SMSS, "the floor of four segments");
        drive(&mut c, &mut now, 100, SMSS, 10, false);
        assert!(c.cwnd() >= before * 3 / 4, "{} vs {before}", c.cwnd());
        // A spurious timeout gives the window back.
        c.on_timeout(c.cwnd(), SMSS);
        c.on_spurious_congestion(before, before);
        assert_eq!(c.cwnd(), before);
    }

    #[test]
    fn probe_rtt_after_ten_seconds_without_a_lower_rtt() {
        let mut c = Bbr::new(10 * SMSS);
        let mut now = Instant::ZERO;
        drive(&mut c, &mut now, 1_000, SMSS, 10, false);
        let steady = c.cwnd();
        let mut saw_probe = false;
        for _ in 0..12_000 {
            drive(&mut c, &mut now, 1, SMSS, 10, false);
            if c.phase() == Phase::ProbeRtt {
                saw_probe = true;
                assert!(c.cwnd() <= MIN_SEGMENTS * SMSS);
            }
        }
        assert!(saw_probe);
        assert_eq!(c.phase(), Phase::ProbeBw);
        assert!(c.cwnd() >= steady / 2, "{} vs {steady}", c.cwnd());
    }

    #[test]
    fn running_max_keeps_the_best_of_the_window() {
        let mut c = Bbr::new(10 * SMSS);
        let sample = |c: &mut Bbr, rate| {
            c.round += 1;
            c.bw_sample(rate);
            c.bandwidth()
        };
        assert_eq!(sample(&mut c, 900), 900);
        for _ in 2..=11 {
            assert_eq!(sample(&mut c, 700), 900);
        }
        // Round 12: the 900 of round 1 leaves the window of ten rounds.
        assert_eq!(sample(&mut c, 700), 700);
        let mut last = 0;
        for _ in 13..=30 {
            last = sample(&mut c, 100);
        }
        assert_eq!(last, 100);
    }

    #[test]
    fn no_panic_on_extremes() {
        let mut c = Bbr::new(0);
        let ev = AckEvent {
            now: Instant::from_micros(u64::MAX / 2),
            acked: u32::MAX,
            smss: 0,
            flight: u32::MAX,
            srtt: Some(Duration::MAX),
            delivered: u32::MAX,
            rtt: Some(Duration::ZERO),
            app_limited: false,
        };
        for smss in [0, u32::MAX] {
            c.on_delivery(&AckEvent { smss, ..ev });
            c.on_timeout(0, smss);
        }
        for _ in 0..50 {
            c.on_delivery(&ev);
            c.on_timeout(u32::MAX, 0);
            c.on_idle_restart(0);
        }
        let _ = c.bdp();
    }
}
