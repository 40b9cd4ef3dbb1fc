//! The async adapter (`no_std`, no allocation, any executor): `connect().await`,
//! `accept().await`, and `embedded-io-async` `Read`/`Write` on [`TcpStream`].
//!
//! An [`AsyncStack`] keeps the stack and a fixed table of [`Waker`]s behind one
//! critical-section lock. A future that finds nothing to do registers its waker under the
//! slot's index *and generation*; after every call made through [`AsyncStack::with`]
//! (the stack's `poll` among them) the readiness events of the socket set
//! ([`SocketSet::take_events`]) wake the tasks they concern. A waker left from a closed
//! connection is dropped, never woken, when the slot's next connection reports events.
//! Wakers are woken after the lock is released, at most eight at a time.
//!
//! The network task polls the stack when a deadline passes, a frame arrives, or
//! [`AsyncStack::needs_poll`] completes (a handle queued data, closed, or was dropped):
//!
//! ```
//! use futures::future::{select, join, Either};
//! use futures::executor::block_on;
//! use static_cell::StaticCell;
//! use tidytcp::drivers::Loopback;
//! use tidytcp::socket::asynch::AsyncStack;
//! use tidytcp::socket::SocketStorage;
//! use tidytcp::stack::{Config, Stack};
//! use tidytcp::{Duration, Instant};
//! use embedded_io_async::{Read, Write};
//!
//! type Net = AsyncStack<Stack<'static>, 4, 1>; // waker room for 4 connections, 1 listener
//! static STORAGE: StaticCell<SocketStorage<4, 1, 2048, 2048>> = StaticCell::new();
//! static NET: StaticCell<Net> = StaticCell::new();
//!
//! let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [9; 16]);
//! let net: &'static Net = NET.init(AsyncStack::new(Stack::new(cfg, STORAGE.init(SocketStorage::new()))));
//!
//! let server = async {
//!     let listener = net.listen(7, 1)?;
//!     let (mut conn, _peer) = listener.accept().await?;
//!     let mut buf = [0; 64];
//!     let n = conn.read(&mut buf).await?;
//!     conn.write_all(&buf[..n]).await?;
//!     conn.wait_acked().await?; // until the peer has acknowledged it all
//!     conn.close();
//!     Ok::<(), tidytcp::Error>(())
//! };
//! let client = async {
//!     let mut conn = net.connect("127.0.0.1:7".parse().unwrap()).await?;
//!     conn.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     conn.read_exact(&mut buf).await.map_err(|_| tidytcp::Error::ConnectionReset)?;
//!     conn.close();
//!     Ok::<[u8; 4], tidytcp::Error>(buf)
//! };
//! // The network task: poll, then sleep until a handle needs the stack (a real one also
//! // wakes for the next deadline and for the device's interrupt).
//! let driver = async {
//!     let mut dev = Loopback::<8>::new();
//!     let mut now = Instant::ZERO;
//!     loop {
//!         net.with(|stack| stack.poll(now, &mut dev)).unwrap();
//!         net.needs_poll().await;
//!         now += Duration::from_millis(1);
//!     }
//! };
//! let apps = join(server, client);
//! let Either::Left(((s, c), _)) = block_on(select(Box::pin(apps), Box::pin(driver))) else { unreachable!() };
//! s.unwrap();
//! assert_eq!(&c.unwrap(), b"ping");
//! ```

use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::{Context, Poll, Waker};

use super::handle::{Readiness, Shutdown, SocketId};
use super::lock::Lock;
use super::{SocketSet, TcpListener as CoreListener, TcpStream as CoreStream};
use crate::error::{Capacity, Error, Result};
use crate::tcp::cc::Algorithm;
use crate::tcp::{Events, Keepalive, State};
use crate::time::Duration;

/// Wakers woken per pass outside the lock.
const BATCH: usize = 8;

/// The wakers of one connection slot, for one generation of it.
#[derive(Default)]
struct StreamWakers {
    generation: u16,
    read: Option<Waker>,
    write: Option<Waker>,
    wake_read: bool,
    wake_write: bool,
}

impl StreamWakers {
    const EMPTY: StreamWakers = StreamWakers {
        generation: 0,
        read: None,
        write: None,
        wake_read: false,
        wake_write: false,
    };
}

