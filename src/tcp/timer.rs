//! The connection's timers: deadlines, never periodic ticks, in one table indexed by
//! [`Timer`]. `poll_at` gives the earliest; `on_timer` handles whichever are due.

use super::cc::CongestionControl;
use super::conn::{Connection, Ctx, Pending, Progress, RecoveryFlags, UserFlags};
use super::{SACK, State};
use crate::log::net_log;
use crate::time::{Duration, Instant};
use crate::wire::tcp::TcpRepr;

/// Bounds of the persist interval (RFC 9293 §3.8.6.1 leaves them open; Linux backs off
/// from the RTO up to two minutes, BSD clamps to 5..60 s).
const PERSIST_MAX: Duration = Duration::from_secs(60);

/// The timers of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission (RFC 6298), clamped to the end of the user timeout (RFC 5482).
    Rtx,
    /// Zero-window probe (RFC 9293 §3.8.6.1), or the sender's SWS override timeout
    /// (RFC 1122 §4.2.3.4 (d)).
    Persist,
    /// Delayed ACK (RFC 1122 §4.2.3.2).
    DelAck,
    /// TIME-WAIT (2·MSL), or FIN-WAIT-2 after the user closed.
    Close,
    /// RACK-TLP (RFC 8985): the tail loss probe (`RecoveryFlags::TLP_ARMED`) or the end of the
    /// reordering window (`RecoveryFlags::REO_ARMED`). Never armed without the `sack` feature,
    /// and then it has no room.
    Loss,
    /// Keep-alive (RFC 1122 §4.2.3.6): hours away, so kept as a full [`Instant`].
    Keepalive,
}

/// Instants the engine remembers besides its deadlines, stored like them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// When the last segment was sent (RFC 5681 §4.1 idle restart).
    LastSend,
    /// Start of the current one-second window of the RFC 5961 §7 ACK rate limit.
    ChallengeWindow,
    /// When the segment timed for an RTT sample was sent (with `rtt_seq`).
    RttSent,
}

/// Deadlines held as offsets from `epoch`, so a table takes 4 bytes a timer.
const NEAR: usize = 4 + SACK as usize;
const STAMPS: usize = 3;
/// Where `epoch` moves when a value does not fit: this far before the value, so that
/// instants up to about 53 minutes in the past stay exact. An instant older than the
/// epoch reads as the epoch: the stamps are compared with spans of an RTO or a second,
/// far shorter.
const REBASE_BACK: u64 = (1 << 32) - (1 << 30);

/// The timer table: every deadline of a connection, indexed by [`Timer`]; arming,
/// stopping, the earliest deadline and stopping all on close are one call each.
///
/// A deadline is exact to the microsecond, as an [`Instant`] is, but takes 4 bytes: it
/// is stored as microseconds after `epoch`, plus one (zero: not armed). When a value
/// would not fit (71 minutes after the epoch), the epoch moves forward and the other
/// entries are re-expressed; none of the 32-bit timers is armed more than minutes
/// ahead. The keep-alive deadline, hours ahead, keeps a full `Instant`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerTable {
    epoch: Instant,
    keepalive: Option<Instant>,
    near: [u32; NEAR],
    stamps: [u32; STAMPS],
}

impl TimerTable {
    /// No timer armed; the last send and the challenge-ACK window read `now`, nothing
    /// is timed for an RTT sample.
    pub(crate) fn new(now: Instant) -> Self {
        let mut stamps = [0; STAMPS];
        // Offset zero from the epoch, plus one.
        stamps[Stamp::LastSend as usize] = 1;
        stamps[Stamp::ChallengeWindow as usize] = 1;
        TimerTable {
            epoch: now,
            keepalive: None,
            near: [0; NEAR],
            stamps,
        }
    }

