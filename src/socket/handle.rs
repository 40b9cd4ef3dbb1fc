//! The user's side: owned handles and the calls made through them.
//!
//! [`TcpStream`] and [`TcpListener`] are tokens naming a slot in a [`SocketSet`]; they are
//! neither `Clone` nor `Copy`. `close(self)` and `abort(self)` consume the handle, so a
//! second close, or any use after close, does not compile. Dropping a handle closes it:
//! the drop marks a flag in the storage that the next `poll` acts on.

use core::net::SocketAddr;

use crate::tcp::Endpoint;
use core::sync::atomic::Ordering;

use super::sync::{AtomicBool, fence};

use super::table::{ListenSlot, Marks, NONE, Owner, SocketSet};
use crate::error::{Capacity, Error, Result};
use crate::tcp::cc::Algorithm;
use crate::tcp::{Connection, Keepalive, State};
use crate::time::Duration;

bitflags::bitflags! {
    /// What a socket is ready for: a call would not return `WouldBlock`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
    pub struct Readiness: u8 {
        /// `read` has bytes, the end of the stream, or the error to return.
        const READABLE = 0x01;
        /// `write` would queue bytes or return an error.
        const WRITABLE = 0x02;
        /// `accept` has a connection.
        const ACCEPTABLE = 0x04;
        /// The connection is closed on the protocol side.
        const CLOSED = 0x08;
        /// The connection failed.
        const ERROR = 0x10;
        /// The connection is established (or was, before it closed).
        const CONNECTED = 0x20;
    }
}

/// Which side of a connection [`TcpStream::shutdown`] closes (as `std::net::Shutdown`,
/// which converts into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Nothing more will be read: received data is discarded, `read` returns end of
    /// stream.
    Read,
    /// Nothing more will be written: a FIN follows the queued data.
    Write,
    /// Both.
    Both,
}

#[cfg(feature = "std")]
impl From<std::net::Shutdown> for Shutdown {
    fn from(how: std::net::Shutdown) -> Self {
        match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        }
    }
}

/// Names a socket slot and its generation; what adapters key their waker tables by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketId {
    /// Slot index.
    pub index: u16,
    /// Generation of the slot when the handle was made.
    pub generation: u16,
}

/// An owned handle to a TCP connection.
///
/// ```
/// # use tidytcp::socket::{SocketSet, TcpStream};
/// fn send_greeting<'a>(s: &mut TcpStream<'a>, set: &mut SocketSet<'a>) -> tidytcp::Result<usize> {
///     s.write(set, b"hello\r\n")
/// }
/// ```
///
/// Closing consumes the handle, so closing twice is a compile error:
///
/// ```compile_fail
/// # use tidytcp::socket::{SocketSet, TcpStream};
/// fn twice<'a>(s: TcpStream<'a>, set: &mut SocketSet<'a>) {
///     s.close(set);
///     s.close(set); // error[E0382]: use of moved value: `s`
/// }
/// ```
#[derive(Debug)]
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'a> {
    idx: u16,
    generation: u16,
    flag: &'a AtomicBool,
    any: &'a AtomicBool,
}

/// An owned handle to a listening socket.
#[derive(Debug)]
#[must_use = "dropping a TcpListener closes it"]
pub struct TcpListener<'a> {
    idx: u16,
    generation: u16,
    flag: &'a AtomicBool,
    any: &'a AtomicBool,
}

impl Drop for TcpStream<'_> {
    fn drop(&mut self) {
        // The slot's flag, then "any", with a fence between that pairs with the one in
        // `SocketSet::reap_dropped` (plain stores: no compare-and-swap needed, so this
        // works on cores without one).
        self.flag.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.any.store(true, Ordering::Relaxed);
    }
}

impl Drop for TcpListener<'_> {
    fn drop(&mut self) {
        // The slot's flag, then "any", with a fence between that pairs with the one in
        // `SocketSet::reap_dropped` (plain stores: no compare-and-swap needed, so this
        // works on cores without one).
        self.flag.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.any.store(true, Ordering::Relaxed);
    }
}

