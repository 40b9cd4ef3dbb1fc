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
//! let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [5; 16]);
//! let net = BlockingStack::new(Stack::new(cfg, &mut storage));
//!
//! std::thread::scope(|s| {
//!     // The stack's thread; it stops when this guard is dropped, even on a panic or an
//!     // early return, so the scope cannot hang.
//!     let _stack_thread = net.spawn_scoped(s, Loopback::<8>::new());
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
//! });
//! ```

use std::boxed::Box;
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;
use std::time::Instant as StdInstant;

use core::net::SocketAddr;

use super::handle::{Readiness, Shutdown, SocketId};
use super::{Drive, SocketSet, TcpListener as CoreListener, TcpStream as CoreStream};
use crate::error::Error;
use crate::tcp::cc::Algorithm;
use crate::tcp::{Keepalive, State};
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
    /// `run` returned after `stop` and has not started again: blocked calls fail with
    /// `ConnectionAborted` instead of waiting for polls that will not come.
    halted: AtomicBool,
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
            halted: AtomicBool::new(false),
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

    /// Resolves `name` to an IPv4 address with the stack's resolver (feature `dns`),
    /// blocking until the answer or `timeout` (`TimedOut` then, and the query is given
    /// up). An address literal or a cached name answers at once.
    #[cfg(feature = "dns")]
    pub fn resolve(
        &self,
        name: &str,
        timeout: Option<StdDuration>,
    ) -> Result<core::net::Ipv4Addr, crate::dns::DnsError>
    where
        T: crate::socket::Resolve,
    {
        match self.resolve_ip(name, crate::dns::Family::Ipv4, timeout)? {
            core::net::IpAddr::V4(a) => Ok(a),
            core::net::IpAddr::V6(_) => Err(crate::dns::DnsError::Unsupported),
        }
    }

    /// Like [`BlockingStack::resolve`], for an address of `family` (see
    /// `Stack::resolve_ip`: AAAA records for IPv6).
    #[cfg(feature = "dns")]
    pub fn resolve_ip(
        &self,
        name: &str,
        family: crate::dns::Family,
        timeout: Option<StdDuration>,
    ) -> Result<core::net::IpAddr, crate::dns::DnsError>
    where
        T: crate::socket::Resolve,
    {
        use crate::dns::DnsError;
        let q = self
            .with(|s| s.start_resolve(name, family))
            .map_err(|_| DnsError::InvalidHandle)??;
        let mut out = None;
        let done = self.wait_for(timeout, |s| match s.poll_resolve(&q) {
            core::task::Poll::Ready(r) => {
                out = Some(r);
                true
            }
            core::task::Poll::Pending => false,
        });
        let _ = self.with(|s| s.cancel_resolve(q));
        match (done, out) {
            (Ok(true), Some(r)) => r,
            (Ok(false), _) => Err(DnsError::TimedOut),
            _ => Err(DnsError::InvalidHandle),
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
        self.halted.store(false, Ordering::SeqCst);
        let mut seen = None;
        loop {
            if self.stop.swap(false, Ordering::SeqCst) {
                self.halted.store(true, Ordering::SeqCst);
                self.changed.notify_all();
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

    /// The stack thread inside a [`std::thread::scope`]: moves `device` to a scoped
    /// thread that runs the stack, and returns a guard that stops it when dropped — at
    /// the end of the scope's closure, on an early return, or while a panic unwinds —
    /// so the scope never waits for a stack thread nobody will stop. Calls still blocked
    /// in other threads then fail with `ConnectionAborted`. [`StackThread::stop`] stops
    /// it and gives the device back.
    pub fn spawn_scoped<'scope, 'env, D: Send + 'scope>(
        &'env self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        mut device: D,
    ) -> StackThread<'scope, 'env, T, D>
    where
        T: Drive<D>,
    {
        // Calls made before the thread gets going wait for it rather than fail.
        self.halted.store(false, Ordering::SeqCst);
        let handle = scope.spawn(move || {
            self.run(&mut device);
            device
        });
        StackThread {
            net: self,
            handle: Some(handle),
        }
    }

    /// A `'static` stack thread for programs: moves `device` to a new thread that runs
    /// the stack until [`stop`](Self::stop), and returns it then. The stack must be
    /// `'static` too (a `static_cell` or `Box::leak`).
    pub fn spawn<D: Send + 'static>(&'static self, mut device: D) -> std::thread::JoinHandle<D>
    where
        T: Drive<D> + 'static,
    {
        self.halted.store(false, Ordering::SeqCst);
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
    pub fn connect(&self, remote: SocketAddr) -> io::Result<TcpStream<'_, 'a>> {
        self.open(|set| set.connect(remote))
    }

    /// Like [`connect`](Self::connect), failing with `TimedOut` if the connection is not
    /// established within `timeout` (the stack's timers count it; the half-open
    /// connection is closed). A zero timeout is `InvalidInput`, as in `std::net`.
    pub fn connect_timeout(
        &self,
        remote: SocketAddr,
        timeout: StdDuration,
    ) -> io::Result<TcpStream<'_, 'a>> {
        check_timeout(Some(timeout))?;
        self.open(|set| set.connect_timeout(remote, timeout.into()))
    }

    fn open(
        &self,
        start: impl FnOnce(&mut SocketSet<'a>) -> crate::Result<CoreStream<'a>>,
    ) -> io::Result<TcpStream<'_, 'a>> {
        let mut start = Some(start);
        let mut made = None;
        self.block(None, &mut |set| {
            made = start.take().map(|f| f(set));
            Step::DoneKick
        })?;
        let inner = made.ok_or(Error::WouldBlock)??;
        let s = TcpStream::new(inner, self);
        let mut result = Ok(());
        let core = s.inner.as_ref().ok_or(Error::InvalidHandle)?;
        let done = self.block(None, &mut |set| match core.state(set) {
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
                Step::Wait if self.halted.load(Ordering::SeqCst) => {
                    return Err(Error::ConnectionAborted);
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

/// Stops the stack thread of [`BlockingStack::spawn_scoped`] when dropped.
#[must_use = "dropping the guard stops the stack thread at once"]
pub struct StackThread<'scope, 'env, T, D> {
    net: &'env BlockingStack<T>,
    handle: Option<std::thread::ScopedJoinHandle<'scope, D>>,
}

impl<T, D> StackThread<'_, '_, T, D> {
    /// Stops the stack thread, waits for it, and gives the device back.
    pub fn stop(mut self) -> D {
        self.net.stop();
        let handle = self.handle.take();
        match handle.map(|h| h.join()) {
            Some(Ok(device)) => device,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => unreachable!("the handle is taken only here and in drop"),
        }
    }
}

impl<T, D> Drop for StackThread<'_, '_, T, D> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.net.stop();
            // A panic of the stack thread reaches the scope, which re-raises it.
            let _ = h.join();
        }
    }
}

/// A blocking TCP connection: [`io::Read`], [`io::Write`], timeouts, `shutdown`,
/// [`split`](Self::split) into halves for two threads. Not `Clone`; `close` and `abort`
/// consume it; dropping it closes the connection.
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'n, 'a> {
    inner: Option<CoreStream<'a>>,
    net: &'n dyn Core<'a>,
    read_timeout: Option<StdDuration>,
    write_timeout: Option<StdDuration>,
}

/// The reading half of a split [`TcpStream`] ([`io::Read`], with the stream's read
/// timeout).
pub struct ReadHalf<'h, 'n, 'a> {
    inner: Option<&'h CoreStream<'a>>,
    net: &'n dyn Core<'a>,
    timeout: Option<StdDuration>,
}

/// The writing half of a split [`TcpStream`] ([`io::Write`], `wait_acked`,
/// `shutdown_write`, with the stream's write timeout).
pub struct WriteHalf<'h, 'n, 'a> {
    inner: Option<&'h CoreStream<'a>>,
    net: &'n dyn Core<'a>,
    timeout: Option<StdDuration>,
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

/// Runs `f` once with the lock held; kicks the stack thread if it left output.
fn run_once<'a, R>(net: &dyn Core<'a>, f: impl FnOnce(&mut SocketSet<'a>) -> R) -> io::Result<R> {
    let mut f = Some(f);
    let mut out = None;
    net.block(None, &mut |set| {
        out = f.take().map(|f| f(set));
        if has_output(set) {
            Step::DoneKick
        } else {
            Step::Done
        }
    })?;
    Ok(out.ok_or(Error::WouldBlock)?)
}

/// Runs `f` once on the core handle with the lock held.
fn once<'a, R>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    f: impl FnOnce(&CoreStream<'a>, &mut SocketSet<'a>) -> R,
) -> io::Result<R> {
    let inner = inner.ok_or(Error::InvalidHandle)?;
    run_once(net, |set| f(inner, set))
}

/// Blocks on `op` until it returns something other than `WouldBlock` (a read or a write:
/// `Ok(n)`; `wait_acked`: `Ok(1)`), or `timeout` passes (`WouldBlock`, as on Unix).
fn blocking<'a>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    timeout: Option<StdDuration>,
    mut op: impl FnMut(&CoreStream<'a>, &mut SocketSet<'a>) -> crate::Result<usize>,
) -> io::Result<usize> {
    let deadline = timeout.map(|t| StdInstant::now() + t);
    let inner = inner.ok_or(Error::InvalidHandle)?;
    let mut out = None;
    let done = net.block(deadline, &mut |set| match op(inner, set) {
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

/// `wait_acked` of a stream or its writing half.
fn wait_acked<'a>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    timeout: Option<StdDuration>,
) -> io::Result<()> {
    blocking(net, inner, timeout, |s, set| match s.is_acked(set) {
        Ok(true) => Ok(1),
        Ok(false) if s.state(set) == State::Closed => Ok(1),
        Ok(false) => Err(Error::WouldBlock),
        Err(e) => Err(e),
    })
    .map(drop)
}

impl<'n, 'a> TcpStream<'n, 'a> {
    fn new(inner: CoreStream<'a>, net: &'n dyn Core<'a>) -> Self {
        TcpStream {
            inner: Some(inner),
            net,
            read_timeout: None,
            write_timeout: None,
        }
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

    /// How long `write` (and `wait_acked`) block before failing with `WouldBlock`.
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

    /// Shuts down the write side (a FIN after the queued data), the read side (what was
    /// received is discarded and `read` returns end of stream), or both. Takes
    /// `std::net::Shutdown` or [`Shutdown`].
    pub fn shutdown(&mut self, how: impl Into<Shutdown>) -> io::Result<()> {
        let how = how.into();
        Ok(once(self.net, self.inner.as_ref(), |s, set| {
            s.shutdown_shared(set, how)
        })??)
    }

    /// Waits until the peer has acknowledged everything written (and our FIN, after a
    /// `shutdown`), up to the write timeout (`WouldBlock` then); the connection's error
    /// if it fails first. (`flush` only hands the data to the stack.)
    pub fn wait_acked(&mut self) -> io::Result<()> {
        wait_acked(self.net, self.inner.as_ref(), self.write_timeout)
    }

    /// Lends a reader and a writer half with this stream's timeouts, so that one thread
    /// reads while another writes (`std::thread::scope`). The stream stays the owner.
    pub fn split(&mut self) -> (ReadHalf<'_, 'n, 'a>, WriteHalf<'_, 'n, 'a>) {
        let (inner, net) = (self.inner.as_ref(), self.net);
        (
            ReadHalf {
                inner,
                net,
                timeout: self.read_timeout,
            },
            WriteHalf {
                inner,
                net,
                timeout: self.write_timeout,
            },
        )
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        Ok(self.with(|s, set| s.set_nodelay(set, nodelay))??)
    }

    /// Sets keep-alive probing (`None`: off).
    pub fn set_keepalive(&mut self, keepalive: Option<Keepalive>) -> io::Result<()> {
        Ok(self.with(|s, set| s.set_keepalive(set, keepalive))??)
    }

    /// Sets the RFC 5482 user timeout.
    pub fn set_user_timeout(&mut self, timeout: Option<StdDuration>) -> io::Result<()> {
        let timeout = timeout.map(Into::into);
        Ok(self.with(|s, set| s.set_user_timeout(set, timeout))??)
    }

    /// Selects the congestion control algorithm of this connection.
    pub fn set_congestion_control(&mut self, alg: Algorithm) -> io::Result<()> {
        Ok(self.with(|s, set| s.set_congestion_control(set, alg))??)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(once(self.net, self.inner.as_ref(), |s, set| {
            s.peer_addr(set)
        })??)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(once(self.net, self.inner.as_ref(), |s, set| {
            s.local_addr(set)
        })??)
    }

    /// The TCP state.
    pub fn state(&self) -> State {
        once(self.net, self.inner.as_ref(), |s, set| s.state(set)).unwrap_or(State::Closed)
    }

    /// What the stream is ready for now.
    pub fn readiness(&self) -> Readiness {
        once(self.net, self.inner.as_ref(), |s, set| s.readiness(set))
            .unwrap_or(Readiness::ERROR | Readiness::CLOSED)
    }

    /// Any other call on the core handle, with the lock held.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut CoreStream<'a>, &mut SocketSet<'a>) -> R,
    ) -> io::Result<R> {
        let inner = self.inner.as_mut().ok_or(Error::InvalidHandle)?;
        run_once(self.net, |set| f(inner, set))
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
}

impl io::Read for TcpStream<'_, '_> {
    /// Blocks until there are bytes, the end of the stream (`Ok(0)`), or an error; after a
    /// reset or timeout the buffered bytes come first. With a read timeout, `WouldBlock`
    /// once it passes.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.split().0.read(buf)
    }
}

impl io::Write for TcpStream<'_, '_> {
    /// Blocks until at least one byte fits in the send buffer; the stack thread is kicked
    /// so it goes out at once. With a write timeout, `WouldBlock` once it passes.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.split().1.write(buf)
    }

    /// Everything written is handed to the stack, which sends it without further calls
    /// (as `std::net::TcpStream`'s flush, it does not wait for the peer:
    /// [`wait_acked`](TcpStream::wait_acked) does). The connection's error if it failed.
    fn flush(&mut self) -> io::Result<()> {
        self.split().1.flush()
    }
}

impl io::Read for ReadHalf<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        blocking(self.net, self.inner, self.timeout, |s, set| {
            s.read_shared(set, buf)
        })
    }
}

impl WriteHalf<'_, '_, '_> {
    /// [`TcpStream::wait_acked`].
    pub fn wait_acked(&mut self) -> io::Result<()> {
        wait_acked(self.net, self.inner, self.timeout)
    }

    /// Half-closes: a FIN follows the queued data.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(once(self.net, self.inner, |s, set| {
            s.shutdown_shared(set, Shutdown::Write)
        })??)
    }
}