/// The waker of one listener slot, for one generation of it.
struct ListenerWakers {
    generation: u16,
    accept: Option<Waker>,
    wake: bool,
}

impl ListenerWakers {
    const EMPTY: ListenerWakers = ListenerWakers {
        generation: 0,
        accept: None,
        wake: false,
    };
}

/// The network task's waker and the flag that says a handle needs the stack.
struct Driver {
    waker: Option<Waker>,
    activity: bool,
    /// Some entry has a waker to wake.
    pending: bool,
}

/// Tasks waiting in [`AsyncStack::wait_for`] or [`AsyncStack::resolve`] at once; more
/// are polled again at every executor turn instead of waiting.
const WAITERS: usize = 4;

struct Inner<T, const N: usize, const L: usize> {
    stack: T,
    streams: [StreamWakers; N],
    listeners: [ListenerWakers; L],
    driver: Driver,
    /// Tasks to wake whenever the socket set's epoch moves (anything a caller may wait
    /// for changed: a DNS answer, an address, a connection).
    waiters: [Option<Waker>; WAITERS],
}

/// The waker table as the handles see it, whatever its size.
pub(crate) struct Table<'w> {
    streams: &'w mut [StreamWakers],
    listeners: &'w mut [ListenerWakers],
    driver: &'w mut Driver,
}

impl Table<'_> {
    /// The entry of stream `id`; an entry left by an older connection of the slot is
    /// cleared (its wakers dropped unwoken). `None` if the table is too small.
    fn stream(&mut self, id: SocketId) -> Option<&mut StreamWakers> {
        let e = self.streams.get_mut(usize::from(id.index))?;
        if e.generation != id.generation {
            *e = StreamWakers {
                generation: id.generation,
                ..StreamWakers::EMPTY
            };
        }
        Some(e)
    }

    fn listener(&mut self, id: SocketId) -> Option<&mut ListenerWakers> {
        let e = self.listeners.get_mut(usize::from(id.index))?;
        if e.generation != id.generation {
            *e = ListenerWakers {
                generation: id.generation,
                ..ListenerWakers::EMPTY
            };
        }
        Some(e)
    }

    /// A handle changed something the stack must act on.
    fn signal(&mut self) {
        self.driver.activity = true;
    }

    /// Signals if the socket set has output or resets waiting for a poll.
    fn signal_if_output(&mut self, set: &SocketSet<'_>) {
        if set.first_dirty().is_some() || set.has_pending_rst() {
            self.signal();
        }
    }
}

/// What a look under the lock found: `Some(true)` ready, `Some(false)` not yet (a waker
/// is registered), `None` the lock was held further up this call stack (look again at
/// the next turn).
fn ready_if(found: Option<bool>, cx: &Context<'_>) -> Poll<()> {
    match found {
        Some(true) => Poll::Ready(()),
        Some(false) => Poll::Pending,
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Stores `w` in `slot` unless it already holds a waker for the same task.
fn register(slot: &mut Option<Waker>, w: &Waker) {
    match slot {
        Some(old) if old.will_wake(w) => {}
        _ => *slot = Some(w.clone()),
    }
}

/// A stack and its waker table behind a critical-section lock.
///
/// `N` and `L` are the number of connection and listener slots the waker table covers:
/// at least those of the stack's storage (a handle whose slot lies beyond fails with
/// [`Error::Exhausted`] ([`Capacity::Wakers`]) instead of waiting). Put it in a `static`
/// with `static_cell`.
pub struct AsyncStack<T, const N: usize, const L: usize> {
    lock: Lock<Inner<T, N, L>>,
}

/// How async handles reach the stack and the waker table without naming their types.
pub(crate) trait Core<'a>: Sync {
    /// Runs `f` with the lock held, then wakes the network task if `f` signalled; false
    /// if the lock is already held further up this call stack.
    fn access(&self, f: &mut dyn FnMut(&mut SocketSet<'a>, &mut Table<'_>)) -> bool;
}

impl<'a, T: AsMut<SocketSet<'a>> + Send, const N: usize, const L: usize> Core<'a>
    for AsyncStack<T, N, L>
{
    fn access(&self, f: &mut dyn FnMut(&mut SocketSet<'a>, &mut Table<'_>)) -> bool {
        let wake = self.lock.try_with(|inner| {
            let Inner {
                stack,
                streams,
                listeners,
                driver,
                ..
            } = inner;
            f(
                stack.as_mut(),
                &mut Table {
                    streams,
                    listeners,
                    driver,
                },
            );
            if driver.activity {
                driver.waker.take()
            } else {
                None
            }
        });
        match wake {
            Some(w) => {
                if let Some(w) = w {
                    w.wake();
                }
                true
            }
            None => false,
        }
    }
}

/// Runs `f` through the lock; `None` if it is held further up this call stack.
fn run<'a, R>(
    net: &dyn Core<'a>,
    f: impl FnOnce(&mut SocketSet<'a>, &mut Table<'_>) -> R,
) -> Option<R> {
    let mut f = Some(f);
    let mut out = None;
    net.access(&mut |set, t| {
        if let Some(f) = f.take() {
            out = Some(f(set, t));
        }
    });
    out
}