impl<'a> SocketSet<'a> {
    fn stream_handle(&self, i: usize) -> TcpStream<'a> {
        TcpStream {
            idx: i as u16,
            generation: self.slots[i].generation,
            flag: &self.stream_flags[i],
            any: self.any_dropped,
        }
    }

    fn check(&self, s: &TcpStream<'a>) -> Result<usize> {
        let i = usize::from(s.idx);
        let ok = self
            .stream_flags
            .get(i)
            .is_some_and(|f| core::ptr::eq(f, s.flag))
            && self.slots[i].generation == s.generation
            && self.slots[i].owner == Owner::User
            && self.slots[i].conn.is_some();
        if ok { Ok(i) } else { Err(Error::InvalidHandle) }
    }

    fn check_listener(&self, l: &TcpListener<'a>) -> Result<usize> {
        let i = usize::from(l.idx);
        let ok = self
            .listener_flags
            .get(i)
            .is_some_and(|f| core::ptr::eq(f, l.flag))
            && self.listeners[i].generation == l.generation
            && self.listeners[i].open;
        if ok { Ok(i) } else { Err(Error::InvalidHandle) }
    }

    fn conn(&self, i: usize) -> &Connection {
        // `check` guarantees the slot holds a connection.
        self.slots[i]
            .conn
            .as_ref()
            .unwrap_or_else(|| unreachable!())
    }

    /// Opens a listener on `port` (any local address) with room for `backlog` connections
    /// waiting to be accepted and `backlog` more in the handshake.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<TcpListener<'a>> {
        if port == 0 || backlog == 0 {
            return Err(Error::InvalidInput);
        }
        if self.listener_for(port).is_some() {
            return Err(Error::AddrInUse);
        }
        let li = self
            .listeners
            .iter()
            .position(|l| !l.open)
            .ok_or(Error::Exhausted(Capacity::Listeners))?;
        let l = &mut self.listeners[li];
        *l = ListenSlot {
            generation: l.generation,
            open: true,
            port,
            backlog: backlog.min(usize::from(u16::MAX - 1)) as u16,
            ..ListenSlot::EMPTY
        };
        self.listener_flags[li].store(false, Ordering::Relaxed);
        Ok(TcpListener {
            idx: li as u16,
            generation: self.listeners[li].generation,
            flag: &self.listener_flags[li],
            any: self.any_dropped,
        })
    }

    /// Starts an active open to `remote` from an ephemeral port (RFC 6056 algorithm 3).
    /// The handle is usable at once: data written before the handshake completes is sent
    /// after it. Poll the stack to make progress. An unanswered SYN is retried
    /// `TcpConfig::syn_retries` times (about two minutes by default) before the
    /// connection fails with `TimedOut`; [`connect_timeout`](Self::connect_timeout)
    /// bounds that per call.
    pub fn connect(&mut self, remote: SocketAddr) -> Result<TcpStream<'a>> {
        self.connect_from(0, remote)
    }

    /// Like [`connect`](Self::connect), but the connection fails with
    /// [`Error::TimedOut`] if it is not established `timeout` after its first SYN
    /// (a zero timeout is `InvalidInput`, as for `std::net::TcpStream::connect_timeout`).
    /// Once established, the configured user timeout applies again.
    pub fn connect_timeout(
        &mut self,
        remote: SocketAddr,
        timeout: Duration,
    ) -> Result<TcpStream<'a>> {
        if timeout == Duration::ZERO {
            return Err(Error::InvalidInput);
        }
        let s = self.connect_from(0, remote)?;
        let i = self.check(&s)?;
        if let Some(c) = self.slots[i].conn.as_mut() {
            c.set_connect_timeout(timeout);
        }
        Ok(s)
    }

    /// Like [`SocketSet::connect`] from a chosen local port (0 picks one). The local
    /// address is the interface's IPv4 address, or for an IPv6 peer the usable IPv6
    /// address of the peer's scope (link-local or global, RFC 6724).
    pub fn connect_from(&mut self, local_port: u16, remote: SocketAddr) -> Result<TcpStream<'a>> {
        let now = self.now;
        let remote = Endpoint::from_socket_addr(remote).ok_or(Error::InvalidInput)?;
        let local_ip = self.source_for(&remote)?;
        let port = if local_port != 0 {
            if self
                .lookup(local_ip.with_port(local_port), remote)
                .is_some()
            {
                return Err(Error::AddrInUse);
            }
            local_port
        } else {
            self.ephemeral_port(local_ip, remote)?
        };
        let i = self.alloc().ok_or(Error::Exhausted(Capacity::Slots))?;
        let local = local_ip.with_port(port);
        let iss = self.secrets.isn(now, local, remote);
        let ts_offset = self.secrets.ts_offset(local, remote);
        let cap = self.rx_buffer_size();
        let mtu = self.mtu_to(&remote);
        let conn = Connection::connect(&self.cfg, now, local, remote, iss, mtu, cap, ts_offset);
        self.slots[i].conn = Some(conn);
        self.slots[i].owner = Owner::User;
        self.stream_flags[i].store(false, Ordering::Relaxed);
        self.stats.active_opens += 1;
        self.hash_insert(i);
        self.after_change(i);
        Ok(self.stream_handle(i))
    }

    /// Our address (port 0) for a connection to `remote`: `InvalidInput` for a peer no
    /// connection can have, `NotConnected` while we have no address of its family.
    fn source_for(&self, remote: &Endpoint) -> Result<Endpoint> {
        if remote.port() == 0 {
            return Err(Error::InvalidInput);
        }
        match remote.ip() {
            #[cfg(feature = "proto-ipv4")]
            core::net::IpAddr::V4(rip) => {
                if rip.is_unspecified() || rip.is_broadcast() || rip.is_multicast() {
                    return Err(Error::InvalidInput);
                }
                if self.local_ip.is_unspecified() {
                    return Err(Error::NotConnected);
                }
                Ok(Endpoint::v4(self.local_ip, 0))
            }
            #[cfg(feature = "proto-ipv6")]
            core::net::IpAddr::V6(rip) => {
                if rip.is_unspecified() || rip.is_multicast() || rip.is_loopback() {
                    return Err(Error::InvalidInput);
                }
                let src = self.local_ip6.for_peer(rip).ok_or(Error::NotConnected)?;
                Ok(Endpoint::v6(src, 0))
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::InvalidInput),
        }
    }

    /// RFC 6056 §3.3.3: offset = F(local, remote, key); try ports from
    /// `min + (offset + next) % range`.
    fn ephemeral_port(&mut self, local_ip: Endpoint, remote: Endpoint) -> Result<u16> {
        let (lo, hi) = self.cfg.ephemeral_ports;
        let (lo, hi) = (lo.min(hi).max(1), hi.max(lo).max(1));
        let num = u32::from(hi - lo) + 1;
        let offset = self.secrets.port_offset(local_ip, remote);
        for i in 0..num {
            let port =
                lo + ((offset.wrapping_add(self.next_ephemeral).wrapping_add(i)) % num) as u16;
            let local = local_ip.with_port(port);
            if self.lookup(local, remote).is_none() && self.listener_for(port).is_none() {
                self.next_ephemeral = self.next_ephemeral.wrapping_add(i + 1);
                return Ok(port);
            }
        }
        Err(Error::Exhausted(Capacity::EphemeralPorts))
    }

    /// A listing of every socket in use, like `netstat`: endpoints, TCP state, state flags
    /// and queue sizes. Each [`SocketInfo`](super::SocketInfo) displays as one line:
    ///
    /// ```text
    /// tcp L0        0      0  *:7                   *:*                   LISTEN       LISTENING
    /// tcp S0        0      0  127.0.0.1:56168       127.0.0.1:7           FIN-WAIT-2   CONNECTED | CANT_SEND_MORE
    /// tcp S1        5      0  127.0.0.1:7           127.0.0.1:56168       CLOSE-WAIT   CONNECTED | CANT_RECV_MORE
    /// ```
    ///
    /// (kind and slot, receive queue, send queue, local and remote endpoints, state,
    /// flags). A listener takes connections to any local address of either family: its
    /// local endpoint is `[::]:port` and shows as `*:port`, as `ss` shows a dual-stack
    /// socket (`0.0.0.0:port` without the `proto-ipv6` feature). From:
    ///
    /// ```
    /// use tidytcp::drivers::Loopback;
    /// use tidytcp::socket::{SocketFlags, SocketStorage};
    /// use tidytcp::stack::{Config, Stack};
    /// use tidytcp::Instant;
    ///
    /// let mut storage = SocketStorage::<4, 1, 2048, 2048>::new();
    /// let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [7; 16]);
    /// let mut stack = Stack::new(cfg, &mut storage);
    /// let mut dev = Loopback::<8>::new();
    /// let listener = stack.listen(7, 4).unwrap();
    /// let mut client = stack.connect("127.0.0.1:7".parse().unwrap()).unwrap();
    /// stack.poll(Instant::ZERO, &mut dev);
    /// let server = listener.accept(&mut stack).unwrap().0;
    /// client.write(&mut stack, b"hello").unwrap();
    /// client.shutdown_write(&mut stack).unwrap();
    /// stack.poll(Instant::from_millis(1), &mut dev);
    ///
    /// let table: Vec<String> = stack.sockets().map(|s| s.to_string()).collect();
    /// for line in &table {
    ///     println!("{line}");
    /// }
    /// # #[cfg(feature = "proto-ipv6")]
    /// assert!(table[0].starts_with("tcp L0        0      0  *:7 "));
    /// assert!(table[1].ends_with("FIN-WAIT-2   CONNECTED | CANT_SEND_MORE"));
    /// assert!(table[2].starts_with("tcp S1        5      0  127.0.0.1:7 "));
    /// assert!(table[2].ends_with("CLOSE-WAIT   CONNECTED | CANT_RECV_MORE"));
    /// let server_flags = stack.sockets().nth(2).unwrap().flags;
    /// assert_eq!(server_flags, SocketFlags::CONNECTED | SocketFlags::CANT_RECV_MORE);
    /// # let _ = (client, server, listener);
    /// ```
    pub fn sockets(&self) -> impl Iterator<Item = super::SocketInfo> + '_ {
        let listeners = self
            .listeners
            .iter()
            .enumerate()
            .filter(|(_, l)| l.open)
            .map(|(i, l)| super::SocketInfo {
                slot: i,
                listener: true,
                local: SocketAddr::new(super::LISTEN_ANY, l.port),
                remote: None,
                state: State::Listen,
                flags: super::SocketFlags::LISTENING,
                recv_queue: usize::from(l.q_len),
                send_queue: usize::from(l.embryos),
            });
        let streams = self.slots.iter().enumerate().filter_map(|(i, s)| {
            let c = s.conn.as_ref()?;
            Some(super::SocketInfo {
                slot: i,
                listener: false,
                local: c.local().into(),
                remote: Some(c.remote().into()),
                state: c.state(),
                flags: super::SocketFlags::of(c, s.owner, s.marks.has(Marks::QUEUED)),
                recv_queue: s.rx.len(),
                send_queue: s.tx.len(),
            })
        });
        listeners.chain(streams)
    }
}

