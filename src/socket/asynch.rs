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
//! let mut cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap());
//! cfg.seed = [9; 16];
//! let net: &'static Net = NET.init(AsyncStack::new(Stack::new(cfg, STORAGE.init(SocketStorage::new()))));
//!
//! let server = async {
//!     let listener = net.listen(7, 1)?;
//!     let mut conn = listener.accept().await?;
//!     let mut buf = [0; 64];
//!     let n = conn.read(&mut buf).await?;
//!     conn.write_all(&buf[..n]).await?;
//!     conn.flush().await?; // until the peer has acknowledged it all
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
use core::net::SocketAddrV4;
use core::task::{Context, Poll, Waker};

use super::handle::{Readiness, SocketId};
use super::lock::Lock;
use super::{SocketSet, TcpListener as CoreListener, TcpStream as CoreStream};
use crate::error::{Error, Result};
use crate::tcp::{Events, State};

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

struct Inner<T, const N: usize, const L: usize> {
    stack: T,
    streams: [StreamWakers; N],
    listeners: [ListenerWakers; L],
    driver: Driver,
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
/// [`Error::Exhausted`] instead of waiting). Put it in a `static` with `static_cell`.
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
        }
    }

    /// Completes when a handle has done something the stack must act on since the last
    /// time it completed (queued data, read data that opens the window, closed, aborted,
    /// connected, dropped): the network task awaits it beside its timer and its device.
    pub async fn needs_poll(&self) {
        poll_fn(|cx| {
            let r = self.lock.try_with(|inner| {
                if core::mem::take(&mut inner.driver.activity) {
                    true
                } else {
                    register(&mut inner.driver.waker, cx.waker());
                    false
                }
            });
            match r {
                Some(true) => Poll::Ready(()),
                Some(false) => Poll::Pending,
                None => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
        })
        .await
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
        let r = self.lock.try_with(|inner| {
            let r = f(&mut inner.stack);
            Self::mark(inner);
            r
        });
        self.wake_marked();
        r.ok_or(Error::WouldBlock)
    }

    /// Takes the socket set's events and marks the wakers they concern.
    fn mark(inner: &mut Inner<T, N, L>) {
        let Inner {
            stack,
            streams,
            listeners,
            driver,
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
    pub async fn connect<'n>(&'n self, remote: SocketAddrV4) -> Result<TcpStream<'n, 'a>>
    where
        'a: 'n,
    {
        let net: &dyn Core<'a> = self;
        let inner = run(net, |set, t| {
            let now = set.now;
            let r = set.connect(now, remote);
            t.signal();
            r
        })
        .ok_or(Error::WouldBlock)??;
        let mut s = TcpStream {
            inner: Some(inner),
            net,
        };
        poll_fn(|cx| s.poll_established(cx)).await?;
        Ok(s)
    }
}

/// A connection of an [`AsyncStack`]. Not `Clone`; `close` and `abort` consume it;
/// dropping it closes the connection (the network task is woken to do it).
#[must_use = "dropping a TcpStream closes the connection"]
pub struct TcpStream<'n, 'a> {
    inner: Option<CoreStream<'a>>,
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

impl<'a> TcpStream<'_, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    fn poll_established(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let id = inner.id();
        run_poll(self.net, cx, |set, t| match inner.state(set) {
            State::SynSent | State::SynReceived => match t.stream(id) {
                Some(e) => {
                    register(&mut e.write, cx.waker());
                    Poll::Pending
                }
                None => Poll::Ready(Err(Error::Exhausted)),
            },
            State::Closed => Poll::Ready(Err(inner.error(set).unwrap_or(Error::NotConnected))),
            _ => Poll::Ready(inner.error(set).map_or(Ok(()), Err)),
        })
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let id = inner.id();
        run_poll(self.net, cx, |set, t| match inner.read(set, buf) {
            Err(Error::WouldBlock) => match t.stream(id) {
                Some(e) => {
                    register(&mut e.read, cx.waker());
                    Poll::Pending
                }
                None => Poll::Ready(Err(Error::Exhausted)),
            },
            r => {
                t.signal_if_output(set);
                Poll::Ready(r)
            }
        })
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let id = inner.id();
        run_poll(self.net, cx, |set, t| match inner.write(set, data) {
            Err(Error::WouldBlock) => match t.stream(id) {
                Some(e) => {
                    register(&mut e.write, cx.waker());
                    Poll::Pending
                }
                None => Poll::Ready(Err(Error::Exhausted)),
            },
            r => {
                t.signal_if_output(set);
                Poll::Ready(r)
            }
        })
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let id = inner.id();
        run_poll(self.net, cx, |set, t| {
            if let Some(e) = inner.error(set) {
                return Poll::Ready(Err(e));
            }
            if inner.send_queue(set) == 0 || inner.state(set) == State::Closed {
                return Poll::Ready(Ok(()));
            }
            match t.stream(id) {
                Some(e) => {
                    register(&mut e.write, cx.waker());
                    Poll::Pending
                }
                None => Poll::Ready(Err(Error::Exhausted)),
            }
        })
    }

    /// Reads at least one byte, waiting for it; `Ok(0)` at the end of the stream; after a
    /// reset or timeout, the buffered bytes and then the error. Cancel-safe: a read
    /// future dropped before it completes has taken nothing.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Queues at least one byte, waiting for room; returns how many. Cancel-safe.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize> {
        poll_fn(|cx| self.poll_write(cx, data)).await
    }

    /// Waits until everything written has been acknowledged by the peer.
    pub async fn flush(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Half-closes: a FIN follows the queued data; reading goes on.
    pub fn shutdown_write(&mut self) -> Result<()> {
        let inner = self.inner.as_mut().ok_or(Error::InvalidHandle)?;
        run(self.net, |set, t| {
            let r = inner.shutdown_write(set);
            t.signal_if_output(set);
            r
        })
        .ok_or(Error::WouldBlock)?
    }

    /// What the stream is ready for now.
    pub fn readiness(&self) -> Readiness {
        let Some(inner) = self.inner.as_ref() else {
            return Readiness::ERROR | Readiness::CLOSED;
        };
        run(self.net, |set, _| inner.readiness(set)).unwrap_or(Readiness::empty())
    }

    /// The TCP state.
    pub fn state(&self) -> State {
        let Some(inner) = self.inner.as_ref() else {
            return State::Closed;
        };
        run(self.net, |set, _| inner.state(set)).unwrap_or(State::Closed)
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

impl<'n, 'a> TcpListener<'n, 'a> {
    /// Slot index and generation.
    pub fn id(&self) -> Option<SocketId> {
        self.inner.as_ref().map(|s| s.id())
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<CoreStream<'a>>> {
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
                None => Poll::Ready(Err(Error::Exhausted)),
            },
            r => Poll::Ready(r),
        })
    }

    /// Waits for an established connection and takes it from the accept queue.
    pub async fn accept(&self) -> Result<TcpStream<'n, 'a>> {
        let s = poll_fn(|cx| self.poll_accept(cx)).await?;
        Ok(TcpStream {
            inner: Some(s),
            net: self.net,
        })
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

impl embedded_io_async::Read for TcpStream<'_, '_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        TcpStream::read(self, buf).await
    }
}

impl embedded_io_async::Write for TcpStream<'_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        TcpStream::write(self, buf).await
    }

    async fn flush(&mut self) -> Result<()> {
        TcpStream::flush(self).await
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
