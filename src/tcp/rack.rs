//! RACK-TLP (RFC 8985), in the form a heap-free sender can keep: loss detection by the
//! order in which data was sent, and the tail loss probe.
//!
//! RFC 6675 deems a hole lost only when three segments' worth of data above it has been
//! SACKed. With a small window (a lossy link keeps the window small) that rarely
//! happens, and neither a lost retransmission nor a lost tail is ever detected: only the
//! retransmission timeout, hundreds of times the RTT on a LAN, repairs them. RACK asks
//! instead whether data *sent after* the hole has arrived; TLP sends a probe two RTTs
//! after the last ACK so that a lost tail produces a SACK to reason about.
//!
//! RFC 8985 keeps a send time per segment. This sender keeps none for data sent once,
//! and uses what the byte order tells it, which is the same information (data sent once
//! leaves in sequence order): a hole below the highest SACKed byte was sent before that
//! byte, which arrived. Once the reordering window has passed since that SACK arrived,
//! the hole is lost (RFC 8985 marks it at the SACKed segment's send time plus RTT plus
//! the window, which is no later, so this is the more patient of the two).
//!
//! Retransmissions break the byte order, so each one of the current episode (fast
//! recovery, or the resend after a timeout) is logged with when it left and SND.MAX at
//! that moment (`tcp::rtxlog`, a small fixed array). A retransmission is lost again when
//! data sent after it has been delivered and it has not: new data above its mark, or a
//! retransmission logged after it. It then goes again before anything else.
//!
//! The reordering window is RFC 8985 §6.2's: none during recovery until reordering has
//! been seen, otherwise a quarter of the smoothed RTT (the RFC uses the minimum RTT,
//! which this sender does not keep), times a multiplier that each D-SACK raises, at
//! most one smoothed RTT, and at least a millisecond.

use super::cc::CongestionControl;
use super::conn::{Connection, Ctx, Pending, Progress, RecoveryFlags};
use super::rtxlog::RtxLog;
use super::timer::Timer;
use super::{SACK, State};
use crate::time::{Duration, Instant};
use crate::wire::tcp::SeqNum;

/// RFC 8985 §7.2 WCDelAckT: the probe for a single outstanding segment waits for the
/// peer's delayed ACK too.
const WC_DEL_ACK: Duration = Duration::from_millis(200);
/// Added to two smoothed RTTs for a flight of several segments, as Linux does
/// (`TCP_TIMEOUT_MIN_US`): timer granularity and the receiver's scheduling.
const PTO_SLACK: Duration = Duration::from_millis(2);
/// The shortest reordering window outside recovery: the clock granularity the RTT
/// estimator assumes (RFC 6298's G). Below it, an RTT is poll-loop noise and a window of
/// a quarter of it would retransmit what a switch merely reordered.
const REO_WND_MIN: Duration = Duration::from_millis(1);
/// Upper bound of the reordering window multiplier.
const REO_MULT_MAX: u8 = 16;

/// RACK-TLP's sequence marks and the log of retransmissions. The marks' values do not
/// matter until their flags are set.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RackMarks {
    /// The highest SACKed sequence number when the reordering window started (with
    /// `RecoveryFlags::REO_ARMED`).
    pub(crate) reo_mark: SeqNum,
    /// The end of the outstanding tail loss probe (with `RecoveryFlags::TLP_OUT`).
    pub(crate) tlp_end: SeqNum,
    /// The retransmissions of the current episode, with when each left.
    pub(crate) rtx_log: RtxLog,
}

/// RACK-TLP's marks in a connection: one record with the `sack` feature, none (no
/// room) without it, where RACK-TLP never runs. Reads without it give the defaults
/// ([`Connection::rack_marks`]) and writes go nowhere (`first_mut` is `None`).
pub(crate) type Rack = [RackMarks; SACK as usize];

impl Connection {
    /// RACK-TLP's marks (the defaults without the `sack` feature).
    #[inline]
    fn rack_marks(&self) -> RackMarks {
        self.recovery.rack.first().copied().unwrap_or_default()
    }

    /// RACK-TLP applies: configured, and SACK negotiated.
    #[inline]
    pub(crate) fn rack_on(&self, ctx: &Ctx<'_>) -> bool {
        ctx.cfg.rack_tlp && self.sack_on()
    }

