//! The TCP protocol engine (RFC 9293 with the host requirements of RFC 1122, congestion
//! control per RFC 5681/6582, RTO per RFC 6298, options per RFC 7323 and RFC 2018, and the
//! blind-attack defences of RFC 5961).
//!
//! This module knows nothing of handles, wakers or threads. A [`Connection`] is the
//! control block of one connection: it takes segments ([`Connection::input`]), user
//! requests and time, and hands back segments to send ([`Connection::poll_output`]) and a
//! deadline ([`Connection::poll_at`]). A [`Listener`] is not a connection: it decides
//! what a segment for a listening port does ([`Listener::on_segment`]), and the caller
//! carries the decision out. The stream bytes live in the buffers of
//! [`crate::buf`], passed in by the caller for each call, so the same engine drives any
//! storage layout.
//!
//! # The sans-IO engine
//!
//! [`crate::stack::Stack`] is one user of the engine; anything else may drive a
//! [`Connection`] directly, with no IP, no device and no clock: a test, a simulator, a
//! stack of your own. The engine never reads a clock, never blocks and never owns
//! memory. What it needs for a call comes in one context argument, [`Ctx`] (built with
//! [`Ctx::new`]: the time, the [`TcpConfig`] and the [`TcpStats`] to count into), plus
//! the connection's receive and send buffers ([`crate::buf::RecvBuf`],
//! [`crate::buf::SendBuf`], views over memory and state you keep).
//!
//! **Endpoints.** A connection's 4-tuple is two [`Endpoint`]s: IPv4, or IPv6 with the
//! `proto-ipv6` feature. The opening calls take anything that converts into one (a
//! `SocketAddrV4`, a `SocketAddrV6`); the IP header size, and so the MSS, follows the
//! family (MTU − 40 for IPv4, MTU − 60 for IPv6).
//!
//! **Opening.** An active open is [`Connection::connect`] (SYN-SENT); a passive open is
//! [`Connection::accept_syn`], from a SYN that arrived for a port you listen on
//! (SYN-RECEIVED; the listening itself — which SYNs to take, queues, cookies — is the
//! caller's). Either way the first segment comes from `poll_output`. The initial
//! sequence number is yours to choose: [`isn::Secrets`] makes RFC 6528 ones.
//!
//! **Calling order**, in the manner of `quinn-proto`: after anything happened, let the
//! connection react, then drain its output, then ask for its next deadline.
//!
//! 1. *Events in.* Each segment for the connection (its 4-tuple): parse it
//!    ([`SegmentIn::parse`] checks the checksum; or [`SegmentIn::new`] from a
//!    [`crate::wire::tcp::TcpRepr`]) and call [`Connection::input`]. A segment for no
//!    connection gets [`rst_for`].
//! 2. *User calls.* Write into the send buffer (output finds the new data by itself);
//!    read from the receive buffer then [`Connection::on_user_read`];
//!    [`Connection::shutdown_write`], [`Connection::close`], [`Connection::abort`]. They
//!    may come in any order with 1 and 3.
//! 3. *Output.* Call [`Connection::poll_output`] until it returns `None`; write each
//!    [`Transmit`] out with [`Transmit::emit`] (header, payload from the send buffer,
//!    checksum) before the send buffer changes. A reset returned by `input`, `on_timer`,
//!    `close` or `abort` goes out as [`Transmit::control`].
//! 4. *Timeouts.* [`Connection::poll_at`] is the earliest deadline; once the time has come,
//!    call [`Connection::on_timer`], then output again (3).
//!
//! [`Connection::take_events`] says what changed for the user (data to read, room to
//! write, connected, closed, failed). A connection is done when its state is
//! [`State::Closed`]: free it (and its buffers) once the user has also let go.
//!
//! ```
//! use core::net::{Ipv4Addr, SocketAddrV4};
//! use tidytcp::buf::{RecvBuf, RecvState, SendBuf, SendState};
//! use tidytcp::tcp::{Connection, Ctx, SegmentIn, State, TcpConfig, TcpStats};
//! use tidytcp::wire::tcp::SeqNum;
//! use tidytcp::Instant;
//!
//! /// One endpoint: the control block and the memory and state of its two buffers.
//! struct End {
//!     conn: Option<Connection>,
//!     rx: ([u8; 4096], RecvState),
//!     tx: ([u8; 4096], SendState),
//! }
//!
//! impl End {
//!     fn new() -> Self {
//!         End { conn: None, rx: ([0; 4096], RecvState::default()), tx: ([0; 4096], SendState::new()) }
//!     }
//!     /// Step 3: every segment the connection has to send, as bytes.
//!     fn output(&mut self, ctx: &mut Ctx<'_>) -> Vec<Vec<u8>> {
//!         let mut out = Vec::new();
//!         let Some(c) = self.conn.as_mut() else { return out };
//!         let rx = RecvBuf::new(&mut self.rx.0, &mut self.rx.1);
//!         let tx = SendBuf::new(&mut self.tx.0, &mut self.tx.1);
//!         while let Some(t) = c.poll_output(ctx, &rx, &tx, 1500) {
//!             let mut seg = vec![0; t.segment_len()];
//!             t.emit(&tx, c.local().ip(), c.remote().ip(), &mut seg).unwrap();
//!             out.push(seg);
//!         }
//!         out
//!     }
//!     /// Step 1: one arriving segment.
//!     fn input(&mut self, ctx: &mut Ctx<'_>, bytes: &[u8]) {
//!         let c = self.conn.as_mut().unwrap();
//!         let seg = SegmentIn::parse(bytes, c.remote().ip(), c.local().ip()).unwrap();
//!         let mut rx = RecvBuf::new(&mut self.rx.0, &mut self.rx.1);
//!         let mut tx = SendBuf::new(&mut self.tx.0, &mut self.tx.1);
//!         assert!(c.input(ctx, &seg, &mut rx, &mut tx).is_none()); // no reset due
//!     }
//! }
//!
//! let cfg = TcpConfig::default();
//! let mut stats = TcpStats::default();
//! let now = Instant::from_millis(1);
//! let client = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
//! let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
//! let (mut a, mut b) = (End::new(), End::new());
//!
//! // Active open: a's SYN.
//! a.conn = Some(Connection::connect(&cfg, now, client, server, SeqNum(1000), 1500, 4096, 0));
//! let syn = a.output(&mut Ctx::new(now, &cfg, &mut stats)).remove(0);
//!
//! // Passive open from that SYN; b answers with its SYN-ACK, a completes the handshake.
//! let seg = SegmentIn::parse(&syn, *client.ip(), *server.ip()).unwrap();
//! b.conn = Some(Connection::accept_syn(&cfg, now, server, client, &seg.repr, SeqNum(7000), 1500, 4096, 0));
//! for s in b.output(&mut Ctx::new(now, &cfg, &mut stats)) {
//!     a.input(&mut Ctx::new(now, &cfg, &mut stats), &s);
//! }
//! for s in a.output(&mut Ctx::new(now, &cfg, &mut stats)) {
//!     b.input(&mut Ctx::new(now, &cfg, &mut stats), &s);
//! }
//! assert_eq!(a.conn.as_ref().unwrap().state(), State::Established);
//! assert_eq!(b.conn.as_ref().unwrap().state(), State::Established);
//!
//! // A user call on a: write, then output carries the bytes to b.
//! SendBuf::new(&mut a.tx.0, &mut a.tx.1).write(b"hello");
//! for s in a.output(&mut Ctx::new(now, &cfg, &mut stats)) {
//!     b.input(&mut Ctx::new(now, &cfg, &mut stats), &s);
//! }
//! let mut got = [0u8; 16];
//! let n = RecvBuf::new(&mut b.rx.0, &mut b.rx.1).read(&mut got);
//! assert_eq!(&got[..n], b"hello");
//!
//! // b's ACK waits for the delayed-ACK timer: its deadline, then on_timer, then output.
//! let b_conn = b.conn.as_mut().unwrap();
//! let at = b_conn.poll_at().unwrap();
//! b_conn.on_timer(&mut Ctx::new(at, &cfg, &mut stats));
//! for s in b.output(&mut Ctx::new(at, &cfg, &mut stats)) {
//!     a.input(&mut Ctx::new(at, &cfg, &mut stats), &s);
//! }
//! assert_eq!(a.conn.as_ref().unwrap().in_flight(), 0);
//! ```
//!
//! `tests/common/engine.rs` is a fuller harness on the same calls (two connections,
//! virtual time, seeded loss), which the engine tests and the `engine` fuzz target use.
//!
//! Files: `conn.rs` (the control block and user calls), `input.rs` (segment arrival, in
//! RFC 9293 §3.10.7 order), `output.rs` (what to send next), `timer.rs` (the deadlines),
//! `api.rs` (the public context, segments as bytes, sequence variables),
//! `rtt.rs`, `cc/` (congestion control), `sack.rs` (the SACK scoreboard and blocks),
//! `rack.rs` (RACK-TLP loss detection), `undo.rs` (spurious recoveries undone),
//! `isn.rs` (initial sequence numbers and ephemeral ports), `reply.rs` (stateless replies),
//! `syncookie.rs` (SYN cookies), `listen.rs` (LISTEN, cookies' return, the TIME-WAIT
//! reopen rule, segments for no socket), `icmp.rs` (ICMP errors: the quoted header and
//! what each error does), `coalesce.rs` (which ACKs wait for the end of a receive batch).