impl<'a> TcpListener<'a> {
    /// Slot index and generation.
    pub fn id(&self) -> SocketId {
        SocketId {
            index: self.idx,
            generation: self.generation,
        }
    }

    /// The port listened on.
    pub fn port(&self, set: &SocketSet<'a>) -> Result<u16> {
        Ok(set.listeners[set.check_listener(self)?].port)
    }

    /// Takes the oldest established connection from the accept queue, with the peer's
    /// address, or `WouldBlock`.
    pub fn accept(&self, set: &mut SocketSet<'a>) -> Result<(TcpStream<'a>, SocketAddr)> {
        let li = set.check_listener(self)?;
        loop {
            let head = set.listeners[li].q_head;
            if head == NONE {
                return Err(Error::WouldBlock);
            }
            let i = usize::from(head);
            let l = &mut set.listeners[li];
            l.q_head = set.slots[i].q_next;
            if l.q_head == NONE {
                l.q_tail = NONE;
            }
            l.q_len = l.q_len.saturating_sub(1);
            let s = &mut set.slots[i];
            s.marks.set(Marks::QUEUED, false);
            s.q_next = NONE;
            if s.conn.is_none() {
                continue;
            }
            s.owner = Owner::User;
            set.stream_flags[i].store(false, Ordering::Relaxed);
            set.stats.passive_opens += 1;
            set.epoch = set.epoch.wrapping_add(1);
            // Anything that arrived before accept is news to the new owner.
            s.events |=
                crate::tcp::Events::RECV | crate::tcp::Events::SEND | crate::tcp::Events::CONNECTED;
            set.absorb_events(i);
            let peer = set.conn(i).remote();
            return Ok((set.stream_handle(i), peer.into()));
        }
    }

