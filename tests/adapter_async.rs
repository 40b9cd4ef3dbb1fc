//! The async adapter under a minimal executor written here (no executor dependency): two
//! stacks over a `SimLink` in virtual time; tasks connect, accept, read and write through
//! `embedded-io-async`, and are woken only by the stacks' readiness events.

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::*;
use embedded_io_async::{Read, Write};
use tidytcp::drivers::SimLink;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::socket::{HeapStorage, SocketSet};
use tidytcp::stack::Stack;
use tidytcp::{Duration, Error, Instant};

type Net<'s> = AsyncStack<Stack<'s>, 8, 2>;

// ----- the executor -----

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Task<'f> {
    fut: Pin<Box<dyn Future<Output = ()> + 'f>>,
    woken: Arc<Flag>,
    done: bool,
}

/// Polls each task once when spawned and again only when its waker fired.
#[derive(Default)]
struct Executor<'f> {
    tasks: Vec<Task<'f>>,
    polls: usize,
}

impl<'f> Executor<'f> {
    fn spawn(&mut self, f: impl Future<Output = ()> + 'f) {
        self.tasks.push(Task {
            fut: Box::pin(f),
            woken: Arc::new(Flag(AtomicBool::new(true))),
            done: false,
        });
    }

    /// Runs woken tasks until none is woken.
    fn run_until_stalled(&mut self) {
        loop {
            let mut ran = false;
            for t in self.tasks.iter_mut().filter(|t| !t.done) {
                if !t.woken.0.swap(false, Ordering::SeqCst) {
                    continue;
                }
                ran = true;
                self.polls += 1;
                let waker = Waker::from(t.woken.clone());
                if t.fut
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
                {
                    t.done = true;
                }
            }
            if !ran {
                return;
            }
        }
    }

    fn all_done(&self) -> bool {
        self.tasks.iter().all(|t| t.done)
    }
}

/// Runs the executor and the two stacks in virtual time until every task is done.
fn drive(exec: &mut Executor<'_>, a: &Net<'_>, b: &Net<'_>, link: &mut SimLink, limit: Duration) {
    let mut now = Instant::ZERO;
    let end = Instant::ZERO + limit;
    loop {
        exec.run_until_stalled();
        if exec.all_done() {
            return;
        }
        assert!(now <= end, "tasks not done by {end:?}");
        let na = a.with(|s| s.poll(now, &mut link.a())).unwrap();
        let nb = b.with(|s| s.poll(now, &mut link.b())).unwrap();
        let busy = a.take_activity() | b.take_activity();
        let next = [na, nb, link.next_delivery()].into_iter().flatten().min();
        now = match next {
            _ if busy => now,
            Some(t) if t > now => t,
            Some(_) => now + Duration::from_micros(1),
            None => now + Duration::from_millis(100),
        };
    }
}

fn nets<'s>(sa: &'s mut HeapStorage, sb: &'s mut HeapStorage) -> (Net<'s>, Net<'s>) {
    (
        AsyncStack::new(Stack::new(config(1), sa)),
        AsyncStack::new(Stack::new(config(2), sb)),
    )
}

fn addr() -> std::net::SocketAddrV4 {
    "10.0.0.2:7".parse().unwrap()
}

fn in_use(n: &Net<'_>) -> usize {
    n.with(|s| s.in_use()).unwrap()
}

// ----- tests -----

