//! The blocking adapter (`std`): the stack runs on a thread of its own; handles implement
//! [`std::io::Read`] and [`std::io::Write`] and block like BSD sockets.
//!
//! A [`BlockingStack`] keeps the stack behind a [`Mutex`]. Its thread ([`BlockingStack::run`])
//! polls the stack, wakes every blocked caller when anything a caller may wait for
//! changed (the socket set's epoch moved: BSD's `sbwakeup`), and sleeps until the next
//! deadline or until a caller kicks it. A blocked call re-tries its operation each time it
//! is woken and otherwise sleeps on a condition variable (BSD's `sbwait`), up to its
//! timeout. A call that leaves output to send — a write, a read that opens the window, a
//! close, a dropped handle — kicks the stack thread, so data goes out at once.
//!
//! ```
//! use std::io::{Read, Write};
//! use tidytcp::drivers::Loopback;
//! use tidytcp::socket::blocking::BlockingStack;
//! use tidytcp::socket::HeapStorage;
//! use tidytcp::stack::{Config, Stack};
//!
//! let mut storage = HeapStorage::new(4, 1, 4096, 4096);
//! let mut cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap());
//! cfg.seed = [5; 16];
//! let net = BlockingStack::new(Stack::new(cfg, &mut storage));
//!
//! std::thread::scope(|s| {
//!     s.spawn(|| net.run(&mut Loopback::<8>::new())); // the stack's thread
//!     let listener = net.listen(7, 1).unwrap();
//!     let server = s.spawn(move || {
//!         let (mut conn, _peer) = listener.accept().unwrap();
//!         let mut line = Vec::new();
//!         conn.read_to_end(&mut line).unwrap(); // until the client's FIN
//!         conn.write_all(&line).unwrap();
//!     }); // `conn` dropped: closed
//!     let mut client = net.connect("127.0.0.1:7".parse().unwrap()).unwrap();
//!     client.write_all(b"hello").unwrap();
//!     client.shutdown(std::net::Shutdown::Write).unwrap();
//!     let mut echo = Vec::new();
//!     client.read_to_end(&mut echo).unwrap();
//!     assert_eq!(echo, b"hello");
//!     server.join().unwrap();
//!     client.close();
//!     net.stop(); // the stack thread returns
//! });
//! ```

use std::boxed::Box;
use std::cell::Cell;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;
use std::time::Instant as StdInstant;

use core::net::SocketAddrV4;

use super::handle::{Readiness, SocketId};
use super::{Drive, SocketSet, TcpListener as CoreListener, TcpStream as CoreStream};
use crate::error::Error;
use crate::tcp::State;
use crate::time::Instant;