mod api;
pub mod cc;
mod coalesce;
mod conn;
mod endpoint;
pub mod icmp;
mod input;
pub mod isn;
pub mod listen;
mod output;
mod rack;
mod reply;
pub mod rtt;
mod rtxlog;
mod sack;
pub mod syncookie;
mod timer;
mod undo;

pub use coalesce::ack_may_wait;
pub use conn::{Connection, Ctx, Events, Keepalive, SegmentIn, Transmit};
pub use endpoint::Endpoint;
pub use listen::{ListenDecision, ListenRoom, Listener};
pub use reply::rst_for;
pub use sack::Scoreboard;

use crate::time::Duration;

/// SACK (RFC 2018, RFC 6675) is built in: cargo feature `sack`, on by default. Without
/// it, [`TcpConfig::sack`] is ignored, SACK is never offered or agreed, the scoreboard
/// holds no blocks (no bytes in a connection), and the code behind this constant is
/// compiled but never runs, so the optimizer drops it.
pub(crate) const SACK: bool = cfg!(feature = "sack");
/// Timestamps (RFC 7323 §3–5: RTTM, PAWS) are built in: cargo feature `timestamps`, on
/// by default. Without it, [`TcpConfig::timestamps`] is ignored.
pub(crate) const TIMESTAMPS: bool = cfg!(feature = "timestamps");
/// Window scaling (RFC 7323 §2) is built in: cargo feature `window-scaling`, on by
/// default. Without it, [`TcpConfig::window_scaling`] is ignored.
pub(crate) const WINDOW_SCALING: bool = cfg!(feature = "window-scaling");
/// SYN cookies are built in: cargo feature `syncookies`, on by default. Without it,
/// [`TcpConfig::syn_cookies`] is ignored (a full SYN queue drops SYNs).
pub(crate) const SYN_COOKIES: bool = cfg!(feature = "syncookies");

