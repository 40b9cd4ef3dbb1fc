//! Slot lifetime: every order in which the user and the protocol can let go of a
//! connection. Each test ends with every slot freed, and freed once: the socket set's
//! allocation and free counters agree with `in_use()`.
//!
//! Two stacks over a `SimLink` in virtual time, except where the blocking adapter is the
//! subject (real threads, small timeouts, no timing asserted).

mod common;

use std::io::{Read, Write};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::loopwire::LoopWire;
use common::*;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::socket::blocking::BlockingStack;
use tidytcp::socket::{HeapStorage, SocketSet, TcpListener, TcpStream};
use tidytcp::stack::Stack;
use tidytcp::tcp::State;
use tidytcp::{Duration, Error, Instant};

const PORT: u16 = 5000;

fn server_addr() -> std::net::SocketAddrV4 {
    "10.0.0.2:5000".parse().unwrap()
}

/// Every slot free, each freed exactly once.
fn assert_all_freed(set: &SocketSet<'_>, who: &str) {
    assert_eq!(set.in_use(), 0, "{who}: slots still in use");
    assert_eq!(
        set.slots_allocated(),
        set.slots_freed(),
        "{who}: allocations and frees differ"
    );
}

/// The counters agree with the table at every point, not only at the end.
fn assert_balanced(set: &SocketSet<'_>) {
    assert_eq!(
        set.slots_allocated() - set.slots_freed(),
        set.in_use() as u64
    );
}

struct Pair<'s> {
    a: Stack<'s>,
    b: Stack<'s>,
    link: tidytcp::drivers::SimLink,
    now: Instant,
}

impl<'s> Pair<'s> {
    fn new(sa: &'s mut HeapStorage, sb: &'s mut HeapStorage) -> Self {
        Self::with_config(config(1), sa, sb)
    }

    fn with_config(
        a: tidytcp::stack::Config,
        sa: &'s mut HeapStorage,
        sb: &'s mut HeapStorage,
    ) -> Self {
        Pair {
            a: Stack::new(a, sa),
            b: Stack::new(config(2), sb),
            link: link(clean(5), 7),
            now: Instant::ZERO,
        }
    }

    /// Steps until `done` holds (checked after every step), within `limit` of virtual time.
    fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Stack<'s>, &mut Stack<'s>) -> bool,
    ) {
        let end = self.now + limit;
        loop {
            assert!(
                step(&mut self.now, &mut self.a, &mut self.b, &mut self.link, end),
                "condition not reached by {end:?}: a={:?} b={:?}",
                self.a.sockets().collect::<Vec<_>>(),
                self.b.sockets().collect::<Vec<_>>()
            );
            assert_balanced(&self.a);
            assert_balanced(&self.b);
            if done(&mut self.a, &mut self.b) {
                return;
            }
        }
    }

    /// Runs until both stacks have no slot in use (TIME-WAIT included: 2 MSL = 60 s).
    fn drain(&mut self) {
        self.run_until(Duration::from_secs(300), |a, b| {
            a.in_use() == 0 && b.in_use() == 0
        });
        assert_all_freed(&self.a, "a");
        assert_all_freed(&self.b, "b");
    }

    /// A listener on B and an established connection A→B, accepted.
    fn connect(&mut self) -> (TcpListener<'s>, TcpStream<'s>, TcpStream<'s>) {
        let l = self.b.listen(PORT, 4).unwrap();
        let c = self.a.connect(server_addr().into()).unwrap();
        let mut s = None;
        self.run_until(Duration::from_secs(5), |_, b| {
            s = l.accept(b).ok().map(|(s, _)| s);
            s.is_some()
        });
        let s = s.unwrap();
        assert_eq!(c.state(&self.a), State::Established);
        (l, c, s)
    }
}

/// Reads everything until end of stream or an error.
fn read_all<'s>(s: &mut TcpStream<'s>, set: &mut SocketSet<'s>) -> (Vec<u8>, Result<(), Error>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match s.read(set, &mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(e)),
        }
    }
}