std::thread_local! {
    /// The `BlockingStack` whose lock this thread holds inside [`BlockingStack::with`]
    /// (its address), so that a handle dropped or used there does not deadlock.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

struct Inner<T> {
    stack: T,
    /// A caller asked for a poll since the stack thread's last one.
    kicked: bool,
}

/// A stack run by a thread of its own, with blocking handles.
pub struct BlockingStack<T> {
    state: Mutex<Inner<T>>,
    /// Callers blocked on a socket sleep here (BSD `sbwait`).
    changed: Condvar,
    /// The stack thread sleeps here between polls.
    kick: Condvar,
    /// `stop` was called: `run` returns.
    stop: AtomicBool,
    /// Wakes a device wait (`Tap::wait`) when the stack thread sleeps in one.
    kicker: Option<Box<dyn Fn() + Send + Sync>>,
    start: StdInstant,
    max_idle: StdDuration,
}

/// What one try of a blocking operation found.
enum Step {
    /// Nothing yet: sleep until the socket set changes.
    Wait,
    /// Finished.
    Done,
    /// Finished, and left output for the stack thread to send.
    DoneKick,
}

/// How handles reach the stack without naming its type.
trait Core<'a>: Sync {
    /// Tries `f` until it finishes or `deadline` passes, sleeping on the condition
    /// variable between tries. `Ok(false)` on timeout; `WouldBlock` if called from inside
    /// [`BlockingStack::with`].
    fn block(
        &self,
        deadline: Option<StdInstant>,
        f: &mut dyn FnMut(&mut SocketSet<'a>) -> Step,
    ) -> Result<bool, Error>;
    /// Asks the stack thread for a poll.
    fn kick(&self);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps on `changed` until it is signalled or `deadline` passes; `None` once the
/// deadline has passed (the lock is then released).
fn wait_changed<'g, T>(
    changed: &Condvar,
    g: MutexGuard<'g, T>,
    deadline: Option<StdInstant>,
) -> Option<MutexGuard<'g, T>> {
    match deadline {
        None => Some(changed.wait(g).unwrap_or_else(PoisonError::into_inner)),
        Some(d) => {
            let now = StdInstant::now();
            if now >= d {
                return None;
            }
            Some(
                changed
                    .wait_timeout(g, d - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0,
            )
        }
    }
}

impl<T> BlockingStack<T> {
    /// Puts `stack` behind the lock. Its thread sleeps at most 50 ms between polls unless
    /// told otherwise ([`set_max_idle`](Self::set_max_idle)).
    pub fn new(stack: T) -> Self {
        BlockingStack {
            state: Mutex::new(Inner {
                stack,
                kicked: false,
            }),
            changed: Condvar::new(),
            kick: Condvar::new(),
            stop: AtomicBool::new(false),
            kicker: None,
            start: StdInstant::now(),
            max_idle: StdDuration::from_millis(50),
        }
    }

    /// Also calls `kicker` when a caller needs a poll: for a stack thread that sleeps in a
    /// device wait ([`run_with_wait`](Self::run_with_wait)), e.g. `move || tap_waker.wake()`.
    pub fn with_kicker(mut self, kicker: impl Fn() + Send + Sync + 'static) -> Self {
        self.kicker = Some(Box::new(kicker));
        self
    }

    /// The longest the stack thread sleeps between polls when nothing is due (for
    /// devices whose frames arrive without a wake-up).
    pub fn set_max_idle(&mut self, max_idle: StdDuration) {
        self.max_idle = max_idle;
    }

    /// The stack's clock: time since this `BlockingStack` was made.
    pub fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    fn held_here(&self) -> bool {
        HELD.with(|h| h.get() == self.addr())
    }

    /// Makes [`run`](Self::run) return after its current poll.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if !self.held_here() {
            self.kick_now();
        }
    }

    /// Wakes the stack thread for a poll. Never called with the lock held.
    fn kick_now(&self) {
        lock(&self.state).kicked = true;
        self.kick.notify_one();
        if let Some(k) = &self.kicker {
            k();
        }
    }
}