/// `run` for a future's poll: a held lock means "try again" (the holder is a
/// synchronous call that will have returned by the time the task runs again).
fn run_poll<'a, R>(
    net: &dyn Core<'a>,
    cx: &Context<'_>,
    f: impl FnOnce(&mut SocketSet<'a>, &mut Table<'_>) -> Poll<R>,
) -> Poll<R> {
    run(net, f).unwrap_or_else(|| {
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

impl<T, const N: usize, const L: usize> AsyncStack<T, N, L> {
    /// Puts `stack` behind the lock with an empty waker table.
    #[cfg(not(loom))]
    pub const fn new(stack: T) -> Self {
        AsyncStack {
            lock: Lock::new(Self::inner(stack)),
        }
    }

    /// Puts `stack` behind the lock with an empty waker table.
    #[cfg(loom)]
    pub fn new(stack: T) -> Self {
        AsyncStack {
            lock: Lock::new(Self::inner(stack)),
        }
    }

    const fn inner(stack: T) -> Inner<T, N, L> {
        Inner {
            stack,
            streams: [const { StreamWakers::EMPTY }; N],
            listeners: [const { ListenerWakers::EMPTY }; L],
            driver: Driver {
                waker: None,
                activity: false,
                pending: false,
            },
            waiters: [const { None }; WAITERS],
        }
    }

    /// Completes when a handle has done something the stack must act on since the last
    /// time it completed (queued data, read data that opens the window, closed, aborted,
    /// connected, dropped): the network task awaits it beside its timer and its device.
    pub async fn needs_poll(&self) {
        poll_fn(|cx| self.poll_activity(cx)).await
    }

    /// Ready if a handle needed the stack since the last call (and clears it); if not,
    /// `cx`'s task is woken when one does (or at once if the lock is held elsewhere).
    pub(crate) fn poll_activity(&self, cx: &Context<'_>) -> Poll<()> {
        let r = self.lock.try_with(|inner| {
            if core::mem::take(&mut inner.driver.activity) {
                true
            } else {
                register(&mut inner.driver.waker, cx.waker());
                false
            }
        });
        ready_if(r, cx)
    }

    /// Whether a handle needed the stack since the last call (and clears it): the
    /// `needs_poll` of a super-loop that runs its executor and the stack in turn.
    pub fn take_activity(&self) -> bool {
        self.lock
            .try_with(|inner| core::mem::take(&mut inner.driver.activity))
            .unwrap_or(false)
    }
}

impl<'a, T: AsMut<SocketSet<'a>> + Send, const N: usize, const L: usize> AsyncStack<T, N, L> {
    /// Runs `f` on the stack with the lock held — `stack.poll(now, &mut device)`, or a
    /// look at its counters or socket table — then wakes every task whose socket became
    /// readable, writable or closed. `WouldBlock` if called from inside another `with`.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R> {
        let mut waiters: [Option<Waker>; WAITERS] = [const { None }; WAITERS];
        let r = self.lock.try_with(|inner| {
            let before = inner.stack.as_mut().epoch();
            let r = f(&mut inner.stack);
            Self::mark(inner);
            if inner.stack.as_mut().epoch() != before {
                waiters = core::mem::replace(&mut inner.waiters, [const { None }; WAITERS]);
            }
            r
        });
        self.wake_marked();
        waiters.into_iter().flatten().for_each(Waker::wake);
        r.ok_or(Error::WouldBlock)
    }

    /// Waits until `pred` holds for the stack, re-checking it whenever the socket set's
    /// epoch moves (the network task's polls bring every change: a DNS answer, a new
    /// address, a connection's progress). For example, until the address changes:
    /// `net.wait_for(|s| s.address_epoch() != seen).await`.
    pub async fn wait_for(&self, mut pred: impl FnMut(&mut T) -> bool) {
        poll_fn(|cx| self.poll_until(cx, &mut pred)).await
    }

    /// One look for [`wait_for`](Self::wait_for): `Ready` if `pred` holds, or the task
    /// waits for the next change.
    fn poll_until(&self, cx: &Context<'_>, pred: &mut impl FnMut(&mut T) -> bool) -> Poll<()> {
        let r = self.lock.try_with(|inner| {
            if pred(&mut inner.stack) {
                return true;
            }
            let ws = &mut inner.waiters;
            if !ws.iter().flatten().any(|w| w.will_wake(cx.waker())) {
                match ws.iter_mut().find(|w| w.is_none()) {
                    Some(free) => *free = Some(cx.waker().clone()),
                    None => cx.waker().wake_by_ref(), // no room: look again next turn
                }
            }
            false
        });
        ready_if(r, cx)
    }

    /// Resolves `name` to an IPv4 address with the stack's resolver (feature `dns`): an
    /// address literal or a cached name at once, otherwise when the answer comes (the
    /// network task is woken to send the query). Dropping the future gives the query up.
    #[cfg(feature = "dns")]
    pub async fn resolve(
        &self,
        name: &str,
    ) -> core::result::Result<core::net::Ipv4Addr, crate::dns::DnsError>
    where
        T: crate::socket::Resolve,
    {
        match self.resolve_ip(name, crate::dns::Family::Ipv4).await? {
            core::net::IpAddr::V4(a) => Ok(a),
            core::net::IpAddr::V6(_) => Err(crate::dns::DnsError::Unsupported),
        }
    }

    /// Like [`AsyncStack::resolve`], for an address of `family` (see
    /// `Stack::resolve_ip`: AAAA records for IPv6).
    #[cfg(feature = "dns")]
    pub async fn resolve_ip(
        &self,
        name: &str,
        family: crate::dns::Family,
    ) -> core::result::Result<core::net::IpAddr, crate::dns::DnsError>
    where
        T: crate::socket::Resolve,
    {
        use crate::dns::DnsError;
        let started = self.lock.try_with(|inner| {
            let q = inner.stack.start_resolve(name, family);
            inner.driver.activity = true;
            (q, inner.driver.waker.take())
        });
        let Some((q, driver)) = started else {
            return Err(DnsError::NoQuerySlot);
        };
        if let Some(w) = driver {
            w.wake();
        }
        let query = Query {
            net: self,
            handle: Some(q?),
        };
        let mut result = None;
        self.wait_for(|s| match query.handle.as_ref().map(|q| s.poll_resolve(q)) {
            Some(Poll::Ready(r)) => {
                result = Some(r);
                true
            }
            Some(Poll::Pending) => false,
            None => true,
        })
        .await;
        result.unwrap_or(Err(DnsError::InvalidHandle))
    }

    /// Takes the socket set's events and marks the wakers they concern.
    fn mark(inner: &mut Inner<T, N, L>) {
        let Inner {
            stack,
            streams,
            listeners,
            driver,
            ..
        } = inner;
        let any = core::cell::Cell::new(false);
        stack.as_mut().take_events(
            |i, generation, ev| {
                let Some(e) = streams.get_mut(i) else { return };
                if e.generation != generation {
                    // Left by an older connection in this slot: never woken.
                    *e = StreamWakers {
                        generation,
                        ..StreamWakers::EMPTY
                    };
                    return;
                }
                let done = Events::CLOSED | Events::ERROR | Events::CONNECTED;
                if ev.intersects(Events::RECV | done) && e.read.is_some() {
                    e.wake_read = true;
                    any.set(true);
                }
                if ev.intersects(Events::SEND | done) && e.write.is_some() {
                    e.wake_write = true;
                    any.set(true);
                }
            },
            |li, generation| {
                let Some(e) = listeners.get_mut(li) else {
                    return;
                };
                if e.generation != generation {
                    *e = ListenerWakers {
                        generation,
                        ..ListenerWakers::EMPTY
                    };
                } else if e.accept.is_some() {
                    e.wake = true;
                    any.set(true);
                }
            },
        );
        driver.pending |= any.get();
    }

    /// Wakes the marked wakers, a batch at a time, with the lock released.
    fn wake_marked(&self) {
        loop {
            let mut batch: [Option<Waker>; BATCH] = [const { None }; BATCH];
            let more = self
                .lock
                .try_with(|inner| {
                    if !inner.driver.pending {
                        return false;
                    }
                    let mut n = 0;
                    let mut take = |flag: &mut bool, w: &mut Option<Waker>| {
                        if *flag && n < BATCH {
                            *flag = false;
                            batch[n] = w.take();
                            n += 1;
                        }
                    };
                    for e in inner.streams.iter_mut() {
                        take(&mut e.wake_read, &mut e.read);
                        take(&mut e.wake_write, &mut e.write);
                    }
                    for e in inner.listeners.iter_mut() {
                        take(&mut e.wake, &mut e.accept);
                    }
                    let more = n == BATCH;
                    inner.driver.pending = more;
                    more
                })
                .unwrap_or(false);
            for w in batch.into_iter().flatten() {
                w.wake();
            }
            if !more {
                break;
            }
        }
    }

    /// Opens a listener ([`SocketSet::listen`]).
    pub fn listen(&self, port: u16, backlog: usize) -> Result<TcpListener<'_, 'a>> {
        let inner = run(self, |set, _| set.listen(port, backlog)).ok_or(Error::WouldBlock)??;
        Ok(TcpListener {
            inner: Some(inner),
            net: self,
        })
    }

    /// Connects to `remote` and waits until the connection is established, or fails with
    /// the reason (`ConnectionRefused`, `TimedOut`, `HostUnreachable`). Dropping the
    /// future closes the half-open connection.
    pub async fn connect<'n>(&'n self, remote: SocketAddr) -> Result<TcpStream<'n, 'a>>
    where
        'a: 'n,
    {
        self.open(|set| set.connect(remote)).await
    }

    /// Like [`connect`](Self::connect), failing with `TimedOut` if the connection is not
    /// established within `timeout` (the stack's own timers count it: no timer is needed
    /// in the executor).
    pub async fn connect_timeout<'n>(
        &'n self,
        remote: SocketAddr,
        timeout: impl Into<Duration>,
    ) -> Result<TcpStream<'n, 'a>>
    where
        'a: 'n,
    {
        let timeout = timeout.into();
        self.open(|set| set.connect_timeout(remote, timeout)).await
    }

    async fn open<'n>(
        &'n self,
        start: impl FnOnce(&mut SocketSet<'a>) -> Result<CoreStream<'a>>,
    ) -> Result<TcpStream<'n, 'a>>
    where
        'a: 'n,
    {
        let net: &dyn Core<'a> = self;
        let inner = run(net, |set, t| {
            let r = start(set);
            t.signal();
            r
        })
        .ok_or(Error::WouldBlock)??;
        let s = TcpStream {
            inner: Some(inner),
            net,
        };
        poll_fn(|cx| s.poll_established(cx)).await?;
        Ok(s)
    }
}