#[test]
fn user_closes_before_peer_fin() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, mut c, mut s) = p.connect();
    c.write(&mut p.a, b"request").unwrap();
    c.close(&mut p.a);
    // The user's side is gone; the protocol still runs (FIN-WAIT).
    assert_eq!(p.a.in_use(), 1);
    p.run_until(Duration::from_secs(5), |_, b| {
        s.state(b) == State::CloseWait
    });
    let (data, end) = read_all(&mut s, &mut p.b);
    assert_eq!((data.as_slice(), end), (&b"request"[..], Ok(())));
    s.write(&mut p.b, b"late reply").unwrap(); // half-close: allowed, lost on a closed reader
    s.close(&mut p.b);
    l.close(&mut p.b);
    p.drain();
}

#[test]
fn user_closes_after_peer_fin() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, mut c, s) = p.connect();
    l.close(&mut p.b);
    s.close(&mut p.b);
    p.run_until(Duration::from_secs(5), |a, _| {
        c.state(a) == State::CloseWait
    });
    assert_eq!(read_all(&mut c, &mut p.a), (Vec::new(), Ok(())));
    c.close(&mut p.a);
    p.drain();
}

#[test]
fn peer_reset_while_reading_gives_data_then_reset() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, mut c, mut s) = p.connect();
    s.write(&mut p.b, b"buffered").unwrap();
    p.run_until(Duration::from_secs(5), |a, _| c.recv_queue(a) == 8);
    s.abort(&mut p.b);
    // The aborting side frees its slot at once.
    assert_eq!(p.b.in_use(), 0);
    p.run_until(Duration::from_secs(5), |a, _| c.state(a) == State::Closed);
    // The protocol is done; the user still holds the slot and reads what was buffered.
    assert_eq!(p.a.in_use(), 1);
    let mut buf = [0u8; 3];
    assert_eq!(c.read(&mut p.a, &mut buf), Ok(3));
    assert_eq!(&buf, b"buf");
    let (rest, end) = read_all(&mut c, &mut p.a);
    assert_eq!(rest, b"fered");
    assert_eq!(end, Err(Error::ConnectionReset));
    assert_eq!(c.read(&mut p.a, &mut buf), Err(Error::ConnectionReset));
    assert_eq!(c.write(&mut p.a, b"x"), Err(Error::ConnectionReset));
    // Closing after the protocol reached CLOSED frees at once and sends nothing.
    let rst_before = p.a.stats().tcp.rst_sent;
    c.close(&mut p.a);
    assert_eq!(p.a.in_use(), 0);
    assert_eq!(p.a.stats().tcp.rst_sent, rst_before);
    l.close(&mut p.b);
    p.drain();
}

#[test]
fn close_after_orderly_close_reached_closed() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, mut c, mut s) = p.connect();
    // A half-closes first, B answers with its FIN; A goes through TIME-WAIT to CLOSED
    // while its user still holds the handle.
    c.shutdown_write(&mut p.a).unwrap();
    p.run_until(Duration::from_secs(5), |_, b| {
        s.state(b) == State::CloseWait
    });
    assert_eq!(read_all(&mut s, &mut p.b), (Vec::new(), Ok(())));
    s.close(&mut p.b);
    p.run_until(Duration::from_secs(300), |a, b| {
        c.state(a) == State::Closed && b.in_use() == 0
    });
    assert_eq!(p.a.in_use(), 1, "the user's handle keeps the slot");
    assert_eq!(read_all(&mut c, &mut p.a), (Vec::new(), Ok(())));
    c.close(&mut p.a);
    assert_eq!(p.a.in_use(), 0);
    l.close(&mut p.b);
    p.drain();
}

