//! The same workloads on two smoltcp stacks joined by the same [`Link`].

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::{self, CongestionControl, RecvError, SocketBuffer, State};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use super::link::{Link, LinkCfg, PATTERN_PERIOD, Pattern, Ring, verify};
use super::{BUF, Sample};

/// One end of the link as a smoltcp device.
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

impl phy::RxToken for RxTok<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.ring.push(self.now_us, len, f)
    }
}

impl phy::Device for Port<'_> {
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

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // smoltcp counts the Ethernet header in the MTU of an Ethernet device.
        caps.max_transmission_unit = 1514;
        caps.max_burst_size = None;
        let mut ck = ChecksumCapabilities::default();
        ck.ipv4 = Checksum::Both;
        ck.tcp = Checksum::Both;
        ck.udp = Checksum::Both;
        ck.icmpv4 = Checksum::Both;
        caps.checksum = ck;
        caps
    }
}

const PORT: u16 = 5001;

fn b_ip() -> IpAddress {
    IpAddress::v4(10, 0, 0, 2)
}

/// One smoltcp stack: interface and socket set.
pub struct Side {
    /// The interface.
    pub iface: Interface,
    /// The sockets.
    pub sockets: SocketSet<'static>,
}

impl Side {
    fn new(last: u8, link: &mut Link) -> Self {
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, last,
        ])));
        cfg.random_seed = u64::from(last);
        let mut dev = Port {
            inbound: &mut link.ab,
            outbound: &mut link.ba,
            now_us: 0,
        };
        let mut iface = Interface::new(cfg, &mut dev, Instant::from_micros(0));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, last), 24))
                .unwrap();
        });
        Side {
            iface,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    /// A new TCP socket with 64 KiB buffers and Reno congestion control.
    pub fn socket(&mut self) -> SocketHandle {
        let mut s = tcp::Socket::new(
            SocketBuffer::new(vec![0; BUF]),
            SocketBuffer::new(vec![0; BUF]),
        );
        s.set_congestion_control(CongestionControl::Reno);
        self.sockets.add(s)
    }

    /// The socket `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }
}

/// Two stacks (A: client/sender, B: server/receiver) over a link, in virtual time.
pub struct Pair {
    /// Virtual time in microseconds.
    pub now: u64,
    /// The client side.
    pub a: Side,
    /// The server side.
    pub b: Side,
    /// The link.
    pub link: Link,
    /// Calls of `turn` so far (each polls both stacks).
    pub turns: u64,
    next_port: u16,
}

impl Pair {
    /// Two stacks over `cfg`.
    pub fn new(cfg: LinkCfg) -> Self {
        let mut link = Link::new(cfg);
        let a = Side::new(1, &mut link);
        let b = Side::new(2, &mut link);
        Pair {
            now: 1_000_000,
            a,
            b,
            link,
            turns: 0,
            next_port: 49152,
        }
    }

    fn instant(&self) -> Instant {
        Instant::from_micros(self.now as i64)
    }

    /// Polls both stacks; when neither the application (`progress`) nor the stacks moved
    /// anything, advances virtual time to the next event. Returns true if time moved.
    pub fn turn(&mut self, progress: bool) -> bool {
        self.turns += 1;
        let before = self.link.pushed();
        let now = self.instant();
        let mut pa = Port {
            inbound: &mut self.link.ba,
            outbound: &mut self.link.ab,
            now_us: self.now,
        };
        self.a.iface.poll(now, &mut pa, &mut self.a.sockets);
        let mut pb = Port {
            inbound: &mut self.link.ab,
            outbound: &mut self.link.ba,
            now_us: self.now,
        };
        self.b.iface.poll(now, &mut pb, &mut self.b.sockets);
        if progress || self.link.pushed() != before {
            return false;
        }
        let na = self.a.iface.poll_at(now, &self.a.sockets);
        let nb = self.b.iface.poll_at(now, &self.b.sockets);
        let next = [
            na.map(|t| t.total_micros() as u64),
            nb.map(|t| t.total_micros() as u64),
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

    /// Starts a connection from socket `c` on A to B's port.
    pub fn connect(&mut self, c: SocketHandle) {
        let port = self.next_port;
        self.next_port = if port == u16::MAX { 49152 } else { port + 1 };
        let cx = self.a.iface.context();
        self.a
            .sockets
            .get_mut::<tcp::Socket>(c)
            .connect(cx, (b_ip(), PORT), port)
            .unwrap();
    }

    /// Opens `n` connections (at most 64 handshakes at a time); returns (client, server)
    /// socket handles.
    pub fn open_many(&mut self, n: usize) -> Vec<(SocketHandle, SocketHandle)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let batch = (n - out.len()).min(64);
            let mut group = Vec::new();
            for _ in 0..batch {
                let s = self.b.socket();
                self.b.tcp(s).listen(PORT).unwrap();
                let c = self.a.socket();
                self.connect(c);
                group.push((c, s));
            }
            while !group.iter().all(|&(c, s)| {
                self.a.tcp(c).state() == State::Established
                    && self.b.tcp(s).state() == State::Established
            }) {
                self.turn(false);
            }
            out.extend(group);
        }
        out
    }
}

/// Workloads 1, 2, 5 and 6: one-way bulk transfer from A to B over a persistent
/// connection, with `idle` more connections established and idle.
pub struct Bulk {
    /// The stacks.
    pub pair: Pair,
    tx: SocketHandle,
    rx: SocketHandle,
    sent: u64,
    got: u64,
    pat: Pattern,
    buf: Vec<u8>,
}