impl io::Write for WriteHalf<'_, '_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.inner.ok_or(Error::InvalidHandle)?;
            return Ok(0);
        }
        blocking(self.net, self.inner, self.timeout, |s, set| {
            s.write_shared(set, buf)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(once(self.net, self.inner, |s, set| s.flush_shared(set))??)
    }
}

impl<'n, 'a> TcpListener<'n, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    /// Blocks until an established connection waits, and takes it.
    pub fn accept(&self) -> io::Result<(TcpStream<'n, 'a>, SocketAddr)> {
        self.accept_timeout(None)
    }

    /// Like [`accept`](Self::accept), failing with `WouldBlock` after `timeout`.
    pub fn accept_timeout(
        &self,
        timeout: Option<StdDuration>,
    ) -> io::Result<(TcpStream<'n, 'a>, SocketAddr)> {
        let inner = self.inner.as_ref().ok_or(Error::InvalidHandle)?;
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut out = None;
        let done = self
            .net
            .block(deadline, &mut |set| match inner.accept(set) {
                Err(Error::WouldBlock) => Step::Wait,
                r => {
                    out = Some(r);
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

impl embedded_io::ErrorType for TcpStream<'_, '_> {
    type Error = Error;
}

/// The blocking `embedded-io` traits, with the same meaning as the `std::io` ones above
/// (an `std::io` error that is not one of tidytcp's, such as a timeout, maps to
/// `TimedOut` or `WouldBlock`).
impl embedded_io::Read for TcpStream<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        io::Read::read(self, buf).map_err(to_error)
    }
}

impl embedded_io::Write for TcpStream<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        io::Write::write(self, buf).map_err(to_error)
    }

    fn flush(&mut self) -> Result<(), Error> {
        io::Write::flush(self).map_err(to_error)
    }
}

/// tidytcp's error inside an `std::io::Error`, or the nearest one.
fn to_error(e: io::Error) -> Error {
    let kind = e.kind();
    match e.into_inner().and_then(|b| b.downcast::<Error>().ok()) {
        Some(inner) => *inner,
        None if kind == io::ErrorKind::WouldBlock => Error::WouldBlock,
        None => Error::TimedOut,
    }
}
