//! NewReno window management (RFC 5681 §3.1, RFC 3465, RFC 6582 §3.2 step 3).

use super::{AckEvent, CongestionControl};

/// The ABC limit L of RFC 3465 §2.2: at most two segments' worth of growth per ACK in slow
/// start.
const ABC_L: u32 = 2;

/// Slow start with Appropriate Byte Counting (RFC 3465 §2.2, RFC 5681 §3.1; CUBIC's slow
/// start is the same, RFC 9438 §4.10): `cwnd` grows by the bytes acknowledged, at most
/// L·SMSS per ACK.
pub(super) fn slow_start(cwnd: u32, ev: &AckEvent) -> u32 {
    cwnd.saturating_add(ev.acked.min(ABC_L * ev.smss.max(1)))
}

/// NewReno: slow start and congestion avoidance by bytes acknowledged.
///
/// ```
/// use tidytcp::tcp::cc::{AckEvent, CongestionControl, NewReno};
/// use tidytcp::Instant;
/// let mut c = NewReno::new(14_600);
/// let ev = |acked| AckEvent {
///     now: Instant::ZERO,
///     acked,
///     smss: 1460,
///     flight: 14_600,
///     srtt: None,
///     delivered: acked,
///     rtt: None,
///     app_limited: false,
/// };
/// c.on_ack(&ev(1460)); // slow start: +1 SMSS per SMSS acknowledged
/// assert_eq!(c.cwnd(), 16_060);
/// c.on_congestion(16_060, 1460); // ssthresh = flight / 2
/// assert_eq!(c.ssthresh(), 8_030);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 §2.1).
    bytes_acked: u32,
}

impl NewReno {
    /// Starts at `initial_window` with an "arbitrarily high" ssthresh (RFC 5681 §3.1).
    pub fn new(initial_window: u32) -> Self {
        NewReno {
            cwnd: initial_window,
            ssthresh: u32::MAX,
            bytes_acked: 0,
        }
    }
}

/// RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS).
pub(crate) fn half_flight(flight: u32, smss: u32) -> u32 {
    (flight / 2).max(2 * smss)
}

impl CongestionControl for NewReno {
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
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start(self.cwnd, ev);
            self.bytes_acked = 0;
        } else {
            // Congestion avoidance: one SMSS per cwnd of bytes acknowledged.
            self.bytes_acked = self.bytes_acked.saturating_add(ev.acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(ev.smss);
            }
        }
    }
    fn on_congestion(&mut self, flight: u32, smss: u32) {
        self.ssthresh = half_flight(flight, smss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }
    fn on_recovery_end(&mut self, flight: u32, smss: u32) {
        // RFC 6582 §3.2 step 3, option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight.max(smss) + smss);
        self.bytes_acked = 0;
    }
    fn on_timeout(&mut self, flight: u32, smss: u32) {
        self.ssthresh = half_flight(flight, smss);
        self.cwnd = smss;
        self.bytes_acked = 0;
    }
    fn on_idle_restart(&mut self, initial_window: u32) {
        self.cwnd = self.cwnd.min(initial_window);
        self.bytes_acked = 0;
    }
    fn on_spurious_congestion(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn ack(c: &mut NewReno, acked: u32) {
        c.on_ack(&AckEvent {
            now: Instant::ZERO,
            acked,
            smss: 1000,
            flight: c.cwnd,
            srtt: None,
            delivered: acked,
            rtt: None,
            app_limited: false,
        });
    }

    #[test]
    fn slow_start_is_byte_counted_and_limited() {
        let mut c = NewReno::new(4000);
        ack(&mut c, 1000);
        assert_eq!(c.cwnd(), 5000);
        // A stretch ACK of five segments grows by at most L = 2 segments.
        ack(&mut c, 5000);
        assert_eq!(c.cwnd(), 7000);
    }

    #[test]
    fn congestion_avoidance_one_segment_per_window() {
        let mut c = NewReno::new(4000);
        c.on_congestion(8000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (4000, 4000));
        for _ in 0..3 {
            ack(&mut c, 1000);
        }
        assert_eq!(c.cwnd(), 4000);
        ack(&mut c, 1000);
        assert_eq!(c.cwnd(), 5000);
    }

    #[test]
    fn timeout_collapses_to_one_segment() {
        let mut c = NewReno::new(10_000);
        c.on_timeout(10_000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 5000));
        // ssthresh never below two segments.
        c.on_timeout(1000, 1000);
        assert_eq!(c.ssthresh(), 2000);
    }

    #[test]
    fn recovery_end_deflates() {
        let mut c = NewReno::new(10_000);
        c.on_congestion(10_000, 1000);
        c.set_cwnd(8000); // inflated during recovery
        c.on_recovery_end(2000, 1000);
        assert_eq!(c.cwnd(), 3000);
        c.on_recovery_end(9000, 1000);
        assert_eq!(c.cwnd(), 5000);
    }
}
