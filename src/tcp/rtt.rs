//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §2: the stack's clock has microseconds, but RTT samples
/// below a millisecond are noise at the level of a poll loop.
const GRANULARITY: Duration = Duration::from_millis(1);

/// SRTT, RTTVAR and RTO of one connection, with the exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    /// Smoothed RTT in microseconds (0 until the first sample).
    srtt: u32,
    /// RTT variation in microseconds.
    rttvar: u32,
    /// Base RTO (before backoff), microseconds.
    rto: u32,
    /// Number of consecutive timeouts: the RTO in use is `rto << backoff`.
    backoff: u8,
    /// A sample has been taken.
    measured: bool,
}

impl RttEstimator {
    /// Before any sample: RTO = `initial` (1 s, RFC 6298 §2.1).
    pub fn new(initial: Duration) -> Self {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            rto: clamp_us(initial),
            backoff: 0,
            measured: false,
        }
    }

    /// Takes a sample `r` (RFC 6298 §2.2–2.3), then clamps RTO to `[min, max]`.
    pub fn sample(&mut self, r: Duration, min: Duration, max: Duration) {
        let r = clamp_us(r).max(1);
        if !self.measured {
            self.srtt = r;
            self.rttvar = r / 2;
            self.measured = true;
        } else {
            let delta = self.srtt.abs_diff(r);
            // RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|
            self.rttvar = self.rttvar - self.rttvar / 4 + delta / 4;
            // SRTT <- (1 - 1/8) * SRTT + 1/8 * R'
            self.srtt = self.srtt - self.srtt / 8 + r / 8;
        }
        let k_rttvar = self.rttvar.saturating_mul(4).max(clamp_us(GRANULARITY));
        let rto = self.srtt.saturating_add(k_rttvar);
        self.rto = rto.clamp(clamp_us(min), clamp_us(max).max(clamp_us(min)));
    }

    /// The timer expired: double the RTO (RFC 6298 §5.5).
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1).min(16);
    }

    /// New data was acknowledged: drop the backoff.
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// The timeout to arm now: base RTO times 2^backoff, at most `max`.
    pub fn rto(&self, max: Duration) -> Duration {
        let us = u64::from(self.rto) << self.backoff;
        Duration::from_micros(us.min(max.total_micros()))
    }

    /// Smoothed RTT, if measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.measured
            .then(|| Duration::from_micros(u64::from(self.srtt)))
    }

    /// RTT variation, if measured.
    pub fn rttvar(&self) -> Option<Duration> {
        self.measured
            .then(|| Duration::from_micros(u64::from(self.rttvar)))
    }
}

fn clamp_us(d: Duration) -> u32 {
    u32::try_from(d.total_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn first_sample_sets_srtt_and_rttvar() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        assert_eq!(e.rto(MAX), Duration::from_secs(1));
        e.sample(Duration::from_millis(100), MIN, MAX);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Some(Duration::from_millis(50)));
        // RTO = SRTT + 4 * RTTVAR = 300 ms.
        assert_eq!(e.rto(MAX), Duration::from_millis(300));
    }

    #[test]
    fn subsequent_samples_smooth() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        e.sample(Duration::from_millis(100), MIN, MAX);
        e.sample(Duration::from_millis(200), MIN, MAX);
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms.
        assert_eq!(e.rttvar(), Some(Duration::from_micros(62_500)));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(MAX), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn minimum_and_backoff() {
        let mut e = RttEstimator::new(Duration::from_secs(1));
        e.sample(Duration::from_millis(1), MIN, MAX);
        assert_eq!(e.rto(MAX), MIN);
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(MAX), Duration::from_millis(800));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(MAX), MAX);
        e.reset_backoff();
        assert_eq!(e.rto(MAX), MIN);
    }
}
