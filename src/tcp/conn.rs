//! The connection control block and the calls the user side makes on it.

use core::net::SocketAddrV4;

use super::cc::{self, CongestionControl, Controller};
use super::rack::Rack;
use super::rtt::RttEstimator;
use super::sack::{SackState, Scoreboard};
use super::timer::{Stamp, Timer, TimerTable};
use super::undo::Undo;
use super::{SACK, State, TIMESTAMPS, TcpConfig, TcpStats, WINDOW_SCALING};
use crate::buf::RecvBuf;
use crate::error::Error;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{SeqNum, TcpOptions, TcpRepr};

bitflags::bitflags! {
    /// What changed for the user during a call into the engine. The socket layer turns
    /// these into readiness (wakers, condition variables).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Events: u8 {
        /// New bytes to read, or the end of the stream.
        const RECV = 0x01;
        /// Room in the send buffer.
        const SEND = 0x02;
        /// The connection reached ESTABLISHED.
        const CONNECTED = 0x04;
        /// The protocol side is done: the connection is CLOSED.
        const CLOSED = 0x08;
        /// The connection failed; [`Connection::error`] says why.
        const ERROR = 0x10;
    }
}

bitflags::bitflags! {
    /// One-shot requests to output, taken when the segment they ask for goes out.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Pending: u8 {
        /// Send an ACK at the next output.
        const ACK_NOW = 1 << 0;
        /// Send a zero-window probe now (persist timer fired), or what the window
        /// allows (the SWS override).
        const FORCE = 1 << 1;
        /// Send a keep-alive probe now.
        const KEEPALIVE_PROBE = 1 << 2;
        /// Send a tail loss probe now.
        const TLP_PROBE = 1 << 3;
        /// A retransmission is asked for (`Recovery::rtx_seq` says where).
        const RTX_NEXT = 1 << 4;
    }
}

bitflags::bitflags! {
    /// The SYN options: what we offered and what both sides agreed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Negotiated: u8 {
        /// We offered window scaling on our SYN.
        const OFFERED_WSCALE = 1 << 0;
        /// We offered timestamps on our SYN.
        const OFFERED_TS = 1 << 1;
        /// We offered SACK on our SYN.
        const OFFERED_SACK = 1 << 2;
        /// Window scaling agreed.
        const WSCALE = 1 << 3;
        /// Timestamps agreed.
        const TS = 1 << 4;
        /// SACK agreed.
        const SACK = 1 << 5;
    }
}

bitflags::bitflags! {
    /// Where the connection is in its life: how it opened and how far the FINs got.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Progress: u8 {
        /// Created from a listener (passive open).
        const PASSIVE = 1 << 0;
        /// Our FIN has been sent at least once.
        const FIN_SENT = 1 << 1;
        /// Our FIN has been acknowledged.
        const FIN_ACKED = 1 << 2;
        /// The peer's FIN has been received (end of stream).
        const RCVD_FIN = 1 << 3;
        /// The peer's FIN was seen out of order (`RecvSeq::fin_seq` holds its sequence
        /// number).
        const FIN_AHEAD = 1 << 4;
    }
}

bitflags::bitflags! {
    /// What the user asked for: a FIN, letting go, and the per-connection options.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub(crate) struct UserFlags: u8 {
        /// The user asked for a FIN after the queued data.
        const FIN_QUEUED = 1 << 0;
        /// The user has let go of the connection: nothing more will be read.
        const USER_CLOSED = 1 << 1;
        /// Nagle's algorithm off.
        const NODELAY = 1 << 2;
        /// Keep-alive probing on (`UserOptions::ka_*` hold the settings).
        const KEEPALIVE = 1 << 3;
        /// An RFC 5482 user timeout is set (`UserOptions::user_timeout_ms` holds it).
        const USER_TIMEOUT = 1 << 4;
        /// The user timeout bounds the handshake only (`set_connect_timeout`): on
        /// reaching ESTABLISHED it goes back to the configured one.
        const CONNECT_TIMEOUT = 1 << 5;
    }
}

bitflags::bitflags! {
    /// Loss recovery's state: the episode, RACK-TLP's timer and marks, the undo.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub(crate) struct RecoveryFlags: u8 {
        /// In a loss recovery episode.
        const IN_RECOVERY = 1 << 0;
        /// `Timer::Loss` is a tail loss probe timeout (RFC 8985 §7.2).
        const TLP_ARMED = 1 << 1;
        /// `Timer::Loss` ends RACK's reordering window (RFC 8985 §6.2): the holes below
        /// `reo_mark` are lost when it fires.
        const REO_ARMED = 1 << 2;
        /// A tail loss probe is outstanding (`tlp_end` is its end).
        const TLP_OUT = 1 << 3;
        /// The outstanding probe retransmitted data (rather than sending new data).
        const TLP_RTX = 1 << 4;
        /// The peer reported a duplicate (D-SACK): the path reorders, RACK waits longer.
        const REORDER_SEEN = 1 << 6;
        /// The current fast recovery may be found spurious and undone (`undo` holds the
        /// window from before it; see `tcp::undo`).
        const UNDO_ARMED = 1 << 7;
    }
}

