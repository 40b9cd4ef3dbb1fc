//! The engine harness: two `tcp::Connection`s, their buffers, and a wire of plain byte
//! segments between them, in virtual time. No IP, no ARP, no device: only the public
//! sans-IO calls of `tidytcp::tcp`. Segments go through `Transmit::emit` and
//! `SegmentIn::parse`, so every one is checksummed and parsed as bytes.
//!
//! Side `A` opens actively; side `B` listens: a SYN that finds it without a connection
//! becomes one through `Connection::accept_syn`, any other segment for no connection is
//! answered with `rst_for`. Loss is seeded (`loss_percent`) or chosen by a filter.
//!
//! Shared by `tests/engine.rs` and the `engine` fuzz target (which includes this file by
//! path), so it depends on `tidytcp` and `std` alone.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use tidytcp::buf::{RecvBuf, RecvState, SendBuf, SendState};
use tidytcp::tcp::{Connection, Ctx, SegmentIn, State, TcpConfig, TcpStats, Transmit, rst_for};
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpRepr};
use tidytcp::{Duration, Error, Instant};

/// The two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The active opener (the client).
    A,
    /// The listener (the server).
    B,
}

impl Side {
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// The bytes of the stream each side sends: a pattern keyed by the side, so a byte out of
/// place or from the wrong direction shows.
pub fn pattern(from: Side, i: u64) -> u8 {
    let key = match from {
        Side::A => 0x5a5a_1234,
        Side::B => 0x0f0f_9876,
    };
    ((i ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8
}

/// One endpoint: its control block (none before the open, none again once freed), the
/// memory and state of its buffers, its counters, and what its user did.
pub struct Endpoint {
    pub addr: SocketAddrV4,
    pub conn: Option<Connection>,
    pub rx_mem: Vec<u8>,
    pub rx: RecvState,
    pub tx_mem: Vec<u8>,
    pub tx: SendState,
    pub stats: TcpStats,
    /// Stream bytes the user wrote into the send buffer.
    pub written: u64,
    /// Stream bytes the user read, each checked against `pattern`.
    pub read: u64,
    /// The user read the end of the stream.
    pub eof: bool,
    /// The user let go (`close` or `abort`): it reads no more.
    pub user_closed: bool,
    /// Read whatever arrives after each step.
    pub auto_read: bool,
    /// How the connection ended, if it failed (kept after it is freed).
    pub error: Option<Error>,
    /// Times a connection of this side was freed.
    pub freed: u32,
}

impl Endpoint {
    fn new(addr: SocketAddrV4, rx_cap: usize, tx_cap: usize) -> Self {
        Endpoint {
            addr,
            conn: None,
            rx_mem: vec![0; rx_cap],
            rx: RecvState::default(),
            tx_mem: vec![0; tx_cap],
            tx: SendState::new(),
            stats: TcpStats::default(),
            written: 0,
            read: 0,
            eof: false,
            user_closed: false,
            auto_read: true,
            error: None,
            freed: 0,
        }
    }

    /// The connection (panics if there is none).
    pub fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("no connection on this side")
    }

    /// The state, `Closed` when there is no connection.
    pub fn state(&self) -> State {
        self.conn.as_ref().map_or(State::Closed, |c| c.state())
    }

    /// Bytes waiting in the receive buffer.
    pub fn unread(&self) -> usize {
        self.rx.len()
    }

    /// Bytes in the send buffer (unsent or unacknowledged).
    pub fn unacked(&self) -> usize {
        self.tx.len()
    }

    /// Reads everything buffered, checking it against the peer's pattern.
    pub fn read_all(&mut self, from: Side) {
        if self.user_closed {
            return;
        }
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        let mut rx = RecvBuf::new(&mut self.rx_mem, &mut self.rx);
        let mut buf = [0u8; 512];
        loop {
            let n = rx.read(&mut buf);
            if n == 0 {
                break;
            }
            for (k, &b) in buf[..n].iter().enumerate() {
                let i = self.read + k as u64;
                assert_eq!(b, pattern(from, i), "byte {i} of the stream from {from:?}");
            }
            self.read += n as u64;
        }
        c.on_user_read(&rx);
        if rx.is_empty() && c.peer_closed() {
            self.eof = true;
        }
    }
}

/// A segment on the wire.
#[derive(Clone, Debug)]
pub struct InFlight {
    /// When it arrives.
    pub at: Instant,
    /// Its sender.
    pub from: Side,
    /// The whole TCP segment, checksummed.
    pub bytes: Vec<u8>,
}

/// A segment as the harness saw it leave, for tests to look at.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub at: Instant,
    pub from: Side,
    pub repr: TcpRepr,
    /// Payload bytes.
    pub len: usize,
    /// Dropped on the way (loss or filter).
    pub dropped: bool,
}

/// Decides whether a segment is lost: return true to drop it.
pub type Filter = Box<dyn FnMut(&Sent) -> bool>;

/// Two endpoints and the wire between them.
pub struct Pair {
    pub cfg: TcpConfig,
    pub now: Instant,
    pub a: Endpoint,
    pub b: Endpoint,
    /// IP MTU each side builds segments for.
    pub mtu: usize,
    /// One-way delay.
    pub latency: Duration,
    /// Segments dropped at random, in percent (seeded by `new`).
    pub loss_percent: u32,
    /// Drops chosen by the test, before random loss.
    pub filter: Option<Filter>,
    /// Segments in flight, in arrival order.
    pub wire: VecDeque<InFlight>,
    /// Every segment sent, in order (if `record`).
    pub log: Vec<Sent>,
    pub record: bool,
    /// B takes SYNs when it has no connection.
    pub listening: bool,
    /// ISNs the two sides use.
    pub iss: (SeqNum, SeqNum),
    rng: u64,
}

/// Client and server addresses.
pub const A_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
pub const B_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

impl Pair {
    /// Two endpoints with buffers of `rx_cap` and `tx_cap` bytes each, 10 ms apart, B
    /// listening, no loss; `seed` drives random loss.
    pub fn new(cfg: TcpConfig, rx_cap: usize, tx_cap: usize, seed: u64) -> Self {
        Pair {
            cfg,
            now: Instant::from_secs(1),
            a: Endpoint::new(A_ADDR, rx_cap, tx_cap),
            b: Endpoint::new(B_ADDR, rx_cap, tx_cap),
            mtu: 1500,
            latency: Duration::from_millis(10),
            loss_percent: 0,
            filter: None,
            wire: VecDeque::new(),
            log: Vec::new(),
            record: true,
            listening: true,
            iss: (SeqNum(1_000), SeqNum(0xffff_f000)),
            rng: seed | 1,
        }
    }