/// A query of [`AsyncStack::resolve`], given up if the future is dropped first.
#[cfg(feature = "dns")]
struct Query<'n, T: crate::socket::Resolve, const N: usize, const L: usize> {
    net: &'n AsyncStack<T, N, L>,
    handle: Option<crate::dns::QueryHandle>,
}

#[cfg(feature = "dns")]
impl<T: crate::socket::Resolve, const N: usize, const L: usize> Drop for Query<'_, T, N, L> {
    fn drop(&mut self) {
        if let Some(q) = self.handle.take() {
            // A finished query is freed by this too; a held lock leaves it to expire.
            let _ = self
                .net
                .lock
                .try_with(|inner| inner.stack.cancel_resolve(q));
        }
    }
}

/// A connection of an [`AsyncStack`]. Not `Clone`; `close` and `abort` consume it;
/// dropping it closes the connection (the network task is woken to do it).
/// [`split`](Self::split) lends a reader and a writer half to two tasks.
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'n, 'a> {
    inner: Option<CoreStream<'a>>,
    net: &'n dyn Core<'a>,
}

/// The reading half of a split [`TcpStream`]: `read`, `embedded_io_async::Read`.
pub struct ReadHalf<'h, 'n, 'a> {
    inner: Option<&'h CoreStream<'a>>,
    net: &'n dyn Core<'a>,
}