/// 200 kB each way through buffers of 64 kB: writers wait for room, readers for data,
/// both woken by the stacks' events; every byte checked.
#[test]
fn echo_larger_than_the_buffers() {
    const LEN: usize = 200_000;
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(2), 3);
    let out = RefCell::new(Vec::new());
    let l = b.listen(7, 1).unwrap();
    let mut exec = Executor::default();
    exec.spawn(async {
        let mut s = l.accept().await.unwrap().0;
        let mut got = Vec::new();
        let mut buf = [0u8; 1500];
        loop {
            match s.read(&mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        s.write_all(&got).await.unwrap();
        s.flush().await.unwrap();
        s.close();
    });
    exec.spawn(async {
        let data: Vec<u8> = (0..LEN as u64).map(|i| pattern(9, i)).collect();
        let mut c = a.connect(addr().into()).await.unwrap();
        let (mut w, mut got) = (0, Vec::new());
        let mut buf = [0u8; 4096];
        // Write and read in turn so that neither side's buffer deadlocks the other.
        while w < LEN {
            w += c.write(&data[w..]).await.unwrap();
        }
        c.shutdown_write().unwrap();
        loop {
            match c.read(&mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert!(got == data, "echo differs");
        *out.borrow_mut() = got;
        c.close();
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(60));
    assert_eq!(out.borrow().len(), LEN);
    drop(exec);
    drop(l);
    // Both sides closed; TIME-WAIT ends in virtual time.
    let mut exec = Executor::default();
    exec.spawn(async {});
    let mut now = Instant::ZERO;
    while in_use(&a) + in_use(&b) > 0 {
        now += Duration::from_secs(1);
        a.with(|s| s.poll(now, &mut link.a())).unwrap();
        b.with(|s| s.poll(now, &mut link.b())).unwrap();
        assert!(now < Instant::from_secs(600), "slots not freed");
    }
}

/// `split`: one task writes 200 kB while another task reads the echo of it from the
/// same connection, each waiting on its own waker; `wait_acked` ends when the peer has
/// acknowledged everything, our FIN included.
#[test]
fn split_halves_read_and_write_from_two_tasks() {
    const LEN: usize = 200_000;
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(2), 5);
    let l = b.listen(7, 1).unwrap();
    let got = RefCell::new(Vec::new());
    let mut exec = Executor::default();
    exec.spawn(async {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 1500];
        loop {
            match s.read(&mut buf).await.unwrap() {
                0 => break,
                n => s.write_all(&buf[..n]).await.unwrap(),
            }
        }
        s.close();
    });
    exec.spawn(async {
        let data: Vec<u8> = (0..LEN as u64).map(|i| pattern(4, i)).collect();
        let mut c = a.connect(addr().into()).await.unwrap();
        let (mut r, mut w) = c.split();
        let writer = async {
            w.write_all(&data).await.unwrap();
            w.shutdown_write().unwrap();
            w.wait_acked().await.unwrap();
        };
        let reader = async {
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got.borrow_mut().extend_from_slice(&buf[..n]),
                }
            }
        };
        futures::future::join(writer, reader).await;
        assert!(*got.borrow() == data, "echo differs");
        c.close();
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(60));
    assert_eq!(got.borrow().len(), LEN);
}

#[test]
fn connect_refused_and_unreachable_are_errors() {
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(1), 5);
    let results = RefCell::new(Vec::new());
    let mut exec = Executor::default();
    exec.spawn(async {
        let r = a.connect(addr().into()).await.map(|_| ());
        results.borrow_mut().push(r);
        // Nobody at 10.0.0.9: ARP fails.
        let r = a.connect("10.0.0.9:7".parse().unwrap()).await.map(|_| ());
        results.borrow_mut().push(r);
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(120));
    assert_eq!(
        *results.borrow(),
        vec![Err(Error::ConnectionRefused), Err(Error::HostUnreachable)]
    );
    // The failed handles were dropped inside `connect`; the next poll frees them.
    assert!(a.take_activity());
    a.with(|s| s.poll(Instant::from_secs(120), &mut link.a()))
        .unwrap();
    assert_eq!(in_use(&a), 0);
}

/// Dropping an async handle closes it: the peer reads end of stream, and every slot is
/// freed.
#[test]
fn drop_closes_and_wakes_the_network_task() {
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(1), 6);
    let eof = RefCell::new(false);
    let l = b.listen(7, 1).unwrap();
    let mut exec = Executor::default();
    exec.spawn(async {
        let mut s = l.accept().await.unwrap().0;
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).await, Ok(3));
        assert_eq!(s.read(&mut buf).await, Ok(0));
        *eof.borrow_mut() = true;
    }); // dropped: closed
    exec.spawn(async {
        let mut c = a.connect(addr().into()).await.unwrap();
        c.write_all(b"bye").await.unwrap();
        drop(c);
        assert!(a.take_activity(), "the drop asked for a poll");
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(10));
    assert!(*eof.borrow());
    let mut now = Instant::from_secs(10);
    while in_use(&a) + in_use(&b) > 0 {
        now += Duration::from_secs(1);
        a.with(|s| s.poll(now, &mut link.a())).unwrap();
        b.with(|s| s.poll(now, &mut link.b())).unwrap();
        assert!(now < Instant::from_secs(600), "slots not freed");
    }
    a.with(|s| assert_eq!(s.slots_allocated(), s.slots_freed()))
        .unwrap();
}

/// The network task's `needs_poll` completes after a handle queued data, and not before.
#[test]
fn needs_poll_completes_on_user_activity() {
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(1), 8);
    let l = b.listen(7, 1).unwrap();
    let conn = RefCell::new(None);
    let mut exec = Executor::default();
    exec.spawn(async { *conn.borrow_mut() = Some(a.connect(addr().into()).await.unwrap()) });
    exec.spawn(async { std::mem::forget(l.accept().await.unwrap().0) });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(5));
    let _ = a.take_activity();

    let fired = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(fired.clone());
    let mut cx = Context::from_waker(&waker);
    let mut wait = Box::pin(a.needs_poll());
    assert!(wait.as_mut().poll(&mut cx).is_pending());
    a.with(|s| s.poll(Instant::from_secs(5), &mut link.a()))
        .unwrap();
    assert!(
        !fired.0.load(Ordering::SeqCst),
        "a poll alone is no user activity"
    );
    let mut c = conn.borrow_mut().take().unwrap();
    let mut write = Box::pin(c.write(b"x"));
    assert_eq!(write.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    drop(write);
    assert!(
        fired.0.load(Ordering::SeqCst),
        "the write woke the network task"
    );
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
    c.abort();
}