impl<'a, T: AsMut<SocketSet<'a>> + Send> BlockingStack<T> {
    /// Runs `f` on the stack with the lock held (counters, the socket table, or a core
    /// handle call), then wakes whoever the call concerns. `WouldBlock` if called from
    /// inside another `with` of the same stack.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        if self.held_here() {
            return Err(Error::WouldBlock);
        }
        let mut g = lock(&self.state);
        let before = g.stack.as_mut().epoch();
        let prev = HELD.with(|h| h.replace(self.addr()));
        let r = f(&mut g.stack);
        HELD.with(|h| h.set(prev));
        if g.stack.as_mut().epoch() != before {
            self.changed.notify_all();
        }
        drop(g);
        // For a handle dropped inside `f`, or a core call that queued output.
        self.kick_now();
        Ok(r)
    }

    /// Blocks until `pred` holds for the stack, re-checking whenever anything changes, or
    /// until `timeout`; returns whether it held. For example: wait until every connection
    /// has finished (`|s| s.in_use() == 0`).
    pub fn wait_for(
        &self,
        timeout: Option<StdDuration>,
        mut pred: impl FnMut(&mut T) -> bool,
    ) -> Result<bool, Error> {
        if self.held_here() {
            return Err(Error::WouldBlock);
        }
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut g = lock(&self.state);
        loop {
            if pred(&mut g.stack) {
                return Ok(true);
            }
            g = match wait_changed(&self.changed, g, deadline) {
                Some(g) => g,
                None => return Ok(false),
            };
        }
    }

    /// The stack thread: polls, wakes blocked callers, sleeps until the next deadline or a
    /// kick (a condition variable; `max_idle` at most). Returns after [`stop`](Self::stop).
    pub fn run<D>(&self, device: &mut D)
    where
        T: Drive<D>,
    {
        self.run_inner(device, None::<fn(&mut D, Option<StdDuration>)>);
    }

    /// Like [`run`](Self::run), but sleeps in `wait(device, timeout)`, which returns when
    /// the device has a frame or the kicker set with [`with_kicker`](Self::with_kicker)
    /// was called. For a TAP device:
    /// `net.run_with_wait(&mut tap, |tap, t| { let _ = tap.wait(t); })`.
    pub fn run_with_wait<D>(&self, device: &mut D, wait: impl FnMut(&mut D, Option<StdDuration>))
    where
        T: Drive<D>,
    {
        self.run_inner(device, Some(wait));
    }

    fn run_inner<D>(
        &self,
        device: &mut D,
        mut wait: Option<impl FnMut(&mut D, Option<StdDuration>)>,
    ) where
        T: Drive<D>,
    {
        let mut g = lock(&self.state);
        let mut seen = None;
        loop {
            if self.stop.swap(false, Ordering::SeqCst) {
                return;
            }
            g.kicked = false;
            let now = self.now();
            let next = g.stack.drive(now, device);
            let epoch = g.stack.as_mut().epoch();
            if seen != Some(epoch) {
                seen = Some(epoch);
                self.changed.notify_all();
            }
            let mut timeout = self.max_idle;
            if let Some(t) = next {
                timeout = timeout.min(t.saturating_duration_since(self.now()).into());
            }
            if timeout.is_zero() || g.kicked || self.stop.load(Ordering::SeqCst) {
                continue;
            }
            match wait.as_mut() {
                None => {
                    g = self
                        .kick
                        .wait_timeout_while(g, timeout, |s| {
                            !s.kicked && !self.stop.load(Ordering::SeqCst)
                        })
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                Some(w) => {
                    drop(g);
                    w(device, Some(timeout));
                    g = lock(&self.state);
                }
            }
        }
    }

    /// A `'static` stack thread for programs: moves `device` to a new thread that runs
    /// the stack until [`stop`](Self::stop), and returns it then. The stack must be
    /// `'static` too (a `static_cell` or `Box::leak`).
    pub fn spawn<D: Send + 'static>(&'static self, mut device: D) -> std::thread::JoinHandle<D>
    where
        T: Drive<D> + 'static,
    {
        std::thread::spawn(move || {
            self.run(&mut device);
            device
        })
    }

    /// Opens a listener.
    pub fn listen(&self, port: u16, backlog: usize) -> io::Result<TcpListener<'_, 'a>> {
        let inner = self.with(|s| s.as_mut().listen(port, backlog))??;
        Ok(TcpListener {
            inner: Some(inner),
            net: self,
        })
    }

    /// Connects to `remote`, blocking until the connection is established or has failed.
    pub fn connect(&self, remote: SocketAddrV4) -> io::Result<TcpStream<'_, 'a>> {
        self.connect_timeout(remote, None)
    }

    /// Like [`connect`](Self::connect), giving up with `TimedOut` after `timeout` (the
    /// half-open connection is then closed).
    pub fn connect_timeout(
        &self,
        remote: SocketAddrV4,
        timeout: Option<StdDuration>,
    ) -> io::Result<TcpStream<'_, 'a>> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut made = None;
        self.block(None, &mut |set| {
            let now = set.now;
            made = Some(set.connect(now, remote));
            Step::DoneKick
        })?;
        let inner = made.ok_or(Error::WouldBlock)??;
        let s = TcpStream::new(inner, self);
        let mut result = Ok(());
        let core = s.inner.as_ref().ok_or(Error::InvalidHandle)?;
        let done = self.block(deadline, &mut |set| match core.state(set) {
            State::SynSent | State::SynReceived => Step::Wait,
            State::Closed => {
                result = Err(core.error(set).unwrap_or(Error::NotConnected));
                Step::Done
            }
            _ => {
                result = core.error(set).map_or(Ok(()), Err);
                Step::Done
            }
        })?;
        if !done {
            return Err(io::ErrorKind::TimedOut.into());
        }
        result?;
        Ok(s)
    }
}

impl<'a, T: AsMut<SocketSet<'a>> + Send> Core<'a> for BlockingStack<T> {
    fn block(
        &self,
        deadline: Option<StdInstant>,
        f: &mut dyn FnMut(&mut SocketSet<'a>) -> Step,
    ) -> Result<bool, Error> {
        if self.held_here() {
            return Err(Error::WouldBlock);
        }
        let mut g = lock(&self.state);
        loop {
            let set = g.stack.as_mut();
            let before = set.epoch();
            let step = f(set);
            if set.epoch() != before {
                self.changed.notify_all();
            }
            match step {
                Step::Done => return Ok(true),
                Step::DoneKick => {
                    g.kicked = true;
                    drop(g);
                    self.kick.notify_one();
                    if let Some(k) = &self.kicker {
                        k();
                    }
                    return Ok(true);
                }
                Step::Wait => {}
            }
            g = match wait_changed(&self.changed, g, deadline) {
                Some(g) => g,
                None => return Ok(false),
            };
        }
    }

    fn kick(&self) {
        // Inside `with` on this thread the lock is held: `with` kicks when it returns.
        if !self.held_here() {
            self.kick_now();
        }
    }
}

