//! The shared stack (`no_std`): a stack behind a [`critical_section`] mutex, so that
//! handles can live in other tasks or in interrupt handlers. Every call on a shared handle
//! takes the lock, makes the same call on the core handle, and lets go.
//!
//! The lock is `critical-section`'s: on a board the program provides its implementation
//! (the HAL or the RTOS does); on a host, tidytcp's `std` feature (on by default) brings
//! `critical-section`'s own, so nothing needs adding.
//!
//! ```
//! use static_cell::StaticCell;
//! use tidytcp::drivers::Loopback;
//! use tidytcp::socket::shared::SharedStack;
//! use tidytcp::socket::SocketStorage;
//! use tidytcp::stack::{Config, Stack};
//! use tidytcp::{Duration, Instant};
//!
//! static STORAGE: StaticCell<SocketStorage<4, 1, 2048, 2048>> = StaticCell::new();
//! static NET: StaticCell<SharedStack<Stack<'static>>> = StaticCell::new();
//!
//! let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [3; 16]);
//! let net: &'static SharedStack<Stack<'static>> =
//!     NET.init(SharedStack::new(Stack::new(cfg, STORAGE.init(SocketStorage::new()))));
//!
//! // Handles are `Send`: they may move to another task or an interrupt handler.
//! let listener = net.listen(7, 1).unwrap();
//! let mut client = net.connect("127.0.0.1:7".parse().unwrap()).unwrap();
//! client.write(b"hi").unwrap();
//!
//! // The network task (or the super-loop) polls through the same lock.
//! let mut dev = Loopback::<8>::new();
//! let mut now = Instant::ZERO;
//! let mut server = loop {
//!     net.with(|stack| stack.poll(now, &mut dev)).unwrap();
//!     if let Ok((s, _peer)) = listener.accept() { break s; }
//!     now += Duration::from_millis(1);
//! };
//! let mut buf = [0; 8];
//! let n = loop {
//!     net.with(|stack| stack.poll(now, &mut dev)).unwrap();
//!     if let Ok(n) = server.read(&mut buf) { break n; }
//!     now += Duration::from_millis(1);
//! };
//! assert_eq!(&buf[..n], b"hi");
//! server.close();
//! client.close();
//! listener.close();
//! ```

use core::net::SocketAddr;

use super::handle::{Readiness, Shutdown, SocketId};
use super::lock::Lock;
use super::{SocketSet, TcpListener as CoreListener, TcpStream as CoreStream};
use crate::error::{Error, Result};
use crate::tcp::cc::Algorithm;
use crate::tcp::{Keepalive, State};
use crate::time::Duration;

/// A stack (anything that lends a [`SocketSet`]: `Stack` does) behind a critical-section
/// mutex. Put it in a `static` (with `static_cell`) and hand out its handles.
pub struct SharedStack<T> {
    lock: Lock<T>,
}

/// How shared handles reach the stack without naming its type.
pub(crate) trait Access<'a>: Sync {
    /// Runs `f` with the lock held; false if the lock is already held further up this
    /// call stack.
    fn access(&self, f: &mut dyn FnMut(&mut SocketSet<'a>)) -> bool;
}

impl<'a, T: AsMut<SocketSet<'a>> + Send> Access<'a> for SharedStack<T> {
    fn access(&self, f: &mut dyn FnMut(&mut SocketSet<'a>)) -> bool {
        self.lock.try_with(|t| f(t.as_mut())).is_some()
    }
}

/// Runs `f` through `net`'s lock; `WouldBlock` if the lock is held further up this call
/// stack (a handle used from inside [`SharedStack::with`]).
fn run<'a, R>(net: &dyn Access<'a>, f: impl FnOnce(&mut SocketSet<'a>) -> R) -> Result<R> {
    let mut f = Some(f);
    let mut out = None;
    net.access(&mut |set| {
        if let Some(f) = f.take() {
            out = Some(f(set));
        }
    });
    out.ok_or(Error::WouldBlock)
}

impl<T> SharedStack<T> {
    /// Puts `stack` behind the lock.
    #[cfg(not(loom))]
    pub const fn new(stack: T) -> Self {
        SharedStack {
            lock: Lock::new(stack),
        }
    }

    /// Puts `stack` behind the lock.
    #[cfg(loom)]
    pub fn new(stack: T) -> Self {
        SharedStack {
            lock: Lock::new(stack),
        }
    }

    /// Runs `f` on the stack with the lock held: poll it, read its counters, list its
    /// sockets. `WouldBlock` if called from inside another `with` on the same stack.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R> {
        self.lock.try_with(f).ok_or(Error::WouldBlock)
    }

    /// The stack, when nobody else can hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.lock.get_mut()
    }

    /// The stack back.
    pub fn into_inner(self) -> T {
        self.lock.into_inner()
    }
}

impl<'a, T: AsMut<SocketSet<'a>> + Send> SharedStack<T> {
    /// [`SocketSet::listen`] through the lock.
    pub fn listen(&self, port: u16, backlog: usize) -> Result<TcpListener<'_, 'a>> {
        let inner = run(self, |set| set.listen(port, backlog))??;
        Ok(TcpListener { inner, net: self })
    }

    /// [`SocketSet::connect`] through the lock. The handshake goes on in the polls that
    /// follow; the handle is usable at once.
    pub fn connect(&self, remote: SocketAddr) -> Result<TcpStream<'_, 'a>> {
        let inner = run(self, |set| set.connect(remote))??;
        Ok(TcpStream { inner, net: self })
    }