    /// The endpoint of `side`.
    pub fn end(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// A's active open (the SYN leaves at the next step).
    pub fn connect(&mut self) {
        let rx_cap = self.a.rx_mem.len();
        self.a.conn = Some(Connection::connect(
            &self.cfg, self.now, A_ADDR, B_ADDR, self.iss.0, self.mtu, rx_cap, 0,
        ));
        self.a.user_closed = false;
        self.a.eof = false;
        self.a.written = 0;
        self.a.read = 0;
    }

    /// Opens and runs until both sides are ESTABLISHED (or `limit` passes).
    pub fn handshake(&mut self) {
        self.connect();
        let end = self.now + Duration::from_secs(10);
        self.run_while(end, |p| {
            p.a.state() != State::Established || p.b.state() != State::Established
        });
    }

    /// The user of `side` writes up to `n` more bytes of its pattern; returns how many fit.
    pub fn write(&mut self, side: Side, n: usize) -> usize {
        let e = self.end(side);
        let Some(c) = e.conn.as_mut() else {
            return 0;
        };
        if !c.may_send() {
            return 0;
        }
        let start = e.written;
        let mut tx = SendBuf::new(&mut e.tx_mem, &mut e.tx);
        let k = tx.write_with(|buf| {
            let k = buf.len().min(n);
            for (j, b) in buf[..k].iter_mut().enumerate() {
                *b = pattern(side, start + j as u64);
            }
            k
        });
        e.written += k as u64;
        k
    }

    /// The user of `side` reads everything buffered.
    pub fn read(&mut self, side: Side) {
        self.end(side).read_all(side.peer());
    }

    /// `shutdown_write` by the user of `side`.
    pub fn shutdown(&mut self, side: Side) -> Result<(), Error> {
        match self.end(side).conn.as_mut() {
            Some(c) => c.shutdown_write(),
            None => Err(Error::NotConnected),
        }
    }

    /// `close` by the user of `side` (a reset goes out if it leaves unread data).
    pub fn close(&mut self, side: Side) {
        let now = self.now;
        let cfg = self.cfg;
        let e = self.end(side);
        e.user_closed = true;
        let unread = e.rx.len();
        let stats = &mut e.stats;
        let rst = e
            .conn
            .as_mut()
            .and_then(|c| c.close(&mut Ctx::new(now, &cfg, stats), unread));
        if let Some(r) = rst {
            self.send_control(side, r);
        }
        self.free_if_done(side);
    }

    /// `abort` by the user of `side`.
    pub fn abort(&mut self, side: Side) {
        let e = self.end(side);
        e.user_closed = true;
        let rst = e.conn.as_mut().and_then(|c| c.abort());
        if let Some(r) = rst {
            self.send_control(side, r);
        }
        self.free_if_done(side);
    }

    /// Frees the connection of `side` once both the protocol (CLOSED) and the user are
    /// done with it, as the socket layer does.
    fn free_if_done(&mut self, side: Side) {
        let e = self.end(side);
        if let Some(c) = e.conn.as_ref() {
            if c.state() == State::Closed && (e.user_closed || c.error().is_some()) {
                e.error = c.error();
                e.conn = None;
                e.freed += 1;
                e.rx = RecvState::default();
                e.tx = SendState::new();
                if !e.user_closed {
                    // A failed connection's user sees the error and lets go.
                    e.user_closed = true;
                }
            }
        }
    }

    /// Puts a segment on the wire, or drops it.
    fn put(&mut self, from: Side, repr: TcpRepr, len: usize, bytes: Vec<u8>) {
        let mut sent = Sent {
            at: self.now,
            from,
            repr,
            len,
            dropped: false,
        };
        let mut drop = self.filter.as_mut().is_some_and(|f| f(&sent));
        if !drop && self.loss_percent > 0 {
            drop = (self.next_rand() % 100) < u64::from(self.loss_percent);
        }
        sent.dropped = drop;
        if self.record {
            self.log.push(sent);
        }
        if !drop {
            self.wire.push_back(InFlight {
                at: self.now + self.latency,
                from,
                bytes,
            });
        }
    }

    /// A segment without payload from `side` (a reset).
    fn send_control(&mut self, side: Side, repr: TcpRepr) {
        let (src, dst) = match side {
            Side::A => (A_ADDR, B_ADDR),
            Side::B => (B_ADDR, A_ADDR),
        };
        let t = Transmit::control(repr);
        let mut st = SendState::new();
        let empty = SendBuf::new(&mut [], &mut st);
        let mut bytes = vec![0; t.segment_len()];
        t.emit(&empty, *src.ip(), *dst.ip(), &mut bytes)
            .expect("a control segment fits");
        self.put(side, repr, 0, bytes);
    }

    /// Puts a segment of the test's own making on the wire from `from`, as though its
    /// connection had sent it (no loss, no filter): a forged, stale or duplicate segment.
    pub fn inject(&mut self, from: Side, repr: TcpRepr, payload: &[u8]) {
        let (src, dst) = match from {
            Side::A => (A_ADDR, B_ADDR),
            Side::B => (B_ADDR, A_ADDR),
        };
        let mut mem = payload.to_vec();
        let mut st = SendState::new();
        let mut tx = SendBuf::new(&mut mem, &mut st);
        let len = tx.write(payload);
        let t = Transmit {
            repr,
            offset: 0,
            len,
        };
        let mut bytes = vec![0; t.segment_len()];
        if t.emit(&tx, *src.ip(), *dst.ip(), &mut bytes).is_ok() {
            if self.record {
                self.log.push(Sent {
                    at: self.now,
                    from,
                    repr,
                    len,
                    dropped: false,
                });
            }
            self.wire.push_back(InFlight {
                at: self.now + self.latency,
                from,
                bytes,
            });
        }
    }

    /// Everything `side` has to send now.
    pub fn output(&mut self, side: Side) {
        let now = self.now;
        let mtu = self.mtu;
        let cfg = self.cfg;
        let mut out = Vec::new();
        {
            let e = self.end(side);
            let Some(c) = e.conn.as_mut() else {
                return;
            };
            let rx = RecvBuf::new(&mut e.rx_mem, &mut e.rx);
            let tx = SendBuf::new(&mut e.tx_mem, &mut e.tx);
            let mut ctx = Ctx::new(now, &cfg, &mut e.stats);
            // Bounded: a connection hands out at most a window of segments per call.
            for _ in 0..10_000 {
                let Some(t) = c.poll_output(&mut ctx, &rx, &tx, mtu) else {
                    break;
                };
                let mut bytes = vec![0; t.segment_len()];
                t.emit(&tx, *c.local().ip(), *c.remote().ip(), &mut bytes)
                    .expect("the engine's segment fits and its payload is buffered");
                out.push((t.repr, t.len, bytes));
            }
        }
        for (repr, len, bytes) in out {
            self.put(side, repr, len, bytes);
        }
    }

    /// Delivers one segment to `to`.
    fn deliver(&mut self, to: Side, bytes: &[u8]) {
        let now = self.now;
        let cfg = self.cfg;
        let (local, remote) = match to {
            Side::A => (A_ADDR, B_ADDR),
            Side::B => (B_ADDR, A_ADDR),
        };
        let seg = SegmentIn::parse(bytes, *remote.ip(), *local.ip())
            .expect("the harness only carries well-formed segments");
        if seg.repr.dst_port != local.port() || seg.repr.src_port != remote.port() {
            return;
        }
        let listening = self.listening;
        let iss = self.iss.1;
        let mtu = self.mtu;
        let e = self.end(to);
        if e.conn.is_none() {
            let f = seg.repr.flags;
            if to == Side::B
                && listening
                && f.contains(TcpFlags::SYN)
                && !f.intersects(TcpFlags::ACK | TcpFlags::RST)
            {
                // RFC 9293 §3.10.7.2: LISTEN takes a SYN.
                let rx_cap = e.rx_mem.len();
                e.conn = Some(Connection::accept_syn(
                    &cfg, now, local, remote, &seg.repr, iss, mtu, rx_cap, 0,
                ));
                e.user_closed = false;
                e.eof = false;
                e.written = 0;
                e.read = 0;
                // The next incarnation starts elsewhere in sequence space, as RFC 6528
                // ISNs do.
                self.iss.1 += 0x0101_0101;
                return;
            }
            // RFC 9293 §3.10.7.1: no connection.
            if let Some(r) = rst_for(&seg.repr, seg.payload.len()) {
                self.send_control(to, r);
            }
            return;
        }
        let reply = {
            let Some(c) = e.conn.as_mut() else { return };
            let mut rx = RecvBuf::new(&mut e.rx_mem, &mut e.rx);
            let mut tx = SendBuf::new(&mut e.tx_mem, &mut e.tx);
            let mut ctx = Ctx::new(now, &cfg, &mut e.stats);
            c.input(&mut ctx, &seg, &mut rx, &mut tx)
        };
        if let Some(r) = reply {
            self.send_control(to, r);
        }
        self.free_if_done(to);
    }

    /// Timers of `side` due now.
    fn timers(&mut self, side: Side) {
        let now = self.now;
        let cfg = self.cfg;
        let e = self.end(side);
        let Some(c) = e.conn.as_mut() else { return };
        if c.poll_at().is_none_or(|t| t > now) {
            return;
        }
        let rst = c.on_timer(&mut Ctx::new(now, &cfg, &mut e.stats));
        if let Some(r) = rst {
            self.send_control(side, r);
        }
        self.free_if_done(side);
    }

    /// One round at `now`: arrivals, timers, user reads, output; then `now` moves to the
    /// next event, at most to `limit`. Returns false if nothing is left to happen before
    /// `limit` (and `now` is then `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        while self.wire.front().is_some_and(|s| s.at <= self.now) {
            let s = self.wire.pop_front().expect("front exists");
            self.deliver(s.from.peer(), &s.bytes);
        }
        for side in [Side::A, Side::B] {
            self.timers(side);
            if self.end(side).auto_read {
                self.read(side);
            }
            self.free_if_done(side);
            self.output(side);
        }
        let next = [
            self.wire.front().map(|s| s.at),
            self.a.conn.as_ref().and_then(|c| c.poll_at()),
            self.b.conn.as_ref().and_then(|c| c.poll_at()),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) if t <= limit => {
                self.now = t.max(self.now);
                true
            }
            Some(_) => {
                self.now = limit.max(self.now);
                false
            }
            // Nothing scheduled: time stays (a user call may give the engine work).
            None => false,
        }
    }

    /// Steps until `limit`.
    pub fn run_until(&mut self, limit: Instant) {
        self.run_while(limit, |_| true);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    /// Steps while `cond` holds, until `limit` (bounded in steps too, so that a bug that
    /// keeps time from moving ends the test instead of hanging it).
    pub fn run_while(&mut self, limit: Instant, mut cond: impl FnMut(&Pair) -> bool) {
        for _ in 0..1_000_000 {
            if !cond(self) {
                return;
            }
            if !self.step(limit) {
                self.now = limit.max(self.now);
                return;
            }
        }
        panic!("no progress: time stuck at {:?}", self.now);
    }

    /// Writes `n` bytes from `side` (as room allows) and runs until the peer has read
    /// them all, or `limit` passes. Returns whether it did.
    pub fn transfer(&mut self, side: Side, n: u64, limit: Instant) -> bool {
        match side {
            Side::A => self.exchange(n, 0, limit),
            Side::B => self.exchange(0, n, limit),
        }
    }

    /// Writes `from_a` more bytes from A and `from_b` from B (as room allows), checking
    /// the invariants at each step, until each side has read what the other wrote or
    /// `limit` passes. Returns whether both transfers completed.
    pub fn exchange(&mut self, from_a: u64, from_b: u64, limit: Instant) -> bool {
        let target = [self.a.written + from_a, self.b.written + from_b];
        let mut idle = false;
        for _ in 0..1_000_000 {
            let mut wrote = 0;
            for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
                let left = target[k] - self.end(side).written;
                if left > 0 {
                    wrote += self.write(side, left.min(1 << 20) as usize);
                }
            }
            self.check_invariants();
            if self.b.read >= target[0] && self.a.read >= target[1] {
                return true;
            }
            if self.step(limit) || wrote > 0 {
                idle = false;
            } else if idle || self.now >= limit {
                // Nothing scheduled twice in a row, nothing written in between: stuck.
                return false;
            } else {
                idle = true;
            }
        }
        false
    }

    /// Checks what must hold between any two calls: the sequence variables in order, and
    /// the send buffer holding exactly the bytes from SND.UNA on.
    pub fn check_invariants(&self) {
        for (side, e) in [(Side::A, &self.a), (Side::B, &self.b)] {
            let Some(c) = e.conn.as_ref() else { continue };
            if c.state() == State::Closed {
                continue;
            }
            let (una, nxt, max) = (c.snd_una(), c.snd_nxt(), c.snd_max());
            assert!(
                una <= nxt && nxt <= max,
                "{side:?}: SND.UNA {una} ≤ SND.NXT {nxt} ≤ SND.MAX {max}"
            );
            assert!(c.iss() <= una, "{side:?}: ISS {} ≤ SND.UNA {una}", c.iss());
            assert!(
                c.in_flight() as usize <= e.tx.len() + 2,
                "{side:?}: {} bytes in flight, {} buffered (SYN and FIN take one each)",
                c.in_flight(),
                e.tx.len()
            );
            assert!(e.tx.len() <= e.tx_mem.len() && e.rx.len() <= e.rx_mem.len());
            if una != c.iss() {
                // SYN acknowledged: SND.UNA counts it, the acknowledged bytes, and the FIN
                // once that is acknowledged too (then nothing is left to send).
                let acked = (e.written - e.tx.len() as u64) as u32;
                let d = una - c.iss();
                assert!(
                    d == acked.wrapping_add(1) || (d == acked.wrapping_add(2) && e.tx.is_empty()),
                    "{side:?}: SND.UNA - ISS = {d}, but {acked} bytes left the send buffer"
                );
            }
        }
    }
}