/// Whether the socket set has output or resets waiting for the stack thread.
fn has_output(set: &SocketSet<'_>) -> bool {
    set.first_dirty().is_some() || set.has_pending_rst()
}

/// A blocking TCP connection: [`io::Read`], [`io::Write`], timeouts, `shutdown`. Not
/// `Clone`; `close` and `abort` consume it; dropping it closes the connection.
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'n, 'a> {
    inner: Option<CoreStream<'a>>,
    net: &'n dyn Core<'a>,
    read_timeout: Option<StdDuration>,
    write_timeout: Option<StdDuration>,
    read_shut: bool,
}

/// A blocking listener. Dropping it closes it; connections not yet accepted are reset.
#[must_use = "dropping a TcpListener closes it"]
pub struct TcpListener<'n, 'a> {
    inner: Option<CoreListener<'a>>,
    net: &'n dyn Core<'a>,
}

impl std::fmt::Debug for TcpStream<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TcpStream")
            .field(&self.inner.as_ref().map(|s| s.id()))
            .finish()
    }
}

impl std::fmt::Debug for TcpListener<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TcpListener")
            .field(&self.inner.as_ref().map(|s| s.id()))
            .finish()
    }
}

impl Drop for TcpStream<'_, '_> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop(inner); // marks the slot; the stack thread closes it
            self.net.kick();
        }
    }
}

impl Drop for TcpListener<'_, '_> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop(inner);
            self.net.kick();
        }
    }
}

/// A timeout of zero is refused, as `std::net::TcpStream` refuses it.
fn check_timeout(t: Option<StdDuration>) -> io::Result<()> {
    if t == Some(StdDuration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

impl<'n, 'a> TcpStream<'n, 'a> {
    fn new(inner: CoreStream<'a>, net: &'n dyn Core<'a>) -> Self {
        TcpStream {
            inner: Some(inner),
            net,
            read_timeout: None,
            write_timeout: None,
            read_shut: false,
        }
    }

    fn core(&self) -> io::Result<&CoreStream<'a>> {
        Ok(self.inner.as_ref().ok_or(Error::InvalidHandle)?)
    }

    /// Runs `f` once with the lock held.
    fn once<R>(
        &mut self,
        f: impl FnOnce(&mut CoreStream<'a>, &mut SocketSet<'a>) -> R,
    ) -> io::Result<R> {
        let inner = self.inner.as_mut().ok_or(Error::InvalidHandle)?;
        let mut f = Some(f);
        let mut out = None;
        self.net.block(None, &mut |set| {
            if let Some(f) = f.take() {
                out = Some(f(inner, set));
            }
            if has_output(set) {
                Step::DoneKick
            } else {
                Step::Done
            }
        })?;
        Ok(out.ok_or(Error::WouldBlock)?)
    }

    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    /// How long `read` blocks before failing with `WouldBlock` (as on Unix); `None`
    /// (the default) blocks until data, the end of the stream or an error.
    pub fn set_read_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// How long `write` blocks for room before failing with `WouldBlock`.
    pub fn set_write_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.write_timeout = timeout;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<StdDuration> {
        self.read_timeout
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<StdDuration> {
        self.write_timeout
    }

    /// Shuts down the write side (a FIN after the queued data), the read side (further
    /// reads return end of stream at once), or both.
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.once(|s, set| s.shutdown_write(set))??;
        }
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        Ok(self.once(|s, set| s.set_nodelay(set, nodelay))??)
    }

    /// The peer's address.
    pub fn peer_addr(&mut self) -> io::Result<SocketAddrV4> {
        Ok(self.once(|s, set| s.peer_addr(set))??)
    }

    /// The local address.
    pub fn local_addr(&mut self) -> io::Result<SocketAddrV4> {
        Ok(self.once(|s, set| s.local_addr(set))??)
    }

    /// The TCP state.
    pub fn state(&mut self) -> State {
        self.once(|s, set| s.state(set)).unwrap_or(State::Closed)
    }

    /// What the stream is ready for now.
    pub fn readiness(&mut self) -> Readiness {
        self.once(|s, set| s.readiness(set))
            .unwrap_or(Readiness::ERROR | Readiness::CLOSED)
    }

    /// Any other call on the core handle, with the lock held.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut CoreStream<'a>, &mut SocketSet<'a>) -> R,
    ) -> io::Result<R> {
        self.once(f)
    }

    /// Closes the connection (orderly) and returns at once; the protocol finishes in the
    /// background. Unread data makes it a reset (RFC 9293 §3.6).
    pub fn close(mut self) {
        if let Some(inner) = self.inner.take() {
            let mut inner = Some(inner);
            let _ = self.net.block(None, &mut |set| {
                if let Some(s) = inner.take() {
                    s.close(set);
                }
                Step::DoneKick
            });
        }
    }

    /// Aborts the connection: a RST to the peer, and the slot is freed.
    pub fn abort(mut self) {
        if let Some(inner) = self.inner.take() {
            let mut inner = Some(inner);
            let _ = self.net.block(None, &mut |set| {
                if let Some(s) = inner.take() {
                    s.abort(set);
                }
                Step::DoneKick
            });
        }
    }

    /// Blocks on `op` (a read or a write) until it does not return `WouldBlock`, or
    /// `timeout` passes.
    fn blocking(
        &mut self,
        timeout: Option<StdDuration>,
        mut op: impl FnMut(&mut CoreStream<'a>, &mut SocketSet<'a>) -> crate::Result<usize>,
    ) -> io::Result<usize> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let inner = self.inner.as_mut().ok_or(Error::InvalidHandle)?;
        let mut out = None;
        let done = self.net.block(deadline, &mut |set| match op(inner, set) {
            Err(Error::WouldBlock) => Step::Wait,
            r => {
                out = Some(r);
                if has_output(set) {
                    Step::DoneKick
                } else {
                    Step::Done
                }
            }
        })?;
        if !done {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "timed out waiting on the socket",
            ));
        }
        Ok(out.ok_or(Error::WouldBlock)??)
    }
}

