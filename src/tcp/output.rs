//! What to send next (BSD's `tcp_output`): SYNs, retransmissions chosen by loss recovery,
//! new data under the congestion and receive windows with Nagle and sender-side SWS
//! avoidance, FIN, zero-window and keep-alive probes, and ACKs.

use super::cc::{self, CongestionControl};
use super::conn::{
    Connection, Ctx, Negotiated, Pending, Progress, RecoveryFlags, Transmit, UserFlags,
};
use super::sack::SackState;
use super::timer::{Stamp, Timer};
use super::{SACK, State, TIMESTAMPS, WINDOW_SCALING};
use crate::buf::{RecvBuf, SendBuf};
use crate::time::Instant;
use crate::wire::tcp::{SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// One segment chosen for sending.
struct Choice {
    seq: SeqNum,
    len: usize,
    fin: bool,
    /// A zero-window probe: does not arm the retransmission timer.
    probe: bool,
}

/// What [`Connection::choose_segment`] works from: the send ring's length, whether a
/// FIN is due after it (and its sequence number), and the largest payload.
struct Queue {
    held: usize,
    fin_pending: bool,
    fin_seq: SeqNum,
    max_payload: usize,
}

/// The outcome of SACK recovery's step in [`Connection::choose_segment`].
enum Recovery {
    /// Send this (NextSeg).
    Send(Choice),
    /// The congestion window is full (cwnd - pipe < 1 SMSS): nothing goes.
    Blocked,
    /// Go on to new data, within this many bytes (`None`: not in SACK recovery).
    NewData(Option<usize>),
}

/// What the window step held back: its length, the window's room and the unsent bytes.
struct HeldBack {
    len: usize,
    usable: usize,
    unsent: usize,
}

impl Connection {
    /// The timestamp clock (RFC 7323 §5.4: 1 ms ticks) with this connection's offset.
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts().offset)
    }

    /// Whether output has something to send right now without looking at the buffers:
    /// a SYN or SYN-ACK due, or in a synchronized state a one-shot request (an ACK, a
    /// zero-window, keep-alive or tail loss probe, a retransmission). The stack uses it
    /// to send at once rather than at the end of the poll. It implies
    /// [`Connection::may_output`], which adds what depends on the buffers.
    pub fn wants_output(&self) -> bool {
        match self.state {
            State::Closed | State::Listen => false,
            // Exactly the test `output_syn` starts with.
            State::SynSent => self.snd.nxt == self.snd.iss,
            State::SynReceived => {
                self.snd.nxt == self.snd.iss || self.pending.contains(Pending::ACK_NOW)
            }
            _ => self.pending.intersects(
                Pending::ACK_NOW
                    | Pending::FORCE
                    | Pending::KEEPALIVE_PROBE
                    | Pending::TLP_PROBE
                    | Pending::RTX_NEXT,
            ),
        }
    }

    /// Chooses and describes the next segment to send, and updates the send state as
    /// though it were sent. `mtu` is the IP MTU of the interface. Returns `None` when
    /// nothing may be sent now; call again after input, a timer or a user write.
    pub fn poll_output(
        &mut self,
        ctx: &mut Ctx<'_>,
        rx: &RecvBuf<'_>,
        tx: &SendBuf<'_>,
        mtu: usize,
    ) -> Option<Transmit> {
        match self.state {
            State::Closed | State::Listen => None,
            State::SynSent | State::SynReceived => self.output_syn(ctx, rx),
            _ => self.output_synchronized(ctx, rx, tx, mtu),
        }
    }

    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    fn output_syn(&mut self, ctx: &mut Ctx<'_>, rx: &RecvBuf<'_>) -> Option<Transmit> {
        let synack = self.state == State::SynReceived;
        if self.snd.nxt != self.snd.iss && !(synack && self.pending.contains(Pending::ACK_NOW)) {
            return None;
        }
        let now = ctx.now;
        let retransmission = self.snd.max != self.snd.iss;
        let ts = (TIMESTAMPS && self.opts.contains(Negotiated::OFFERED_TS))
            .then(|| (self.ts_now(now), if synack { self.ts().recent } else { 0 }));
        let options = TcpOptions {
            mss: Some(self.rcv.mss),
            window_scale: (WINDOW_SCALING && self.opts.contains(Negotiated::OFFERED_WSCALE))
                .then_some(self.rcv.wscale),
            sack_permitted: SACK && self.opts.contains(Negotiated::OFFERED_SACK),
            sack: SackBlocks::EMPTY,
            timestamps: ts,
        };
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        let window = rx.window().min(0xffff) as u16;
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.snd.iss,
            ack: if synack { self.rcv.nxt } else { SeqNum(0) },
            flags: if synack {
                TcpFlags::SYN | TcpFlags::ACK
            } else {
                TcpFlags::SYN
            },
            window,
            options,
        };
        self.snd.nxt = self.snd.iss + 1u32;
        if self.snd.max < self.snd.nxt {
            self.snd.max = self.snd.nxt;
        }
        if retransmission {
            ctx.stats.retransmits += 1;
            self.set_rtt_timing(None);
        } else {
            self.set_rtt_timing(Some((self.snd.iss, now)));
        }
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
        if !self.timers.armed(Timer::Rtx) {
            self.timers
                .arm(Timer::Rtx, self.rto_deadline(now, ctx.cfg.max_rto));
        }
        if synack {
            let adv = self.rcv.nxt + u32::from(window);
            if adv > self.rcv.adv {
                self.rcv.adv = adv;
            }
            self.rcv.last_ack_sent = self.rcv.nxt;
        }
        self.pending.remove(Pending::ACK_NOW);
        self.timers.set_stamp(Stamp::LastSend, Some(now));
        Some(Transmit {
            repr,
            offset: 0,
            len: 0,
        })
    }

    fn output_synchronized(
        &mut self,
        ctx: &mut Ctx<'_>,
        rx: &RecvBuf<'_>,
        tx: &SendBuf<'_>,
        mtu: usize,
    ) -> Option<Transmit> {
        let now = ctx.now;
        let mut options = TcpOptions::NONE;
        if self.ts_on() {
            options.timestamps = Some((self.ts_now(now), self.ts().recent));
        }
        if self.sack_on() && rx.ooo_bytes() > 0 {
            let max = if options.timestamps.is_some() { 3 } else { 4 };
            let recv = self
                .sack
                .first()
                .map_or(&SackState::EMPTY.recv, |s| &s.recv);
            options.sack = recv.blocks(self.rcv.nxt, rx, max);
        }
        let opt_len = options.wire_len();
        let max_payload = usize::from(self.snd.mss)
            .saturating_sub(opt_len)
            .min(mtu.saturating_sub(self.remote.ip_tcp_headers() + opt_len))
            .max(1);

        let choice = if self.state == State::TimeWait {
            None
        } else {
            self.choose_segment(ctx, tx, max_payload)
        };
        match choice {
            Some(c) => Some(self.send_segment(ctx, rx, tx, options, c, max_payload)),
            None => self.control_segment(ctx, rx, options),
        }
    }

    /// No data or FIN to send: a keep-alive probe if one is due, else an ACK if one is
    /// asked for or the window opened enough to announce.
    fn control_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        rx: &RecvBuf<'_>,
        options: TcpOptions,
    ) -> Option<Transmit> {
        let seq =
            if self.pending.contains(Pending::KEEPALIVE_PROBE) && self.state != State::TimeWait {
                // RFC 1122 §4.2.3.6: a segment with SEG.SEQ = SND.NXT - 1 and no data.
                self.pending.remove(Pending::KEEPALIVE_PROBE);
                ctx.stats.keepalive_probes += 1;
                self.snd.una - 1u32
            } else if self.pending.contains(Pending::ACK_NOW) || self.window_update_due(rx) {
                // A pure ACK carries SND.MAX, as BSD does (SND.NXT may be rewound).
                self.snd.max
            } else {
                return None;
            };
        let repr = self.header(seq, TcpFlags::ACK, rx, options);
        self.after_ack_sent();
        Some(Transmit {
            repr,
            offset: 0,
            len: 0,
        })
    }

    /// Sends `choice`: its header, and the send state as though it left (SND.NXT,
    /// SND.MAX, the RTT timing, the retransmission timer, the counters).
    fn send_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        rx: &RecvBuf<'_>,
        tx: &SendBuf<'_>,
        options: TcpOptions,
        choice: Choice,
        max_payload: usize,
    ) -> Transmit {
        let now = ctx.now;
        let off = (choice.seq - self.snd.una) as usize;
        let mut flags = TcpFlags::ACK;
        if choice.len > 0 && off + choice.len == tx.len() {
            flags |= TcpFlags::PSH;
        }
        if choice.fin {
            flags |= TcpFlags::FIN;
        }
        let repr = self.header(choice.seq, flags, rx, options);
        self.after_ack_sent();

        let end = choice.seq + (choice.len as u32 + u32::from(choice.fin));
        let rtx = choice.seq < self.snd.max;
        if rtx && !choice.probe {
            ctx.stats.retransmits += 1;
            // Only the part sent before (a segment may run on past SND.MAX).
            let again = (self.snd.max - choice.seq).min(choice.len as u32);
            ctx.stats.retransmitted_bytes += u64::from(again);
            if let Some((t, _)) = self.rtt_timing() {
                if t.in_range(choice.seq, end) {
                    self.set_rtt_timing(None); // Karn
                }
            }
            self.rack_on_retransmit(choice.seq, end, now);
            self.undo_note_rtx(choice.seq, end.min(self.snd.max));
        } else if !rtx && !choice.probe && choice.len > 0 && choice.len < max_payload {
            self.snd.sml = choice.seq + choice.len as u32;
        }
        // A zero-window probe moves SND.MAX but not SND.NXT (BSD's persist case): if
        // the peer does not take the byte, sending resumes with it when the window
        // opens instead of leaving a hole for the retransmission timer.
        if choice.seq == self.snd.nxt && !choice.probe {
            self.snd.nxt = end;
        }
        let new_data = end > self.snd.max;
        if new_data {
            if self.rtt_timing().is_none()
                && !rtx
                && !self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            {
                self.set_rtt_timing(Some((choice.seq, now)));
            }
            self.snd.max = end;
        }
        if choice.fin {
            self.progress |= Progress::FIN_SENT;
        }
        if choice.probe {
            ctx.stats.window_probes += 1;
        } else if !self.timers.armed(Timer::Rtx) {
            // RFC 6298 §5.1.
            self.timers
                .arm(Timer::Rtx, self.rto_deadline(now, ctx.cfg.max_rto));
        }
        // RFC 8985 §7.2: sending new data arms the probe too (an ACK re-arms it).
        if new_data && !self.recovery.flags.contains(RecoveryFlags::TLP_ARMED) {
            self.arm_tlp(ctx);
        }
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
        self.timers.set_stamp(Stamp::LastSend, Some(now));
        Transmit {
            repr,
            offset: off,
            len: choice.len,
        }
    }

    /// The data/FIN segment to send next, if any, from each source in order of
    /// precedence: a requested retransmission, a tail loss probe, RFC 6675 NextSeg during
    /// SACK recovery, new data (or, after an RTO, the go-back-N resend) under the
    /// windows, a zero-window probe.
    fn choose_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: &SendBuf<'_>,
        max_payload: usize,
    ) -> Option<Choice> {
        let held = tx.len();
        let q = Queue {
            held,
            fin_pending: self.user.flags.contains(UserFlags::FIN_QUEUED)
                && !self.progress.contains(Progress::FIN_ACKED)
                && matches!(
                    self.state,
                    State::FinWait1 | State::Closing | State::LastAck
                ),
            fin_seq: self.snd.una + held as u32,
            max_payload,
        };
        if let Some(c) = self.requested_rtx(&q) {
            return Some(c);
        }
        if let Some(c) = self.tail_loss_probe(&q) {
            return Some(c);
        }
        if let Some(c) = self.rto_lost_rtx(&q) {
            return Some(c);
        }
        let budget = match self.sack_recovery_segment(&q) {
            Recovery::Send(c) => return Some(c),
            Recovery::Blocked => return None,
            Recovery::NewData(budget) => budget,
        };
        match self.window_segment(ctx, &q, budget) {
            Ok(c) => Some(c),
            Err(held_back) => self.persist_segment(ctx, &q, held_back),
        }
    }

    /// A retransmission asked for by fast retransmit or a partial ACK.
    fn requested_rtx(&mut self, q: &Queue) -> Option<Choice> {
        let s = self.rtx_next()?;
        self.set_rtx_next(None);
        if !(self.snd.una <= s && s < self.snd.max) {
            return None;
        }
        let c = self.segment_at(s, q);
        if c.len == 0 && !c.fin {
            return None;
        }
        if self.recovery.high_rxt < s + c.len as u32 {
            self.recovery.high_rxt = s + c.len as u32;
        }
        Some(c)
    }

    /// A tail loss probe (RFC 8985 §7.3), when asked for: not held back by the
    /// congestion window.
    fn tail_loss_probe(&mut self, q: &Queue) -> Option<Choice> {
        if !self.pending.contains(Pending::TLP_PROBE) {
            return None;
        }
        let (seq, len, fin) = self.tlp_segment(q.max_payload, q.held, q.fin_pending)?;
        Some(Choice {
            seq,
            len,
            fin,
            probe: false,
        })
    }

    /// A retransmission RACK found lost (see `tcp::rtxlog`), sent again: within the
    /// range retransmitted before, and not into SACKed data.
    fn lost_rtx_segment(&mut self, q: &Queue) -> Option<Choice> {
        let (s, end) = self.rack_lost_rtx()?;
        let mut c = self.segment_at(s, q);
        c.len = c.len.min((end - s) as usize);
        if c.len == 0 {
            return None;
        }
        let sent_to = s + c.len as u32;
        if self.recovery.high_rxt < sent_to {
            self.recovery.high_rxt = sent_to;
        }
        Some(c)
    }

    /// After a retransmission timeout (go-back-N from SND.UNA, no fast recovery), a
    /// retransmission RACK found lost goes again first, as far as the window resending
    /// from SND.NXT would let a segment go.
    fn rto_lost_rtx(&mut self, q: &Queue) -> Option<Choice> {
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY) || !self.in_loss_recovery() {
            return None;
        }
        let smss = u32::from(self.eff_mss());
        // In flight of what the resend sent: neither SACKed nor found lost.
        let (una, nxt) = (self.snd.una, self.snd.nxt);
        let gone = self.scoreboard().sacked_within(una, nxt) + self.rack_lost_rtx_bytes();
        let off = (nxt - una).saturating_sub(gone) as usize;
        if self.usable_window(off, true, smss, None) == 0 {
            return None;
        }
        self.lost_rtx_segment(q)
    }

    /// RFC 6675 §5 step (C) during SACK recovery: while cwnd - pipe >= 1 SMSS, NextSeg
    /// (rule 1: a lost segment; rule 2: new data, which the window step sends within the
    /// returned budget; rule 3: an unSACKed one when there is no new data to send).
    fn sack_recovery_segment(&mut self, q: &Queue) -> Recovery {
        if !(self.sack_on() && self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)) {
            return Recovery::NewData(None);
        }
        let smss = u32::from(self.eff_mss());
        let pipe = self
            .scoreboard()
            .pipe(self.snd.una, self.snd.max, self.recovery.high_rxt, smss)
            .saturating_sub(self.rack_lost_rtx_bytes());
        let cwnd = self.cc.cwnd();
        if cwnd < pipe.saturating_add(smss) {
            return Recovery::Blocked;
        }
        if let Some(c) = self.lost_rtx_segment(q) {
            return Recovery::Send(c);
        }
        if let Some((s, _)) =
            self.scoreboard()
                .next_lost(self.snd.una, self.snd.max, self.recovery.high_rxt, smss)
        {
            let c = self.segment_at(s, q);
            if c.len > 0 {
                self.recovery.high_rxt = s + c.len as u32;
                return Recovery::Send(c);
            }
        }
        // Rule (2): new data, limited only by the receive window.
        let budget = (cwnd - pipe) as usize;
        let in_flight = (self.snd.max - self.snd.una) as usize;
        let unsent = q.held.saturating_sub(in_flight);
        let rwnd_room = (self.snd.wnd as usize).saturating_sub(in_flight);
        if unsent == 0 || rwnd_room == 0 {
            if let Some((s, _)) =
                self.scoreboard()
                    .next_unsacked(self.snd.una, self.snd.max, self.recovery.high_rxt)
            {
                // Rule (3).
                let c = self.segment_at(s, q);
                if c.len > 0 {
                    self.recovery.high_rxt = s + c.len as u32;
                    return Recovery::Send(c);
                }
            }
        }
        Recovery::NewData(Some(budget))
    }

    /// New data, or after an RTO the go-back-N resend, under the congestion window (or
    /// the recovery `budget`) and the peer's window, with Nagle and sender-side SWS
    /// avoidance; a FIN alone is not held back by the window. `Err` says what was held
    /// back.
    fn window_segment(
        &mut self,
        ctx: &Ctx<'_>,
        q: &Queue,
        budget: Option<usize>,
    ) -> Result<Choice, HeldBack> {
        let smss = u32::from(self.eff_mss());
        // After an RTO, skip what the receiver holds (SACKed) while resending.
        while self.snd.nxt < self.snd.max {
            match self.scoreboard().sacked_end(self.snd.nxt) {
                Some(end) => self.snd.nxt = end.min(self.snd.max),
                None => break,
            }
        }
        // RFC 5681 §4.1: restart from the initial window after an idle period.
        if self.snd.una == self.snd.max
            && self.timers.since(Stamp::LastSend, ctx.now) > self.rtt.rto(ctx.cfg.max_rto)
        {
            self.cc.on_idle_restart(cc::initial_window(smss));
        }

        let held = q.held;
        let off = ((self.snd.nxt - self.snd.una) as usize).min(held);
        let unsent = held - off;
        let rtx = self.snd.nxt < self.snd.max;
        let usable = self.usable_window(off, rtx, smss, budget);
        let mut len = unsent.min(usable).min(q.max_payload);
        if rtx {
            if let Some(next) = self.scoreboard().next_sacked_after(self.snd.nxt) {
                len = len.min((next - self.snd.nxt) as usize);
            }
        }
        let all_out = off + len == held;
        let fin_now = q.fin_pending
            && all_out
            && (!self.progress.contains(Progress::FIN_SENT)
                || self.snd.nxt + len as u32 == q.fin_seq);
        if len > 0 {
            // Nagle (RFC 1122 §4.2.3.4) and sender SWS avoidance (RFC 9293 §3.8.6.2.1).
            // Nagle holds a short segment back while a short segment sent earlier is
            // unacknowledged (Minshall's refinement, as Linux): the tail of one write
            // goes out with the full segments before it, as in Linux and BSD. A FIN is
            // never held back (both do the same).
            let small_in_flight = self.snd.sml > self.snd.una && self.snd.sml <= self.snd.max;
            let send = len == q.max_payload
                || rtx
                || ((self.user.flags.contains(UserFlags::NODELAY) || !small_in_flight) && all_out)
                || (self.snd.max_wnd > 0 && len >= self.snd.max_wnd as usize / 2)
                || fin_now
                // The SWS override timer fired (RFC 9293 §3.8.6.2.1): send what fits.
                || self.pending.contains(Pending::FORCE);
            if send {
                self.pending.remove(Pending::FORCE);
                return Ok(Choice {
                    seq: self.snd.nxt,
                    len,
                    fin: fin_now,
                    probe: false,
                });
            }
        } else if fin_now && off == held {
            // FIN alone: not held back by the window.
            self.pending.remove(Pending::FORCE);
            return Ok(Choice {
                seq: self.snd.nxt,
                len: 0,
                fin: true,
                probe: false,
            });
        }
        Err(HeldBack {
            len,
            usable,
            unsent,
        })
    }

    /// Bytes the windows let go from `off` bytes past SND.UNA: the recovery `budget`
    /// within the peer's window, or the smaller of the peer's and the congestion
    /// window, the latter widened by RFC 3042 limited transmit.
    fn usable_window(&self, off: usize, rtx: bool, smss: u32, budget: Option<usize>) -> usize {
        let mut cwnd = self.cc.cwnd() as usize;
        if !self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            && (1..=2).contains(&self.recovery.dupacks)
            && !rtx
        {
            // RFC 3042 limited transmit: one new segment per early duplicate ACK.
            cwnd += usize::from(self.recovery.dupacks) * smss as usize;
        }
        match budget {
            Some(b) => b.min((self.snd.wnd as usize).saturating_sub(off)),
            None => (self.snd.wnd as usize).min(cwnd).saturating_sub(off),
        }
    }

    /// Nothing else to send: a zero-window probe if the persist timer asked for one
    /// (RFC 9293 §3.8.6.1), and the persist timer armed where data waits with nothing
    /// to clock it out. `h` is what the window step held back.
    fn persist_segment(&mut self, ctx: &mut Ctx<'_>, q: &Queue, h: HeldBack) -> Option<Choice> {
        if h.len > 0
            && self.snd.una == self.snd.max
            && !self.timers.armed(Timer::Persist)
            && !self.timers.armed(Timer::Rtx)
        {
            // Held back by SWS avoidance with nothing in flight to clock it out: the
            // persist timer is the override timeout of RFC 1122 §4.2.3.4 (d), as in BSD.
            self.arm_persist(ctx);
        }

        // Zero window with data waiting: the persist timer probes it (RFC 9293 §3.8.6.1).
        if self.snd.wnd == 0 && q.held > 0 {
            if self.pending.contains(Pending::FORCE) {
                self.pending.remove(Pending::FORCE);
                // BSD: one byte at SND.UNA, resent on each probe.
                self.snd.nxt = self.snd.una;
                return Some(Choice {
                    seq: self.snd.una,
                    len: 1,
                    fin: false,
                    probe: true,
                });
            }
            if !self.timers.armed(Timer::Persist)
                && (self.snd.una == self.snd.max || !self.timers.armed(Timer::Rtx))
            {
                // Nothing in flight, or only a probe byte the window closed on again
                // after it opened (nothing times it): probe (RFC 9293 §3.8.6.1).
                self.snd.nxt = self.snd.una;
                self.arm_persist(ctx);
            } else if !self.timers.armed(Timer::Persist)
                && self.timers.armed(Timer::Rtx)
                && h.usable == 0
                && h.unsent > 0
            {
                // Data is outstanding but the peer closed its window: probe instead of
                // retransmitting into it.
                self.timers.stop(Timer::Rtx);
                self.snd.nxt = self.snd.una;
                self.arm_persist(ctx);
            }
        }
        self.pending.remove(Pending::FORCE);
        None
    }

    /// A segment starting at `s` (inside `[SND.UNA, SND.MAX)`): up to the largest
    /// payload, stopping at the next SACKed block, with the FIN if it ends the data.
    fn segment_at(&self, s: SeqNum, q: &Queue) -> Choice {
        let off = ((s - self.snd.una) as usize).min(q.held);
        let mut len = (q.held - off).min(q.max_payload);
        if let Some(next) = self.scoreboard().next_sacked_after(s) {
            len = len.min((next - s) as usize);
        }
        let fin = q.fin_pending
            && self.progress.contains(Progress::FIN_SENT)
            && s + len as u32 == q.fin_seq;
        Choice {
            seq: s,
            len,
            fin,
            probe: false,
        }
    }

    /// The header of an outgoing synchronized segment.
    fn header(
        &mut self,
        seq: SeqNum,
        flags: TcpFlags,
        rx: &RecvBuf<'_>,
        options: TcpOptions,
    ) -> TcpRepr {
        let window = self.window_field(rx);
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: self.rcv.nxt,
            flags,
            window,
            options,
        }
    }

    fn after_ack_sent(&mut self) {
        self.pending.remove(Pending::ACK_NOW);
        self.timers.stop(Timer::DelAck);
        self.rcv.unacked_segs = 0;
        self.rcv.last_ack_sent = self.rcv.nxt;
    }

    /// The window field to send, with receiver SWS avoidance (RFC 9293 §3.8.6.2.2): the
    /// right edge moves only by min(half the buffer, one MSS) or more, and never left.
    /// Updates RCV.ADV.
    fn window_field(&mut self, rx: &RecvBuf<'_>) -> u16 {
        let shift = self.rcv.wscale;
        let win = self.window_to_offer(rx);
        let cur = self.rcv_wnd();
        let mut field = win >> shift;
        if (field << shift) < cur {
            field += 1;
        }
        let field = field.min(0xffff);
        let adv = self.rcv.nxt + (field << shift);
        if adv > self.rcv.adv {
            self.rcv.adv = adv;
        }
        field as u16
    }

    fn window_to_offer(&self, rx: &RecvBuf<'_>) -> u32 {
        self.window_to_offer_in(rx.capacity(), rx.window())
    }

    /// [`Connection::window_to_offer`] for a receive ring of `cap` bytes with `free` bytes
    /// of window (`RecvBuf::capacity` and `RecvBuf::window`).
    fn window_to_offer_in(&self, cap: usize, free: usize) -> u32 {
        let cap = u32::try_from(cap).unwrap_or(u32::MAX);
        let free = u32::try_from(free).unwrap_or(u32::MAX);
        let cur = self.rcv_wnd();
        let thresh = (cap / 2).min(u32::from(self.rcv.mss)).max(1);
        let win = if free >= cur.saturating_add(thresh) || free == cap {
            free
        } else {
            cur.min(free).max(cur)
        };
        win.min(0xffff << self.rcv.wscale)
    }

    /// After the user read: has the window opened by two segments or half the buffer
    /// since it was last advertised (BSD's rule)?
    pub(crate) fn window_update_due(&self, rx: &RecvBuf<'_>) -> bool {
        self.window_update_due_in(rx.capacity(), rx.window())
    }

    /// [`Connection::window_update_due`] from the ring's capacity and free window.
    fn window_update_due_in(&self, cap: usize, free: usize) -> bool {
        if !self.state.can_receive_data() || self.progress.contains(Progress::RCVD_FIN) {
            return false;
        }
        let win = self.window_to_offer_in(cap, free);
        let cur = self.rcv_wnd();
        let incr = win.saturating_sub(cur);
        let cap = u32::try_from(cap).unwrap_or(u32::MAX);
        incr > 0 && (incr >= 2 * u32::from(self.rcv.mss) || incr.saturating_mul(2) >= cap)
    }

    /// A cheap, conservative test made before the output pass resolves the next hop and
    /// joins the buffers: `false` only when [`Connection::poll_output`] would return
    /// `None` without changing anything that matters (a deferred idle restart of the
    /// congestion window happens at the next call that sends data, with the same result).
    /// `held` is the send ring's length, `rx_cap` and `rx_free` the receive ring's
    /// capacity and window.
    pub fn may_output(&self, held: usize, rx_cap: usize, rx_free: usize) -> bool {
        if self.wants_output() {
            return true;
        }
        // Before the handshake completes, `wants_output` said all there is.
        if !self.state.is_synchronized() {
            return false;
        }
        if self.recovery.flags.contains(RecoveryFlags::IN_RECOVERY)
            || self.snd.nxt != self.snd.max
            // A FIN not sent yet (once sent, it goes again only after SND.NXT was
            // rewound, which the test above catches).
            || (self.user.flags.contains(UserFlags::FIN_QUEUED) && !self.progress.contains(Progress::FIN_SENT))
        {
            return true;
        }
        // Unsent data (everything from SND.NXT on): new segments, Nagle, SWS avoidance
        // and the persist timer all start from here.
        if self.state != State::TimeWait && held > (self.snd.nxt - self.snd.una) as usize {
            return true;
        }
        self.window_update_due_in(rx_cap, rx_free)
    }
}
