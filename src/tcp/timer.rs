//! The connection's timers: deadlines, never periodic ticks. `poll_at` gives the earliest;
//! `on_timer` handles whichever are due.

use super::State;
use super::cc::CongestionControl;
use super::conn::{Connection, Ctx, Flags};
use crate::log::net_log;
use crate::time::{Duration, Instant};
use crate::wire::tcp::TcpRepr;

/// Bounds of the persist interval (RFC 9293 §3.8.6.1 leaves them open; Linux backs off
/// from the RTO up to two minutes, BSD clamps to 5..60 s).
const PERSIST_MAX: Duration = Duration::from_secs(60);

impl Connection {
    /// The earliest armed deadline.
    #[inline]
    pub fn poll_at(&self) -> Option<Instant> {
        // Branch-free: this runs after every segment.
        Instant::earliest([
            self.t_rexmt,
            self.t_persist,
            self.t_delack,
            self.t_keep,
            self.t_close,
            self.rack.t_loss(),
        ])
    }

    /// Handles every timer due at `ctx.now`. Returns a reset to send when the connection
    /// gives up on a live-looking peer (retransmission limit).
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let now = ctx.now;
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.t_close) {
            self.t_close = None;
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
        if due(self.t_delack) {
            self.t_delack = None;
            self.flags |= Flags::ACK_NOW;
        }
        if due(self.rack.t_loss()) {
            self.rack.set_t_loss(None);
            self.on_loss_timer(ctx);
        }
        let mut reply = None;
        if due(self.t_rexmt) {
            self.t_rexmt = None;
            reply = self.on_rto(ctx);
            if self.state == State::Closed {
                return reply;
            }
        }
        if due(self.t_persist) {
            self.t_persist = None;
            self.on_persist(ctx);
            if self.state == State::Closed {
                return None;
            }
        }
        if due(self.t_keep) {
            self.t_keep = None;
            if let Some(rst) = self.on_keepalive(ctx) {
                return Some(rst);
            }
        }
        reply
    }

    /// RFC 6298 §5.4–5.7 and RFC 5681 §3.1: the retransmission timer expired.
    fn on_rto(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let now = ctx.now;
        ctx.stats.timeouts += 1;
        net_log!(
            debug,
            "tcp {} -> {}: retransmission timeout ({} before)",
            self.local,
            self.remote,
            self.rexmt_count
        );
        let synchronizing = matches!(self.state, State::SynSent | State::SynReceived);
        let limit = if synchronizing {
            ctx.cfg.syn_retries
        } else {
            ctx.cfg.max_retransmits
        };
        if self.rexmt_count >= limit || self.user_timeout_hit(now) {
            // RFC 9293 R2 / RFC 5482: give up.
            let rst = (!synchronizing || self.state == State::SynReceived)
                .then(|| self.make_rst(self.snd_max, true));
            self.time_out(ctx.stats);
            return if self.flags.contains(Flags::PASSIVE) && synchronizing {
                None
            } else {
                rst
            };
        }
        self.rexmt_count += 1;
        self.rtt.back_off();
        self.ts_rexmt = self.ts_now(now);
        self.rack_reset();
        if !synchronizing {
            let smss = u32::from(self.eff_mss());
            let flight = self.snd_max - self.snd_una;
            if self.rexmt_count == 1 {
                // Only the first timeout of a series lowers ssthresh (RFC 5681 §3.1).
                self.cc.on_timeout(flight, smss);
            } else {
                self.cc.set_cwnd(smss);
            }
            // RFC 6582 §4 / RFC 6675 §5.1: end any recovery; no new episode until
            // everything sent so far is acknowledged.
            self.flags.remove(Flags::RECOVERY | Flags::UNDO_ARMED);
            self.dupacks = 0;
            self.recover = self.snd_max;
            self.high_rxt = self.snd_una;
            self.set_rtx_next(None);
        }
        // Go back N from SND.UNA (SACKed data is skipped by output).
        self.snd_nxt = self.snd_una;
        self.set_rtt_timing(None);
        self.t_rexmt = Some(self.rto_deadline(now, ctx.cfg.max_rto));
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
    fn on_persist(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Closed {
            return;
        }
        if self.snd_wnd != 0 {
            // RFC 1122 §4.2.3.4 (d).
            self.persist_backoff = 0;
            self.flags |= Flags::FORCE;
            return;
        }
        // RFC 1122 §4.2.2.17: keep probing as long as the peer answers. Unanswered probes
        // count like retransmissions. RFC 5482: the user timeout still applies — the
        // probe byte has stayed unacknowledged that long (Linux ends such a connection
        // at the first probe past the user timeout, too).
        if self.rexmt_count >= ctx.cfg.max_retransmits || self.user_timeout_hit(ctx.now) {
            self.time_out(ctx.stats);
            return;
        }
        self.rexmt_count += 1;
        self.flags |= Flags::FORCE;
        self.persist_backoff = self.persist_backoff.saturating_add(1).min(16);
        self.arm_persist(ctx);
    }

    pub(crate) fn arm_persist(&mut self, ctx: &mut Ctx<'_>) {
        let base = self.rtt.rto(ctx.cfg.max_rto).max(ctx.cfg.min_rto);
        let d = Duration::from_micros(base.total_micros() << self.persist_backoff.min(16))
            .min(PERSIST_MAX);
        self.t_persist = Some(ctx.now + d);
    }

    /// Any acceptable segment answers the probes — unless our user has closed the
    /// connection: then nobody waits for the outcome, and a peer that keeps its window
    /// shut must not hold the slot for ever (RFC 9293 §3.8.6.1 leaves this to resource
    /// management, RFC 6429; Linux likewise bounds the probes of orphaned connections),
    /// so every probe counts, answered or not, and the retransmission limit ends it.
    pub(crate) fn persist_unanswered_reset(&mut self) {
        if self.t_persist.is_some() && !self.flags.contains(Flags::USER_CLOSED) {
            self.rexmt_count = 0;
        }
    }

    /// Returns a reset to send when the peer stopped answering: Linux
    /// (tcp_keepalive_timer) and BSD (tcp_drop) both reset it, in case it is only
    /// deaf, not gone.
    fn on_keepalive(&mut self, ctx: &mut Ctx<'_>) -> Option<TcpRepr> {
        let k = self.keepalive()?;
        if !matches!(self.state, State::Established | State::CloseWait) {
            return None;
        }
        if self.keep_probes >= k.count {
            let rst = self.make_rst(self.snd_max, true);
            self.time_out(ctx.stats);
            return Some(rst);
        }
        self.keep_probes += 1;
        self.flags |= Flags::KEEPALIVE_PROBE;
        self.t_keep = Some(ctx.now + k.interval);
        None
    }

    /// (Re)arms the keep-alive timer after activity.
    pub(crate) fn arm_keepalive(&mut self, now: Instant) {
        self.t_keep = match self.keepalive() {
            Some(k) if matches!(self.state, State::Established | State::CloseWait) => {
                Some(now + k.idle)
            }
            _ => None,
        };
    }
}