#[test]
fn drop_instead_of_close() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, mut c, s) = p.connect();
    c.write(&mut p.a, b"bye").unwrap();
    drop(c);
    // Nothing happens until the next poll, which closes it as `close` would (data, then FIN).
    assert_eq!(p.a.in_use(), 1);
    let mut s = Some(s);
    let mut got = Vec::new();
    p.run_until(Duration::from_secs(5), |_, b| {
        let (d, end) = read_all(s.as_mut().unwrap(), b);
        got.extend(d);
        end == Ok(()) && s.as_ref().unwrap().state(b) == State::CloseWait && !got.is_empty()
    });
    assert_eq!(got, b"bye");
    drop(s.take());
    drop(l);
    p.drain();
}

#[test]
fn abort_frees_at_once_and_resets_the_peer() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let (l, c, mut s) = p.connect();
    c.abort(&mut p.a);
    assert_all_freed(&p.a, "a");
    p.run_until(Duration::from_secs(5), |_, b| s.state(b) == State::Closed);
    assert_eq!(read_all(&mut s, &mut p.b).1, Err(Error::ConnectionReset));
    drop(s);
    drop(l);
    p.drain();
}

#[test]
fn listener_closed_with_full_accept_queue_resets_and_frees_them() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let l = p.b.listen(PORT, 2).unwrap();
    let mut clients: Vec<_> = (0..3)
        .map(|_| p.a.connect(server_addr().into()).unwrap())
        .collect();
    // Two complete the handshake and wait in the queue. The third's SYN finds the SYN
    // queue full and is answered with a SYN cookie; its ACK then finds the accept queue
    // full and is dropped, as Linux drops it: the third client believes it is connected,
    // and its next segment decides (here, after the listener is gone: a reset).
    p.run_until(Duration::from_secs(5), |_, b| l.queued(b) == 2);
    assert_eq!(p.b.in_use(), 2);
    l.close(&mut p.b);
    assert_all_freed(&p.b, "b");
    for c in clients.iter_mut() {
        if c.state(&p.a) == State::Established {
            c.write(&mut p.a, b"x").unwrap();
        }
    }
    p.run_until(Duration::from_secs(30), |a, _| {
        clients.iter().all(|c| c.state(a) == State::Closed)
    });
    let mut errors: Vec<_> = clients
        .iter_mut()
        .map(|c| read_all(c, &mut p.a).1)
        .collect();
    errors.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        errors,
        vec![
            Err(Error::ConnectionReset),
            Err(Error::ConnectionReset),
            Err(Error::ConnectionReset)
        ]
    );
    for c in clients {
        c.close(&mut p.a);
    }
    p.drain();
}

#[test]
fn protocol_timeout_then_user_close() {
    let (mut sa, mut sb) = (storage(), storage());
    // Few retransmissions, so the connection gives up before A's ARP entry for B expires
    // (after which the reported error would be the soft error, HostUnreachable, as Linux
    // reports it).
    let mut cfg = config(1);
    cfg.tcp.max_retransmits = 4;
    let mut p = Pair::with_config(cfg, &mut sa, &mut sb);
    let (l, mut c, s) = p.connect();
    // B vanishes: nothing it sends arrives, nothing reaches it.
    p.link.set_filter(tidytcp::drivers::Direction::AtoB, |_| {
        tidytcp::drivers::Verdict::Drop
    });
    p.link.set_filter(tidytcp::drivers::Direction::BtoA, |_| {
        tidytcp::drivers::Verdict::Drop
    });
    c.write(&mut p.a, b"into the void").unwrap();
    p.run_until(Duration::from_secs(3600), |a, _| {
        c.state(a) == State::Closed
    });
    assert_eq!(read_all(&mut c, &mut p.a).1, Err(Error::TimedOut));
    c.close(&mut p.a);
    assert_all_freed(&p.a, "a");
    s.abort(&mut p.b);
    l.close(&mut p.b);
    p.drain();
}