    /// What the listener is ready for (`ACCEPTABLE` when a connection waits).
    pub fn readiness(&self, set: &SocketSet<'a>) -> Readiness {
        match set.check_listener(self) {
            Ok(li) if set.listeners[li].q_len > 0 => Readiness::ACCEPTABLE,
            Ok(_) => Readiness::empty(),
            Err(_) => Readiness::ERROR,
        }
    }

    /// Connections waiting in the accept queue.
    pub fn queued(&self, set: &SocketSet<'a>) -> usize {
        set.check_listener(self)
            .map_or(0, |li| usize::from(set.listeners[li].q_len))
    }

    /// Closes the listener. Connections it has not handed out yet are reset and freed.
    pub fn close(self, set: &mut SocketSet<'a>) {
        if let Ok(li) = set.check_listener(&self) {
            set.close_listener(li);
        }
        core::mem::forget(self);
    }
}

impl<'a> TcpStream<'a> {
    /// Slot index and generation.
    pub fn id(&self) -> SocketId {
        SocketId {
            index: self.idx,
            generation: self.generation,
        }
    }

    /// Reads buffered bytes. After the peer's FIN: the buffered bytes, then `Ok(0)` (end of
    /// stream). After a reset or timeout: the buffered bytes, then the error. Nothing yet:
    /// `WouldBlock`.
    pub fn read(&mut self, set: &mut SocketSet<'a>, buf: &mut [u8]) -> Result<usize> {
        self.read_shared(set, buf)
    }