    /// RFC 8985 §6.2: how long a hole below SACKed data may be a reordering.
    fn reo_wnd(&self) -> Duration {
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            && !self.recovery.flags.contains(RecoveryFlags::REORDER_SEEN)
        {
            return Duration::ZERO;
        }
        let srtt = self.rtt.srtt().unwrap_or(Duration::ZERO);
        Duration::from_micros((srtt.total_micros() / 4) * u64::from(self.recovery.reo_mult))
            .min(srtt)
            .max(REO_WND_MIN)
    }

    /// A D-SACK arrived: the peer got something twice, so the path reorders or a
    /// retransmission was spurious. RACK waits longer from now on (RFC 8985 §6.2 step 4).
    pub(crate) fn rack_on_dsack(&mut self, ctx: &mut Ctx<'_>) {
        if !self.rack_on(ctx) {
            return;
        }
        self.recovery.flags |= RecoveryFlags::REORDER_SEEN;
        self.recovery.reo_mult = self.recovery.reo_mult.saturating_add(1).min(REO_MULT_MAX);
        if self
            .recovery
            .flags
            .contains(RecoveryFlags::TLP_OUT | RecoveryFlags::TLP_RTX)
        {
            // RFC 8985 §7.4.1: the probe retransmitted data that had arrived: nothing
            // was lost, the episode ends without a congestion response.
            self.recovery
                .flags
                .remove(RecoveryFlags::TLP_OUT | RecoveryFlags::TLP_RTX);
        }
    }

    /// RFC 8985 §6.2 after an ACK's SACK blocks and cumulative ACK are recorded: deem
    /// lost the retransmissions and holes that data sent after them overtook, at once
    /// or when the reordering window closes.
    ///
    /// `delivered`: a partial ACK during recovery acknowledged retransmitted data, and
    /// everything below `delivered` (the recovery point) had left before that
    /// retransmission: with nothing SACKed any more, what remains below it was
    /// overtaken as well.
    pub(crate) fn rack_detect(&mut self, ctx: &mut Ctx<'_>, delivered: Option<SeqNum>) {
        if !self.rack_on(ctx) {
            return;
        }
        // With SACK blocks still held, the highest of them is the better guide: the
        // scoreboard may have forgotten blocks above it, data the peer holds.
        let high = self.scoreboard().highest().or(delivered);
        let Some(high) = high.filter(|&h| h > self.snd.una) else {
            self.disarm(RecoveryFlags::REO_ARMED);
            return;
        };
        self.rack_detect_lost_rtx(ctx);
        let marked = self.scoreboard().lost_to().unwrap_or(self.snd.una);
        if high <= marked {
            return;
        }
        let reo = self.reo_wnd();
        if reo == Duration::ZERO {
            if let Some(sb) = self.scoreboard_mut() {
                sb.mark_lost_to(high);
            }
            self.rack_start_recovery(ctx);
        } else if !self.recovery.flags.contains(RecoveryFlags::REO_ARMED) {
            if let Some(m) = self.recovery.rack.first_mut() {
                m.reo_mark = high;
            }
            self.recovery.flags.remove(RecoveryFlags::TLP_ARMED);
            self.recovery.flags |= RecoveryFlags::REO_ARMED;
            self.timers.set(Timer::Loss, Some(ctx.now + reo));
        }
    }

    /// Holes RACK deemed lost start a recovery episode if none runs (RFC 6582's
    /// `recover` still guards against a second one for the same window).
    fn rack_start_recovery(&mut self, ctx: &mut Ctx<'_>) {
        let smss = u32::from(self.eff_mss());
        if !self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            && self.rtx_count == 0
            && self.snd.una >= self.recovery.recover
            && self.snd.una < self.snd.max
            && self.scoreboard().is_lost(self.snd.una, smss)
        {
            self.enter_recovery(ctx);
        }
    }

    /// Stops `Timer::Loss` if it runs for `kind` (`TLP_ARMED` or `REO_ARMED`).
    fn disarm(&mut self, kind: RecoveryFlags) {
        if self.recovery.flags.contains(kind) {
            self.recovery.flags.remove(kind);
            self.timers.set(Timer::Loss, None);
        }
    }