/// Close, reopen, close again, many times over: slots are reused, never leaked or freed
/// twice.
#[test]
fn slots_reused_many_times_stay_balanced() {
    let (mut sa, mut sb) = (storage(), storage());
    let mut p = Pair::new(&mut sa, &mut sb);
    let l = p.b.listen(PORT, 4).unwrap();
    for round in 0..20u32 {
        let mut c = p.a.connect(server_addr().into()).unwrap();
        let mut s = None;
        p.run_until(Duration::from_secs(5), |_, b| {
            s = l.accept(b).ok().map(|(s, _)| s);
            s.is_some()
        });
        let s = s.unwrap();
        c.write(&mut p.a, &round.to_be_bytes()).unwrap();
        // Alternate who lets go first, and how.
        match round % 4 {
            0 => {
                c.close(&mut p.a);
                s.close(&mut p.b);
            }
            1 => {
                s.abort(&mut p.b);
                drop(c);
            }
            2 => {
                drop(s);
                c.abort(&mut p.a);
            }
            _ => {
                drop(c);
                drop(s);
            }
        }
        p.run_until(Duration::from_secs(300), |a, b| {
            a.in_use() == 0 && b.in_use() == 0
        });
        assert_all_freed(&p.a, "a");
        assert_all_freed(&p.b, "b");
    }
    assert!(p.a.slots_allocated() >= 20);
    l.close(&mut p.b);
}

// ----- stale generations -----

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountingWaker>, Waker) {
    let c = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// An index and generation kept from a closed connection (a waker registered under it)
/// cannot reach the next connection in the same slot.
#[test]
fn stale_generation_cannot_reach_new_connection() {
    let (mut sa, mut sb) = (storage(), storage());
    let net: AsyncStack<Stack<'_>, 8, 2> = AsyncStack::new(Stack::new(config(1), &mut sa));
    let mut b = Stack::new(config(2), &mut sb);
    let mut link = link(clean(5), 11);
    let mut now = Instant::ZERO;
    let l = b.listen(PORT, 4).unwrap();
    let mut step_all = |now: &mut Instant, b: &mut Stack<'_>| {
        let na = net.with(|a| a.poll(*now, &mut link.a())).unwrap();
        let nb = b.poll(*now, &mut link.b());
        let next = [na, nb, link.next_delivery()].into_iter().flatten().min();
        *now = next
            .filter(|t| *t > *now)
            .unwrap_or(*now + Duration::from_millis(1));
    };
    let (old_count, old_waker) = counting();
    let mut old_cx = Context::from_waker(&old_waker);

    // First connection: a read registers the old waker, then the handle is aborted.
    let mut connect = pin!(net.connect(server_addr().into()));
    let first = loop {
        if let Poll::Ready(r) = connect.as_mut().poll(&mut old_cx) {
            break r.unwrap();
        }
        step_all(&mut now, &mut b);
    };
    let mut s1 = loop {
        if let Ok((s, _)) = l.accept(&mut b) {
            break s;
        }
        step_all(&mut now, &mut b);
    };
    let old_id = first.id().unwrap();
    let mut first = first;
    let mut buf = [0u8; 16];
    {
        let read = pin!(first.read(&mut buf));
        let mut read = read;
        assert!(read.as_mut().poll(&mut old_cx).is_pending());
    }
    first.abort();
    for _ in 0..10_000 {
        if s1.state(&b) == State::Closed {
            break;
        }
        step_all(&mut now, &mut b);
    }
    assert_eq!(s1.read(&mut b, &mut buf), Err(Error::ConnectionReset));
    drop(s1);
    step_all(&mut now, &mut b);
    assert_eq!(b.in_use(), 0);
    assert_eq!(net.with(|a| a.in_use()).unwrap(), 0);
    let woken_before = old_count.0.load(Ordering::SeqCst);

    // Second connection, same slot, new generation, made through the core API so that
    // no future registers under the new generation before its events arrive: the old
    // entry must be found stale and dropped, not woken.
    let mut second = net
        .with(|a| a.connect(server_addr().into()))
        .unwrap()
        .unwrap();
    let new_id = second.id();
    assert_eq!(new_id.index, old_id.index, "the slot is reused");
    assert_ne!(new_id.generation, old_id.generation);
    let mut s2 = loop {
        if let Ok((s, _)) = l.accept(&mut b) {
            break s;
        }
        step_all(&mut now, &mut b);
    };
    s2.write(&mut b, b"fresh").unwrap();
    for _ in 0..10_000 {
        if net.with(|a| second.recv_queue(a)).unwrap() == 5 {
            break;
        }
        step_all(&mut now, &mut b);
    }
    let n = net.with(|a| second.read(a, &mut buf)).unwrap();
    assert_eq!(n, Ok(5));
    assert_eq!(&buf[..5], b"fresh");
    // Events of the new connection (established, data) never woke the old waker.
    assert_eq!(old_count.0.load(Ordering::SeqCst), woken_before);
    net.with(|a| second.close(a)).unwrap();
    s2.close(&mut b);
    l.close(&mut b);
    for _ in 0..10_000 {
        if net.with(|a| a.in_use()).unwrap() == 0 && b.in_use() == 0 {
            break;
        }
        step_all(&mut now, &mut b);
    }
    net.with(|a| assert_all_freed(a, "a")).unwrap();
    assert_all_freed(&b, "b");
}