impl io::Read for TcpStream<'_, '_> {
    /// Blocks until there are bytes, the end of the stream (`Ok(0)`), or an error; after a
    /// reset or timeout the buffered bytes come first. With a read timeout, `WouldBlock`
    /// once it passes.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.read_shut {
            return Ok(0);
        }
        let t = self.read_timeout;
        self.blocking(t, |s, set| s.read(set, buf))
    }
}

impl io::Write for TcpStream<'_, '_> {
    /// Blocks until at least one byte fits in the send buffer; the stack thread is kicked
    /// so it goes out at once. With a write timeout, `WouldBlock` once it passes.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            let _ = self.core()?;
            return Ok(0);
        }
        let t = self.write_timeout;
        self.blocking(t, |s, set| s.write(set, buf))
    }

    /// Returns at once, like `std::net::TcpStream`'s: written data is already on its way.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'n, 'a> TcpListener<'n, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    /// Blocks until an established connection waits, and takes it.
    pub fn accept(&self) -> io::Result<(TcpStream<'n, 'a>, SocketAddrV4)> {
        self.accept_timeout(None)
    }

    /// Like [`accept`](Self::accept), failing with `WouldBlock` after `timeout`.
    pub fn accept_timeout(
        &self,
        timeout: Option<StdDuration>,
    ) -> io::Result<(TcpStream<'n, 'a>, SocketAddrV4)> {
        let inner = self.inner.as_ref().ok_or(Error::InvalidHandle)?;
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut out = None;
        let done = self
            .net
            .block(deadline, &mut |set| match inner.accept(set) {
                Err(Error::WouldBlock) => Step::Wait,
                Ok(s) => {
                    let peer = s.peer_addr(set);
                    out = Some(peer.map(|p| (s, p)));
                    Step::Done
                }
                Err(e) => {
                    out = Some(Err(e));
                    Step::Done
                }
            })?;
        if !done {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "timed out waiting for a connection",
            ));
        }
        let (s, peer) = out.ok_or(Error::WouldBlock)??;
        Ok((TcpStream::new(s, self.net), peer))
    }

    /// Closes the listener; connections not yet accepted are reset and freed.
    pub fn close(mut self) {
        if let Some(inner) = self.inner.take() {
            let mut inner = Some(inner);
            let _ = self.net.block(None, &mut |set| {
                if let Some(l) = inner.take() {
                    l.close(set);
                }
                Step::DoneKick
            });
        }
    }
}