/// The TCP states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request: a listener's state (as the socket table
    /// reports it), never a [`Connection`]'s, since a [`Listener`] is its own type.
    Listen,
    /// SYN sent, waiting for the matching SYN.
    SynSent,
    /// SYN received and SYN sent, waiting for the acknowledgment of ours.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We sent our FIN; waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer sent its FIN; waiting for our user to close.
    CloseWait,
    /// Both sent FINs at once; waiting for the ACK of ours.
    Closing,
    /// The peer closed first and we sent our FIN; waiting for its ACK.
    LastAck,
    /// Waiting 2·MSL so that old duplicates die out.
    TimeWait,
}

impl State {
    /// The name used in RFC 9293 (and in `netstat`).
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// A state in which sequence numbers of both sides are known (RFC 9293 "synchronized").
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// States in which the peer may still send data we accept.
    pub fn can_receive_data(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }

    /// States in which our user may still queue data.
    pub fn can_send_data(self) -> bool {
        matches!(
            self,
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
        )
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Protocol settings shared by every connection of a stack. The defaults follow the RFCs
/// and, where an RFC leaves room, Linux and the BSDs; each departure is noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// RTO before the first RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO. RFC 6298 §2.4 says 1 s; the default is 200 ms, as in Linux
    /// (FreeBSD uses 30 ms), because embedded links have RTTs of milliseconds and a 1 s
    /// floor makes every loss cost a second.
    pub min_rto: Duration,
    /// Upper bound of the RTO (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Duration,
    /// Retransmissions of the same data before the connection ends with `TimedOut`
    /// (RFC 9293 R2). The default is Linux's `tcp_retries2`, 15 (about 15 minutes with
    /// the RTO capped at 60 s); BSD's TCP_MAXRXTSHIFT is 12.
    pub max_retransmits: u8,
    /// Retransmissions of a SYN before `connect` fails (Linux's tcp_syn_retries is 6:
    /// about two minutes).
    pub syn_retries: u8,
    /// RFC 5482 user timeout: the longest time sent data may stay unacknowledged before
    /// the connection ends with `TimedOut`. `None` leaves only `max_retransmits`.
    pub user_timeout: Option<Duration>,
    /// Delayed ACK timer (RFC 1122 §4.2.3.2: at most 500 ms; RFC 5681: every second
    /// full-sized segment is ACKed at once). `None` ACKs every segment at once.
    pub delayed_ack: Option<Duration>,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this (RFC 9293: 2 minutes; the
    /// default is 30 s, as Linux's 60 s TIME-WAIT).
    pub msl: Duration,
    /// How long a connection the user has closed may sit in FIN-WAIT-2 waiting for the
    /// peer's FIN (BSD's and Linux's 60 s), so half-dead peers do not pin a slot.
    pub fin_wait_2_timeout: Duration,
    /// Keep-alive probes for new connections (RFC 1122 §4.2.3.6: off by default).
    pub keepalive: Option<Keepalive>,
    /// Nagle's algorithm for new connections (RFC 1122 §4.2.3.4: on by default), with
    /// Minshall's refinement as in Linux: a short segment waits only while an earlier
    /// short segment is unacknowledged, so the tail of a write leaves with it.
    pub nagle: bool,
    /// Offer and accept window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer and accept timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer and accept selective acknowledgments (RFC 2018).
    pub sack: bool,
    /// RACK-TLP loss detection (RFC 8985) on connections that negotiated SACK, as Linux
    /// does: a hole is deemed lost once data sent after it has arrived and a reordering
    /// window (a quarter of the smoothed RTT, widened by D-SACKs) has passed, instead
    /// of waiting for three segments SACKed above it; a retransmission is deemed lost
    /// once data sent after it has arrived; and a tail loss probe, two smoothed RTTs
    /// after the last ACK, makes the receiver report a lost tail long before the
    /// retransmission timeout would. Off: RFC 6675 alone.
    pub rack_tlp: bool,
    /// Answer with SYN cookies when a listener's SYN queue is full.
    pub syn_cookies: bool,
    /// Congestion control for new connections.
    pub congestion: cc::Algorithm,
    /// Out-of-order ranges a receive buffer tracks (at most [`crate::buf::MAX_RANGES`]).
    pub max_ooo_ranges: u8,
    /// Challenge ACKs (RFC 5961 §7) and ACKs to out-of-window segments one connection
    /// sends per second at most. Kept per connection, not global, so that the counter
    /// gives no side channel across connections (CVE-2016-5696).
    pub challenge_ack_limit: u16,
    /// First and last ephemeral port (RFC 6056 §2.1: 49152–65535).
    pub ephemeral_ports: (u16, u16),
    /// The smallest MSS accepted from a peer; smaller values (down to 0) are raised to it.
    pub min_mss: u16,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retransmits: 15,
            syn_retries: 6,
            user_timeout: None,
            delayed_ack: Some(Duration::from_millis(40)),
            msl: Duration::from_secs(30),
            fin_wait_2_timeout: Duration::from_secs(60),
            keepalive: None,
            nagle: true,
            window_scaling: true,
            timestamps: true,
            sack: true,
            rack_tlp: true,
            syn_cookies: true,
            congestion: cc::Algorithm::NewReno,
            max_ooo_ranges: crate::buf::MAX_RANGES as u8,
            challenge_ack_limit: 10,
            ephemeral_ports: (49152, 65535),
            min_mss: 64,
        }
    }
}

