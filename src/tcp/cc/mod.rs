//! Congestion control: the [`CongestionControl`] trait and the built-in controllers.
//!
//! The controller owns `cwnd` and `ssthresh` and decides how the window grows on new
//! acknowledgments and how far it is cut on a congestion event. Loss *detection* and the
//! recovery episode (fast retransmit, NewReno partial ACKs, RFC 6675 SACK recovery) live in
//! the connection, which tells the controller when an episode starts and ends and may set
//! `cwnd` directly while it lasts (NewReno's inflation and deflation).
//!
//! `Cubic` (RFC 9438, integer arithmetic; cargo feature `cubic`, on by default) is the
//! alternative, selectable per connection, and so is [`Bbr`]-style model-based control
//! (cargo feature `bbr`), which sizes the window from the measured delivery rate and RTT
//! and does not cut it on random loss.
//! [`NewReno`] (RFC 5681 + RFC 6582, with Appropriate Byte Counting from RFC 3465 and the
//! initial window of RFC 6928) is the default. Another algorithm plugs in by implementing
//! the trait and adding a variant to [`Controller`], which dispatches without a heap.

#[cfg(feature = "bbr")]
mod bbr;
#[cfg(feature = "cubic")]
mod cubic;
mod newreno;

#[cfg(feature = "bbr")]
pub use bbr::{Bbr, Phase as BbrPhase};
#[cfg(feature = "cubic")]
pub use cubic::Cubic;
pub use newreno::NewReno;

use crate::time::{Duration, Instant};

/// What an acknowledgment of new data tells the controller.
#[derive(Clone, Copy, Debug)]
pub struct AckEvent {
    /// Time of arrival.
    pub now: Instant,
    /// Bytes newly acknowledged.
    pub acked: u32,
    /// Sender MSS.
    pub smss: u32,
    /// Bytes in flight before this acknowledgment.
    pub flight: u32,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// Bytes this ACK newly delivered: cumulatively acknowledged or newly SACKed
    /// (the delivery-rate estimation's `delivered`, counted per ACK).
    pub delivered: u32,
    /// The RTT sample this ACK gave, if any.
    pub rtt: Option<Duration>,
    /// The sender had no unsent data although the congestion window had room: the
    /// delivery rate measures the application, not the path.
    pub app_limited: bool,
}

/// A congestion controller.
pub trait CongestionControl {
    /// Congestion window in bytes.
    fn cwnd(&self) -> u32;
    /// Slow start threshold in bytes.
    fn ssthresh(&self) -> u32;
    /// Sets the window directly (loss recovery inflation and deflation).
    fn set_cwnd(&mut self, cwnd: u32);
    /// New data was acknowledged outside a recovery episode: grow the window.
    fn on_ack(&mut self, ev: &AckEvent);
    /// Every ACK that delivered data (cumulatively or by SACK), in or out of recovery,
    /// after the connection processed it: for model-based controllers. The default does
    /// nothing.
    fn on_delivery(&mut self, ev: &AckEvent) {
        let _ = ev;
    }
    /// A loss was detected by duplicate ACKs or SACK: set `ssthresh` (and `cwnd` to it)
    /// for the recovery episode that starts now.
    fn on_congestion(&mut self, flight: u32, smss: u32);
    /// The recovery episode ended with a full acknowledgment.
    fn on_recovery_end(&mut self, flight: u32, smss: u32);
    /// The retransmission timer expired: RFC 5681 eq. (4) and the loss window of one
    /// segment.
    fn on_timeout(&mut self, flight: u32, smss: u32);
    /// The connection was idle longer than an RTO: restart from the initial window
    /// (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, initial_window: u32);
    /// The last congestion event was spurious (the data it took as lost had been
    /// delayed, see `tcp::undo`): go back to `prior_cwnd` and `prior_ssthresh`, the
    /// values from before it, keeping whichever is larger now.
    fn on_spurious_congestion(&mut self, prior_cwnd: u32, prior_ssthresh: u32);
}

/// The congestion control algorithm of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 / RFC 6582 NewReno (the default).
    #[default]
    NewReno,
    /// RFC 9438 CUBIC (cargo feature `cubic`).
    #[cfg(feature = "cubic")]
    Cubic,
    /// BBR-style model-based control (cargo feature `bbr`).
    #[cfg(feature = "bbr")]
    Bbr,
}

/// The controller of one connection: a built-in algorithm, dispatched without a heap.
#[derive(Clone, Copy, Debug)]
pub enum Controller {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    #[cfg(feature = "cubic")]
    Cubic(Cubic),
    /// BBR.
    #[cfg(feature = "bbr")]
    Bbr(Bbr),
}

impl Controller {
    /// A controller of the given algorithm starting at `initial_window` bytes.
    pub fn new(alg: Algorithm, initial_window: u32) -> Self {
        match alg {
            Algorithm::NewReno => Controller::NewReno(NewReno::new(initial_window)),
            #[cfg(feature = "cubic")]
            Algorithm::Cubic => Controller::Cubic(Cubic::new(initial_window)),
            #[cfg(feature = "bbr")]
            Algorithm::Bbr => Controller::Bbr(Bbr::new(initial_window)),
        }
    }

    /// Whether the controller uses [`CongestionControl::on_delivery`]: the connection
    /// then counts what each ACK delivered (SACKed bytes included), which the loss-based
    /// controllers do not need.
    pub fn wants_delivery(&self) -> bool {
        #[cfg(feature = "bbr")]
        if let Controller::Bbr(_) = self {
            return true;
        }
        false
    }

    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            #[cfg(feature = "cubic")]
            Controller::Cubic(c) => c,
            #[cfg(feature = "bbr")]
            Controller::Bbr(c) => c,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            #[cfg(feature = "cubic")]
            Controller::Cubic(c) => c,
            #[cfg(feature = "bbr")]
            Controller::Bbr(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> u32 {
        self.inner().cwnd()
    }
    fn ssthresh(&self) -> u32 {
        self.inner().ssthresh()
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.inner_mut().set_cwnd(cwnd)
    }
    fn on_ack(&mut self, ev: &AckEvent) {
        self.inner_mut().on_ack(ev)
    }
    fn on_delivery(&mut self, ev: &AckEvent) {
        self.inner_mut().on_delivery(ev)
    }
    fn on_congestion(&mut self, flight: u32, smss: u32) {
        self.inner_mut().on_congestion(flight, smss)
    }
    fn on_recovery_end(&mut self, flight: u32, smss: u32) {
        self.inner_mut().on_recovery_end(flight, smss)
    }
    fn on_timeout(&mut self, flight: u32, smss: u32) {
        self.inner_mut().on_timeout(flight, smss)
    }
    fn on_idle_restart(&mut self, initial_window: u32) {
        self.inner_mut().on_idle_restart(initial_window)
    }
    fn on_spurious_congestion(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.inner_mut()
            .on_spurious_congestion(prior_cwnd, prior_ssthresh)
    }
}

/// The initial window of RFC 6928: min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(smss: u32) -> u32 {
    (10 * smss).min((2 * smss).max(14_600))
}