#[test]
fn ready_traits_follow_the_socket() {
    use embedded_io::{ReadReady, WriteReady};
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(1), 9);
    let l = b.listen(7, 1).unwrap();
    let client = RefCell::new(None);
    let server = RefCell::new(None);
    let mut exec = Executor::default();
    exec.spawn(async { *client.borrow_mut() = Some(a.connect(addr().into()).await.unwrap()) });
    exec.spawn(async { *server.borrow_mut() = Some(l.accept().await.unwrap().0) });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(5));
    let mut c = client.borrow_mut().take().unwrap();
    let mut s = server.borrow_mut().take().unwrap();
    assert_eq!(c.read_ready(), Ok(false));
    assert_eq!(c.write_ready(), Ok(true));
    let mut exec = Executor::default();
    exec.spawn(async { s.write_all(b"ping").await.unwrap() });
    exec.spawn(async {
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!(c.read_ready(), Ok(false));
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(5));
}

/// A read future dropped before it completes has taken nothing.
#[test]
fn read_is_cancel_safe() {
    let (mut sa, mut sb) = (storage(), storage());
    let (a, b) = nets(&mut sa, &mut sb);
    let mut link = link(clean(1), 10);
    let l = b.listen(7, 1).unwrap();
    let client = RefCell::new(None);
    let server = RefCell::new(None);
    let mut exec = Executor::default();
    exec.spawn(async { *client.borrow_mut() = Some(a.connect(addr().into()).await.unwrap()) });
    exec.spawn(async { *server.borrow_mut() = Some(l.accept().await.unwrap().0) });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(5));
    let mut c = client.borrow_mut().take().unwrap();
    let mut s = server.borrow_mut().take().unwrap();
    let nothing = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
    let mut buf = [0u8; 8];
    {
        let mut read = Box::pin(c.read(&mut buf));
        assert!(
            read.as_mut()
                .poll(&mut Context::from_waker(&nothing))
                .is_pending()
        );
    }
    let mut exec = Executor::default();
    exec.spawn(async { s.write_all(b"kept").await.unwrap() });
    exec.spawn(async {
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).await, Ok(4));
        assert_eq!(&buf[..4], b"kept");
    });
    drive(&mut exec, &a, &b, &mut link, Duration::from_secs(5));
}

/// A waker table smaller than the storage is reported, not waited on forever.
#[test]
fn slot_beyond_the_waker_table_is_an_error() {
    let (mut sa, mut sb) = (storage(), storage());
    let a: AsyncStack<Stack<'_>, 1, 1> = AsyncStack::new(Stack::new(config(1), &mut sa));
    let b: Net<'_> = AsyncStack::new(Stack::new(config(2), &mut sb));
    let _first = a.with(|s| s.connect(addr().into())).unwrap().unwrap();
    let nothing = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
    let mut second = Box::pin(a.connect(addr().into()));
    assert_eq!(
        second
            .as_mut()
            .poll(&mut Context::from_waker(&nothing))
            .map(|r| r.map(|_| ())),
        Poll::Ready(Err(Error::Exhausted(tidytcp::Capacity::Wakers)))
    );
    drop(b);
}

#[test]
fn nested_calls_are_refused_not_deadlocked() {
    let mut sa = storage();
    let a: Net<'_> = AsyncStack::new(Stack::new(config(1), &mut sa));
    assert_eq!(a.with(|_| a.with(|_| ())).unwrap(), Err(Error::WouldBlock));
    let mut sb = storage();
    let shared = tidytcp::socket::shared::SharedStack::new(Stack::new(config(2), &mut sb));
    assert_eq!(
        shared.with(|_| shared.with(|_| ()).map(|_| ())).unwrap(),
        Err(Error::WouldBlock)
    );
}

#[test]
fn error_kinds_for_embedded_io() {
    use embedded_io::{Error as _, ErrorKind};
    assert_eq!(Error::ConnectionReset.kind(), ErrorKind::ConnectionReset);
    assert_eq!(
        Error::ConnectionRefused.kind(),
        ErrorKind::ConnectionRefused
    );
    assert_eq!(Error::TimedOut.kind(), ErrorKind::TimedOut);
    assert_eq!(Error::BrokenPipe.kind(), ErrorKind::BrokenPipe);
    assert_eq!(Error::NotConnected.kind(), ErrorKind::NotConnected);
    assert_eq!(
        Error::Exhausted(tidytcp::Capacity::Slots).kind(),
        ErrorKind::OutOfMemory
    );
}

/// Handles of the async and shared adapters may move to other tasks and threads.
#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    send::<tidytcp::socket::asynch::TcpStream<'static, 'static>>();
    send::<tidytcp::socket::asynch::TcpListener<'static, 'static>>();
    send::<tidytcp::socket::shared::TcpStream<'static, 'static>>();
    send::<tidytcp::socket::shared::TcpListener<'static, 'static>>();
    send::<tidytcp::socket::blocking::TcpStream<'static, 'static>>();
    let _: Option<&SocketSet<'static>> = None;
}