    /// Retransmissions sent before data that has been delivered, and not delivered
    /// themselves, are lost again (RFC 8985 §6.2 with the send order of `RtxLog`):
    /// output sends them before anything else of the episode.
    fn rack_detect_lost_rtx(&mut self, ctx: &mut Ctx<'_>) {
        // A delivery sooner than a quarter of the smoothed RTT after a retransmission
        // left is the original's (RFC 8985 filters with the minimum RTT).
        let min_age = self.rtt.srtt().map_or(0, |d| d.total_micros() / 4);
        let now_us = ctx.now.total_micros() as u32;
        let una = self.snd.una;
        let sacked = self.sack.first().map_or(&[][..], |s| s.scoreboard.blocks());
        let Some(m) = self.recovery.rack.first_mut() else {
            return;
        };
        let lost = m.rtx_log.detect(una, sacked, now_us, min_age as u32);
        ctx.stats.lost_retransmits += u64::from(lost);
    }

    /// The oldest retransmission deemed lost and not sent again: its first missing byte
    /// and the end of what was retransmitted.
    pub(crate) fn rack_lost_rtx(&self) -> Option<(SeqNum, SeqNum)> {
        let sacked = self.scoreboard().blocks();
        self.recovery
            .rack
            .first()?
            .rtx_log
            .next_lost(self.snd.una, sacked)
    }

    /// Bytes of retransmissions deemed lost and not sent again (out of the pipe).
    pub(crate) fn rack_lost_rtx_bytes(&self) -> u32 {
        let sacked = self.scoreboard().blocks();
        self.recovery
            .rack
            .first()
            .map_or(0, |m| m.rtx_log.lost_bytes(self.snd.una, sacked))
    }

    /// In a recovery episode, fast or after a timeout (`recover` not yet acknowledged).
    pub(crate) fn in_loss_recovery(&self) -> bool {
        self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            || self.snd.una < self.recovery.recover
    }

    /// `[start, end)` was retransmitted: log it with when it left and SND.MAX, so that
    /// data sent after it can tell whether it arrived.
    #[inline]
    pub(crate) fn rack_on_retransmit(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        if SACK && self.in_loss_recovery() {
            let mark = self.snd.max;
            if let Some(m) = self.recovery.rack.first_mut() {
                m.rtx_log.push(start, end, mark, now.total_micros() as u32);
            }
        }
    }