    /// [`SocketSet::connect_timeout`] through the lock: the connection fails with
    /// `TimedOut` if it is not established within `timeout`.
    pub fn connect_timeout(
        &self,
        remote: SocketAddr,
        timeout: impl Into<Duration>,
    ) -> Result<TcpStream<'_, 'a>> {
        let timeout = timeout.into();
        let inner = run(self, |set| set.connect_timeout(remote, timeout))??;
        Ok(TcpStream { inner, net: self })
    }
}

/// A connection of a [`SharedStack`]. Not `Clone`; `close` and `abort` consume it;
/// dropping it closes the connection at the next poll.
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'s, 'a> {
    inner: CoreStream<'a>,
    net: &'s dyn Access<'a>,
}

/// A listener of a [`SharedStack`]. Dropping it closes it at the next poll.
#[must_use = "dropping a TcpListener closes it"]
pub struct TcpListener<'s, 'a> {
    inner: CoreListener<'a>,
    net: &'s dyn Access<'a>,
}

impl core::fmt::Debug for TcpStream<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TcpStream").field(&self.inner.id()).finish()
    }
}

impl core::fmt::Debug for TcpListener<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TcpListener")
            .field(&self.inner.id())
            .finish()
    }
}

impl<'a> TcpStream<'_, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> SocketId {
        self.inner.id()
    }

    /// [`CoreStream::read`]: buffered bytes, then end of stream or the error;
    /// `WouldBlock` if nothing is there yet.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let inner = &mut self.inner;
        run(self.net, |set| inner.read(set, buf))?
    }

    /// [`CoreStream::write`]: queues what fits; `WouldBlock` if nothing does.
    pub fn write(&mut self, data: &[u8]) -> Result<usize> {
        let inner = &mut self.inner;
        run(self.net, |set| inner.write(set, data))?
    }

    /// [`CoreStream::shutdown`]: the write side (a FIN after the queued data), the read
    /// side, or both.
    pub fn shutdown(&mut self, how: Shutdown) -> Result<()> {
        self.with(|s, set| s.shutdown(set, how))?
    }

    /// [`CoreStream::shutdown_write`]: a FIN after the queued data.
    pub fn shutdown_write(&mut self) -> Result<()> {
        self.with(|s, set| s.shutdown_write(set))?
    }

    /// [`CoreStream::flush`]: everything written is handed to the stack.
    pub fn flush(&mut self) -> Result<()> {
        self.with(|s, set| s.flush(set))?
    }

    /// [`CoreStream::is_acked`]: whether the peer has acknowledged everything written.
    pub fn is_acked(&self) -> Result<bool> {
        self.view(|s, set| s.is_acked(set))?
    }

    /// What the stream is ready for.
    pub fn readiness(&self) -> Readiness {
        self.view(|s, set| s.readiness(set))
            .unwrap_or(Readiness::empty())
    }

    /// The TCP state.
    pub fn state(&self) -> State {
        self.view(|s, set| s.state(set)).unwrap_or(State::Closed)
    }

    /// The error the connection ended with, if any.
    pub fn error(&self) -> Option<Error> {
        self.view(|s, set| s.error(set)).unwrap_or(None)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.view(|s, set| s.local_addr(set))?
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.view(|s, set| s.peer_addr(set))?
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) -> Result<()> {
        self.with(|s, set| s.set_nodelay(set, nodelay))?
    }

    /// Sets keep-alive probing (`None`: off).
    pub fn set_keepalive(&mut self, keepalive: Option<Keepalive>) -> Result<()> {
        self.with(|s, set| s.set_keepalive(set, keepalive))?
    }

    /// Sets the RFC 5482 user timeout.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.with(|s, set| s.set_user_timeout(set, timeout))?
    }

    /// Selects the congestion control algorithm of this connection.
    pub fn set_congestion_control(&mut self, alg: Algorithm) -> Result<()> {
        self.with(|s, set| s.set_congestion_control(set, alg))?
    }

    /// A read-only call on the core handle, with the lock held.
    fn view<R>(&self, f: impl FnOnce(&CoreStream<'a>, &mut SocketSet<'a>) -> R) -> Result<R> {
        let inner = &self.inner;
        run(self.net, |set| f(inner, set))
    }

    /// Any other call on the core handle, with the lock held.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut CoreStream<'a>, &mut SocketSet<'a>) -> R,
    ) -> Result<R> {
        let inner = &mut self.inner;
        run(self.net, |set| f(inner, set))
    }

    /// Closes the connection (orderly), consuming the handle. If the lock is held further
    /// up this call stack, the close happens at the next poll, as for a drop.
    pub fn close(self) {
        let TcpStream { inner, net } = self;
        let _ = run(net, |set| inner.close(set));
    }

    /// Aborts the connection (RST), consuming the handle. If the lock is held further up
    /// this call stack, the connection is closed at the next poll instead.
    pub fn abort(self) {
        let TcpStream { inner, net } = self;
        let _ = run(net, |set| inner.abort(set));
    }
}

impl<'s, 'a> TcpListener<'s, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> SocketId {
        self.inner.id()
    }

    /// The oldest established connection waiting, with the peer's address, or
    /// `WouldBlock`.
    pub fn accept(&self) -> Result<(TcpStream<'s, 'a>, SocketAddr)> {
        let inner = &self.inner;
        let (s, peer) = run(self.net, |set| inner.accept(set))??;
        let s = TcpStream {
            inner: s,
            net: self.net,
        };
        Ok((s, peer))
    }

    /// What the listener is ready for.
    pub fn readiness(&self) -> Readiness {
        let inner = &self.inner;
        run(self.net, |set| inner.readiness(set)).unwrap_or(Readiness::empty())
    }

    /// Closes the listener; connections not yet accepted are reset and freed.
    pub fn close(self) {
        let TcpListener { inner, net } = self;
        let _ = run(net, |set| inner.close(set));
    }
}
