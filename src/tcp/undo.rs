//! Spurious congestion responses undone.
//!
//! Reordering makes a segment look lost: three duplicate ACKs (or RACK's reordering
//! window) come before the segment itself, and the sender halves its window for nothing.
//! With timestamps the sender can tell (RFC 3522, Eifel detection): the ACK that ends
//! the recovery echoes the timestamp of the segment that filled the hole at the
//! receiver's left edge (RFC 7323 §4.3). If that echo is older than the fast
//! retransmission, the original filled it and the loss never happened.
//!
//! Without timestamps, or when the original and the retransmission left in the same
//! millisecond (a LAN), the receiver's D-SACKs tell (RFC 3708): once every byte the
//! episode retransmitted has been reported as received twice, none was needed.
//!
//! A retransmission timeout can be spurious too: on a lossy path most often because the
//! ACKs were lost, not the data. With SACK, F-RTO (RFC 5682 §4, as Linux runs it) tells:
//! while the timeout's recovery lasts, an ACK that acknowledges or SACKs data never
//! retransmitted in the episode shows that not everything was lost.
//!
//! The response to both is Linux's: the window and the slow start threshold go back to
//! what they were before the episode (`tcp_undo_cwnd_reduction`), keeping any growth
//! made since; after a timeout, the resend from SND.UNA stops and what is still missing
//! is left to SACK recovery.

use super::cc::CongestionControl;
use super::conn::{Connection, Ctx, RecoveryFlags};
use super::{SACK, TIMESTAMPS};
use crate::wire::tcp::{SeqNum, TcpRepr};

/// The window and threshold from before the current recovery episode.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PriorWindow {
    /// `cwnd` before the episode.
    pub(crate) cwnd: u32,
    /// `ssthresh` before the episode.
    pub(crate) ssthresh: u32,
    /// The end of the highest retransmission of the episode: data above it was never
    /// sent twice.
    pub(crate) rtx_high: SeqNum,
    /// Bytes retransmitted in the episode.
    pub(crate) rtx_bytes: u32,
    /// Bytes of the episode's retransmissions the peer reported as duplicates (D-SACK).
    pub(crate) dsacked: u32,
}

/// The prior window in a connection: one record with the `timestamps` or the `sack`
/// feature (detection needs one of them), none (no room) without.
pub(crate) type Undo = [PriorWindow; (TIMESTAMPS || SACK) as usize];

impl Connection {
    /// A recovery episode starts (before the window is cut): remember the window, if
    /// the episode can be found spurious later.
    pub(crate) fn undo_arm(&mut self) {
        if self.ts_on() || self.sack_on() {
            let prior = PriorWindow {
                cwnd: self.cc.cwnd(),
                ssthresh: self.cc.ssthresh(),
                rtx_high: self.snd.una,
                rtx_bytes: 0,
                dsacked: 0,
            };
            if let Some(u) = self.recovery.undo.first_mut() {
                *u = prior;
            }
            self.recovery.flags |= RecoveryFlags::UNDO_ARMED;
        } else {
            self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
        }
    }

    /// The first timeout of a series (before the window is cut): with SACK, F-RTO may
    /// find it spurious; remember the window. A timeout during a fast recovery keeps
    /// the window from before that recovery, as Linux does (`prior_cwnd` is set when a
    /// recovery starts, not again when it turns into a timeout's): if F-RTO finds that
    /// not everything was lost, the episode as a whole is undone.
    pub(crate) fn frto_arm(&mut self) {
        if self.sack_on() {
            let episode = RecoveryFlags::IN_RECOVERY | RecoveryFlags::UNDO_ARMED;
            if !self.recovery.flags.contains(episode) {
                self.undo_arm();
            }
        } else {
            self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
        }
    }

