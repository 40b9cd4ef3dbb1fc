//! Spurious fast recoveries undone (timestamps only).
//!
//! Reordering makes a segment look lost: three duplicate ACKs (or RACK's reordering
//! window) come before the segment itself, and the sender halves its window for nothing.
//! With timestamps the sender can tell (RFC 3522, Eifel detection): the ACK that ends
//! the recovery echoes the timestamp of the segment that filled the hole at the
//! receiver's left edge (RFC 7323 §4.3). If that echo is older than the fast
//! retransmission, the original filled it and the loss never happened. The response is
//! Linux's: the window and the slow start threshold go back to what they were before
//! the episode (`tcp_undo_cwnd_reduction`), keeping any growth made since.
//!
//! Only fast recoveries are undone; a retransmission timeout disarms it (RFC 4015's
//! response to a spurious timeout is not done).

use super::TIMESTAMPS;
use super::cc::CongestionControl;
use super::conn::{Connection, Ctx, RecoveryFlags};
use crate::wire::tcp::TcpRepr;

/// The window and threshold from before the current recovery episode.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PriorWindow {
    /// `cwnd` before the episode.
    pub(crate) cwnd: u32,
    /// `ssthresh` before the episode.
    pub(crate) ssthresh: u32,
}

/// The prior window in a connection: one record with the `timestamps` feature
/// (detection needs them), none (no room) without it.
pub(crate) type Undo = [PriorWindow; TIMESTAMPS as usize];

impl Connection {
    /// A fast recovery starts (before the window is cut): remember the window, if the
    /// episode can be found spurious later.
    pub(crate) fn undo_arm(&mut self) {
        if self.ts_on() {
            let prior = PriorWindow {
                cwnd: self.cc.cwnd(),
                ssthresh: self.cc.ssthresh(),
            };
            if let Some(u) = self.recovery.undo.first_mut() {
                *u = prior;
            }
            self.recovery.flags |= RecoveryFlags::UNDO_ARMED;
        } else {
            self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
        }
    }

    /// The episode ended with `r`, a full acknowledgment: undo its window reduction if
    /// `r` echoes a timestamp from before the fast retransmission.
    pub(crate) fn undo_at_recovery_end(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) {
        if !TIMESTAMPS || !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED) {
            return;
        }
        self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
        let Some((_, ecr)) = r.options.timestamps else {
            return;
        };
        if ecr == 0 || (ecr.wrapping_sub(self.ts().rtx) as i32) >= 0 {
            return;
        }
        ctx.stats.spurious_recoveries += 1;
        let prior = self.recovery.undo.first().copied().unwrap_or_default();
        self.cc.on_spurious_congestion(prior.cwnd, prior.ssthresh);
    }
}