/// Stores an optional sequence number as `slot` plus `flag` in `flags` (set while there
/// is one), which packs tighter than an `Option<SeqNum>` field.
#[inline]
fn store_flagged<F: bitflags::Flags>(flags: &mut F, flag: F, slot: &mut SeqNum, v: Option<SeqNum>) {
    if let Some(s) = v {
        *slot = s;
    }
    flags.set(flag, v.is_some());
}

/// Keep-alive settings (RFC 1122 §4.2.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (RFC 1122: at least two hours by default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection ends with `TimedOut`.
    pub count: u8,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// A segment handed to [`Connection::input`].
#[derive(Clone, Copy, Debug)]
pub struct SegmentIn<'p> {
    /// The parsed header.
    pub repr: TcpRepr,
    /// The payload, in the driver's receive buffer.
    pub payload: &'p [u8],
    /// `(offset, len)`: the part of the payload the fused receive path already copied into
    /// the receive ring (see [`Connection::stage_plan`]), so text processing only commits.
    pub staged: Option<(usize, usize)>,
}

/// A segment to send: header fields and which bytes of the send buffer are its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Header and options.
    pub repr: TcpRepr,
    /// Offset of the payload from the front of the send buffer (`SND.UNA`).
    pub offset: usize,
    /// Payload length.
    pub len: usize,
}

/// Things the engine needs from its surroundings during a call: the one context argument
/// of [`Connection::input`], [`Connection::poll_output`] and [`Connection::on_timer`].
/// Built with [`Ctx::new`] outside this crate.
#[non_exhaustive]
pub struct Ctx<'c> {
    /// Current time.
    pub now: Instant,
    /// Protocol settings.
    pub cfg: &'c TcpConfig,
    /// Counters.
    pub stats: &'c mut TcpStats,
}

/// The send sequence space (RFC 9293 §3.3.1), with SND.MAX (the highest sequence number
/// sent, as in BSD) and the send MSS.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendSeq {
    /// ISS: our initial sequence number.
    pub(crate) iss: SeqNum,
    /// SND.UNA: the oldest unacknowledged sequence number.
    pub(crate) una: SeqNum,
    /// SND.NXT: the next sequence number to send (rewound to retransmit).
    pub(crate) nxt: SeqNum,
    /// SND.MAX: the highest sequence number sent.
    pub(crate) max: SeqNum,
    /// End of the last new-data segment sent shorter than a full segment (Minshall's
    /// refinement of Nagle, as Linux's `snd_sml`).
    pub(crate) sml: SeqNum,
    /// SND.WND: the peer's window, scaled.
    pub(crate) wnd: u32,
    /// The largest window the peer has offered (RFC 5961 §5.2, sender SWS avoidance).
    pub(crate) max_wnd: u32,
    /// SND.WL1: the sequence number of the segment that last set the window.
    pub(crate) wl1: SeqNum,
    /// SND.WL2: the acknowledgment number of the segment that last set the window.
    pub(crate) wl2: SeqNum,
    /// Largest payload the peer accepts (its MSS option, or 536), capped by our MTU.
    pub(crate) mss: u16,
    /// The largest MSS the path allows, learned from ICMP fragmentation needed
    /// (RFC 1191); `u16::MAX` until then. Kept apart so the peer's MSS option cannot
    /// raise it again.
    pub(crate) path_mss: u16,
    /// The peer's window scale shift (zero without scaling).
    pub(crate) wscale: u8,
}

/// The receive sequence space (RFC 9293 §3.3.1) and what our ACKs have said of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecvSeq {
    /// IRS: the peer's initial sequence number (zero before its SYN), for the public
    /// engine's diagnostics (`Connection::irs`).
    pub(crate) irs: SeqNum,
    /// RCV.NXT: the next sequence number expected.
    pub(crate) nxt: SeqNum,
    /// Right edge of the window last advertised (RCV.NXT + RCV.WND as sent).
    pub(crate) adv: SeqNum,
    /// RCV.NXT as of the last ACK sent.
    pub(crate) last_ack_sent: SeqNum,
    /// The peer's FIN seen on an out-of-order segment, processed when RCV.NXT reaches
    /// it: meaningful with `Progress::FIN_AHEAD` (see `rcv_fin()`).
    fin_seq: SeqNum,
    /// The MSS we advertised.
    pub(crate) mss: u16,
    /// Our window scale shift (zero without scaling).
    pub(crate) wscale: u8,
    /// Segments with data received since our last ACK.
    pub(crate) unacked_segs: u8,
}

/// Timestamps (RFC 7323).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timestamps {
    /// TS.Recent: the peer's timestamp to echo.
    pub(crate) recent: u32,
    /// Our timestamp clock's offset for this connection (RFC 7323 §5.4, RFC 6528).
    pub(crate) offset: u32,
    /// Our TSval when we last retransmitted: older echoes give no RTT sample.
    pub(crate) rtx: u32,
    /// When TS.Recent was taken (RFC 7323 §5.5: untrusted after 24 days).
    pub(crate) recent_age: Instant,
}