/// The writing half of a split [`TcpStream`]: `write`, `flush`, `wait_acked`,
/// `shutdown_write`, `embedded_io_async::Write`.
pub struct WriteHalf<'h, 'n, 'a> {
    inner: Option<&'h CoreStream<'a>>,
    net: &'n dyn Core<'a>,
}

/// A listener of an [`AsyncStack`]. Dropping it closes it.
#[must_use = "dropping a TcpListener closes it"]
pub struct TcpListener<'n, 'a> {
    inner: Option<CoreListener<'a>>,
    net: &'n dyn Core<'a>,
}

impl core::fmt::Debug for TcpStream<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TcpStream")
            .field(&self.inner.as_ref().map(|s| s.id()))
            .finish()
    }
}

impl core::fmt::Debug for TcpListener<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TcpListener")
            .field(&self.inner.as_ref().map(|s| s.id()))
            .finish()
    }
}

impl Drop for TcpStream<'_, '_> {
    fn drop(&mut self) {
        // The core handle's drop marks the slot first; then the network task is woken
        // to close it.
        if let Some(inner) = self.inner.take() {
            drop(inner);
            run(self.net, |_, t| t.signal());
        }
    }
}

impl Drop for TcpListener<'_, '_> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop(inner);
            run(self.net, |_, t| t.signal());
        }
    }
}

