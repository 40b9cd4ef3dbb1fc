//! The passive side before a connection exists: LISTEN (RFC 9293 §3.10.7.2), SYN
//! cookies (RFC 4987 §3.6), the TIME-WAIT reopen rule (RFC 9293 §3.10.7.4, RFC 6191) and
//! the reply to a segment no socket takes (RFC 9293 §3.10.7.1).
//!
//! LISTEN is not a connection state here: a [`Listener`] is a different type from a
//! [`Connection`] (as in Fuchsia's netstack3). It keeps no state of its own; the socket
//! layer keeps the queues and tells it how much room they have ([`ListenRoom`]).
//! [`Listener::on_segment`] returns a [`ListenDecision`], and the caller carries it out:
//! sends the reply, or takes a slot for the connection that [`Listener::open`] or
//! [`Listener::open_from_cookie`] builds.

use super::Endpoint;

use super::conn::Connection;
use super::isn::Secrets;
use super::syncookie::{self, Restored};
use super::{SYN_COOKIES, TcpConfig, TcpStats, rst_for};
use crate::log::net_log;
use crate::time::Instant;
use crate::wire::tcp::{TcpFlags, TcpRepr};

/// How much room a listener has, as the socket layer counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenRoom {
    /// Connections the listener may hold: its `listen` backlog, which bounds both the
    /// accept queue and the handshakes in progress.
    pub backlog: u16,
    /// Established connections waiting to be accepted.
    pub queued: u16,
    /// Handshakes in progress (connections in SYN-RECEIVED) the listener owns.
    pub embryos: u16,
    /// The socket table can take a new connection: a free slot, or one in TIME-WAIT to
    /// take over.
    pub free_slot: bool,
    /// Some listener of the table has a handshake in progress, so a full table will give
    /// a slot back when that handshake completes or fails.
    pub half_open: bool,
}

/// What a listener does with a segment: the caller carries it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenDecision {
    /// Drop it and send nothing (a reset, a segment with neither SYN nor ACK, or no room:
    /// the counters say which).
    Ignore,
    /// Send this segment, which belongs to no connection: a reset, or a SYN-ACK carrying
    /// a SYN cookie.
    Reply(TcpRepr),
    /// A SYN there is room for: put [`Listener::open`]'s connection in a new slot and
    /// send its SYN-ACK.
    Open,
    /// An ACK returning a valid SYN cookie, with room: put
    /// [`Listener::open_from_cookie`]'s connection in a new slot and give it the same
    /// segment, which completes the handshake.
    OpenFromCookie(Restored),
}

/// A listening port's protocol side (RFC 9293 LISTEN): what the stack's settings and the
/// room of the listener's queues say about each segment for it.
#[derive(Clone, Copy, Debug)]
pub struct Listener<'a> {
    /// Protocol settings.
    pub cfg: &'a TcpConfig,
    /// The stack's secrets: initial sequence numbers, timestamp offsets, cookies.
    pub secrets: &'a Secrets,
    /// Largest IP packet to send: bounds the MSS we announce.
    pub mtu: usize,
    /// A connection's receive buffer size: the window we announce.
    pub rcv_cap: usize,
    /// The room of the listener's queues and of the socket table.
    pub room: ListenRoom,
}