    /// `[start, end)` was retransmitted in the episode.
    #[inline]
    pub(crate) fn undo_note_rtx(&mut self, start: SeqNum, end: SeqNum) {
        if !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED) {
            return;
        }
        if let Some(u) = self.recovery.undo.first_mut() {
            if u.rtx_high < end {
                u.rtx_high = end;
            }
            u.rtx_bytes = u.rtx_bytes.saturating_add(end - start);
        }
    }

    /// RFC 3708 §3 (Linux's `undo_retrans`): the peer reported `[l, r)` twice. Once
    /// every byte the episode retransmitted has been reported so, no retransmission was
    /// needed: the episode was spurious, and is undone.
    pub(crate) fn undo_on_dsack(&mut self, ctx: &mut Ctx<'_>, (l, r): (SeqNum, SeqNum)) {
        if !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED) {
            return;
        }
        let Some(u) = self.recovery.undo.first_mut() else {
            return;
        };
        let r = if r > u.rtx_high { u.rtx_high } else { r };
        if l < r {
            u.dsacked = u.dsacked.saturating_add(r - l);
        }
        if u.rtx_bytes > 0 && u.dsacked >= u.rtx_bytes {
            self.undo_episode(ctx);
        }
    }

    /// The episode (fast recovery, or a timeout's) was spurious: the window and
    /// threshold from before it come back, and it ends; what is still missing below
    /// SACKed data is RACK's to find, as after any ACK.
    fn undo_episode(&mut self, ctx: &mut Ctx<'_>) {
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) {
            ctx.stats.spurious_recoveries += 1;
        } else {
            ctx.stats.spurious_timeouts += 1;
        }
        let prior = self.recovery.undo.first().copied().unwrap_or_default();
        self.recovery
            .flags
            .remove(RecoveryFlags::UNDO_ARMED | RecoveryFlags::IN_RECOVERY);
        self.recovery.dupacks = 0;
        self.cc.on_spurious_congestion(prior.cwnd, prior.ssthresh);
        self.recovery.recover = self.snd.una;
        self.set_rtx_next(None);
        self.snd.nxt = self.snd.max;
        self.rtx_count = 0;
        self.rtt.reset_backoff();
    }

    /// Whether an ACK of `ack`, before it is processed, acknowledges data sent only
    /// once in a timeout's recovery and not SACKed before (Linux's
    /// `FLAG_ORIG_SACK_ACKED`): a byte at or above the episode's highest
    /// retransmission that the scoreboard does not hold.
    pub(crate) fn frto_fresh_ack(&self, ack: SeqNum) -> bool {
        if !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED) || ack <= self.snd.una {
            return false;
        }
        let rtx_high = self
            .recovery
            .undo
            .first()
            .map_or(self.snd.una, |u| u.rtx_high);
        let mut at = if rtx_high > self.snd.una {
            rtx_high
        } else {
            self.snd.una
        };
        while let Some(end) = self.scoreboard().sacked_end(at) {
            at = end;
        }
        at < ack
    }

    /// F-RTO (RFC 5682 §4, SACK-enhanced, with Linux's undo as the response), after an
    /// ACK is processed while a timeout's recovery lasts: it acknowledged data sent only
    /// once (`fresh_ack`, see [`Connection::frto_fresh_ack`]), or SACKed new data above
    /// both `sacked_before` (the highest SACKed byte before it) and the episode's highest
    /// retransmission. The original arrived: the timeout was spurious.
    pub(crate) fn frto_check(
        &mut self,
        ctx: &mut Ctx<'_>,
        fresh_ack: bool,
        sacked_before: Option<SeqNum>,
    ) {
        if !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED)
            || self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
        {
            return;
        }
        let prior = self.recovery.undo.first().copied().unwrap_or_default();
        let fresh_sack = self
            .scoreboard()
            .highest()
            .is_some_and(|h| h > prior.rtx_high && sacked_before.is_none_or(|b| h > b));
        if !(fresh_ack || fresh_sack) {
            if self.snd.una >= self.recovery.recover {
                // The timeout's recovery ended without a sign: it stands.
                self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
            }
            return;
        }
        self.undo_episode(ctx);
    }

    /// The episode ended with `r`, a full acknowledgment: undo its window reduction if
    /// `r` echoes a timestamp from before the fast retransmission.
    pub(crate) fn undo_at_recovery_end(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) {
        if !self.recovery.flags.contains(RecoveryFlags::UNDO_ARMED) {
            return;
        }
        self.recovery.flags.remove(RecoveryFlags::UNDO_ARMED);
        if !TIMESTAMPS {
            return;
        }
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