/// TCP counters of a stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpStats {
    /// Segments received with a valid checksum.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// Segments dropped: too short for a TCP header, or a bad data offset.
    pub dropped_malformed: u64,
    /// Segments dropped: checksum mismatch.
    pub dropped_checksum: u64,
    /// Segments dropped: broken option list.
    pub dropped_bad_options: u64,
    /// Segments to a port with no socket (answered with RST unless they were RSTs).
    pub no_socket: u64,
    /// Segments dropped: sequence number not acceptable (RFC 9293 §3.10.7.4 first).
    pub dropped_out_of_window: u64,
    /// Segments dropped by PAWS (RFC 7323 §5).
    pub dropped_paws: u64,
    /// Segments dropped: no timestamp on a connection that negotiated them (RFC 7323 §3.2).
    pub dropped_missing_ts: u64,
    /// Segments dropped: ACK of data never sent or far in the past (RFC 5961 §5).
    pub dropped_bad_ack: u64,
    /// Out-of-order segments stored for reassembly.
    pub ooo_segments: u64,
    /// Out-of-order segments dropped because the range table was full.
    pub ooo_dropped: u64,
    /// Resets sent.
    pub rst_sent: u64,
    /// Resets received and accepted.
    pub rst_received: u64,
    /// Resets ignored (out of window, or in TIME-WAIT per RFC 1337).
    pub rst_ignored: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Challenge ACKs or out-of-window ACKs suppressed by the rate limit.
    pub challenge_acks_suppressed: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Bytes retransmitted.
    pub retransmitted_bytes: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Fast retransmits (loss recovery episodes started by duplicate ACKs or SACK).
    pub fast_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// Recovery episodes a tail loss probe's retransmission ended (RFC 8985 §7.4).
    pub tlp_recoveries: u64,
    /// Retransmissions found lost because data sent after them arrived (RFC 8985 §6).
    pub lost_retransmits: u64,
    /// Fast recoveries found spurious (the data taken as lost had been delayed: RFC
    /// 3522 with timestamps, or every retransmission reported as a duplicate, RFC 3708)
    /// and undone: the window and threshold went back to what they were.
    pub spurious_recoveries: u64,
    /// Retransmission timeouts found spurious (F-RTO, RFC 5682: data never
    /// retransmitted was acknowledged during the timeout's recovery; or every
    /// retransmission reported as a duplicate, RFC 3708) and undone.
    pub spurious_timeouts: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keep-alive probes sent.
    pub keepalive_probes: u64,
    /// Connections opened actively.
    pub active_opens: u64,
    /// Connections opened passively (accepted from a listener).
    pub passive_opens: u64,
    /// Connections that reached ESTABLISHED.
    pub established: u64,
    /// Connections ended by a reset.
    pub resets: u64,
    /// Connections ended by a timeout.
    pub timed_out: u64,
    /// SYNs dropped because the listener's queues were full (and cookies off).
    pub syn_dropped: u64,
    /// SYN cookies sent.
    pub syncookies_sent: u64,
    /// Connections created from a valid SYN cookie.
    pub syncookies_ok: u64,
    /// ACKs to a listener with an invalid cookie.
    pub syncookies_failed: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// D-SACK blocks received (RFC 2883).
    pub dsacks: u64,
    /// PMTU reductions from ICMP fragmentation-needed (RFC 1191).
    pub pmtu_updates: u64,
    /// ICMP errors for connections that failed validation and were ignored.
    pub icmp_ignored: u64,
}