    /// `read` for the halves of a split stream, which share the handle.
    pub(crate) fn read_shared(&self, set: &mut SocketSet<'a>, buf: &mut [u8]) -> Result<usize> {
        let i = set.check(self)?;
        if buf.is_empty() || set.slots[i].rx.is_empty() {
            return Self::read_nothing(set, i, buf.is_empty());
        }
        let Some((c, mut rx, _, _, _)) = set.parts(i) else {
            return Err(Error::InvalidHandle);
        };
        let n = rx.read(buf);
        c.on_user_read(&rx);
        if c.wants_output() {
            set.mark_dirty(i);
        }
        Ok(n)
    }

    /// Zero-copy read: offers the largest contiguous run of buffered bytes to `f`, which
    /// returns how many it consumed. Same end-of-stream and error rules as `read`.
    pub fn read_with(
        &mut self,
        set: &mut SocketSet<'a>,
        f: impl FnOnce(&[u8]) -> usize,
    ) -> Result<usize> {
        let i = set.check(self)?;
        if set.slots[i].rx.is_empty() {
            return Self::read_nothing(set, i, false);
        }
        let Some((c, mut rx, _, _, _)) = set.parts(i) else {
            return Err(Error::InvalidHandle);
        };
        let n = rx.read_with(f);
        if n > 0 {
            c.on_user_read(&rx);
            if c.wants_output() {
                set.mark_dirty(i);
            }
            return Ok(n);
        }
        Self::read_nothing(set, i, false)
    }

    /// What a read that took nothing returns.
    fn read_nothing(set: &SocketSet<'a>, i: usize, empty_buf: bool) -> Result<usize> {
        if empty_buf || set.slots[i].marks.has(Marks::READ_SHUT) {
            return Ok(0);
        }
        let c = set.conn(i);
        if let Some(e) = c.error() {
            return Err(e);
        }
        if c.peer_closed() || c.state() == State::Closed {
            return Ok(0);
        }
        Err(Error::WouldBlock)
    }

    /// Queues bytes to send; returns how many fit. A full buffer: `WouldBlock`. After our
    /// own `shutdown_write`/FIN: `BrokenPipe`; after a reset: the error. Writing after the
    /// peer's FIN is allowed (half-close).
    pub fn write(&mut self, set: &mut SocketSet<'a>, data: &[u8]) -> Result<usize> {
        self.write_shared(set, data)
    }

    /// `write` for the halves of a split stream, which share the handle.
    pub(crate) fn write_shared(&self, set: &mut SocketSet<'a>, data: &[u8]) -> Result<usize> {
        let i = self.writable(set)?;
        let Some((_, mut tx, ..)) = set.parts(i).map(|(c, _, tx, s, g)| (c, tx, s, g)) else {
            return Err(Error::InvalidHandle);
        };
        let n = tx.write(data);
        Self::after_write(set, i, n, data.is_empty())
    }

    /// Zero-copy write: offers the largest contiguous free region of the send buffer to
    /// `f`, which fills a prefix and returns its length.
    pub fn write_with(
        &mut self,
        set: &mut SocketSet<'a>,
        f: impl FnOnce(&mut [u8]) -> usize,
    ) -> Result<usize> {
        let i = self.writable(set)?;
        let Some((_, mut tx, ..)) = set.parts(i).map(|(c, _, tx, s, g)| (c, tx, s, g)) else {
            return Err(Error::InvalidHandle);
        };
        let n = if tx.free() == 0 { 0 } else { tx.write_with(f) };
        Self::after_write(set, i, n, false)
    }