/// Registers `cx`'s waker in the read or write entry of stream `id`; `Pending`, or
/// `Exhausted` if the waker table has no entry for the slot.
fn wait_on<R>(t: &mut Table<'_>, id: SocketId, cx: &Context<'_>, read: bool) -> Poll<Result<R>> {
    match t.stream(id) {
        Some(e) => {
            register(if read { &mut e.read } else { &mut e.write }, cx.waker());
            Poll::Pending
        }
        None => Poll::Ready(Err(Error::Exhausted(Capacity::Wakers))),
    }
}

/// One try of `op` (a read or a write) on `inner`: its result, or the task waits on the
/// read or write waker.
fn poll_io<'a>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    cx: &Context<'_>,
    read: bool,
    op: impl FnOnce(&CoreStream<'a>, &mut SocketSet<'a>) -> Result<usize>,
) -> Poll<Result<usize>> {
    let Some(inner) = inner else {
        return Poll::Ready(Err(Error::InvalidHandle));
    };
    run_poll(net, cx, |set, t| match op(inner, set) {
        Err(Error::WouldBlock) => wait_on(t, inner.id(), cx, read),
        r => {
            t.signal_if_output(set);
            Poll::Ready(r)
        }
    })
}

/// Ready when the peer has acknowledged everything written (and our FIN, if queued).
fn poll_acked<'a>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    cx: &Context<'_>,
) -> Poll<Result<()>> {
    let Some(inner) = inner else {
        return Poll::Ready(Err(Error::InvalidHandle));
    };
    run_poll(net, cx, |set, t| match inner.is_acked(set) {
        Ok(true) => Poll::Ready(Ok(())),
        Ok(false) if inner.state(set) == State::Closed => Poll::Ready(Ok(())),
        Ok(false) => wait_on(t, inner.id(), cx, false),
        Err(e) => Poll::Ready(Err(e)),
    })
}

/// Runs a call on the core handle with the lock held, then wakes the network task if
/// the call left output.
fn call<'a, R>(
    net: &dyn Core<'a>,
    inner: Option<&CoreStream<'a>>,
    f: impl FnOnce(&CoreStream<'a>, &mut SocketSet<'a>) -> Result<R>,
) -> Result<R> {
    let inner = inner.ok_or(Error::InvalidHandle)?;
    run(net, |set, t| {
        let r = f(inner, set);
        t.signal_if_output(set);
        r
    })
    .ok_or(Error::WouldBlock)?
}

