//! Segment arrival (RFC 9293 §3.10.7), in the order the RFC and BSD's `tcp_input` follow.

use core::ops::ControlFlow;

use super::State;
use super::conn::{
    Connection, Ctx, Events, Pending, Progress, RecoveryFlags, SegmentIn, UserFlags,
};
use super::reply::rst_for;
use super::sack::DUP_THRESH;
use super::timer::{Stamp, Timer};
use crate::buf::{RecvBuf, SendBuf};
use crate::error::Error;
use crate::log::net_log;
use crate::tcp::cc::{AckEvent, CongestionControl};
use crate::time::Duration;
use crate::wire::tcp::{SeqNum, TcpFlags, TcpRepr};

/// RFC 7323 §5.5: a TS.Recent older than 24 days is no longer trusted.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 60 * 60);
/// PAWS rejects a TSval more than this many ticks older than TS.Recent. RFC 7323 §5.3
/// rejects any older value; Linux (TCP_PAWS_WINDOW) tolerates one tick, so that a
/// segment reordered by less than a millisecond behind a newer one is not discarded
/// as an old duplicate. Old duplicates from a previous incarnation are far older.
const PAWS_WINDOW: u32 = 1;

impl Connection {
    /// Processes one arriving segment that belongs to this connection. Returns a reset to
    /// send in reply when the RFC calls for one that the connection itself cannot carry
    /// (an unacceptable ACK in SYN-SENT or SYN-RECEIVED, data after the user closed).
    /// ACKs are not returned: the connection asks for one and [`Connection::poll_output`]
    /// builds it.
    pub fn input(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        rx: &mut RecvBuf<'_>,
        tx: &mut SendBuf<'_>,
    ) -> Option<TcpRepr> {
        match self.state {
            State::Closed | State::Listen => None,
            State::SynSent => self.input_syn_sent(ctx, seg, rx),
            State::Established => {
                if self.input_predicted(ctx, seg, rx, tx) {
                    None
                } else {
                    self.input_synchronized(ctx, seg, rx, tx)
                }
            }
            _ => self.input_synchronized(ctx, seg, rx, tx),
        }
    }