/// Loss recovery (RFC 5681, RFC 6582, RFC 6675, RACK-TLP, the undo).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recovery {
    /// RFC 6582 `recover` / RFC 6675 RecoveryPoint.
    pub(crate) recover: SeqNum,
    /// RFC 6675 HighRxt: highest sequence retransmitted in this recovery episode.
    pub(crate) high_rxt: SeqNum,
    /// SND.MAX at the first duplicate ACK: data above it was sent by limited transmit
    /// and does not count in the FlightSize that sets ssthresh (RFC 5681 §3.2 step 2).
    pub(crate) dupack_snd_max: SeqNum,
    /// NewReno: retransmit the segment at this sequence number next; meaningful with
    /// `Pending::RTX_NEXT` (see `rtx_next()`).
    rtx_seq: SeqNum,
    /// RACK-TLP (RFC 8985), see `tcp::rack`; no room without the `sack` feature.
    pub(crate) rack: Rack,
    /// The window before the current recovery, see `tcp::undo`; no room without the
    /// `timestamps` feature.
    pub(crate) undo: Undo,
    /// Duplicate ACKs in a row (`u16::MAX` after NewReno's first partial ACK).
    pub(crate) dupacks: u16,
    /// RACK-TLP: multiplier of the reordering window, raised by each D-SACK (RFC 8985
    /// §6.2).
    pub(crate) reo_mult: u8,
    /// The episode, RACK-TLP's timer and marks, the undo.
    pub(crate) flags: RecoveryFlags,
}

/// What the user asked for: the FIN, letting go, Nagle, and the keep-alive and user
/// timeout settings. The settings are whole milliseconds in 32 bits with a flag each
/// (`UserFlags::KEEPALIVE`, `UserFlags::USER_TIMEOUT`) rather than `Option`s of their
/// public types, which would take 48 bytes instead of 14: see `keepalive()` and
/// `user_timeout()`. A setting with a fraction of a millisecond is rounded up (a
/// timeout never ends early), one above 49 days is cut to 49 days.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserOptions {
    /// Keep-alive idle time, milliseconds.
    ka_idle_ms: u32,
    /// Keep-alive probe interval, milliseconds.
    ka_interval_ms: u32,
    /// RFC 5482 user timeout, milliseconds.
    user_timeout_ms: u32,
    /// Unanswered keep-alive probes before the connection ends.
    ka_count: u8,
    /// The FIN, letting go, and which options are set.
    pub(crate) flags: UserFlags,
}