impl Bulk {
    /// Sets up the connections; loss (if any) starts after the handshakes.
    pub fn new(cfg: LinkCfg, idle: usize) -> Self {
        let mut pair = Pair::new(cfg);
        pair.open_many(idle);
        let (tx, rx) = pair.open_many(1)[0];
        pair.link.set_lossy(true);
        Bulk {
            pair,
            tx,
            rx,
            sent: 0,
            got: 0,
            pat: Pattern::new(),
            buf: vec![0; BUF],
        }
    }

    /// Moves `bytes` more from A to B, each checked at the receiver. `zero_copy` uses
    /// `send`/`recv` closures, else `send_slice`/`recv_slice`.
    pub fn run(&mut self, bytes: u64, zero_copy: bool, mut trace: Option<&mut Vec<Sample>>) {
        let end = self.got + bytes;
        let pat = &self.pat;
        let mut last_sample = 0u64;
        while self.got < end {
            let mut progress = false;
            let p = &mut self.pair;
            {
                let s = p.a.sockets.get_mut::<tcp::Socket>(self.tx);
                while self.sent < end {
                    let want = ((end - self.sent) as usize).min(PATTERN_PERIOD);
                    let r = if zero_copy {
                        let at = self.sent;
                        s.send(|b| {
                            let n = b.len().min(want);
                            b[..n].copy_from_slice(pat.at(at, n));
                            (n, n)
                        })
                    } else {
                        s.send_slice(pat.at(self.sent, want))
                    };
                    match r {
                        Ok(n) if n > 0 => {
                            self.sent += n as u64;
                            progress = true;
                        }
                        Ok(_) => break,
                        Err(e) => panic!("send: {e:?}"),
                    }
                }
            }
            {
                let s = p.b.sockets.get_mut::<tcp::Socket>(self.rx);
                loop {
                    let r = if zero_copy {
                        let at = self.got;
                        s.recv(|d| {
                            verify(pat, at, d);
                            (d.len(), d.len())
                        })
                    } else {
                        let r = s.recv_slice(&mut self.buf);
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
                        Ok(_) => break,
                        Err(e) => panic!("recv: {e:?}"),
                    }
                }
            }
            let moved = p.turn(progress);
            if let Some(t) = trace.as_deref_mut() {
                if moved && p.now >= last_sample + 5_000 {
                    last_sample = p.now;
                    t.push(Sample {
                        t_us: p.now,
                        delivered: self.got,
                        cwnd: 0,
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

/// Turns until socket `h` (on B if `on_b`) has read `buf.len()` bytes.
fn exchange(p: &mut Pair, h: SocketHandle, on_b: bool, buf: &mut [u8]) {
    let mut got = 0;
    loop {
        let side = if on_b { &mut p.b } else { &mut p.a };
        let mut progress = false;
        match side.tcp(h).recv_slice(&mut buf[got..]) {
            Ok(n) if n > 0 => {
                got += n;
                progress = true;
            }
            Ok(_) => {}
            Err(e) => panic!("recv: {e:?}"),
        }
        if got == buf.len() {
            return;
        }
        p.turn(progress);
    }
}

/// Workload 3: request/response of 64 bytes over a persistent connection (Nagle off).
pub struct Rr {
    pair: Pair,
    c: SocketHandle,
    s: SocketHandle,
}

impl Rr {
    /// One established connection.
    pub fn new() -> Self {
        let mut pair = Pair::new(LinkCfg::IDEAL);
        let (c, s) = pair.open_many(1)[0];
        pair.a.tcp(c).set_nagle_enabled(false);
        pair.b.tcp(s).set_nagle_enabled(false);
        Rr { pair, c, s }
    }

    /// `n` round trips.
    pub fn run(&mut self, n: u64) {
        let req = [0x5au8; 64];
        let mut buf = [0u8; 64];
        for _ in 0..n {
            let p = &mut self.pair;
            assert_eq!(p.a.tcp(self.c).send_slice(&req), Ok(64));
            exchange(p, self.s, true, &mut buf);
            assert_eq!(p.b.tcp(self.s).send_slice(&buf), Ok(64));
            exchange(p, self.c, false, &mut buf);
        }
    }
}

impl Default for Rr {
    fn default() -> Self {
        Self::new()
    }
}

/// Workload 4: connect, one byte each way, close, until both sockets are closed again
/// (the client's after TIME-WAIT).
pub struct Churn {
    pair: Pair,
    c: SocketHandle,
    s: SocketHandle,
}

impl Churn {
    /// One client socket and one server socket, reused for every connection.
    pub fn new() -> Self {
        let mut pair = Pair::new(LinkCfg::IDEAL);
        let c = pair.a.socket();
        let s = pair.b.socket();
        Churn { pair, c, s }
    }

    /// `n` connections, one after the other. Returns the virtual microseconds spent.
    pub fn run(&mut self, n: u64) -> u64 {
        let t0 = self.pair.now;
        let mut buf = [0u8; 1];
        let (c, s) = (self.c, self.s);
        for _ in 0..n {
            let p = &mut self.pair;
            p.b.tcp(s).listen(PORT).unwrap();
            p.connect(c);
            while !(p.a.tcp(c).state() == State::Established
                && p.b.tcp(s).state() == State::Established)
            {
                p.turn(false);
            }
            assert_eq!(p.a.tcp(c).send_slice(&[1]), Ok(1));
            exchange(p, s, true, &mut buf);
            assert_eq!(p.b.tcp(s).send_slice(&[2]), Ok(1));
            exchange(p, c, false, &mut buf);
            p.a.tcp(c).close();
            loop {
                match p.b.tcp(s).recv_slice(&mut buf) {
                    Err(RecvError::Finished) => break,
                    Ok(0) => p.turn(false),
                    r => panic!("server recv: {r:?}"),
                };
            }
            p.b.tcp(s).close();
            while p.a.tcp(c).state() != State::Closed || p.b.tcp(s).state() != State::Closed {
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