    /// RFC 8985 §7.4: an ACK arrived while a probe is outstanding. If it acknowledges
    /// the probe's retransmission without a D-SACK, the probe repaired a loss: respond
    /// as to one.
    pub(crate) fn tlp_on_ack(&mut self, ctx: &mut Ctx<'_>, flight_before: u32) {
        if !SACK
            || !self.recovery.flags.contains(RecoveryFlags::TLP_OUT)
            || self.snd.una < self.rack_marks().tlp_end
        {
            return;
        }
        let rtx = self.recovery.flags.contains(RecoveryFlags::TLP_RTX);
        self.recovery
            .flags
            .remove(RecoveryFlags::TLP_OUT | RecoveryFlags::TLP_RTX);
        if rtx && !self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) {
            ctx.stats.tlp_recoveries += 1;
            let smss = u32::from(self.eff_mss());
            self.cc.on_congestion(flight_before, smss);
        }
    }

    /// RFC 8985 §7.2: arms the probe timeout after an ACK, when the sender is in its open
    /// state (no recovery, nothing SACKed, no timeout backing off) with data in flight.
    /// A probe that would not come before the retransmission timeout is not armed: the
    /// timeout resends the same segment (RFC 8985 sends the probe in its place; the
    /// difference is only which of the two counts the backoff).
    pub(crate) fn arm_tlp(&mut self, ctx: &Ctx<'_>) {
        match self.pto_deadline(ctx) {
            Some(at) => {
                self.recovery.flags |= RecoveryFlags::TLP_ARMED;
                self.timers.set(Timer::Loss, Some(at));
            }
            None => self.disarm(RecoveryFlags::TLP_ARMED),
        }
    }

    /// When the probe is due, if one may be armed now (see [`Connection::arm_tlp`]).
    fn pto_deadline(&self, ctx: &Ctx<'_>) -> Option<Instant> {
        if !self.rack_on(ctx)
            || self.recovery.flags.intersects(
                RecoveryFlags::IN_RECOVERY | RecoveryFlags::TLP_OUT | RecoveryFlags::REO_ARMED,
            )
            || !self.scoreboard().is_empty()
            || self.rtx_count != 0
            || self.snd.nxt != self.snd.max
            || !matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
        {
            return None;
        }
        let (rto_at, srtt) = (self.timers.get(Timer::Rtx)?, self.rtt.srtt()?);
        let flight = self.snd.max - self.snd.una;
        let slack = if flight <= u32::from(self.eff_mss()) {
            WC_DEL_ACK
        } else {
            PTO_SLACK
        };
        let at = ctx.now + srtt + srtt + slack;
        (at < rto_at).then_some(at)
    }

    /// Everything sent is acknowledged, or a timeout took over: no probe, no window.
    pub(crate) fn rack_reset(&mut self) {
        self.timers.set(Timer::Loss, None);
        self.pending.remove(Pending::TLP_PROBE);
        self.recovery.flags.remove(
            RecoveryFlags::TLP_ARMED
                | RecoveryFlags::REO_ARMED
                | RecoveryFlags::TLP_OUT
                | RecoveryFlags::TLP_RTX,
        );
        if let Some(m) = self.recovery.rack.first_mut() {
            m.rtx_log.clear();
        }
    }

    /// The loss-detection timer expired: close the reordering window, or send the tail
    /// loss probe (RFC 8985 §6.3 and §7.3).
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    pub(crate) fn on_loss_timer(&mut self, ctx: &mut Ctx<'_>) {
        if !SACK {
            // Never armed without SACK; the constant lets the build leave all this out.
            return;
        }
        let now = ctx.now;
        if self.recovery.flags.contains(RecoveryFlags::REO_ARMED) {
            self.recovery.flags.remove(RecoveryFlags::REO_ARMED);
            let reo_mark = self.rack_marks().reo_mark;
            if reo_mark > self.snd.una {
                if let Some(sb) = self.scoreboard_mut() {
                    sb.mark_lost_to(reo_mark);
                }
                self.rack_start_recovery(ctx);
            }
            // SACKs that arrived during the window may have opened newer holes.
            self.rack_detect(ctx, None);
            return;
        }
        if self.recovery.flags.contains(RecoveryFlags::TLP_ARMED) {
            self.recovery.flags.remove(RecoveryFlags::TLP_ARMED);
            if self.snd.una == self.snd.max
                || self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            {
                return;
            }
            ctx.stats.tlp_probes += 1;
            self.pending |= Pending::TLP_PROBE;
            // §7.3: the retransmission timer restarts with the probe.
            self.timers
                .arm(Timer::Rtx, now + self.rtt.rto(ctx.cfg.max_rto));
        }
    }

    /// The probe to send (RFC 8985 §7.3), asked for by `Pending::TLP_PROBE`: new data if
    /// there is some and the peer's window takes it, else the last segment sent again.
    /// Records it as the outstanding probe.
    pub(crate) fn tlp_segment(
        &mut self,
        max_payload: usize,
        held: usize,
        fin_pending: bool,
    ) -> Option<(SeqNum, usize, bool)> {
        self.pending.remove(Pending::TLP_PROBE);
        if !SACK {
            return None;
        }
        let fin_seq = self.snd.una + held as u32;
        let off = ((self.snd.max - self.snd.una) as usize).min(held);
        let unsent = held - off;
        let room = (self.snd.wnd as usize).saturating_sub(off);
        let (seq, len, fin, new_data) = if unsent > 0 && room > 0 && self.snd.nxt == self.snd.max {
            let len = unsent.min(room).min(max_payload);
            let fin =
                fin_pending && off + len == held && !self.progress.contains(Progress::FIN_SENT);
            (self.snd.nxt, len, fin, true)
        } else {
            // The last segment: its data ends at the FIN if one was sent.
            let data_end = if self.snd.max > fin_seq {
                fin_seq
            } else {
                self.snd.max
            };
            let len = ((data_end - self.snd.una) as usize).min(max_payload);
            let seq = data_end - len as u32;
            let fin =
                fin_pending && self.progress.contains(Progress::FIN_SENT) && data_end == fin_seq;
            (seq, len, fin, false)
        };
        if len == 0 && !fin {
            return None;
        }
        self.recovery.flags |= RecoveryFlags::TLP_OUT;
        self.recovery.flags.set(RecoveryFlags::TLP_RTX, !new_data);
        let end = seq + (len as u32 + u32::from(fin));
        let tlp_end = if end > self.snd.max {
            end
        } else {
            self.snd.max
        };
        if let Some(m) = self.recovery.rack.first_mut() {
            m.tlp_end = tlp_end;
        }
        Some((seq, len, fin))
    }
}