// ----- the blocking adapter: the protocol gives up while the user is blocked -----

fn fast_timeouts() -> tidytcp::stack::Config {
    let mut cfg = tidytcp::stack::Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "10.0.0.1/24".parse().unwrap(),
        [4; 16],
    );
    cfg.tcp.initial_rto = Duration::from_millis(10);
    cfg.tcp.min_rto = Duration::from_millis(10);
    cfg.tcp.max_rto = Duration::from_millis(40);
    cfg.tcp.max_retransmits = 3;
    cfg.tcp.msl = Duration::from_millis(50);
    cfg
}

/// The connection times out (retransmissions exhausted) while one user thread is blocked
/// in `read` and another in `write`: both wake with `TimedOut`, and every slot is freed
/// once the handles are closed.
#[test]
fn timeout_while_user_is_blocked() {
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net = BlockingStack::new(Stack::new(fast_timeouts(), &mut storage));
    let mut wire = LoopWire::default();
    let cut = wire.cutter();
    std::thread::scope(|sc| {
        sc.spawn(|| net.run(&mut wire));
        let l = net.listen(PORT, 1).unwrap();
        let mut client = net
            .connect("10.0.0.1:5000".parse().unwrap())
            .expect("connect to self");
        let (server, _) = l.accept().unwrap();
        // A safety net only: the protocol's own timeout comes first.
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut writer = net
            .connect("10.0.0.1:5000".parse().unwrap())
            .expect("second connection");
        let (server2, _) = l.accept().unwrap();
        writer
            .set_write_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        cut.store(true, Ordering::SeqCst);
        let reader = sc.spawn(move || {
            // Unacknowledged data, so the retransmission timer runs while we read.
            client.write_all(b"hello").unwrap();
            let mut buf = [0u8; 64];
            let r = client.read(&mut buf);
            (client, r.map_err(|e| e.kind()))
        });
        let filler = sc.spawn(move || {
            let chunk = [7u8; 1024];
            loop {
                if let Err(e) = writer.write(&chunk) {
                    return (writer, e.kind());
                }
            }
        });
        let (client, read) = reader.join().unwrap();
        let (writer, write) = filler.join().unwrap();
        assert_eq!(read, Err(std::io::ErrorKind::TimedOut));
        assert_eq!(write, std::io::ErrorKind::TimedOut);
        client.close();
        writer.close();
        server.abort();
        drop(server2);
        l.close();
        assert!(
            net.wait_for(Some(std::time::Duration::from_secs(60)), |s| s.in_use()
                == 0)
                .unwrap()
        );
        net.with(|s| assert_all_freed(s, "blocking")).unwrap();
        net.stop();
    });
}