    /// Header prediction (Van Jacobson's, as in 4.4BSD `tcp_input`): in ESTABLISHED, a
    /// segment that is exactly what was expected — only ACK (and PSH) set, `SEG.SEQ =
    /// RCV.NXT`, the same send window, no SACK blocks, a timestamp no older than
    /// TS.Recent, no recovery episode and nothing held out of order or a FIN pending —
    /// that acknowledges new data, carries in-order data, or both. Such a segment passes
    /// every test of [`Connection::input_synchronized`] and takes only its ACK and text
    /// steps; this does exactly those, in the same order, and returns true. Anything else
    /// returns false, having changed nothing, and takes the full path.
    #[inline]
    fn input_predicted(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        rx: &mut RecvBuf<'_>,
        tx: &mut SendBuf<'_>,
    ) -> bool {
        let r = &seg.repr;
        let len = seg.payload.len();
        let ack = r.ack;
        if r.flags.intersection(
            TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST | TcpFlags::URG | TcpFlags::ACK,
        ) != TcpFlags::ACK
            || r.seq != self.rcv.nxt
            || (u32::from(r.window) << self.snd.wscale) != self.snd.wnd
            || !r.options.sack.is_empty()
            // Any recovery (fast, or after a timeout) takes the full path: RACK and
            // F-RTO look at every ACK.
            || self.in_loss_recovery()
            || self.progress.contains(Progress::FIN_AHEAD)
        {
            return false;
        }
        // Either new data acknowledged (never beyond SND.MAX), or the same SND.UNA with
        // data (an ACK without data that repeats SND.UNA may be a duplicate ACK).
        let new_ack = ack > self.snd.una;
        if (new_ack && ack > self.snd.max) || (!new_ack && (ack != self.snd.una || len == 0)) {
            return false;
        }
        if len > 0 && rx.has_ooo() {
            return false;
        }
        let ts_on = self.ts_on();
        let mut tsval = 0;
        if ts_on {
            // RFC 7323: a TSval at or after TS.Recent passes PAWS without further tests.
            match r.options.timestamps {
                Some((v, _)) if (v.wrapping_sub(self.ts().recent) as i32) >= 0 => tsval = v,
                _ => return false,
            }
        }

        // What the full path does for this segment: the sequence number is RCV.NXT
        // (acceptable whatever the window), no RST, no SYN, an ACK inside
        // [SND.UNA, SND.MAX].
        let now = ctx.now;
        self.keep_probes = 0;
        self.persist_unanswered_reset();
        self.arm_keepalive(now);
        // RFC 7323 §4.3 (2).
        if ts_on && r.seq <= self.rcv.last_ack_sent {
            self.take_ts_recent(tsval, now);
        }
        // §3.10.7.4 fifth, as `process_ack` does it for a new ACK without SACK blocks
        // and an unchanged window (not a duplicate ACK: it acknowledges new data, or
        // carries data).
        if new_ack {
            self.on_new_ack(ctx, r, tx);
        }
        self.update_send_window(r, self.snd.wnd);
        // §3.10.7.4 seventh; no FIN (eighth).
        self.process_text(ctx, seg, rx);
        true
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn input_syn_sent(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        rx: &mut RecvBuf<'_>,
    ) -> Option<TcpRepr> {
        let r = &seg.repr;
        let now = ctx.now;
        // §3.10.7.3 first: check the ACK bit.
        let has_ack = r.flags.contains(TcpFlags::ACK);
        if has_ack && (r.ack <= self.snd.iss || r.ack > self.snd.max) {
            if r.flags.contains(TcpFlags::RST) {
                return None;
            }
            return rst_for(r, seg.payload.len());
        }
        // §3.10.7.3 second: check the RST bit (RFC 5961 §3.2: only with an acceptable ACK).
        if r.flags.contains(TcpFlags::RST) {
            if has_ack {
                ctx.stats.rst_received += 1;
                self.enter_closed(Some(Error::ConnectionRefused));
            } else {
                ctx.stats.rst_ignored += 1;
            }
            return None;
        }
        // §3.10.7.3 fourth: check the SYN bit.
        if !r.flags.contains(TcpFlags::SYN) {
            return None;
        }
        self.rcv.irs = r.seq;
        self.rcv.nxt = r.seq + 1u32;
        self.rcv.adv = self.rcv.nxt + (rx.window().min(0xffff) as u32);
        self.rcv.last_ack_sent = self.rcv.nxt;
        self.negotiate(ctx.cfg, &r.options, now);
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd.wnd = u32::from(r.window);
        self.snd.max_wnd = self.snd.wnd;
        self.snd.wl1 = r.seq;
        self.snd.wl2 = r.ack;
        if has_ack {
            // Our SYN is acknowledged: ESTABLISHED.
            self.ack_syn(ctx, r);
            self.establish(ctx);
            self.pending |= Pending::ACK_NOW;
            if !seg.payload.is_empty() || r.flags.contains(TcpFlags::FIN) {
                let data = SegmentIn {
                    repr: TcpRepr {
                        seq: r.seq + 1u32,
                        ..*r
                    },
                    payload: seg.payload,
                    staged: None,
                };
                self.process_text(ctx, &data, rx);
                self.process_fin(ctx, &data);
            }
        } else {
            // Simultaneous open: SYN-RECEIVED, answer <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
            self.state = State::SynReceived;
            self.snd.nxt = self.snd.iss;
            self.timers.stop(Timer::Rtx);
            self.pending |= Pending::ACK_NOW;
        }
        None
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states, one step after
    /// another, in the RFC's order. A step that ends the processing breaks with the reply
    /// to send, if any.
    fn input_synchronized(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        rx: &mut RecvBuf<'_>,
        tx: &mut SendBuf<'_>,
    ) -> Option<TcpRepr> {
        let crossed = self.crossed_syn_ack(seg);
        let seg = crossed.as_ref().unwrap_or(seg);
        let mut steps = |c: &mut Self, ctx: &mut Ctx<'_>| -> ControlFlow<Option<TcpRepr>> {
            // RFC 7323 §3.2 and §5.3 R1, before the sequence number check.
            c.check_timestamps(ctx, seg)?;
            // §3.10.7.4 first: check the sequence number.
            c.check_sequence(ctx, seg)?;
            // §3.10.7.4 second: check the RST bit.
            c.check_rst(ctx, &seg.repr)?;
            // §3.10.7.4 third (security) does not apply; fourth: check the SYN bit.
            c.check_syn(ctx, &seg.repr)?;
            // §3.10.7.4 fifth: check the ACK field.
            c.check_ack(ctx, seg, tx)?;
            // §3.10.7.4 sixth: the URG bit is ignored (urgent data is not supported).
            // Seventh: process the segment text.
            c.check_text(ctx, seg, rx)?;
            // §3.10.7.4 eighth: check the FIN bit.
            c.process_fin(ctx, seg);
            ControlFlow::Continue(())
        };
        match steps(self, ctx) {
            ControlFlow::Break(reply) => reply,
            ControlFlow::Continue(()) => None,
        }
    }

    /// RFC 9293 §3.5 figure 8: after crossing SYNs the peer's SYN-ACK repeats the SYN we
    /// already hold. Its SYN is old (trimmed, as BSD does); its ACK completes the
    /// handshake. Returns the trimmed segment.
    fn crossed_syn_ack<'p>(&self, seg: &SegmentIn<'p>) -> Option<SegmentIn<'p>> {
        let f = seg.repr.flags;
        if self.state == State::SynReceived
            && !self.progress.contains(Progress::PASSIVE)
            && f.contains(TcpFlags::SYN | TcpFlags::ACK)
            && !f.contains(TcpFlags::RST)
            && seg.repr.seq + 1u32 == self.rcv.nxt
        {
            let mut r = seg.repr;
            r.flags.remove(TcpFlags::SYN);
            r.seq = self.rcv.nxt;
            Some(SegmentIn { repr: r, ..*seg })
        } else {
            None
        }
    }

    /// RFC 7323 §3.2: once negotiated, a non-RST segment without TSopt is dropped; §5.3
    /// R1: PAWS.
    fn check_timestamps(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
    ) -> ControlFlow<Option<TcpRepr>> {
        let r = &seg.repr;
        if !self.ts_on() || r.flags.contains(TcpFlags::RST) {
            return ControlFlow::Continue(());
        }
        let Some((tsval, _)) = r.options.timestamps else {
            ctx.stats.dropped_missing_ts += 1;
            return ControlFlow::Break(None);
        };
        if (self.ts().recent.wrapping_sub(tsval) as i32) > PAWS_WINDOW as i32 {
            let now = ctx.now;
            if now.saturating_duration_since(self.ts().recent_age) > PAWS_IDLE {
                // RFC 7323 §5.5: TS.Recent is stale; accept and take the new value.
                self.take_ts_recent(tsval, now);
            } else {
                ctx.stats.dropped_paws += 1;
                self.ack_unacceptable(ctx, r, seg.payload.len());
                return ControlFlow::Break(None);
            }
        }
        ControlFlow::Continue(())
    }

    /// §3.10.7.4 first: an unacceptable segment is dropped (and answered with an ACK
    /// unless it is a RST).
    fn check_sequence(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
    ) -> ControlFlow<Option<TcpRepr>> {
        let r = &seg.repr;
        let seg_len = r.seq_len(seg.payload.len());
        if self.acceptable(r.seq, seg_len) {
            return ControlFlow::Continue(());
        }
        if r.flags.contains(TcpFlags::RST) {
            ctx.stats.rst_ignored += 1;
            return ControlFlow::Break(None);
        }
        ctx.stats.dropped_out_of_window += 1;
        if self.state == State::TimeWait
            && r.flags.contains(TcpFlags::FIN)
            && r.seq + seg_len == self.rcv.nxt
        {
            // A retransmission of the peer's FIN: ACK it and restart the 2·MSL timer.
            self.timers
                .arm(Timer::Close, ctx.now + ctx.cfg.msl.saturating_mul(2));
            self.pending |= Pending::ACK_NOW;
            return ControlFlow::Break(None);
        }
        self.ack_unacceptable(ctx, r, seg.payload.len());
        ControlFlow::Break(None)
    }

    /// §3.10.7.4 second: the RST bit (RFC 5961 §3.2: exact match only, else a
    /// challenge ACK; RFC 1337: ignored in TIME-WAIT).
    fn check_rst(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) -> ControlFlow<Option<TcpRepr>> {
        if !r.flags.contains(TcpFlags::RST) {
            return ControlFlow::Continue(());
        }
        if self.state == State::TimeWait {
            // RFC 1337: ignore RST in TIME-WAIT, in-window ones too (no challenge).
            ctx.stats.rst_ignored += 1;
            return ControlFlow::Break(None);
        }
        if r.seq != self.rcv.nxt {
            self.challenge_ack(ctx);
            return ControlFlow::Break(None);
        }
        ctx.stats.rst_received += 1;
        let error = match self.state {
            State::SynReceived if self.progress.contains(Progress::PASSIVE) => {
                Some(Error::ConnectionReset)
            }
            State::SynReceived => Some(Error::ConnectionRefused),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                ctx.stats.resets += 1;
                Some(Error::ConnectionReset)
            }
            _ => None,
        };
        self.enter_closed(error);
        ControlFlow::Break(None)
    }

    /// §3.10.7.4 fourth: the SYN bit (RFC 5961 §4: challenge ACK).
    fn check_syn(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) -> ControlFlow<Option<TcpRepr>> {
        if !r.flags.contains(TcpFlags::SYN) {
            return ControlFlow::Continue(());
        }
        if self.state == State::SynReceived && self.progress.contains(Progress::PASSIVE) {
            // "Return this connection to the LISTEN state": drop the embryonic
            // connection; the peer's next SYN starts afresh.
            self.enter_closed(None);
            return ControlFlow::Break(None);
        }
        self.challenge_ack(ctx);
        ControlFlow::Break(None)
    }

    /// §3.10.7.4 fifth: the ACK field. In SYN-RECEIVED it completes the handshake; RFC
    /// 5961 §5.2 bounds it; an acceptable segment is a sign of life, updates TS.Recent
    /// and goes to [`Connection::process_ack`]; an ACK of our FIN moves the state on.
    fn check_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        tx: &mut SendBuf<'_>,
    ) -> ControlFlow<Option<TcpRepr>> {
        let r = &seg.repr;
        let now = ctx.now;
        if !r.flags.contains(TcpFlags::ACK) {
            return ControlFlow::Break(None);
        }
        if self.state == State::SynReceived {
            if !(self.snd.una < r.ack && r.ack <= self.snd.max) {
                return ControlFlow::Break(rst_for(r, seg.payload.len()));
            }
            self.snd.wnd = u32::from(r.window) << self.snd.wscale;
            self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
            self.snd.wl1 = r.seq;
            self.snd.wl2 = r.ack;
            self.establish(ctx);
        }
        // RFC 5961 §5.2: an ACK is acceptable in
        // [SND.UNA - MAX.SND.WND, SND.NXT]; anything else is dropped and answered with a
        // challenge ACK, rate limited (§7) even when the segment carries data: each
        // answer is a duplicate ACK to the real peer, so unthrottled answers would let a
        // blind attacker trigger its fast retransmits (Linux throttles them too).
        if r.ack > self.snd.max || r.ack < self.snd.una - self.snd.max_wnd.max(1) {
            ctx.stats.dropped_bad_ack += 1;
            self.challenge_ack(ctx);
            return ControlFlow::Break(None);
        }

        // The segment is acceptable: it counts as a sign of life.
        self.keep_probes = 0;
        self.persist_unanswered_reset();
        self.arm_keepalive(now);
        // RFC 7323 §4.3 (2): remember the timestamp to echo.
        if let (true, Some((tsval, _))) = (self.ts_on(), r.options.timestamps) {
            if (tsval.wrapping_sub(self.ts().recent) as i32) >= 0 && r.seq <= self.rcv.last_ack_sent
            {
                self.take_ts_recent(tsval, now);
            }
        }

        self.process_ack(ctx, r, seg.payload.len(), tx);
        if self.progress.contains(Progress::FIN_ACKED) {
            match self.state {
                State::FinWait1 => {
                    self.state = State::FinWait2;
                    if self.user.flags.contains(UserFlags::USER_CLOSED) {
                        self.timers
                            .arm(Timer::Close, now + ctx.cfg.fin_wait_2_timeout);
                    }
                }
                State::Closing => self.enter_time_wait(ctx),
                State::LastAck => {
                    self.enter_closed(None);
                    return ControlFlow::Break(None);
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }

    /// §3.10.7.4 seventh: the segment text, unless there is none to take. RFC 1122
    /// §4.2.2.13 / BSD / Linux: new data after the user has gone resets the peer. After
    /// the peer's FIN (CLOSING, LAST-ACK, TIME-WAIT) there is no new data: the text is
    /// ignored.
    fn check_text(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegmentIn<'_>,
        rx: &mut RecvBuf<'_>,
    ) -> ControlFlow<Option<TcpRepr>> {
        let r = &seg.repr;
        if self.state == State::TimeWait && !seg.payload.is_empty() {
            // Linux answers anything but a bare ACK in TIME-WAIT with an ACK.
            self.rate_limited_ack(ctx);
            return ControlFlow::Break(None);
        }
        if self.user.flags.contains(UserFlags::USER_CLOSED)
            && matches!(self.state, State::FinWait1 | State::FinWait2)
            && self.has_new_data(r, seg.payload.len())
        {
            // Counted where it is sent, as every reset is.
            let reply = rst_for(r, seg.payload.len());
            self.enter_closed(None);
            return ControlFlow::Break(reply);
        }
        self.process_text(ctx, seg, rx);
        ControlFlow::Continue(())
    }

    /// The RFC 9293 §3.10.7.4 acceptability test (the four cases).
    fn acceptable(&self, seq: SeqNum, seg_len: u32) -> bool {
        let wnd = self.rcv_wnd();
        let nxt = self.rcv.nxt;
        match (seg_len, wnd) {
            (0, 0) => seq == nxt,
            (0, _) => seq.in_range(nxt, nxt + wnd),
            // A zero window accepts no data, but RFC 9293 asks that valid ACKs, URGs and
            // RSTs still be processed: a segment at RCV.NXT passes, its text is trimmed.
            (_, 0) => seq == nxt,
            (_, _) => {
                seq.in_range(nxt, nxt + wnd) || (seq + (seg_len - 1)).in_range(nxt, nxt + wnd)
            }
        }
    }

    /// Bytes of the receive window last advertised.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        let d = self.rcv.adv.diff(self.rcv.nxt);
        if d > 0 { d as u32 } else { 0 }
    }

    fn has_new_data(&self, r: &TcpRepr, len: usize) -> bool {
        len > 0 && r.seq + len as u32 > self.rcv.nxt
    }

    fn establish(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::Established;
        if self.user.flags.contains(UserFlags::CONNECT_TIMEOUT) {
            self.set_user_timeout(ctx.cfg.user_timeout);
        }
        if self.user.flags.contains(UserFlags::FIN_QUEUED) {
            // The user half-closed during the handshake: the FIN follows the data.
            self.state = State::FinWait1;
        }
        self.events |= Events::CONNECTED | Events::SEND;
        ctx.stats.established += 1;
        self.arm_keepalive(ctx.now);
    }

    /// The ACK of our SYN in SYN-SENT.
    fn ack_syn(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) {
        self.take_rtt_sample(ctx, r, r.ack);
        self.snd.una = r.ack;
        if self.snd.nxt < self.snd.una {
            self.snd.nxt = self.snd.una;
        }
        self.rtt.reset_backoff();
        self.rtx_count = 0;
        self.timers.stop(Timer::Rtx);
        self.unacked_since = None;
        self.recovery.recover = self.snd.una;
    }

    /// RTT from the timed segment (Karn: never a retransmitted one) or, failing that, from
    /// the echoed timestamp (RFC 7323 §4.1).
    fn take_rtt_sample(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr, ack: SeqNum) -> Option<Duration> {
        let cfg = ctx.cfg;
        if let Some((seq, sent)) = self.rtt_timing() {
            if ack > seq {
                self.set_rtt_timing(None);
                let d = ctx.now - sent;
                self.rtt.sample(d, cfg.min_rto, cfg.max_rto);
                return Some(d);
            }
        }
        if self.ts_on() {
            if let Some((_, ecr)) = r.options.timestamps {
                let ms = self.ts_now(ctx.now).wrapping_sub(ecr);
                // Karn's rule for timestamps: an echo of a segment sent before our latest
                // retransmission measures the recovery, not the path.
                let fresh = (ecr.wrapping_sub(self.ts().rtx) as i32) >= 0;
                if ecr != 0 && fresh && (ms as i32) >= 0 && ms < 3_600_000 {
                    let d = Duration::from_millis(u64::from(ms));
                    self.rtt.sample(d, cfg.min_rto, cfg.max_rto);
                    return Some(d);
                }
            }
        }
        None
    }

    /// The ACK field of an acceptable segment: SACK scoreboard, new or duplicate ACK, send
    /// window update (RFC 9293 §3.10.7.4 fifth, RFC 5681, RFC 6582, RFC 6675).
    fn process_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        r: &TcpRepr,
        payload_len: usize,
        tx: &mut SendBuf<'_>,
    ) {
        let ack = r.ack;
        let sacked_before = self.scoreboard().highest();
        // Only a model-based controller counts what each ACK delivered; the others skip
        // the scoreboard sums on every ACK.
        let model = self.cc.wants_delivery();
        let una_before = self.snd.una;
        let sacked_bytes_before = if model {
            self.scoreboard().sacked_bytes()
        } else {
            0
        };
        let fresh_ack = self.frto_fresh_ack(ack);
        let new_sack = self.record_sack_blocks(ctx, r);
        let wnd = u32::from(r.window) << self.snd.wscale;
        // RACK: a partial ACK of retransmitted data overtakes everything sent before
        // that retransmission, up to the recovery point.
        let rtx_delivered = (self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            && ack > self.snd.una
            && self.snd.una < self.recovery.high_rxt
            && ack < self.recovery.recover)
            .then_some(self.recovery.recover);
        let mut rtt = None;
        if ack > self.snd.una {
            rtt = self.on_new_ack(ctx, r, tx);
            // RFC 6675 §5: an ACK that SACKs new data is a duplicate ACK "regardless of
            // its status as a cumulative acknowledgment": after the reset to zero it
            // counts one, and IsLost(HighACK + 1) may start recovery at once.
            if new_sack && !self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) {
                self.on_dup_ack(ctx);
            }
        } else if ack == self.snd.una
            && self.snd.max != self.snd.una
            && payload_len == 0
            && !r.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
            && if self.sack_on() {
                // RFC 6675 §2: with SACK, only an ACK that SACKs new data is a duplicate
                // (a copy of an earlier ACK, made by the network, says nothing new).
                new_sack
            } else {
                // RFC 5681 §2: same ACK, same window, no data.
                wnd == self.snd.wnd
            }
            // Only while the retransmission timer runs, as in BSD: the answers to
            // zero-window probes (persist timer, no retransmission timer) repeat
            // SND.UNA too, and must not start a fast retransmit into a closed window.
            && self.timers.armed(Timer::Rtx)
        {
            self.on_dup_ack(ctx);
        }
        if self.snd.una <= ack {
            self.update_send_window(r, wnd);
        }
        self.frto_check(ctx, fresh_ack, sacked_before);
        self.rack_detect(ctx, rtx_delivered);
        if model {
            let delivered = (self.snd.una - una_before)
                .saturating_add(self.scoreboard().sacked_bytes())
                .saturating_sub(sacked_bytes_before);
            if delivered > 0 {
                self.cc_delivery(ctx, delivered, rtt, tx);
            }
        }
    }

    /// Tells the controller what an ACK delivered (`AckEvent::delivered`), with its RTT
    /// sample and whether the sender was short of data.
    fn cc_delivery(
        &mut self,
        ctx: &Ctx<'_>,
        delivered: u32,
        rtt: Option<Duration>,
        tx: &SendBuf<'_>,
    ) {
        let smss = u32::from(self.eff_mss());
        let outstanding = self.snd.max - self.snd.una;
        let flight = outstanding.saturating_sub(self.scoreboard().sacked_bytes());
        let unsent = (tx.len() as u32).saturating_sub(outstanding);
        self.cc.on_delivery(&AckEvent {
            now: ctx.now,
            acked: delivered,
            smss,
            flight,
            srtt: self.rtt.srtt(),
            delivered,
            rtt,
            app_limited: unsent == 0 && flight.saturating_add(smss) < self.cc.cwnd(),
        });
    }

    /// The SACK option of an arriving ACK into the scoreboard; a D-SACK (RFC 2883)
    /// widens RACK's reordering window and counts towards the undo. Returns whether new
    /// data was SACKed.
    fn record_sack_blocks(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr) -> bool {
        if !self.sack_on() || r.options.sack.is_empty() {
            return false;
        }
        let (from, to) = (r.ack.max(self.snd.una), self.snd.max);
        let up = self
            .scoreboard_mut()
            .map(|sb| sb.update(from, to, r.options.sack.as_slice()))
            .unwrap_or_default();
        if up.dsack {
            ctx.stats.dsacks += 1;
            self.rack_on_dsack(ctx);
            if let Some(&block) = r.options.sack.as_slice().first() {
                self.undo_on_dsack(ctx, block);
            }
        }
        up.newly_sacked > 0
    }

    /// RFC 9293 §3.10.7.4 fifth: the send window from a segment newer than the one that
    /// last set it (SND.WL1, SND.WL2); an open window ends zero-window probing.
    #[inline]
    fn update_send_window(&mut self, r: &TcpRepr, wnd: u32) {
        if self.snd.wl1 < r.seq || (self.snd.wl1 == r.seq && self.snd.wl2 <= r.ack) {
            self.snd.wnd = wnd;
            self.snd.max_wnd = self.snd.max_wnd.max(wnd);
            self.snd.wl1 = r.seq;
            self.snd.wl2 = r.ack;
            if wnd > 0 {
                self.timers.stop(Timer::Persist);
                self.persist_backoff = 0;
            }
        }
    }

    /// An ACK of new data; returns the RTT sample it gave.
    fn on_new_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        r: &TcpRepr,
        tx: &mut SendBuf<'_>,
    ) -> Option<Duration> {
        let now = ctx.now;
        let ack = r.ack;
        let smss = u32::from(self.eff_mss());
        let flight_before = self.snd.max - self.snd.una;
        let mut acked = ack - self.snd.una;
        if self.snd.una == self.snd.iss {
            acked = acked.saturating_sub(1); // the SYN
        }
        let held = tx.len() as u32;
        if acked > held && self.progress.contains(Progress::FIN_SENT) {
            self.progress |= Progress::FIN_ACKED;
        }
        let data_acked = acked.min(held);
        tx.consume(data_acked as usize);
        let rtt = self.take_rtt_sample(ctx, r, ack);
        self.rtt.reset_backoff();
        self.rtx_count = 0;
        self.snd.una = ack;
        if self.snd.nxt < self.snd.una {
            self.snd.nxt = self.snd.una;
        }
        if self.recovery.high_rxt < self.snd.una {
            self.recovery.high_rxt = self.snd.una;
        }
        if let Some(sb) = self.scoreboard_mut() {
            sb.advance(ack);
        }
        if self
            .scoreboard()
            .blocks()
            .first()
            .is_some_and(|b| b.0 == self.snd.una)
        {
            // The receiver ACKs up to data it had SACKed: it reneged (RFC 2018 §8).
            if let Some(sb) = self.scoreboard_mut() {
                sb.clear();
            }
        }

        let mut restart_timer = true;
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) {
            if ack >= self.recovery.recover {
                // Full acknowledgment: the episode ends (RFC 6582 §3.2 step 3).
                self.recovery.flags.remove(RecoveryFlags::IN_RECOVERY);
                self.recovery.dupacks = 0;
                let flight = self.snd.max - self.snd.una;
                self.cc.on_recovery_end(flight, smss);
                self.undo_at_recovery_end(ctx, r);
            } else if !self.sack_on() {
                // Partial acknowledgment (RFC 6582 §3.2 step 4): retransmit the next
                // unacknowledged segment, deflate by the amount acknowledged, add back one
                // SMSS if at least that much was acknowledged.
                self.set_rtx_next(Some(self.snd.una));
                let mut cwnd = self.cc.cwnd().saturating_sub(data_acked);
                if data_acked >= smss {
                    cwnd += smss;
                }
                self.cc.set_cwnd(cwnd.max(smss));
                // The "impatient" variant: only the first partial ACK restarts the timer.
                restart_timer = self.recovery.dupacks != u16::MAX;
                self.recovery.dupacks = u16::MAX;
            }
        } else {
            self.recovery.dupacks = 0;
            // Grow only when the window was in use (cwnd validation, RFC 7661 in spirit).
            if flight_before.saturating_mul(2) >= self.cc.cwnd() {
                self.cc.on_ack(&AckEvent {
                    now,
                    acked: data_acked.max(1),
                    smss,
                    flight: flight_before,
                    srtt: self.rtt.srtt(),
                    delivered: data_acked,
                    rtt,
                    app_limited: false,
                });
            }
        }

        self.tlp_on_ack(ctx, flight_before);
        // RFC 6298 §5.2–5.3.
        if self.snd.una == self.snd.max {
            self.timers.stop(Timer::Rtx);
            self.unacked_since = None;
            self.rack_reset();
        } else {
            if restart_timer {
                self.timers
                    .arm(Timer::Rtx, now + self.rtt.rto(ctx.cfg.max_rto));
            }
            self.unacked_since = Some(now);
            self.arm_tlp(ctx);
        }
        if data_acked > 0 {
            self.events |= Events::SEND;
            // The peer is reachable after all: an earlier ICMP or ARP error is stale
            // (Linux clears its soft error on every ACK of new data).
            self.soft_error = None;
        }
        rtt
    }

    fn on_dup_ack(&mut self, ctx: &mut Ctx<'_>) {
        ctx.stats.dup_acks += 1;
        let smss = u32::from(self.eff_mss());
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) {
            if !self.sack_on() {
                // RFC 5681 §3.2 step 4: inflate by one segment per duplicate.
                self.cc.set_cwnd(self.cc.cwnd().saturating_add(smss));
            }
            return;
        }
        self.recovery.dupacks = self.recovery.dupacks.saturating_add(1);
        if self.recovery.dupacks == 1 {
            self.recovery.dupack_snd_max = self.snd.max;
        }
        let sack_says_lost = self.sack_on()
            && !self.scoreboard().is_empty()
            && self.scoreboard().is_lost(self.snd.una, smss);
        // RFC 6582 §3.2 step 2: enter only if the ACK covers more than `recover`.
        if (u32::from(self.recovery.dupacks) >= DUP_THRESH || sack_says_lost)
            && self.snd.una >= self.recovery.recover
        {
            self.enter_recovery(ctx);
        }
    }

    /// Fast retransmit and the start of a recovery episode (RFC 5681 §3.2 steps 2–3,
    /// RFC 6675 §5 step 4).
    pub(crate) fn enter_recovery(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        let smss = u32::from(self.eff_mss());
        // RFC 5681 §3.2 step 2: segments sent by limited transmit (RFC 3042) since the
        // first duplicate ACK are not part of FlightSize here.
        let flight = if self.recovery.dupack_snd_max > self.snd.una
            && self.recovery.dupack_snd_max <= self.snd.max
        {
            self.recovery.dupack_snd_max - self.snd.una
        } else {
            self.snd.max - self.snd.una
        };
        ctx.stats.fast_retransmits += 1;
        net_log!(
            debug,
            "tcp {} -> {}: fast recovery, {} bytes in flight",
            self.local,
            self.remote,
            flight
        );
        self.mark_ts_rtx(now);
        self.rack_reset();
        self.recovery.flags |= RecoveryFlags::IN_RECOVERY;
        self.recovery.recover = self.snd.max;
        self.undo_arm();
        self.cc.on_congestion(flight, smss);
        self.set_rtt_timing(None);
        self.recovery.high_rxt = self.snd.una;
        self.set_rtx_next(Some(self.snd.una));
        if !self.sack_on() {
            self.cc
                .set_cwnd(self.cc.ssthresh().saturating_add(3 * smss));
        }
        self.timers
            .arm(Timer::Rtx, now + self.rtt.rto(ctx.cfg.max_rto));
    }

    /// §3.10.7.4 seventh: store the text of the segment.
    fn process_text(&mut self, ctx: &mut Ctx<'_>, seg: &SegmentIn<'_>, rx: &mut RecvBuf<'_>) {
        let r = &seg.repr;
        let len = seg.payload.len();
        if len == 0 || !self.state.can_receive_data() {
            return;
        }
        let wnd_end = self.rcv.nxt
            + self
                .rcv_wnd()
                .max(rx.window().min(u32::MAX as usize) as u32);
        let start = r.seq.max(self.rcv.nxt);
        let end = (r.seq + len as u32).min(wnd_end);
        if start >= end {
            // Nothing new (a duplicate, or a probe of our zero window): ACK at once.
            self.pending |= Pending::ACK_NOW;
            return;
        }
        let offset = (start - self.rcv.nxt) as usize;
        let skip = (start - r.seq) as usize;
        let n = (end - start) as usize;
        let had_ooo = rx.ooo_bytes() > 0;
        let staged_covers = seg
            .staged
            .is_some_and(|(so, sl)| so <= offset && offset + n <= so + sl);
        let res = if staged_covers {
            rx.commit(offset, n)
        } else {
            match seg.payload.get(skip..skip + n) {
                Some(data) => rx.insert(offset, data),
                None => return,
            }
        };
        match res {
            Ok(advance) if offset == 0 && advance > 0 => {
                self.rcv.nxt += advance as u32;
                self.events |= Events::RECV;
                if had_ooo {
                    // Filling (part of) a gap: ACK at once (RFC 5681 §4.2).
                    self.pending |= Pending::ACK_NOW;
                    if rx.ooo_bytes() == 0 {
                        if let Some(s) = self.sack.first_mut() {
                            s.recv.clear();
                        }
                    }
                } else {
                    self.rcv.unacked_segs = self.rcv.unacked_segs.saturating_add(1);
                    match ctx.cfg.delayed_ack {
                        Some(d) if self.rcv.unacked_segs < 2 => {
                            if !self.timers.armed(Timer::DelAck) {
                                self.timers.arm(Timer::DelAck, ctx.now + d);
                            }
                        }
                        _ => self.pending |= Pending::ACK_NOW,
                    }
                }
            }
            Ok(_) if offset == 0 => {
                // No room at all: our window is closed. Answer the probe.
                self.pending |= Pending::ACK_NOW;
            }
            Ok(_) => {
                ctx.stats.ooo_segments += 1;
                if let Some(s) = self.sack.first_mut() {
                    s.recv.note(start);
                }
                self.pending |= Pending::ACK_NOW;
            }
            Err(_) => {
                ctx.stats.ooo_dropped += 1;
                self.pending |= Pending::ACK_NOW;
            }
        }
    }

    /// §3.10.7.4 eighth: the FIN, if it is next in sequence (or was seen earlier on an
    /// out-of-order segment and is next now).
    fn process_fin(&mut self, ctx: &mut Ctx<'_>, seg: &SegmentIn<'_>) {
        if matches!(self.state, State::Closed | State::Listen | State::SynSent) {
            return;
        }
        let r = &seg.repr;
        if r.flags.contains(TcpFlags::FIN) {
            let fin_seq = r.seq + seg.payload.len() as u32;
            if fin_seq > self.rcv.nxt {
                if fin_seq.diff(self.rcv.nxt) as u32 <= self.rcv_wnd() {
                    self.set_rcv_fin(Some(fin_seq));
                }
            } else if fin_seq == self.rcv.nxt && !self.progress.contains(Progress::RCVD_FIN) {
                self.receive_fin(ctx);
                return;
            }
        }
        if self.rcv_fin() == Some(self.rcv.nxt) && !self.progress.contains(Progress::RCVD_FIN) {
            self.receive_fin(ctx);
        }
    }

    fn receive_fin(&mut self, ctx: &mut Ctx<'_>) {
        self.rcv.nxt += 1u32;
        self.set_rcv_fin(None);
        self.progress |= Progress::RCVD_FIN;
        self.pending |= Pending::ACK_NOW;
        self.events |= Events::RECV;
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 => {
                if self.progress.contains(Progress::FIN_ACKED) {
                    self.enter_time_wait(ctx);
                } else {
                    self.state = State::Closing;
                }
            }
            State::FinWait2 => self.enter_time_wait(ctx),
            State::TimeWait => self
                .timers
                .arm(Timer::Close, ctx.now + ctx.cfg.msl.saturating_mul(2)),
            _ => {}
        }
    }

    pub(crate) fn enter_time_wait(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::TimeWait;
        self.timers.stop(Timer::Rtx);
        self.timers.stop(Timer::Persist);
        self.timers.stop(Timer::Keepalive);
        self.timers
            .arm(Timer::Close, ctx.now + ctx.cfg.msl.saturating_mul(2));
    }

    /// An unacceptable segment is answered with an ACK (RFC 9293 §3.10.7.4 first). Pure
    /// ACKs and SYNs are rate limited against ACK loops and blind attacks; segments with
    /// data always get an answer, as in Linux.
    fn ack_unacceptable(&mut self, ctx: &mut Ctx<'_>, r: &TcpRepr, len: usize) {
        if len > 0 && !r.flags.contains(TcpFlags::SYN) {
            self.pending |= Pending::ACK_NOW;
        } else {
            self.rate_limited_ack(ctx);
        }
    }

    /// A challenge ACK (RFC 5961 §§3–5), rate limited (§7).
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        if self.rate_limited_ack(ctx) {
            ctx.stats.challenge_acks += 1;
        }
    }

    fn rate_limited_ack(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let now = ctx.now;
        if self.timers.since(Stamp::ChallengeWindow, now) >= Duration::from_secs(1) {
            self.timers.set_stamp(Stamp::ChallengeWindow, Some(now));
            self.chal_count = 0;
        }
        if self.chal_count < ctx.cfg.challenge_ack_limit {
            self.chal_count += 1;
            self.pending |= Pending::ACK_NOW;
            true
        } else {
            ctx.stats.challenge_acks_suppressed += 1;
            false
        }
    }
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    //! Header prediction against the full path: the same segments, from the same states,
    //! must leave the same connection, buffers and counters.
    use super::*;
    use crate::buf::{RecvState, SendState};
    use crate::tcp::{Keepalive, TcpConfig, TcpStats};
    use crate::time::Instant;
    use crate::wire::checksum::Checksum;
    use crate::wire::tcp::{SackBlocks, TcpOptions};
    use core::net::SocketAddrV4;
    use std::format;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// A connection with its buffers and counters.
    #[derive(Clone)]
    struct Side {
        conn: Connection,
        rx_mem: Vec<u8>,
        rx: RecvState,
        tx_mem: Vec<u8>,
        tx: SendState,
        stats: TcpStats,
    }

    impl Side {
        /// Everything observable, as text.
        fn snapshot(&self) -> String {
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
                self.conn, self.rx, self.rx_mem, self.tx, self.tx_mem, self.stats
            )
        }

        /// Delivers `repr` with `payload`, staged into the ring first as the stack's fused
        /// receive path does (if `stage`). `predicted_only`: call only the prediction
        /// and report whether it took the segment.
        fn deliver(
            &mut self,
            cfg: &TcpConfig,
            now: Instant,
            repr: TcpRepr,
            payload: &[u8],
            stage: bool,
            path: Path,
        ) -> (bool, Option<TcpRepr>) {
            let mut rx = RecvBuf::new(&mut self.rx_mem, &mut self.rx);
            let mut tx = SendBuf::new(&mut self.tx_mem, &mut self.tx);
            let mut staged = None;
            if stage {
                if let Some((skip, off)) = self.conn.stage_plan(repr.seq, payload.len()) {
                    let n = rx.stage(payload, skip, off, &mut Checksum::new());
                    staged = Some((off, n));
                }
            }
            let seg = SegmentIn {
                repr,
                payload,
                staged,
            };
            let mut ctx = Ctx {
                now,
                cfg,
                stats: &mut self.stats,
            };
            match path {
                Path::Predicted => (
                    self.conn.input_predicted(&mut ctx, &seg, &mut rx, &mut tx),
                    None,
                ),
                Path::Full => (
                    true,
                    self.conn
                        .input_synchronized(&mut ctx, &seg, &mut rx, &mut tx),
                ),
                Path::Input => (true, self.conn.input(&mut ctx, &seg, &mut rx, &mut tx)),
            }
        }

        /// Sends up to `n` segments; returns them.
        fn output(&mut self, cfg: &TcpConfig, now: Instant, n: usize) -> Vec<Transmit> {
            let mut out = Vec::new();
            for _ in 0..n {
                let rx = RecvBuf::new(&mut self.rx_mem, &mut self.rx);
                let tx = SendBuf::new(&mut self.tx_mem, &mut self.tx);
                let mut ctx = Ctx {
                    now,
                    cfg,
                    stats: &mut self.stats,
                };
                match self.conn.poll_output(&mut ctx, &rx, &tx, 1500) {
                    Some(t) => out.push(t),
                    None => break,
                }
            }
            out
        }
    }

    #[derive(Clone, Copy)]
    enum Path {
        Predicted,
        Full,
        Input,
    }

    use super::super::conn::Transmit;

    fn peer_repr(seq: SeqNum, ack: SeqNum, flags: TcpFlags, window: u16) -> TcpRepr {
        TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq,
            ack,
            flags,
            window,
            options: TcpOptions::NONE,
        }
    }

    /// An ESTABLISHED connection in a random state: options on or off, data in flight,
    /// data received, maybe a hole in the received data, maybe in recovery.
    fn established(rng: &mut Rng) -> (TcpConfig, Instant, Side, u32) {
        let mut cfg = TcpConfig {
            timestamps: rng.chance(70),
            sack: rng.chance(60),
            window_scaling: rng.chance(60),
            ..TcpConfig::default()
        };
        if rng.chance(30) {
            cfg.delayed_ack = None;
        }
        if rng.chance(30) {
            cfg.keepalive = Some(Keepalive::default());
        }
        let mut now = Instant::from_millis(1_000 + rng.below(1_000_000));
        let local = SocketAddrV4::new([10, 0, 0, 1].into(), 40000);
        let remote = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
        let iss = SeqNum(rng.next() as u32);
        let rx_cap = [1024usize, 4096, 70_000][rng.below(3) as usize];
        let conn = Connection::connect(&cfg, now, local, remote, iss, 1500, rx_cap, 7);
        let mut side = Side {
            conn,
            rx_mem: vec![0; rx_cap],
            rx: RecvState::new(usize::from(cfg.max_ooo_ranges)),
            tx_mem: vec![0; 8192],
            tx: SendState::new(),
            stats: TcpStats::default(),
        };
        assert_eq!(side.output(&cfg, now, 1).len(), 1);
        let irs = SeqNum(rng.next() as u32);
        let wscale = rng.below(4) as u8;
        let mut ts_peer = rng.next() as u32;
        let mut syn_ack = peer_repr(irs, iss + 1, TcpFlags::SYN | TcpFlags::ACK, 20_000);
        syn_ack.options = TcpOptions {
            mss: Some(1460),
            window_scale: cfg.window_scaling.then_some(wscale),
            sack_permitted: cfg.sack,
            sack: SackBlocks::EMPTY,
            timestamps: cfg.timestamps.then_some((ts_peer, 0)),
        };
        now += crate::time::Duration::from_millis(1 + rng.below(50));
        side.deliver(&cfg, now, syn_ack, &[], false, Path::Input);
        assert_eq!(side.conn.state, State::Established);
        side.output(&cfg, now, 1);

        let ts_opt = |ts_peer: u32| cfg.timestamps.then_some((ts_peer, 7));
        let wnd = (20_000u32 >> if cfg.window_scaling { wscale } else { 0 }) as u16;
        // Data in flight.
        let written = rng.below(6000) as usize;
        let data: Vec<u8> = (0..written).map(|i| i as u8).collect();
        SendBuf::new(&mut side.tx_mem, &mut side.tx).write(&data);
        let segs = rng.below(5) as usize;
        side.output(&cfg, now, segs);
        // Data received in order.
        for _ in 0..rng.below(3) {
            let len = 1 + rng.below(700) as usize;
            let mut r = peer_repr(
                side.conn.rcv.nxt,
                side.conn.snd.una,
                TcpFlags::ACK | TcpFlags::PSH,
                wnd,
            );
            ts_peer = ts_peer.wrapping_add(rng.below(3) as u32);
            r.options.timestamps = ts_opt(ts_peer);
            let payload = vec![0xa5; len];
            now += crate::time::Duration::from_millis(rng.below(5));
            side.deliver(&cfg, now, r, &payload, rng.chance(50), Path::Input);
            if rng.chance(50) {
                side.output(&cfg, now, 1);
            }
        }
        // A hole: data beyond RCV.NXT.
        if rng.chance(15) {
            let mut r = peer_repr(
                side.conn.rcv.nxt + 100,
                side.conn.snd.una,
                TcpFlags::ACK,
                wnd,
            );
            r.options.timestamps = ts_opt(ts_peer);
            side.deliver(&cfg, now, r, &[1; 50], false, Path::Input);
        }
        // Duplicate ACKs (recovery after three, with data in flight).
        if rng.chance(15) {
            for _ in 0..3 {
                let mut r = peer_repr(side.conn.rcv.nxt, side.conn.snd.una, TcpFlags::ACK, wnd);
                r.options.timestamps = ts_opt(ts_peer);
                side.deliver(&cfg, now, r, &[], false, Path::Input);
            }
        }
        // A read that makes room.
        if rng.chance(30) {
            let mut out = vec![0; 300];
            RecvBuf::new(&mut side.rx_mem, &mut side.rx).read(&mut out);
        }
        now += crate::time::Duration::from_millis(rng.below(100));
        (cfg, now, side, ts_peer)
    }

    /// A segment near what the connection expects: mostly exactly that, sometimes off by
    /// a little in one field.
    fn candidate(rng: &mut Rng, side: &Side, ts_peer: u32) -> (TcpRepr, Vec<u8>) {
        let c = &side.conn;
        let flags = match rng.below(12) {
            0 => TcpFlags::ACK | TcpFlags::FIN,
            1 => TcpFlags::ACK | TcpFlags::SYN,
            2 => TcpFlags::ACK | TcpFlags::RST,
            3 => TcpFlags::ACK | TcpFlags::URG,
            4 => TcpFlags::PSH,
            5 => TcpFlags::ACK | TcpFlags::ECE,
            6..=8 => TcpFlags::ACK | TcpFlags::PSH,
            _ => TcpFlags::ACK,
        };
        let seq = match rng.below(10) {
            0 => c.rcv.nxt - 1,
            1 => c.rcv.nxt + 1,
            2 => c.rcv.nxt - 50,
            3 => c.rcv.nxt + (rng.below(3000) as u32),
            _ => c.rcv.nxt,
        };
        let flight = c.snd.max - c.snd.una;
        let ack = match rng.below(10) {
            0 => c.snd.una - 1,
            1 => c.snd.max + 1,
            2 => c.snd.max,
            3..=5 => c.snd.una,
            _ => c.snd.una + (rng.below(u64::from(flight) + 1) as u32),
        };
        let wnd = c.snd.wnd >> c.snd.wscale;
        let window = match rng.below(10) {
            0 => wnd.wrapping_add(1) as u16,
            1 => 0,
            2 => rng.next() as u16,
            _ => wnd as u16,
        };
        let mut r = peer_repr(seq, ack, flags, window);
        let tsval = match rng.below(10) {
            0 => c.ts().recent.wrapping_sub(1),
            1 => c.ts().recent.wrapping_sub(5),
            2 => c.ts().recent.wrapping_add(0x8000_0000),
            3 => c.ts().recent,
            _ => ts_peer.wrapping_add(rng.below(4) as u32),
        };
        if rng.chance(95) {
            r.options.timestamps = Some((tsval, c.ts_now(Instant::ZERO)));
        }
        if rng.chance(10) {
            r.options.sack.push(c.snd.una + 10, c.snd.una + 20);
        }
        let len = if rng.chance(40) {
            0
        } else {
            1 + rng.below(1500) as usize
        };
        let payload = (0..len).map(|i| (i * 7) as u8).collect();
        (r, payload)
    }

    #[test]
    fn prediction_matches_the_full_path() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut declined) = (0, 0);
        for _ in 0..12_000 {
            let (cfg, now, side, ts_peer) = established(&mut rng);
            let (repr, payload) = candidate(&mut rng, &side, ts_peer);
            let stage = rng.chance(60);
            let mut fast = side.clone();
            let (took, _) = fast.deliver(&cfg, now, repr, &payload, stage, Path::Predicted);
            if took {
                taken += 1;
                let mut full = side.clone();
                let (_, reply) = full.deliver(&cfg, now, repr, &payload, stage, Path::Full);
                assert_eq!(reply, None);
                assert_eq!(fast.snapshot(), full.snapshot(), "segment {repr:?}");
            } else {
                declined += 1;
                // Declined: nothing changed but what staging wrote into free ring space.
                let mut untouched = side.clone();
                if stage {
                    untouched.rx_mem.copy_from_slice(&fast.rx_mem);
                }
                assert_eq!(fast.snapshot(), untouched.snapshot(), "segment {repr:?}");
            }
        }
        // Both outcomes are well represented.
        assert!(taken > 700, "prediction took {taken} segments");
        assert!(declined > 2_000, "prediction declined {declined} segments");
    }

    /// One source of truth for "may send": over random states (an established
    /// connection after a random segment, a timer, a user write or a half-close, and
    /// some output), `wants_output` implies `may_output`, and when `may_output` says no,
    /// `poll_output` sends nothing.
    #[test]
    fn may_output_agrees_with_poll_output() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut quiet, mut busy) = (0, 0);
        for _ in 0..6_000 {
            let (cfg, mut now, mut side, ts_peer) = established(&mut rng);
            for _ in 0..1 + rng.below(3) {
                match rng.below(6) {
                    0..=2 => {
                        let (repr, payload) = candidate(&mut rng, &side, ts_peer);
                        side.deliver(&cfg, now, repr, &payload, rng.chance(50), Path::Input);
                    }
                    3 => {
                        if let Some(at) = side.conn.poll_at() {
                            now = now.max(at);
                            let mut ctx = Ctx {
                                now,
                                cfg: &cfg,
                                stats: &mut side.stats,
                            };
                            side.conn.on_timer(&mut ctx);
                        }
                    }
                    4 => {
                        let n = rng.below(3000) as usize;
                        SendBuf::new(&mut side.tx_mem, &mut side.tx).write(&vec![7; n]);
                    }
                    _ => {
                        let _ = side.conn.shutdown_write();
                    }
                }
                let n = rng.below(4) as usize;
                side.output(&cfg, now, n);
            }
            let held = SendBuf::new(&mut side.tx_mem, &mut side.tx).len();
            let rx = RecvBuf::new(&mut side.rx_mem, &mut side.rx);
            let (cap, free) = (rx.capacity(), rx.window());
            let may = side.conn.may_output(held, cap, free);
            if side.conn.wants_output() {
                assert!(may, "wants_output without may_output: {:?}", side.conn);
            }
            if may {
                busy += 1;
            } else {
                quiet += 1;
                let before = side.conn.clone();
                let sent = side.output(&cfg, now, 1);
                assert!(
                    sent.is_empty(),
                    "sent {sent:?} after !may_output: {before:?}"
                );
            }
        }
        assert!(quiet > 500, "may_output said no {quiet} times");
        assert!(busy > 500, "may_output said yes {busy} times");
    }
}