/// `d` in whole milliseconds, rounded up, at most `u32::MAX`.
fn millis_up(d: Duration) -> u32 {
    let ms = d.total_millis();
    let ms = if Duration::from_millis(ms) < d {
        ms + 1
    } else {
        ms
    };
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// The control block of one TCP connection (RFC 9293 §3.3.1's TCB), by concern.
#[derive(Clone, Debug)]
pub struct Connection {
    pub(crate) state: State,
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: SocketAddrV4,
    /// SND.UNA, SND.NXT, ... as `snd.una`, `snd.nxt`, ...
    pub(crate) snd: SendSeq,
    /// RCV.NXT, ... as `rcv.nxt`, ...
    pub(crate) rcv: RecvSeq,
    /// Timestamps: one record with the `timestamps` feature, none (no room) without;
    /// read through `ts()`.
    pub(crate) ts: [Timestamps; TIMESTAMPS as usize],
    /// Every deadline, and the instants they are measured from.
    pub(crate) timers: TimerTable,
    pub(crate) rtt: RttEstimator,
    /// Sequence number being timed (see `rtt_timing()`), meaningful while
    /// `Stamp::RttSent` holds when it was sent.
    rtt_seq: SeqNum,
    /// When the oldest unacknowledged data was sent (RFC 5482 user timeout).
    pub(crate) unacked_since: Option<Instant>,
    pub(crate) cc: Controller,
    pub(crate) recovery: Recovery,
    /// The SACK scoreboard and the receiver's recent segments: one record with the
    /// `sack` feature, none (no room) without; read through `scoreboard()`.
    pub(crate) sack: [SackState; SACK as usize],
    pub(crate) user: UserOptions,
    /// Retransmissions (or unanswered zero-window probes) in a row.
    pub(crate) rtx_count: u8,
    pub(crate) persist_backoff: u8,
    pub(crate) keep_probes: u8,
    /// RFC 5961 §7 rate limit, per connection.
    pub(crate) chal_count: u16,
    /// One-shot requests to output.
    pub(crate) pending: Pending,
    /// The SYN options offered and agreed.
    pub(crate) opts: Negotiated,
    /// How the connection opened and how far the FINs got.
    pub(crate) progress: Progress,
    /// An ICMP error remembered for the user if the connection later fails.
    pub(crate) soft_error: Option<Error>,
    /// Why the connection ended, if it failed.
    pub(crate) error: Option<Error>,
    pub(crate) events: Events,
}

/// The default MSS when the peer sends none (RFC 9293 §3.7.1).
const DEFAULT_MSS: u16 = 536;
/// Bytes of the timestamp option with its padding.
pub(crate) const TS_OPT_LEN: usize = 12;
/// IPv4 header plus TCP header without options.
pub(crate) const IP_TCP_HEADERS: usize = 40;

/// The window scale shift for a receive buffer of `cap` bytes: the smallest shift that
/// lets the 16-bit window field cover it (RFC 7323 §2.3, at most 14).
pub(crate) fn wscale_for(cap: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (cap >> shift) > 0xffff {
        shift += 1;
    }
    shift
}

impl Connection {
    fn blank(
        cfg: &TcpConfig,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        mtu: usize,
    ) -> Self {
        let rcv_mss = mtu
            .saturating_sub(IP_TCP_HEADERS)
            .clamp(usize::from(cfg.min_mss), 0xffff) as u16;
        let mut user_flags = UserFlags::empty();
        if !cfg.nagle {
            user_flags |= UserFlags::NODELAY;
        }
        let mut c = Connection {
            state: State::Closed,
            local,
            remote,
            snd: SendSeq {
                iss,
                una: iss,
                nxt: iss,
                max: iss,
                sml: iss,
                wnd: 0,
                max_wnd: 0,
                wl1: SeqNum(0),
                wl2: iss,
                mss: DEFAULT_MSS.min(rcv_mss),
                path_mss: u16::MAX,
                wscale: 0,
            },
            rcv: RecvSeq {
                irs: SeqNum(0),
                nxt: SeqNum(0),
                adv: SeqNum(0),
                last_ack_sent: SeqNum(0),
                fin_seq: SeqNum(0),
                mss: rcv_mss,
                wscale: 0,
                unacked_segs: 0,
            },
            ts: [Timestamps {
                recent_age: now,
                ..Timestamps::default()
            }; TIMESTAMPS as usize],
            timers: TimerTable::new(now),
            rtt: RttEstimator::new(cfg.initial_rto),
            rtt_seq: SeqNum(0),
            unacked_since: None,
            cc: Controller::new(cfg.congestion, cc::initial_window(u32::from(DEFAULT_MSS))),
            recovery: Recovery {
                recover: iss,
                high_rxt: iss,
                dupack_snd_max: iss,
                rtx_seq: SeqNum(0),
                rack: Default::default(),
                undo: Default::default(),
                dupacks: 0,
                reo_mult: 1,
                flags: RecoveryFlags::empty(),
            },
            sack: [SackState::EMPTY; SACK as usize],
            user: UserOptions {
                ka_idle_ms: 0,
                ka_interval_ms: 0,
                user_timeout_ms: 0,
                ka_count: 0,
                flags: user_flags,
            },
            rtx_count: 0,
            persist_backoff: 0,
            keep_probes: 0,
            chal_count: 0,
            pending: Pending::empty(),
            opts: Negotiated::empty(),
            progress: Progress::empty(),
            soft_error: None,
            error: None,
            events: Events::empty(),
        };
        c.store_keepalive(cfg.keepalive);
        c.store_user_timeout(cfg.user_timeout);
        c
    }

    /// The SACK scoreboard (an empty one without the `sack` feature).
    #[inline]
    pub(crate) fn scoreboard(&self) -> &Scoreboard {
        self.sack
            .first()
            .map_or(&SackState::EMPTY.scoreboard, |s| &s.scoreboard)
    }

    /// The SACK scoreboard to change (`None` without the `sack` feature).
    #[inline]
    pub(crate) fn scoreboard_mut(&mut self) -> Option<&mut Scoreboard> {
        self.sack.first_mut().map(|s| &mut s.scoreboard)
    }

    /// The timestamp state (the defaults without the `timestamps` feature).
    #[inline]
    pub(crate) fn ts(&self) -> Timestamps {
        self.ts.first().copied().unwrap_or_default()
    }

    /// TS.Recent becomes `tsval`, taken at `now` (RFC 7323 §4.3).
    #[inline]
    pub(crate) fn take_ts_recent(&mut self, tsval: u32, now: Instant) {
        if let Some(t) = self.ts.first_mut() {
            t.recent = tsval;
            t.recent_age = now;
        }
    }

    /// A retransmission leaves at `now`: echoes of older timestamps no longer measure
    /// the path.
    #[inline]
    pub(crate) fn mark_ts_rtx(&mut self, now: Instant) {
        let v = self.ts_now(now);
        if let Some(t) = self.ts.first_mut() {
            t.rtx = v;
        }
    }

    // `Option<SeqNum>` and `Option<(SeqNum, Instant)>` fields would take 4 bytes more
    // each: the three below keep a flag bit or a niche instead.

    /// The peer's FIN seen on an out-of-order segment, if any.
    #[inline]
    pub(crate) fn rcv_fin(&self) -> Option<SeqNum> {
        self.progress
            .contains(Progress::FIN_AHEAD)
            .then_some(self.rcv.fin_seq)
    }

    #[inline]
    pub(crate) fn set_rcv_fin(&mut self, v: Option<SeqNum>) {
        store_flagged(
            &mut self.progress,
            Progress::FIN_AHEAD,
            &mut self.rcv.fin_seq,
            v,
        );
    }

    /// Where the next retransmission asked for (fast retransmit, partial ACK) starts.
    #[inline]
    pub(crate) fn rtx_next(&self) -> Option<SeqNum> {
        self.pending
            .contains(Pending::RTX_NEXT)
            .then_some(self.recovery.rtx_seq)
    }

    #[inline]
    pub(crate) fn set_rtx_next(&mut self, v: Option<SeqNum>) {
        store_flagged(
            &mut self.pending,
            Pending::RTX_NEXT,
            &mut self.recovery.rtx_seq,
            v,
        );
    }

    /// The segment being timed for an RTT sample: its sequence number and when it was
    /// sent.
    #[inline]
    pub(crate) fn rtt_timing(&self) -> Option<(SeqNum, Instant)> {
        self.timers.stamp(Stamp::RttSent).map(|t| (self.rtt_seq, t))
    }

    #[inline]
    pub(crate) fn set_rtt_timing(&mut self, v: Option<(SeqNum, Instant)>) {
        if let Some((s, _)) = v {
            self.rtt_seq = s;
        }
        self.timers.set_stamp(Stamp::RttSent, v.map(|(_, t)| t));
    }

    /// The keep-alive settings (`None`: no probing).
    #[inline]
    pub(crate) fn keepalive(&self) -> Option<Keepalive> {
        self.user
            .flags
            .contains(UserFlags::KEEPALIVE)
            .then(|| Keepalive {
                idle: Duration::from_millis(u64::from(self.user.ka_idle_ms)),
                interval: Duration::from_millis(u64::from(self.user.ka_interval_ms)),
                count: self.user.ka_count,
            })
    }

    fn store_keepalive(&mut self, k: Option<Keepalive>) {
        let k = k.inspect(|k| {
            self.user.ka_idle_ms = millis_up(k.idle);
            self.user.ka_interval_ms = millis_up(k.interval);
            self.user.ka_count = k.count;
        });
        self.user.flags.set(UserFlags::KEEPALIVE, k.is_some());
    }

    /// The RFC 5482 user timeout, if set.
    #[inline]
    pub(crate) fn user_timeout(&self) -> Option<Duration> {
        self.user
            .flags
            .contains(UserFlags::USER_TIMEOUT)
            .then(|| Duration::from_millis(u64::from(self.user.user_timeout_ms)))
    }

    fn store_user_timeout(&mut self, t: Option<Duration>) {
        let t = t.inspect(|t| self.user.user_timeout_ms = millis_up(*t));
        self.user.flags.set(UserFlags::USER_TIMEOUT, t.is_some());
    }

    /// An active open (RFC 9293 §3.10.1): SYN-SENT; the SYN goes out at the next output.
    /// `mtu` is the interface MTU, `rcv_cap` the receive buffer size (for the window scale
    /// we offer), `ts_offset` the per-connection timestamp offset.
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        cfg: &TcpConfig,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        mtu: usize,
        rcv_cap: usize,
        ts_offset: u32,
    ) -> Self {
        let mut c = Connection::blank(cfg, now, local, remote, iss, mtu);
        c.state = State::SynSent;
        if let Some(t) = c.ts.first_mut() {
            t.offset = ts_offset;
        }
        c.mark_ts_rtx(now);
        if WINDOW_SCALING && cfg.window_scaling {
            c.opts |= Negotiated::OFFERED_WSCALE;
            c.rcv.wscale = wscale_for(rcv_cap);
        }
        if TIMESTAMPS && cfg.timestamps {
            c.opts |= Negotiated::OFFERED_TS;
        }
        if SACK && cfg.sack {
            c.opts |= Negotiated::OFFERED_SACK;
        }
        c
    }

    /// A passive open from an acceptable SYN (RFC 9293 §3.10.7.2): SYN-RECEIVED; the
    /// SYN-ACK goes out at the next output. Options the peer offered and `cfg` allows are
    /// agreed here.
    #[allow(clippy::too_many_arguments)]
    pub fn accept_syn(
        cfg: &TcpConfig,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &TcpRepr,
        iss: SeqNum,
        mtu: usize,
        rcv_cap: usize,
        ts_offset: u32,
    ) -> Self {
        let mut c = Connection::blank(cfg, now, local, remote, iss, mtu);
        c.state = State::SynReceived;
        c.progress |= Progress::PASSIVE;
        if let Some(t) = c.ts.first_mut() {
            t.offset = ts_offset;
        }
        c.mark_ts_rtx(now);
        c.rcv.irs = syn.seq;
        c.rcv.nxt = syn.seq + 1u32;
        c.rcv.adv = c.rcv.nxt;
        c.rcv.last_ack_sent = c.rcv.nxt;
        if WINDOW_SCALING && cfg.window_scaling && syn.options.window_scale.is_some() {
            c.opts |= Negotiated::OFFERED_WSCALE;
            c.rcv.wscale = wscale_for(rcv_cap);
        }
        if TIMESTAMPS && cfg.timestamps && syn.options.timestamps.is_some() {
            c.opts |= Negotiated::OFFERED_TS;
        }
        if SACK && cfg.sack && syn.options.sack_permitted {
            c.opts |= Negotiated::OFFERED_SACK;
        }
        c.negotiate(cfg, &syn.options, now);
        // SND.WND from the SYN is never scaled (RFC 7323 §2.2).
        c.snd.wnd = u32::from(syn.window);
        c.snd.max_wnd = c.snd.wnd;
        c.snd.wl1 = syn.seq;
        c.snd.wl2 = iss;
        c
    }

    /// Agrees on the SYN options: what the peer offered and we offered (RFC 7323 §2.2,
    /// §3.2; RFC 2018 §2), and the send MSS.
    pub(crate) fn negotiate(&mut self, cfg: &TcpConfig, o: &TcpOptions, now: Instant) {
        let peer_mss = o.mss.unwrap_or(DEFAULT_MSS).max(cfg.min_mss);
        self.snd.mss = peer_mss.min(self.rcv.mss).min(self.snd.path_mss);
        match o.window_scale {
            Some(s) if WINDOW_SCALING && self.opts.contains(Negotiated::OFFERED_WSCALE) => {
                self.opts |= Negotiated::WSCALE;
                // RFC 7323 §2.3: a shift above 14 is used as 14.
                self.snd.wscale = s.min(14);
            }
            _ => {
                self.opts.remove(Negotiated::WSCALE);
                self.snd.wscale = 0;
                self.rcv.wscale = 0;
            }
        }
        match o.timestamps {
            Some((tsval, _)) if TIMESTAMPS && self.opts.contains(Negotiated::OFFERED_TS) => {
                self.opts |= Negotiated::TS;
                self.take_ts_recent(tsval, now);
            }
            _ => self.opts.remove(Negotiated::TS),
        }
        if SACK && o.sack_permitted && self.opts.contains(Negotiated::OFFERED_SACK) {
            self.opts |= Negotiated::SACK;
        } else {
            self.opts.remove(Negotiated::SACK);
        }
        let iw = cc::initial_window(u32::from(self.eff_mss()));
        self.cc.set_cwnd(iw);
    }

    /// Payload bytes in a full segment: the send MSS less the timestamp option
    /// (RFC 9293 §3.7.1: the MSS counts no options).
    pub(crate) fn eff_mss(&self) -> u16 {
        let ts = if self.ts_on() { TS_OPT_LEN as u16 } else { 0 };
        self.snd.mss.saturating_sub(ts).max(1)
    }

    /// Timestamps agreed (and built in).
    #[inline]
    pub(crate) fn ts_on(&self) -> bool {
        TIMESTAMPS && self.opts.contains(Negotiated::TS)
    }

    /// SACK agreed (and built in).
    #[inline]
    pub(crate) fn sack_on(&self) -> bool {
        SACK && self.opts.contains(Negotiated::SACK)
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.state
    }
    /// Local endpoint.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }
    /// Remote endpoint.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }
    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<Error> {
        self.error
    }
    /// The peer sent its FIN: after the buffered bytes, the stream ends.
    pub fn peer_closed(&self) -> bool {
        self.progress.contains(Progress::RCVD_FIN)
    }
    /// Our side has queued or sent its FIN: no more writes.
    pub fn write_closed(&self) -> bool {
        self.user.flags.contains(UserFlags::FIN_QUEUED)
    }
    /// The user let go of the connection.
    pub fn user_closed(&self) -> bool {
        self.user.flags.contains(UserFlags::USER_CLOSED)
    }
    /// SND.UNA: the oldest unacknowledged sequence number.
    pub fn snd_una(&self) -> SeqNum {
        self.snd.una
    }
    /// Congestion window in bytes.
    pub fn cwnd(&self) -> u32 {
        self.cc.cwnd()
    }
    /// Slow start threshold in bytes.
    pub fn ssthresh(&self) -> u32 {
        self.cc.ssthresh()
    }
    /// The peer's receive window in bytes (scaled).
    pub fn send_window(&self) -> u32 {
        self.snd.wnd
    }
    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }
    /// The current retransmission timeout, backoff included.
    pub fn rto(&self, cfg: &TcpConfig) -> Duration {
        self.rtt.rto(cfg.max_rto)
    }
    /// Payload bytes in a full segment.
    pub fn mss(&self) -> u16 {
        self.eff_mss()
    }
    /// Which options were agreed: (window scaling, timestamps, SACK).
    pub fn options(&self) -> (bool, bool, bool) {
        (
            WINDOW_SCALING && self.opts.contains(Negotiated::WSCALE),
            self.ts_on(),
            self.sack_on(),
        )
    }
    /// Window scale shifts (ours, the peer's); zero when scaling is off.
    pub fn window_scales(&self) -> (u8, u8) {
        (self.rcv.wscale, self.snd.wscale)
    }
    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> u32 {
        self.snd.max - self.snd.una
    }
    /// Takes the events recorded since the last call.
    pub fn take_events(&mut self) -> Events {
        core::mem::take(&mut self.events)
    }
    /// Whether the user may still queue data.
    pub fn may_send(&self) -> bool {
        self.state.can_send_data()
            && !self.user.flags.contains(UserFlags::FIN_QUEUED)
            && self.error.is_none()
    }

    /// Sets Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.user.flags.set(UserFlags::NODELAY, nodelay);
    }
    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> bool {
        self.user.flags.contains(UserFlags::NODELAY)
    }
    /// Sets keep-alive probing.
    pub fn set_keepalive(&mut self, now: Instant, keepalive: Option<Keepalive>) {
        self.store_keepalive(keepalive);
        self.keep_probes = 0;
        self.arm_keepalive(now);
    }
    /// Sets the RFC 5482 user timeout.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.store_user_timeout(timeout);
        self.user.flags.remove(UserFlags::CONNECT_TIMEOUT);
    }
    /// Bounds the handshake: if the connection is not established `timeout` after its
    /// first SYN, it ends with `TimedOut`. Once established, the user timeout is the
    /// configured one again.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        if matches!(self.state, State::SynSent | State::SynReceived) {
            self.store_user_timeout(Some(timeout));
            self.user.flags.insert(UserFlags::CONNECT_TIMEOUT);
        }
    }
    /// Selects the congestion control algorithm (keeps the current window).
    pub fn set_congestion_control(&mut self, alg: cc::Algorithm) {
        let cwnd = self.cc.cwnd();
        self.cc = Controller::new(alg, cwnd);
    }

    /// The user read data: if the window opened enough, announce it (RFC 9293 §3.8.6.2.2,
    /// BSD's two-segment rule).
    pub fn on_user_read(&mut self, rx: &RecvBuf<'_>) {
        if self.state.is_synchronized()
            && self.state.can_receive_data()
            && self.window_update_due(rx)
        {
            self.pending |= Pending::ACK_NOW;
        }
    }

    /// Half-close: queue our FIN after the data. In SYN-SENT and SYN-RECEIVED the FIN waits
    /// for the handshake; unlike [`close`](Self::close) in SYN-SENT (RFC 9293 §3.10.4),
    /// nothing is deleted and nothing written is dropped.
    pub fn shutdown_write(&mut self) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.user.flags.contains(UserFlags::FIN_QUEUED) {
            return Ok(());
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established => {
                // Before ESTABLISHED the FIN waits for the handshake, after the data
                // already written (output checks the state; `establish` moves on to
                // FIN-WAIT-1). A half-close is not a CLOSE: nothing written is dropped.
                self.user.flags |= UserFlags::FIN_QUEUED;
                if self.state == State::Established {
                    self.state = State::FinWait1;
                }
            }
            State::CloseWait => {
                self.user.flags |= UserFlags::FIN_QUEUED;
                self.state = State::LastAck;
            }
            _ => self.user.flags |= UserFlags::FIN_QUEUED,
        }
        Ok(())
    }

    /// The user lets go (RFC 9293 §3.10.4 CLOSE). If unread data remains, or arrives later,
    /// the connection is reset (RFC 9293 §3.6, RFC 2525 §2.17); otherwise a FIN follows the
    /// queued data. Returns a reset to send, if one is due now.
    pub fn close(&mut self, ctx: &mut Ctx, rx_unread: usize) -> Option<TcpRepr> {
        self.user.flags |= UserFlags::USER_CLOSED;
        if rx_unread > 0 && self.state.is_synchronized() && self.state != State::TimeWait {
            return self.abort();
        }
        if self.state == State::Closed {
            return None;
        }
        if self.state == State::SynSent {
            // RFC 9293 §3.10.4, CLOSE in SYN-SENT: delete the TCB.
            self.enter_closed(None);
            return None;
        }
        let _ = self.shutdown_write();
        if self.state == State::FinWait2 && !self.timers.armed(Timer::Close) {
            // Already half-closed and acknowledged: start the FIN-WAIT-2 timeout.
            self.timers
                .arm(Timer::Close, ctx.now + ctx.cfg.fin_wait_2_timeout);
        }
        None
    }

    /// Abort (RFC 9293 §3.10.5): a RST to the peer where the state calls for one, and
    /// CLOSED at once.
    pub fn abort(&mut self) -> Option<TcpRepr> {
        self.user.flags |= UserFlags::USER_CLOSED;
        let rst = match self.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck => Some(self.make_rst(self.snd.max, true)),
            _ => None,
        };
        self.enter_closed(None);
        rst
    }

    /// A RST from this connection's endpoints: `<SEQ=seq><CTL=RST>` with ACK if asked.
    pub(crate) fn make_rst(&self, seq: SeqNum, with_ack: bool) -> TcpRepr {
        use crate::wire::tcp::TcpFlags;
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: if with_ack { self.rcv.nxt } else { SeqNum(0) },
            flags: if with_ack {
                TcpFlags::RST | TcpFlags::ACK
            } else {
                TcpFlags::RST
            },
            window: 0,
            options: TcpOptions::NONE,
        }
    }

    /// Moves to CLOSED, recording `error` (if any) for the user and clearing every timer.
    pub(crate) fn enter_closed(&mut self, error: Option<Error>) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        if error.is_some() && self.error.is_none() {
            self.error = error;
            self.events |= Events::ERROR;
        }
        self.timers.stop_all();
        self.pending.remove(
            Pending::ACK_NOW | Pending::FORCE | Pending::KEEPALIVE_PROBE | Pending::TLP_PROBE,
        );
        self.recovery
            .flags
            .remove(RecoveryFlags::TLP_ARMED | RecoveryFlags::REO_ARMED);
        self.events |= Events::CLOSED | Events::RECV | Events::SEND;
    }

    /// Fails the connection with a timeout, reporting an earlier ICMP error instead if
    /// there was one (RFC 1122 §4.2.3.9).
    pub(crate) fn time_out(&mut self, stats: &mut TcpStats) {
        stats.timed_out += 1;
        let e = self.soft_error.unwrap_or(Error::TimedOut);
        self.enter_closed(Some(e));
    }

    /// An ICMP destination unreachable for this connection (RFC 1122 §4.2.3.9, RFC 5927):
    /// `seq` is the sequence number quoted from our segment, `hard` marks protocol/port
    /// unreachable. A quote outside `[SND.UNA, SND.MAX]` is ignored. In SYN-SENT a hard
    /// error fails the connect at once; otherwise errors are soft: remembered and
    /// reported only if the connection then times out. Established connections are not
    /// aborted, as in Linux and the BSDs (RFC 5927 §5.2: blind reset via ICMP).
    pub fn on_icmp_unreachable(&mut self, ctx: &mut Ctx, seq: SeqNum, hard: bool) {
        if !self.quote_valid(seq) {
            ctx.stats.icmp_ignored += 1;
            return;
        }
        if hard && self.state == State::SynSent {
            self.enter_closed(Some(Error::ConnectionRefused));
        } else {
            self.soft_error = Some(if hard {
                Error::ConnectionRefused
            } else {
                Error::HostUnreachable
            });
        }
    }

    /// The next hop could not be resolved: fail a connection still opening with
    /// `HostUnreachable`; otherwise remember it as a soft error (RFC 1122 §4.2.3.9), which
    /// a timeout reports and acknowledged progress clears.
    pub fn on_neighbor_failed(&mut self) {
        match self.state {
            State::SynSent => self.enter_closed(Some(Error::HostUnreachable)),
            // A passive connection to a host that does not answer ARP was most likely
            // opened by a spoofed SYN: free it now.
            State::SynReceived if self.progress.contains(Progress::PASSIVE) => {
                self.enter_closed(Some(Error::HostUnreachable))
            }
            State::Closed => {}
            _ => self.soft_error = Some(Error::HostUnreachable),
        }
    }

    /// Our FIN is queued or sent and not yet acknowledged.
    pub(crate) fn fin_unacked(&self) -> bool {
        self.user.flags.contains(UserFlags::FIN_QUEUED)
            && !self.progress.contains(Progress::FIN_ACKED)
    }

    /// Output could not go out (the next hop is being resolved). If the connection has
    /// something to send but no timer, arm the retransmission timer as if it had sent,
    /// so that it retries and, if the neighbour never answers, ends with a timeout.
    pub fn on_output_blocked(&mut self, ctx: &mut Ctx, held: usize) {
        let pending = matches!(self.state, State::SynSent | State::SynReceived)
            || self.snd.una != self.snd.max
            || held > 0
            || self.fin_unacked();
        if pending
            && !self.timers.armed(Timer::Rtx)
            && !self.timers.armed(Timer::Persist)
            && self.state != State::Closed
        {
            self.timers
                .arm(Timer::Rtx, ctx.now + self.rtt.rto(ctx.cfg.max_rto));
        }
    }

    /// ICMP fragmentation needed (RFC 1191): lower the MSS to fit `mtu` and resend.
    pub fn on_icmp_frag_needed(&mut self, ctx: &mut Ctx, seq: SeqNum, mtu: u16) {
        if !self.quote_valid(seq) {
            ctx.stats.icmp_ignored += 1;
            return;
        }
        // RFC 1191 §5: a next-hop MTU of 0 (old routers) or below 68 is not believed.
        if mtu < 68 {
            ctx.stats.icmp_ignored += 1;
            return;
        }
        let new_mss = (usize::from(mtu).saturating_sub(IP_TCP_HEADERS) as u16).max(ctx.cfg.min_mss);
        self.snd.path_mss = self.snd.path_mss.min(new_mss);
        if new_mss < self.snd.mss {
            self.snd.mss = new_mss;
            ctx.stats.pmtu_updates += 1;
            // The segment that was too big was dropped: send it again, smaller, now.
            if self.snd.una != self.snd.max {
                self.snd.nxt = self.snd.una;
                self.set_rtt_timing(None);
            }
        }
    }

    /// Whether a SYN for this connection's 4-tuple, arriving in TIME-WAIT, may start a new
    /// connection: with timestamps, if its TSval is newer than TS.Recent (RFC 6191 §2);
    /// otherwise if its sequence number is above RCV.NXT (RFC 1122 §4.2.2.13).
    pub fn may_reopen(&self, syn: &TcpRepr) -> bool {
        if self.state != State::TimeWait {
            return false;
        }
        match (self.ts_on(), syn.options.timestamps) {
            (true, Some((tsval, _))) => (tsval.wrapping_sub(self.ts().recent) as i32) > 0,
            _ => syn.seq > self.rcv.nxt,
        }
    }

    fn quote_valid(&self, seq: SeqNum) -> bool {
        self.state != State::Closed && self.snd.una <= seq && seq <= self.snd.max
    }

    /// When the fused receive path may copy a segment's payload straight into the ring:
    /// `(skip, offset)` for [`RecvBuf::stage`], or `None` if this connection would not
    /// take data now.
    pub fn stage_plan(&self, seq: SeqNum, len: usize) -> Option<(usize, usize)> {
        if !self.state.can_receive_data() || len == 0 {
            return None;
        }
        let d = seq.diff(self.rcv.nxt);
        if d >= 0 {
            Some((0, d as usize))
        } else {
            let skip = d.unsigned_abs() as usize;
            (skip < len).then_some((skip, 0))
        }
    }
}