    fn writable(&self, set: &SocketSet<'a>) -> Result<usize> {
        let i = set.check(self)?;
        let c = set.conn(i);
        if let Some(e) = c.error() {
            return Err(e);
        }
        if c.write_closed() {
            return Err(Error::BrokenPipe);
        }
        if !c.state().can_send_data() {
            return Err(Error::NotConnected);
        }
        Ok(i)
    }

    fn after_write(set: &mut SocketSet<'a>, i: usize, n: usize, empty: bool) -> Result<usize> {
        if n == 0 && !empty {
            return Err(Error::WouldBlock);
        }
        if n > 0 {
            set.mark_dirty(i);
        }
        Ok(n)
    }

    /// Shuts down the write side (a FIN follows the queued data), the read side, or both,
    /// like `shutdown(2)`. After `Shutdown::Read`, what was received and not read is
    /// discarded, so is what arrives later (the window stays open, as in BSD), and `read`
    /// returns end of stream; the peer is not told.
    pub fn shutdown(&mut self, set: &mut SocketSet<'a>, how: Shutdown) -> Result<()> {
        self.shutdown_shared(set, how)
    }

    /// `shutdown` for the halves of a split stream, which share the handle.
    pub(crate) fn shutdown_shared(&self, set: &mut SocketSet<'a>, how: Shutdown) -> Result<()> {
        let i = set.check(self)?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            set.slots[i].marks.set(Marks::READ_SHUT, true);
            set.after_change(i);
        }
        if !matches!(how, Shutdown::Write | Shutdown::Both) {
            return Ok(());
        }
        let r = set.slots[i]
            .conn
            .as_mut()
            .map_or(Err(Error::InvalidHandle), |c| c.shutdown_write());
        set.after_change(i);
        r
    }

    /// Half-closes: a FIN follows the queued data; reading goes on
    /// (`shutdown(set, Shutdown::Write)`). During the handshake (SYN-SENT, SYN-RECEIVED)
    /// the connection stays: the data written so far and then the FIN go out once it is
    /// established (a [`close`](Self::close) in SYN-SENT, by contrast, ends it at once).
    pub fn shutdown_write(&mut self, set: &mut SocketSet<'a>) -> Result<()> {
        self.shutdown_shared(set, Shutdown::Write)
    }

    /// Closes the connection (orderly): queued data then FIN; returns at once and the
    /// protocol finishes in the background. If unread data remains, the peer is reset
    /// instead (RFC 9293 §3.6).
    pub fn close(self, set: &mut SocketSet<'a>) {
        if let Ok(i) = set.check(&self) {
            set.close_slot(set.now, i);
        }
        core::mem::forget(self);
    }

    /// Aborts the connection: a RST to the peer, and the slot is freed at once.
    pub fn abort(self, set: &mut SocketSet<'a>) {
        if let Ok(i) = set.check(&self) {
            set.abort_slot(i);
        }
        core::mem::forget(self);
    }

    /// The TCP state.
    pub fn state(&self, set: &SocketSet<'a>) -> State {
        set.check(self)
            .map_or(State::Closed, |i| set.conn(i).state())
    }

    /// The error the connection ended with, if any.
    pub fn error(&self, set: &SocketSet<'a>) -> Option<Error> {
        set.check(self)
            .map_or(Some(Error::InvalidHandle), |i| set.conn(i).error())
    }

    /// What the stream is ready for now.
    pub fn readiness(&self, set: &SocketSet<'a>) -> Readiness {
        let Ok(i) = set.check(self) else {
            return Readiness::ERROR | Readiness::CLOSED;
        };
        let c = set.conn(i);
        let s = &set.slots[i];
        let mut r = Readiness::empty();
        let failed = c.error().is_some();
        if failed {
            r |= Readiness::ERROR;
        }
        if c.state() == State::Closed {
            r |= Readiness::CLOSED;
        }
        if !s.rx.is_empty()
            || s.marks.has(Marks::READ_SHUT)
            || c.peer_closed()
            || failed
            || c.state() == State::Closed
        {
            r |= Readiness::READABLE;
        }
        let synced = !matches!(c.state(), State::SynSent | State::SynReceived);
        if failed
            || c.write_closed()
            || (synced && s.tx.len() < set.tx_buffer_size())
            || c.state() == State::Closed
        {
            r |= Readiness::WRITABLE;
        }
        if synced && (c.state() != State::Closed || c.peer_closed() || c.error().is_none()) {
            r |= Readiness::CONNECTED;
        }
        r
    }

    /// Bytes ready to read.
    pub fn recv_queue(&self, set: &SocketSet<'a>) -> usize {
        set.check(self).map_or(0, |i| set.slots[i].rx.len())
    }

    /// Bytes queued to send (unacknowledged included).
    pub fn send_queue(&self, set: &SocketSet<'a>) -> usize {
        set.check(self).map_or(0, |i| set.slots[i].tx.len())
    }

    /// Room in the send buffer.
    pub fn send_capacity(&self, set: &SocketSet<'a>) -> usize {
        set.check(self).map_or(0, |i| {
            set.tx_buffer_size().saturating_sub(set.slots[i].tx.len())
        })
    }

    /// Local endpoint.
    pub fn local_addr(&self, set: &SocketSet<'a>) -> Result<SocketAddr> {
        set.check(self).map(|i| set.conn(i).local().into())
    }

    /// Remote endpoint.
    pub fn peer_addr(&self, set: &SocketSet<'a>) -> Result<SocketAddr> {
        set.check(self).map(|i| set.conn(i).remote().into())
    }

    /// The protocol state of the connection, read-only (windows, RTT, options).
    pub fn connection<'s>(&self, set: &'s SocketSet<'a>) -> Result<&'s Connection> {
        set.check(self).map(|i| set.conn(i))
    }

    /// Everything written so far is handed to the stack: it goes out at the next poll as
    /// the windows allow, with no further call. Returns the connection's error if it
    /// failed. Whether the peer has acknowledged it is [`is_acked`](Self::is_acked).
    /// (The same meaning in every adapter; the async and blocking ones also offer
    /// `wait_acked`.)
    pub fn flush(&mut self, set: &mut SocketSet<'a>) -> Result<()> {
        self.flush_shared(set)
    }

    /// `flush` for the halves of a split stream, which share the handle.
    pub(crate) fn flush_shared(&self, set: &mut SocketSet<'a>) -> Result<()> {
        let i = set.check(self)?;
        if let Some(e) = set.conn(i).error() {
            return Err(e);
        }
        if !set.slots[i].tx.is_empty() {
            set.mark_dirty(i);
        }
        Ok(())
    }

    /// Whether the peer has acknowledged everything written (our FIN included, once it
    /// was queued); the connection's error if it failed first.
    pub fn is_acked(&self, set: &SocketSet<'a>) -> Result<bool> {
        let i = set.check(self)?;
        let c = set.conn(i);
        match c.error() {
            Some(e) => Err(e),
            None => Ok(set.slots[i].tx.is_empty() && !c.fin_unacked()),
        }
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self, set: &SocketSet<'a>) -> Result<bool> {
        set.check(self).map(|i| set.conn(i).nodelay())
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, set: &mut SocketSet<'a>, nodelay: bool) -> Result<()> {
        let i = set.check(self)?;
        if let Some(c) = set.slots[i].conn.as_mut() {
            c.set_nodelay(nodelay);
        }
        set.mark_dirty(i);
        Ok(())
    }

    /// Sets keep-alive probing (`None`: off); the idle time counts from the last poll.
    pub fn set_keepalive(
        &mut self,
        set: &mut SocketSet<'a>,
        keepalive: Option<Keepalive>,
    ) -> Result<()> {
        let i = set.check(self)?;
        let now = set.now;
        if let Some(c) = set.slots[i].conn.as_mut() {
            c.set_keepalive(now, keepalive);
        }
        set.update_timer(i);
        Ok(())
    }

    /// Sets the RFC 5482 user timeout.
    pub fn set_user_timeout(
        &mut self,
        set: &mut SocketSet<'a>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let i = set.check(self)?;
        if let Some(c) = set.slots[i].conn.as_mut() {
            c.set_user_timeout(timeout);
        }
        Ok(())
    }

    /// Selects the congestion control algorithm of this connection.
    pub fn set_congestion_control(
        &mut self,
        set: &mut SocketSet<'a>,
        alg: Algorithm,
    ) -> Result<()> {
        let i = set.check(self)?;
        if let Some(c) = set.slots[i].conn.as_mut() {
            c.set_congestion_control(alg);
        }
        Ok(())
    }
}
