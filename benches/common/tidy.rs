//! The workloads on two tidytcp stacks joined by [`Link`].

use std::net::SocketAddrV4;

use tidytcp::drivers::{Device, DeviceCaps, RxToken, TxToken};
use tidytcp::socket::{HeapStorage, TcpListener, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::{Error, Instant};

use super::link::{Link, LinkCfg, PATTERN_PERIOD, Pattern, Ring, verify};
use super::{BUF, Sample};

/// One end of the link as a tidytcp device.
pub struct Port<'l> {
    inbound: &'l mut Ring,
    outbound: &'l mut Ring,
    now_us: u64,
}

/// A received frame, borrowed from the ring.
pub struct RxTok<'l>(&'l [u8]);

/// Room for a frame at the tail of the outbound ring.
pub struct TxTok<'l> {
    ring: &'l mut Ring,
    now_us: u64,
}

impl RxToken for RxTok<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.ring.push(self.now_us, len, f)
    }
}

impl Device for Port<'_> {
    type RxToken<'a>
        = RxTok<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxTok<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxTok<'_>, TxTok<'_>)> {
        if !self.outbound.has_room() {
            return None;
        }
        let (i, len) = self.inbound.pop_ready(self.now_us)?;
        Some((
            RxTok(self.inbound.frame(i, len)),
            TxTok {
                ring: self.outbound,
                now_us: self.now_us,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxTok<'_>> {
        if !self.outbound.has_room() {
            return None;
        }
        Some(TxTok {
            ring: &mut *self.outbound,
            now_us: self.now_us,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        // MTU 1500, every checksum in software (the default).
        DeviceCaps::default()
    }
}

const A_IP: [u8; 4] = [10, 0, 0, 1];
const B_IP: [u8; 4] = [10, 0, 0, 2];
const PORT: u16 = 5001;

fn config(last: u8) -> Config {
    let mac = format!("02:00:00:00:00:{last:02x}").parse().unwrap();
    let addr = format!("10.0.0.{last}/24").parse().unwrap();
    Config::new(mac, addr, [last; 16])
}

/// Two stacks (A: client/sender, B: server/receiver) over a link, in virtual time.
pub struct Pair {
    /// Virtual time in microseconds.
    pub now: u64,
    /// The client side.
    pub a: Stack<'static>,
    /// The server side.
    pub b: Stack<'static>,
    /// The link.
    pub link: Link,
    /// Calls of `turn` so far (each polls both stacks).
    pub turns: u64,
}

impl Pair {
    /// Two stacks with `sockets` connection slots of 64 KiB each way, over `cfg`.
    pub fn new(sockets: usize, cfg: LinkCfg) -> Self {
        let sa = Box::leak(Box::new(HeapStorage::new(sockets, 1, BUF, BUF)));
        let sb = Box::leak(Box::new(HeapStorage::new(sockets, 1, BUF, BUF)));
        Pair {
            now: 1_000_000,
            a: Stack::new(config(1), sa),
            b: Stack::new(config(2), sb),
            link: Link::new(cfg),
            turns: 0,
        }
    }

    /// The current virtual time.
    pub fn instant(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    /// Polls both stacks; when neither the application (`progress`) nor the stacks moved
    /// anything, advances virtual time to the next event. Returns true if time moved.
    pub fn turn(&mut self, progress: bool) -> bool {
        self.turns += 1;
        let before = self.link.pushed();
        let now = self.instant();
        let na = self.a.poll(
            now,
            &mut Port {
                inbound: &mut self.link.ba,
                outbound: &mut self.link.ab,
                now_us: self.now,
            },
        );
        let nb = self.b.poll(
            now,
            &mut Port {
                inbound: &mut self.link.ab,
                outbound: &mut self.link.ba,
                now_us: self.now,
            },
        );
        if progress || self.link.pushed() != before {
            return false;
        }
        let next = [
            na.map(Instant::total_micros),
            nb.map(Instant::total_micros),
            self.link.next_arrival(),
        ]
        .into_iter()
        .flatten()
        .min();
        self.now = match next {
            Some(t) if t > self.now => t,
            Some(_) => self.now + 1,
            None => self.now + 1000,
        };
        assert!(
            self.now < 10_000_000_000_000_000,
            "workload stuck in virtual time"
        );
        true
    }

    /// Opens a connection from A to B's listener and returns (client, server) once both
    /// are established.
    pub fn open(&mut self, l: &TcpListener<'static>) -> (TcpStream<'static>, TcpStream<'static>) {
        let remote = SocketAddrV4::new(B_IP.into(), PORT);
        let c = self.a.connect(remote.into()).unwrap();
        loop {
            self.turn(false);
            if let Ok((s, _)) = l.accept(&mut self.b) {
                return (c, s);
            }
        }
    }

    /// Opens `n` connections, at most 64 handshakes at a time.
    pub fn open_many(
        &mut self,
        l: &TcpListener<'static>,
        n: usize,
    ) -> Vec<(TcpStream<'static>, TcpStream<'static>)> {
        let remote = SocketAddrV4::new(B_IP.into(), PORT);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let batch = (n - out.len()).min(64);
            let mut cs: Vec<_> = (0..batch)
                .map(|_| self.a.connect(remote.into()).unwrap())
                .collect();
            let mut ss = Vec::new();
            while ss.len() < batch {
                self.turn(false);
                while let Ok((s, _)) = l.accept(&mut self.b) {
                    ss.push(s);
                }
            }
            // Pair them up by port (accept order may differ from connect order).
            for s in ss {
                let peer = s.peer_addr(&self.b).unwrap();
                let k = cs
                    .iter()
                    .position(|c| c.local_addr(&self.a).unwrap() == peer)
                    .unwrap();
                out.push((cs.swap_remove(k), s));
            }
        }
        out
    }
}

/// The listener every workload uses.
fn listen(p: &mut Pair, backlog: usize) -> TcpListener<'static> {
    p.b.listen(PORT, backlog).unwrap()
}

/// Workloads 1, 2, 5 and 6: one-way bulk transfer from A to B over a persistent
/// connection, with `idle` more connections established and idle.
pub struct Bulk {
    /// The stacks.
    pub pair: Pair,
    tx: TcpStream<'static>,
    rx: TcpStream<'static>,
    _idle: Vec<(TcpStream<'static>, TcpStream<'static>)>,
    _l: TcpListener<'static>,
    sent: u64,
    got: u64,
    pat: Pattern,
    buf: Vec<u8>,
}

impl Bulk {
    /// Sets up the connections; loss (if any) starts after the handshakes.
    pub fn new(cfg: LinkCfg, idle: usize) -> Self {
        let mut pair = Pair::new(idle + 1, cfg);
        let l = listen(&mut pair, 64);
        let idle = pair.open_many(&l, idle);
        let (tx, rx) = pair.open(&l);
        pair.link.set_lossy(true);
        Bulk {
            pair,
            tx,
            rx,
            _idle: idle,
            _l: l,
            sent: 0,
            got: 0,
            pat: Pattern::new(),
            buf: vec![0; BUF],
        }
    }

    /// Moves `bytes` more from A to B, each checked at the receiver. `zero_copy` uses
    /// `write_with`/`read_with`, else `write`/`read`. With `trace`, records samples.
    pub fn run(&mut self, bytes: u64, zero_copy: bool, mut trace: Option<&mut Vec<Sample>>) {
        let end = self.got + bytes;
        let target_sent = end;
        let p = &mut self.pair;
        let pat = &self.pat;
        let mut last_sample = 0u64;
        while self.got < end {
            let mut progress = false;
            // Sender.
            while self.sent < target_sent {
                let want = ((target_sent - self.sent) as usize).min(PATTERN_PERIOD);
                let r = if zero_copy {
                    let at = self.sent;
                    self.tx.write_with(&mut p.a, |b| {
                        let n = b.len().min(want);
                        b[..n].copy_from_slice(pat.at(at, n));
                        n
                    })
                } else {
                    self.tx.write(&mut p.a, pat.at(self.sent, want))
                };
                match r {
                    Ok(n) if n > 0 => {
                        self.sent += n as u64;
                        progress = true;
                    }
                    Ok(_) | Err(Error::WouldBlock) => break,
                    Err(e) => panic!("write: {e:?}"),
                }
            }
            // Receiver.
            loop {
                let r = if zero_copy {
                    let at = self.got;
                    self.rx.read_with(&mut p.b, |d| {
                        verify(pat, at, d);
                        d.len()
                    })
                } else {
                    let r = self.rx.read(&mut p.b, &mut self.buf);
                    if let Ok(n) = r {
                        verify(pat, self.got, &self.buf[..n]);
                    }
                    r
                };
                match r {
                    Ok(n) if n > 0 => {
                        self.got += n as u64;
                        progress = true;
                    }
                    Ok(_) => panic!("unexpected end of stream"),
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("read: {e:?}"),
                }
            }
            let moved = p.turn(progress);
            if let Some(t) = trace.as_deref_mut() {
                if moved && p.now >= last_sample + 5_000 {
                    last_sample = p.now;
                    let cwnd = self.tx.connection(&p.a).map_or(0, |c| c.cwnd());
                    t.push(Sample {
                        t_us: p.now,
                        delivered: self.got,
                        cwnd: u64::from(cwnd),
                    });
                }
            }
        }
    }

    /// Frames the link lost.
    pub fn lost(&self) -> u64 {
        self.pair.link.lost()
    }

    /// Frames sent A to B and B to A so far.
    pub fn frames(&self) -> (u64, u64) {
        (self.pair.link.ab.pushed, self.pair.link.ba.pushed)
    }
}

/// Workload 3: request/response of 64 bytes over a persistent connection (Nagle off).
pub struct Rr {
    pair: Pair,
    c: TcpStream<'static>,
    s: TcpStream<'static>,
    _l: TcpListener<'static>,
}

impl Rr {
    /// One established connection.
    pub fn new() -> Self {
        let mut pair = Pair::new(1, LinkCfg::IDEAL);
        let l = listen(&mut pair, 4);
        let (mut c, mut s) = pair.open(&l);
        c.set_nodelay(&mut pair.a, true).unwrap();
        s.set_nodelay(&mut pair.b, true).unwrap();
        Rr { pair, c, s, _l: l }
    }

    /// `n` round trips.
    pub fn run(&mut self, n: u64) {
        let req = [0x5au8; 64];
        let mut buf = [0u8; 64];
        for _ in 0..n {
            let p = &mut self.pair;
            assert_eq!(self.c.write(&mut p.a, &req), Ok(64));
            exchange(p, &mut self.s, true, &mut buf);
            assert_eq!(self.s.write(&mut p.b, &buf), Ok(64));
            exchange(p, &mut self.c, false, &mut buf);
        }
    }
}

impl Default for Rr {
    fn default() -> Self {
        Self::new()
    }
}

/// Turns until `s` (on B if `on_b`) has read `buf.len()` bytes.
fn exchange(p: &mut Pair, s: &mut TcpStream<'static>, on_b: bool, buf: &mut [u8]) {
    let mut got = 0;
    loop {
        let stack = if on_b { &mut p.b } else { &mut p.a };
        let mut progress = false;
        match s.read(stack, &mut buf[got..]) {
            Ok(n) if n > 0 => {
                got += n;
                progress = true;
            }
            Ok(_) => panic!("unexpected end of stream"),
            Err(Error::WouldBlock) => {}
            Err(e) => panic!("read: {e:?}"),
        }
        if got == buf.len() {
            return;
        }
        p.turn(progress);
    }
}

/// Workload 4: connect, one byte each way, close, until both slots are free again.
pub struct Churn {
    pair: Pair,
    l: TcpListener<'static>,
}

impl Churn {
    /// A listener and room for one connection at a time per side.
    pub fn new() -> Self {
        let mut pair = Pair::new(2, LinkCfg::IDEAL);
        let l = listen(&mut pair, 4);
        Churn { pair, l }
    }

    /// `n` connections, one after the other. Returns the virtual microseconds spent.
    pub fn run(&mut self, n: u64) -> u64 {
        let t0 = self.pair.now;
        let mut buf = [0u8; 1];
        for _ in 0..n {
            let p = &mut self.pair;
            let (mut c, mut s) = p.open(&self.l);
            assert_eq!(c.write(&mut p.a, &[1]), Ok(1));
            exchange(p, &mut s, true, &mut buf);
            assert_eq!(s.write(&mut p.b, &[2]), Ok(1));
            exchange(p, &mut c, false, &mut buf);
            c.close(&mut p.a);
            // The server reads end of stream, then closes too.
            loop {
                match s.read(&mut p.b, &mut buf) {
                    Ok(0) => break,
                    Err(Error::WouldBlock) => p.turn(false),
                    r => panic!("server read: {r:?}"),
                };
            }
            s.close(&mut p.b);
            // Until both slots are free (the client's after TIME-WAIT).
            while p.a.in_use() + p.b.in_use() > 0 {
                p.turn(false);
            }
        }
        self.pair.now - t0
    }
}

impl Default for Churn {
    fn default() -> Self {
        Self::new()
    }
}