    /// The deadline of `t`, if armed.
    #[inline]
    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        match t {
            Timer::Keepalive => self.keepalive,
            _ => self.decode(self.near.get(t as usize).copied().unwrap_or(0)),
        }
    }

    /// Whether `t` is armed.
    #[inline]
    pub(crate) fn armed(&self, t: Timer) -> bool {
        match t {
            Timer::Keepalive => self.keepalive.is_some(),
            _ => self.near.get(t as usize).is_some_and(|&v| v != 0),
        }
    }

    /// Arms `t` for `at` (or stops it, with `None`).
    #[inline]
    pub(crate) fn set(&mut self, t: Timer, at: Option<Instant>) {
        if t == Timer::Keepalive {
            self.keepalive = at;
            return;
        }
        let v = at.map_or(0, |at| self.encode(at));
        if let Some(slot) = self.near.get_mut(t as usize) {
            *slot = v;
        }
    }

    /// Arms `t` for `at`.
    #[inline]
    pub(crate) fn arm(&mut self, t: Timer, at: Instant) {
        self.set(t, Some(at));
    }

    /// Stops `t`.
    #[inline]
    pub(crate) fn stop(&mut self, t: Timer) {
        self.set(t, None);
    }

    /// Stops every timer (the connection closed).
    pub(crate) fn stop_all(&mut self) {
        self.near = [0; NEAR];
        self.keepalive = None;
    }

    /// The earliest armed deadline.
    #[inline]
    pub(crate) fn earliest(&self) -> Option<Instant> {
        // Offsets from one epoch order as the instants do; zero (not armed) wraps to
        // the largest value.
        let near = self
            .near
            .iter()
            .map(|v| v.wrapping_sub(1))
            .fold(u32::MAX, u32::min);
        Instant::earliest([self.decode(near.wrapping_add(1)), self.keepalive])
    }

    /// The instant `s` holds, if any.
    #[inline]
    pub(crate) fn stamp(&self, s: Stamp) -> Option<Instant> {
        self.decode(self.stamps.get(s as usize).copied().unwrap_or(0))
    }

    /// Sets `s` (`None` clears it).
    #[inline]
    pub(crate) fn set_stamp(&mut self, s: Stamp, t: Option<Instant>) {
        let v = t.map_or(0, |t| self.encode(t));
        if let Some(slot) = self.stamps.get_mut(s as usize) {
            *slot = v;
        }
    }

    /// The time from `s` to `now` (zero if `s` is not set or later).
    #[inline]
    pub(crate) fn since(&self, s: Stamp, now: Instant) -> Duration {
        self.stamp(s)
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    // `decode` and `encode` are out of line on 32-bit targets, where one shared copy
    // saves 1.2–1.6 KiB of flash, and inlined on 64-bit ones, where the calls showed in
    // the per-segment instruction count (about 200 instructions per round trip).
    #[cfg_attr(target_pointer_width = "64", inline)]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn decode(&self, v: u32) -> Option<Instant> {
        (v != 0).then(|| {
            self.epoch
                .saturating_add(Duration::from_micros(u64::from(v - 1)))
        })
    }

    /// `t` as an offset from the epoch plus one, moving the epoch if it does not fit;
    /// before the epoch reads as the epoch.
    #[cfg_attr(target_pointer_width = "64", inline)]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn encode(&mut self, t: Instant) -> u32 {
        let mut off = t.total_micros().saturating_sub(self.epoch.total_micros());
        if off >= u64::from(u32::MAX) {
            self.rebase(t.total_micros() - REBASE_BACK);
            off = REBASE_BACK;
        }
        off as u32 + 1
    }

    /// Moves the epoch forward to `epoch_us` and re-expresses every entry.
    #[cold]
    fn rebase(&mut self, epoch_us: u64) {
        let delta = epoch_us - self.epoch.total_micros();
        for v in self.near.iter_mut().chain(self.stamps.iter_mut()) {
            if *v != 0 {
                *v = (u64::from(*v - 1).saturating_sub(delta) as u32) + 1;
            }
        }
        self.epoch = Instant::from_micros(epoch_us);
    }
}