impl Listener<'_> {
    /// RFC 9293 §3.10.7.2: the segment `seg` (with `payload_len` bytes of data) from
    /// `remote` to our `local` end, where nothing but this listener takes it.
    pub fn on_segment(
        &self,
        stats: &mut TcpStats,
        now: Instant,
        local: Endpoint,
        remote: Endpoint,
        seg: &TcpRepr,
        payload_len: usize,
    ) -> ListenDecision {
        let f = seg.flags;
        // First: a RST is ignored.
        if f.contains(TcpFlags::RST) {
            return ListenDecision::Ignore;
        }
        // Second: an ACK is bad in LISTEN, unless it completes a SYN-cookie handshake.
        if f.contains(TcpFlags::ACK) {
            if !f.contains(TcpFlags::SYN) && SYN_COOKIES && self.cfg.syn_cookies {
                if let Some(r) = syncookie::check(self.secrets, self.cfg, now, local, remote, seg) {
                    stats.syncookies_ok += 1;
                    return self.cookie_returned(stats, r);
                }
                stats.syncookies_failed += 1;
            }
            return rst_for(seg, payload_len).map_or(ListenDecision::Ignore, ListenDecision::Reply);
        }
        // Third: a SYN.
        if !f.contains(TcpFlags::SYN) {
            return ListenDecision::Ignore;
        }
        self.syn(stats, now, local, remote, seg)
    }

    /// A SYN: a new connection, a cookie, or nothing, by the room there is.
    fn syn(
        &self,
        stats: &mut TcpStats,
        now: Instant,
        local: Endpoint,
        remote: Endpoint,
        syn: &TcpRepr,
    ) -> ListenDecision {
        let room = self.room;
        if room.queued >= room.backlog || (!room.free_slot && !room.half_open) {
            // The accept queue is full, or the socket table is full of connections that
            // are not handshakes: drop, the peer retries (Linux does the same). A cookie
            // would complete a handshake that no slot can take.
            stats.syn_dropped += 1;
            net_log!(
                debug,
                "tcp SYN from {} to port {} dropped: no room",
                remote,
                local.port()
            );
            return ListenDecision::Ignore;
        }
        if room.embryos < room.backlog && room.free_slot {
            return ListenDecision::Open;
        }
        // RFC 4987 §3.6: the handshakes in progress fill the backlog or the table (a SYN
        // flood, perhaps): a cookie, which needs no slot until it returns.
        if SYN_COOKIES && self.cfg.syn_cookies {
            stats.syncookies_sent += 1;
            let mss = (self.mtu.saturating_sub(local.ip_tcp_headers())).min(0xffff) as u16;
            let sa = syncookie::syn_ack(
                self.secrets,
                self.cfg,
                now,
                local,
                remote,
                syn,
                mss,
                self.rcv_cap,
            );
            return ListenDecision::Reply(sa);
        }
        stats.syn_dropped += 1;
        ListenDecision::Ignore
    }

    /// A valid cookie came back: open, if the accept queue and the table have room.
    fn cookie_returned(&self, stats: &mut TcpStats, r: Restored) -> ListenDecision {
        if self.room.queued < self.room.backlog && self.room.free_slot {
            return ListenDecision::OpenFromCookie(r);
        }
        // No room after all: drop the ACK, as Linux does when its accept queue overflows.
        // The peer's retransmissions carry the same cookie, and complete the connection
        // once a slot or the queue has room.
        stats.syn_dropped += 1;
        ListenDecision::Ignore
    }

    /// The connection a SYN opens ([`ListenDecision::Open`]): SYN-RECEIVED, its SYN-ACK
    /// due at the next output.
    pub fn open(
        &self,
        now: Instant,
        local: Endpoint,
        remote: Endpoint,
        syn: &TcpRepr,
    ) -> Connection {
        let iss = self.secrets.isn(now, local, remote);
        let ts_offset = self.secrets.ts_offset(local, remote);
        Connection::accept_syn(
            self.cfg,
            now,
            local,
            remote,
            syn,
            iss,
            self.mtu,
            self.rcv_cap,
            ts_offset,
        )
    }

    /// The connection a returned cookie describes ([`ListenDecision::OpenFromCookie`]):
    /// SYN-RECEIVED with its SYN-ACK counted as sent; its input of `ack`, the segment
    /// that carried the cookie, completes the handshake.
    pub fn open_from_cookie(
        &self,
        now: Instant,
        local: Endpoint,
        remote: Endpoint,
        ack: &TcpRepr,
        r: &Restored,
    ) -> Connection {
        let ts_offset = self.secrets.ts_offset(local, remote);
        Connection::from_cookie(
            self.cfg,
            now,
            local,
            remote,
            ack,
            r,
            self.mtu,
            self.rcv_cap,
            ts_offset,
        )
    }
}

/// RFC 9293 §3.10.7.1: a segment for a port with no socket. Counted; answered with a
/// reset unless it is one.
pub fn on_segment_without_socket(
    stats: &mut TcpStats,
    seg: &TcpRepr,
    payload_len: usize,
) -> Option<TcpRepr> {
    stats.no_socket += 1;
    rst_for(seg, payload_len)
}