impl<'n, 'a> TcpStream<'n, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    fn poll_established(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Some(inner) = self.inner.as_ref() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        run_poll(self.net, cx, |set, t| match inner.state(set) {
            State::SynSent | State::SynReceived => wait_on(t, inner.id(), cx, false),
            State::Closed => Poll::Ready(Err(inner.error(set).unwrap_or(Error::NotConnected))),
            _ => Poll::Ready(inner.error(set).map_or(Ok(()), Err)),
        })
    }

    /// Reads at least one byte, waiting for it; `Ok(0)` at the end of the stream; after a
    /// reset or timeout, the buffered bytes and then the error. Cancel-safe: a read
    /// future dropped before it completes has taken nothing.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let (mut r, _) = self.split();
        r.read(buf).await
    }

    /// Queues at least one byte, waiting for room; returns how many. Cancel-safe.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize> {
        let (_, mut w) = self.split();
        w.write(data).await
    }

    /// Everything written is handed to the stack ([`CoreStream::flush`]): returns at
    /// once, and the network task sends it without further calls. To wait until the
    /// peer has acknowledged it, [`wait_acked`](Self::wait_acked).
    pub async fn flush(&mut self) -> Result<()> {
        call(self.net, self.inner.as_ref(), |s, set| s.flush_shared(set))
    }

    /// Waits until the peer has acknowledged everything written (and our FIN, after a
    /// `shutdown`); the connection's error if it fails first.
    pub async fn wait_acked(&mut self) -> Result<()> {
        let (_, mut w) = self.split();
        w.wait_acked().await
    }

    /// Lends a reader and a writer half, so that one task reads while another writes
    /// (each waits on its own waker). The stream stays the owner: it is closed when it
    /// is closed or dropped, after the halves are gone.
    pub fn split(&mut self) -> (ReadHalf<'_, 'n, 'a>, WriteHalf<'_, 'n, 'a>) {
        let (inner, net) = (self.inner.as_ref(), self.net);
        (ReadHalf { inner, net }, WriteHalf { inner, net })
    }

    /// Shuts down the write side (a FIN after the queued data), the read side, or both.
    pub fn shutdown(&mut self, how: Shutdown) -> Result<()> {
        call(self.net, self.inner.as_ref(), |s, set| {
            s.shutdown_shared(set, how)
        })
    }

    /// Half-closes: a FIN follows the queued data; reading goes on.
    pub fn shutdown_write(&mut self) -> Result<()> {
        self.shutdown(Shutdown::Write)
    }

    /// What the stream is ready for now.
    pub fn readiness(&self) -> Readiness {
        call(self.net, self.inner.as_ref(), |s, set| Ok(s.readiness(set)))
            .unwrap_or(Readiness::ERROR | Readiness::CLOSED)
    }

    /// The TCP state.
    pub fn state(&self) -> State {
        call(self.net, self.inner.as_ref(), |s, set| Ok(s.state(set))).unwrap_or(State::Closed)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        call(self.net, self.inner.as_ref(), |s, set| s.local_addr(set))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        call(self.net, self.inner.as_ref(), |s, set| s.peer_addr(set))
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

    /// Any other call on the core handle, with the lock held (the network task is woken
    /// afterwards if the call left output to send).
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut CoreStream<'a>, &mut SocketSet<'a>) -> R,
    ) -> Result<R> {
        let inner = self.inner.as_mut().ok_or(Error::InvalidHandle)?;
        run(self.net, |set, t| {
            let r = f(inner, set);
            t.signal_if_output(set);
            r
        })
        .ok_or(Error::WouldBlock)
    }

    /// Closes the connection (orderly) and returns at once; the protocol finishes in the
    /// background.
    pub fn close(mut self) {
        if let Some(inner) = self.inner.take() {
            run(self.net, |set, t| {
                inner.close(set);
                t.signal();
            });
        }
    }

    /// Aborts the connection: a RST to the peer, and the slot is freed.
    pub fn abort(mut self) {
        if let Some(inner) = self.inner.take() {
            run(self.net, |set, t| {
                inner.abort(set);
                t.signal();
            });
        }
    }
}