impl Connection {
    /// The earliest armed deadline.
    #[inline]
    pub fn poll_at(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    /// Handles every timer due at `ctx.now`. Returns a reset to send when the connection
    /// gives up on a live-looking peer (retransmission limit).
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let now = ctx.now;
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.timers.get(Timer::Close)) {
            self.timers.stop(Timer::Close);
            match self.state {
                State::TimeWait => {
                    self.enter_closed(None);
                    return None;
                }
                State::FinWait2 => {
                    // BSD/Linux: a closed connection whose peer never sends its FIN is
                    // dropped silently (BSD's tcp_close from the 2MSL timer, Linux's
                    // FIN-WAIT-2 timewait socket expiring).
                    self.enter_closed(None);
                    return None;
                }
                _ => {}
            }
        }
        if due(self.timers.get(Timer::DelAck)) {
            self.timers.stop(Timer::DelAck);
            self.pending |= Pending::ACK_NOW;
        }
        if due(self.timers.get(Timer::Loss)) {
            self.timers.set(Timer::Loss, None);
            self.on_loss_timer(ctx);
        }
        let mut reply = None;
        if due(self.timers.get(Timer::Rtx)) {
            self.timers.stop(Timer::Rtx);
            reply = self.on_rto(ctx);
            if self.state == State::Closed {
                return reply;
            }
        }
        if due(self.timers.get(Timer::Persist)) {
            self.timers.stop(Timer::Persist);
            self.on_persist(ctx);
            if self.state == State::Closed {
                return None;
            }
        }
        if due(self.timers.get(Timer::Keepalive)) {
            self.timers.stop(Timer::Keepalive);
            if let Some(rst) = self.on_keepalive(ctx) {
                return Some(rst);
            }
        }
        reply
    }

    /// RFC 6298 §5.4–5.7 and RFC 5681 §3.1: the retransmission timer expired.
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    fn on_rto(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let now = ctx.now;
        ctx.stats.timeouts += 1;
        net_log!(
            debug,
            "tcp {} -> {}: retransmission timeout ({} before)",
            self.local,
            self.remote,
            self.rtx_count
        );
        let synchronizing = matches!(self.state, State::SynSent | State::SynReceived);
        let limit = if synchronizing {
            ctx.cfg.syn_retries
        } else {
            ctx.cfg.max_retransmits
        };
        if self.rtx_count >= limit || self.user_timeout_hit(now) {
            // RFC 9293 R2 / RFC 5482: give up.
            let rst = (!synchronizing || self.state == State::SynReceived)
                .then(|| self.make_rst(self.snd.max, true));
            self.time_out(ctx.stats);
            return if self.progress.contains(Progress::PASSIVE) && synchronizing {
                None
            } else {
                rst
            };
        }
        self.rtx_count += 1;
        self.rtt.back_off();
        self.mark_ts_rtx(now);
        self.rack_reset();
        if !synchronizing {
            let smss = u32::from(self.eff_mss());
            let flight = self.snd.max - self.snd.una;
            if self.rtx_count == 1 {
                // F-RTO may find it spurious (`tcp::undo`): the window from before it.
                self.frto_arm();
                // Only the first timeout of a series lowers ssthresh (RFC 5681 §3.1).
                self.cc.on_timeout(flight, smss);
            } else {
                self.cc.set_cwnd(smss);
            }
            // RFC 6582 §4 / RFC 6675 §5.1: end any recovery; no new episode until
            // everything sent so far is acknowledged.
            self.recovery.flags.remove(RecoveryFlags::IN_RECOVERY);
            self.recovery.dupacks = 0;
            self.recovery.recover = self.snd.max;
            self.recovery.high_rxt = self.snd.una;
            self.set_rtx_next(None);
        }
        // Go back N from SND.UNA (SACKed data is skipped by output).
        self.snd.nxt = self.snd.una;
        self.set_rtt_timing(None);
        self.timers
            .arm(Timer::Rtx, self.rto_deadline(now, ctx.cfg.max_rto));
        None
    }

    /// When a retransmission timer started at `now` fires: one RTO later, but no later
    /// than the end of the user timeout (RFC 5482), so that a connection gives up when
    /// its user timeout ends rather than at the next backed-off RTO (Linux clamps the
    /// same way). Before the first transmission the user timeout counts from `now`.
    pub(crate) fn rto_deadline(&self, now: Instant, max_rto: Duration) -> Instant {
        let rto = now + self.rtt.rto(max_rto);
        match self.user_timeout() {
            Some(limit) => rto.min(self.unacked_since.unwrap_or(now) + limit),
            None => rto,
        }
    }

    /// RFC 5482: sent data has stayed unacknowledged for the user timeout, if one is set.
    fn user_timeout_hit(&self, now: Instant) -> bool {
        self.user_timeout()
            .zip(self.unacked_since)
            .is_some_and(|(limit, since)| now.saturating_duration_since(since) >= limit)
    }

    /// The persist timer expired: probe the zero window and back off; with a window
    /// open, it was the SWS override timeout: send what the window allows.
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    fn on_persist(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Closed {
            return;
        }
        if self.snd.wnd != 0 {
            // RFC 1122 §4.2.3.4 (d).
            self.persist_backoff = 0;
            self.pending |= Pending::FORCE;
            return;
        }
        // RFC 1122 §4.2.2.17: keep probing as long as the peer answers. Unanswered probes
        // count like retransmissions. RFC 5482: the user timeout still applies — the
        // probe byte has stayed unacknowledged that long (Linux ends such a connection
        // at the first probe past the user timeout, too).
        if self.rtx_count >= ctx.cfg.max_retransmits || self.user_timeout_hit(ctx.now) {
            self.time_out(ctx.stats);
            return;
        }
        self.rtx_count += 1;
        self.pending |= Pending::FORCE;
        self.persist_backoff = self.persist_backoff.saturating_add(1).min(16);
        self.arm_persist(ctx);
    }

    pub(crate) fn arm_persist(&mut self, ctx: &mut Ctx<'_>) {
        let base = self.rtt.rto(ctx.cfg.max_rto).max(ctx.cfg.min_rto);
        let d = Duration::from_micros(base.total_micros() << self.persist_backoff.min(16))
            .min(PERSIST_MAX);
        self.timers.arm(Timer::Persist, ctx.now + d);
    }

    /// Any acceptable segment answers the probes — unless our user has closed the
    /// connection: then nobody waits for the outcome, and a peer that keeps its window
    /// shut must not hold the slot for ever (RFC 9293 §3.8.6.1 leaves this to resource
    /// management, RFC 6429; Linux likewise bounds the probes of orphaned connections),
    /// so every probe counts, answered or not, and the retransmission limit ends it.
    pub(crate) fn persist_unanswered_reset(&mut self) {
        if self.timers.armed(Timer::Persist) && !self.user.flags.contains(UserFlags::USER_CLOSED) {
            self.rtx_count = 0;
        }
    }

    /// Returns a reset to send when the peer stopped answering: Linux
    /// (tcp_keepalive_timer) and BSD (tcp_drop) both reset it, in case it is only
    /// deaf, not gone.
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    fn on_keepalive(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let k = self.keepalive()?;
        if !matches!(self.state, State::Established | State::CloseWait) {
            return None;
        }
        if self.keep_probes >= k.count {
            let rst = self.make_rst(self.snd.max, true);
            self.time_out(ctx.stats);
            return Some(rst);
        }
        self.keep_probes += 1;
        self.pending |= Pending::KEEPALIVE_PROBE;
        self.timers.arm(Timer::Keepalive, ctx.now + k.interval);
        None
    }

    /// (Re)arms the keep-alive timer after activity.
    pub(crate) fn arm_keepalive(&mut self, now: Instant) {
        let at = match self.keepalive() {
            Some(k) if matches!(self.state, State::Established | State::CloseWait) => {
                Some(now + k.idle)
            }
            _ => None,
        };
        self.timers.set(Timer::Keepalive, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_exact_and_survive_a_rebase() {
        let t0 = Instant::from_micros(5_000_123);
        let mut t = TimerTable::new(t0);
        assert_eq!(t.earliest(), None);
        assert_eq!(t.stamp(Stamp::RttSent), None, "nothing timed at first");
        assert_eq!(t.stamp(Stamp::LastSend), Some(t0));
        let rtx = t0 + Duration::from_micros(1_234_567);
        t.arm(Timer::Rtx, rtx);
        t.arm(Timer::DelAck, t0 + Duration::from_millis(40));
        let keep = t0 + Duration::from_secs(7200);
        t.arm(Timer::Keepalive, keep);
        assert_eq!(t.get(Timer::Rtx), Some(rtx));
        assert_eq!(t.earliest(), Some(t0 + Duration::from_millis(40)));
        t.stop(Timer::DelAck);
        assert_eq!(t.earliest(), Some(rtx));
        // Two hours on, a deadline 30 s ahead moves the epoch; what was armed stays.
        let now = t0 + Duration::from_secs(7200);
        t.set_stamp(Stamp::RttSent, Some(now - Duration::from_micros(7)));
        let close = now + Duration::from_micros(30_000_001);
        t.arm(Timer::Close, close);
        assert_eq!(t.get(Timer::Close), Some(close));
        assert_eq!(
            t.stamp(Stamp::RttSent),
            Some(now - Duration::from_micros(7))
        );
        assert_eq!(t.get(Timer::Keepalive), Some(keep));
        // An instant from before the new epoch reads as the epoch (overdue stays due).
        assert!(t.get(Timer::Rtx).is_some_and(|r| r >= rtx && r <= now));
        t.stop_all();
        assert_eq!(t.earliest(), None);
    }
}