/// RFC 9293 §3.10.7.4 and RFC 6191: whether a SYN that found connection `c` opens a new
/// incarnation instead. It does when `c` is in TIME-WAIT, a listener takes the port
/// (`listening`), and the SYN is newer than anything of the old incarnation (its
/// timestamp, or without timestamps its sequence number); then `c` gives way (it is
/// CLOSED, to be freed) and the caller hands the SYN to the listener. Otherwise the SYN
/// is `c`'s: TIME-WAIT answers it with an ACK, as in Linux.
#[inline]
pub fn reopen_time_wait(c: &mut Connection, syn: &TcpRepr, listening: bool) -> bool {
    let reopen = listening
        && syn.flags.contains(TcpFlags::SYN)
        && !syn.flags.intersects(TcpFlags::ACK | TcpFlags::RST)
        && c.may_reopen(syn);
    if reopen {
        c.enter_closed(None);
    }
    reopen
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;
    use crate::tcp::State;
    use crate::wire::tcp::{SeqNum, TcpOptions};
    use core::net::Ipv4Addr;

    fn ends() -> (Endpoint, Endpoint) {
        (
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 1), 80),
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 2), 40000),
        )
    }

    fn seg(flags: TcpFlags, seq: u32, ack: u32) -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 8192,
            options: TcpOptions {
                mss: flags.contains(TcpFlags::SYN).then_some(1400),
                ..TcpOptions::NONE
            },
        }
    }

    /// Room for everything: a backlog of 4, nothing queued, a free slot.
    fn room() -> ListenRoom {
        ListenRoom {
            backlog: 4,
            queued: 0,
            embryos: 0,
            free_slot: true,
            half_open: false,
        }
    }

    /// A full accept queue, and a full connection table.
    fn no_room() -> [ListenRoom; 2] {
        let queue_full = ListenRoom {
            queued: 4,
            ..room()
        };
        let table_full = ListenRoom {
            free_slot: false,
            ..room()
        };
        [queue_full, table_full]
    }

    /// The secrets every test listener uses.
    const SECRETS: [u8; 16] = [9; 16];

    /// A listener on a 1500-byte link with a 4 KiB receive buffer.
    fn listener<'a>(cfg: &'a TcpConfig, secrets: &'a Secrets, room: ListenRoom) -> Listener<'a> {
        Listener {
            cfg,
            secrets,
            mtu: 1500,
            rcv_cap: 4096,
            room,
        }
    }

    /// Runs `seg` through a listener with `room` and `cfg`; the decision and the counters.
    fn decide(cfg: &TcpConfig, room: ListenRoom, seg: &TcpRepr) -> (ListenDecision, TcpStats) {
        let secrets = Secrets::new(SECRETS);
        let l = listener(cfg, &secrets, room);
        let mut stats = TcpStats::default();
        let (local, remote) = ends();
        let d = l.on_segment(&mut stats, now(), local, remote, seg, 0);
        (d, stats)
    }

    fn now() -> Instant {
        Instant::from_secs(1000)
    }

    fn cookie_cfg() -> TcpConfig {
        TcpConfig {
            syn_cookies: true,
            ..TcpConfig::default()
        }
    }

    #[test]
    fn syn_with_room_opens_a_syn_received_connection() {
        let cfg = TcpConfig::default();
        let syn = seg(TcpFlags::SYN, 1000, 0);
        let (d, stats) = decide(&cfg, room(), &syn);
        assert_eq!(d, ListenDecision::Open);
        assert_eq!(stats, TcpStats::default());
        let secrets = Secrets::new(SECRETS);
        let l = listener(&cfg, &secrets, room());
        let (local, remote) = ends();
        let c = l.open(now(), local, remote, &syn);
        assert_eq!(c.state(), State::SynReceived);
        assert_eq!(c.rcv.nxt, SeqNum(1001));
        assert_eq!((c.local(), c.remote()), (local, remote));
    }

    #[test]
    fn rst_is_ignored() {
        let cfg = TcpConfig::default();
        for flags in [TcpFlags::RST, TcpFlags::RST | TcpFlags::ACK] {
            let (d, stats) = decide(&cfg, room(), &seg(flags, 1000, 5000));
            assert_eq!(d, ListenDecision::Ignore);
            assert_eq!(stats, TcpStats::default());
        }
    }

    #[test]
    fn neither_syn_nor_ack_is_ignored() {
        let cfg = TcpConfig::default();
        for flags in [TcpFlags::FIN, TcpFlags::PSH, TcpFlags::empty()] {
            let (d, _) = decide(&cfg, room(), &seg(flags, 1000, 0));
            assert_eq!(d, ListenDecision::Ignore);
        }
    }

    #[test]
    fn ack_without_a_valid_cookie_is_reset() {
        let (d, stats) = decide(&cookie_cfg(), room(), &seg(TcpFlags::ACK, 1000, 5000));
        let ListenDecision::Reply(rst) = d else {
            panic!("{d:?}")
        };
        assert_eq!(rst.flags, TcpFlags::RST);
        assert_eq!(rst.seq, SeqNum(5000));
        assert_eq!((rst.src_port, rst.dst_port), (80, 40000));
        assert_eq!(stats.syncookies_failed, u64::from(SYN_COOKIES));
    }

    #[test]
    fn syn_ack_to_a_listener_is_reset() {
        let (d, stats) = decide(
            &cookie_cfg(),
            room(),
            &seg(TcpFlags::SYN | TcpFlags::ACK, 1000, 5000),
        );
        let ListenDecision::Reply(rst) = d else {
            panic!("{d:?}")
        };
        assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, SeqNum(5000)));
        // Not taken for a cookie's return.
        assert_eq!(stats.syncookies_failed, 0);
    }

    #[test]
    fn full_accept_queue_or_table_drops_the_syn() {
        let cfg = cookie_cfg();
        let syn = seg(TcpFlags::SYN, 1000, 0);
        for r in no_room() {
            let (d, stats) = decide(&cfg, r, &syn);
            assert_eq!(d, ListenDecision::Ignore);
            assert_eq!((stats.syn_dropped, stats.syncookies_sent), (1, 0));
        }
    }

    /// The handshakes in progress fill the backlog, or the table (with a handshake that
    /// will give a slot back): a cookie, or a drop without cookies.
    #[test]
    fn full_syn_queue_answers_with_a_cookie() {
        let syn = seg(TcpFlags::SYN, 1000, 0);
        let backlog_full = ListenRoom {
            embryos: 4,
            ..room()
        };
        let table_full = ListenRoom {
            free_slot: false,
            half_open: true,
            ..room()
        };
        for r in [backlog_full, table_full] {
            let (d, stats) = decide(&cookie_cfg(), r, &syn);
            if SYN_COOKIES {
                let ListenDecision::Reply(sa) = d else {
                    panic!("{d:?}")
                };
                assert_eq!(sa.flags, TcpFlags::SYN | TcpFlags::ACK);
                assert_eq!(sa.ack, SeqNum(1001));
                assert_eq!(stats.syncookies_sent, 1);
            } else {
                assert_eq!((d, stats.syn_dropped), (ListenDecision::Ignore, 1));
            }
            let no_cookies = TcpConfig {
                syn_cookies: false,
                ..TcpConfig::default()
            };
            let (d, stats) = decide(&no_cookies, r, &syn);
            assert_eq!(d, ListenDecision::Ignore);
            assert_eq!((stats.syn_dropped, stats.syncookies_sent), (1, 0));
        }
    }

    /// The SYN-ACK a listener with a full SYN queue sends for `syn`.
    fn cookie_syn_ack(syn: &TcpRepr) -> TcpRepr {
        let full = ListenRoom {
            embryos: 4,
            ..room()
        };
        match decide(&cookie_cfg(), full, syn).0 {
            ListenDecision::Reply(sa) => sa,
            d => panic!("{d:?}"),
        }
    }

    #[test]
    #[cfg(feature = "syncookies")]
    fn ack_with_a_valid_cookie_opens_from_it() {
        let sa = cookie_syn_ack(&seg(TcpFlags::SYN, 1000, 0));
        let ack = seg(TcpFlags::ACK, 1001, sa.seq.0.wrapping_add(1));
        let (d, stats) = decide(&cookie_cfg(), room(), &ack);
        let ListenDecision::OpenFromCookie(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.iss, sa.seq);
        assert_eq!(r.mss, 1400);
        assert_eq!(stats.syncookies_ok, 1);
        let cfg = cookie_cfg();
        let secrets = Secrets::new(SECRETS);
        let l = listener(&cfg, &secrets, room());
        let (local, remote) = ends();
        let c = l.open_from_cookie(now(), local, remote, &ack, &r);
        assert_eq!(c.state(), State::SynReceived);
        assert_eq!(c.rcv.nxt, SeqNum(1001));
        assert_eq!(c.snd.nxt, sa.seq + 1);
    }

    #[test]
    #[cfg(feature = "syncookies")]
    fn valid_cookie_without_room_is_dropped() {
        let sa = cookie_syn_ack(&seg(TcpFlags::SYN, 1000, 0));
        let ack = seg(TcpFlags::ACK, 1001, sa.seq.0.wrapping_add(1));
        for r in no_room() {
            let (d, stats) = decide(&cookie_cfg(), r, &ack);
            assert_eq!(d, ListenDecision::Ignore);
            assert_eq!((stats.syncookies_ok, stats.syn_dropped), (1, 1));
        }
    }

    #[test]
    #[cfg(feature = "syncookies")]
    fn bad_cookie_is_reset() {
        let sa = cookie_syn_ack(&seg(TcpFlags::SYN, 1000, 0));
        // The peer's ISN does not match the one the cookie was made for.
        let ack = seg(TcpFlags::ACK, 2001, sa.seq.0.wrapping_add(1));
        let (d, stats) = decide(&cookie_cfg(), room(), &ack);
        let ListenDecision::Reply(rst) = d else {
            panic!("{d:?}")
        };
        assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, sa.seq + 1));
        assert_eq!((stats.syncookies_ok, stats.syncookies_failed), (0, 1));
    }

    #[test]
    fn no_socket_resets_all_but_resets() {
        let mut stats = TcpStats::default();
        let rst = on_segment_without_socket(&mut stats, &seg(TcpFlags::SYN, 1000, 0), 0);
        let rst = rst.expect("a reset");
        assert_eq!(
            (rst.flags, rst.ack),
            (TcpFlags::RST | TcpFlags::ACK, SeqNum(1001))
        );
        assert_eq!(
            on_segment_without_socket(&mut stats, &seg(TcpFlags::RST, 1, 0), 0),
            None
        );
        assert_eq!(stats.no_socket, 2);
    }

    /// A connection as it would stand in TIME-WAIT, having received up to 1001 (no
    /// timestamps).
    fn time_wait() -> Connection {
        let cfg = TcpConfig::default();
        let secrets = Secrets::new(SECRETS);
        let l = listener(&cfg, &secrets, room());
        let (local, remote) = ends();
        let mut c = l.open(now(), local, remote, &seg(TcpFlags::SYN, 1000, 0));
        c.state = State::TimeWait;
        c
    }

    #[test]
    fn newer_syn_reopens_time_wait_only_with_a_listener() {
        let newer = seg(TcpFlags::SYN, 5000, 0);
        let mut c = time_wait();
        assert!(!reopen_time_wait(&mut c, &newer, false));
        assert_eq!(c.state(), State::TimeWait);
        assert!(reopen_time_wait(&mut c, &newer, true));
        assert_eq!(c.state(), State::Closed);
    }

    #[test]
    fn old_or_odd_syn_leaves_time_wait_alone() {
        for s in [
            seg(TcpFlags::SYN, 900, 0),
            seg(TcpFlags::SYN | TcpFlags::ACK, 5000, 1),
            seg(TcpFlags::SYN | TcpFlags::RST, 5000, 0),
            seg(TcpFlags::ACK, 5000, 1),
        ] {
            let mut c = time_wait();
            assert!(!reopen_time_wait(&mut c, &s, true), "{s:?}");
            assert_eq!(c.state(), State::TimeWait);
        }
    }
}