impl<'a> ReadHalf<'_, '_, 'a> {
    /// [`TcpStream::read`].
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        poll_fn(|cx| {
            poll_io(self.net, self.inner, cx, true, |s, set| {
                s.read_shared(set, buf)
            })
        })
        .await
    }
}

impl<'a> WriteHalf<'_, '_, 'a> {
    /// [`TcpStream::write`].
    pub async fn write(&mut self, data: &[u8]) -> Result<usize> {
        poll_fn(|cx| {
            poll_io(self.net, self.inner, cx, false, |s, set| {
                s.write_shared(set, data)
            })
        })
        .await
    }

    /// [`TcpStream::flush`].
    pub async fn flush(&mut self) -> Result<()> {
        call(self.net, self.inner, |s, set| s.flush_shared(set))
    }

    /// [`TcpStream::wait_acked`].
    pub async fn wait_acked(&mut self) -> Result<()> {
        poll_fn(|cx| poll_acked(self.net, self.inner, cx)).await
    }

    /// [`TcpStream::shutdown_write`].
    pub fn shutdown_write(&mut self) -> Result<()> {
        call(self.net, self.inner, |s, set| {
            s.shutdown_shared(set, Shutdown::Write)
        })
    }
}

impl<'n, 'a> TcpListener<'n, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<(CoreStream<'a>, SocketAddr)>> {
        let Some(inner) = self.inner.as_ref() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let id = inner.id();
        run_poll(self.net, cx, |set, t| match inner.accept(set) {
            Err(Error::WouldBlock) => match t.listener(id) {
                Some(e) => {
                    register(&mut e.accept, cx.waker());
                    Poll::Pending
                }
                None => Poll::Ready(Err(Error::Exhausted(Capacity::Wakers))),
            },
            r => Poll::Ready(r),
        })
    }

    /// Waits for an established connection and takes it from the accept queue, with the
    /// peer's address.
    pub async fn accept(&self) -> Result<(TcpStream<'n, 'a>, SocketAddr)> {
        let (s, peer) = poll_fn(|cx| self.poll_accept(cx)).await?;
        let s = TcpStream {
            inner: Some(s),
            net: self.net,
        };
        Ok((s, peer))
    }

    /// Closes the listener; connections not yet accepted are reset and freed.
    pub fn close(mut self) {
        if let Some(inner) = self.inner.take() {
            run(self.net, |set, t| {
                inner.close(set);
                t.signal();
            });
        }
    }
}

impl embedded_io::ErrorType for TcpStream<'_, '_> {
    type Error = Error;
}

impl embedded_io::ErrorType for ReadHalf<'_, '_, '_> {
    type Error = Error;
}

impl embedded_io::ErrorType for WriteHalf<'_, '_, '_> {
    type Error = Error;
}

impl embedded_io_async::Read for TcpStream<'_, '_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        TcpStream::read(self, buf).await
    }
}

impl embedded_io_async::Read for ReadHalf<'_, '_, '_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        ReadHalf::read(self, buf).await
    }
}

/// `flush` hands the data to the stack and returns ([`TcpStream::flush`]);
/// [`TcpStream::wait_acked`] waits for the peer's acknowledgement.
impl embedded_io_async::Write for TcpStream<'_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        TcpStream::write(self, buf).await
    }

    async fn flush(&mut self) -> Result<()> {
        TcpStream::flush(self).await
    }
}

impl embedded_io_async::Write for WriteHalf<'_, '_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        WriteHalf::write(self, buf).await
    }

    async fn flush(&mut self) -> Result<()> {
        WriteHalf::flush(self).await
    }
}

impl embedded_io::ReadReady for TcpStream<'_, '_> {
    /// True when `read` would return at once: bytes, the end of the stream, or an error.
    fn read_ready(&mut self) -> Result<bool> {
        let r = self.readiness();
        Ok(r.intersects(Readiness::READABLE | Readiness::ERROR | Readiness::CLOSED))
    }
}

impl embedded_io::WriteReady for TcpStream<'_, '_> {
    /// True when `write` would return at once: room in the send buffer, or an error.
    fn write_ready(&mut self) -> Result<bool> {
        let r = self.readiness();
        Ok(r.intersects(Readiness::WRITABLE | Readiness::ERROR | Readiness::CLOSED))
    }
}
