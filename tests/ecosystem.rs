//! The bridges to the embassy / embedded-nal ecosystem: `EmbassyDevice` over a scripted
//! `embassy_net_driver::Driver` (busy → waker registered → woken; link down and up;
//! burst limits), the async runner (it awaits when there is nothing to do, and wakes for
//! frames, handle activity and deadlines), and the `embedded-nal` traits.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use embassy_net_driver as edrv;
use tidytcp::drivers::{AsyncDevice, Device, EmbassyDevice, Loopback};
use tidytcp::socket::HeapStorage;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::socket::nal::{NalSocket, NalStack, TcpClient};
use tidytcp::socket::runner::{StdTimer, Timer};
use tidytcp::socket::shared::SharedStack;
use tidytcp::stack::{Config, Stack};
use tidytcp::{Duration, Error, Instant};

// ---------------------------------------------------------------- a scripted driver

/// One direction of an in-memory Ethernet: frames, and the waker of whoever waits for one.
#[derive(Default)]
struct Pipe {
    frames: VecDeque<Vec<u8>>,
    waker: Option<Waker>,
}

impl Pipe {
    fn push(&mut self, f: Vec<u8>) {
        self.frames.push_back(f);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// An `embassy-net-driver` driver over two pipes, with a link switch, a number of free
/// transmit buffers (`usize::MAX`: never busy) and an optional burst limit.
struct Scripted {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    link: Rc<Cell<bool>>,
    link_waker: Rc<RefCell<Option<Waker>>>,
    tx_room: Rc<Cell<usize>>,
    tx_waker: Rc<RefCell<Option<Waker>>>,
    burst: Option<usize>,
}

impl Scripted {
    fn new(rx: Rc<RefCell<Pipe>>, tx: Rc<RefCell<Pipe>>) -> Self {
        Scripted {
            rx,
            tx,
            link: Rc::new(Cell::new(true)),
            link_waker: Rc::default(),
            tx_room: Rc::new(Cell::new(usize::MAX)),
            tx_waker: Rc::default(),
            burst: None,
        }
    }
}

struct Rx(Vec<u8>);
struct Tx<'a> {
    pipe: &'a RefCell<Pipe>,
    room: &'a Cell<usize>,
}

impl edrv::RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl edrv::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.room.set(self.room.get().saturating_sub(1));
        self.pipe.borrow_mut().push(buf);
        r
    }
}

impl edrv::Driver for Scripted {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(Rx, Tx<'_>)> {
        if self.tx_room.get() == 0 {
            *self.tx_waker.borrow_mut() = Some(cx.waker().clone());
            return None;
        }
        let mut rx = self.rx.borrow_mut();
        match rx.frames.pop_front() {
            Some(f) => Some((
                Rx(f),
                Tx {
                    pipe: &self.tx,
                    room: &self.tx_room,
                },
            )),
            None => {
                rx.waker = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Tx<'_>> {
        if self.tx_room.get() == 0 {
            *self.tx_waker.borrow_mut() = Some(cx.waker().clone());
            return None;
        }
        Some(Tx {
            pipe: &self.tx,
            room: &self.tx_room,
        })
    }

    fn link_state(&mut self, cx: &mut Context) -> edrv::LinkState {
        *self.link_waker.borrow_mut() = Some(cx.waker().clone());
        if self.link.get() {
            edrv::LinkState::Up
        } else {
            edrv::LinkState::Down
        }
    }

    fn capabilities(&self) -> edrv::Capabilities {
        let mut c = edrv::Capabilities::default();
        c.max_transmission_unit = 1514;
        c.max_burst_size = self.burst;
        c
    }

    fn hardware_address(&self) -> edrv::HardwareAddress {
        edrv::HardwareAddress::Ethernet([2, 0, 0, 0, 0, 0x42])
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

fn config(last: u8) -> Config {
    #[allow(unused_mut)]
    let mut c = Config::new(
        format!("02:00:00:00:00:{last:02x}").parse().unwrap(),
        format!("10.0.0.{last}/24").parse().unwrap(),
        [last; 16],
    );
    // These tests count the IPv4 frames and wake-ups of an idle stack.
    #[cfg(feature = "proto-ipv6")]
    {
        c.iface.ipv6.enabled = false;
    }
    c
}

/// An Ethernet broadcast ARP request from 10.0.0.9 for `target`.
fn arp_request(target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 9, 10, 0, 0, 9]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

// ---------------------------------------------------------------- the device bridge

/// A driver with nothing to give registers the waker it was handed; a frame arriving
/// wakes it; the bridge hands that frame to the stack, which answers in the driver's
/// transmit token. Capabilities and the MAC come from the driver.
#[test]
fn busy_driver_registers_the_waker_and_is_woken() {
    let (rx, tx) = (Rc::new(RefCell::new(Pipe::default())), Rc::default());
    let mut dev = EmbassyDevice::new(Scripted::new(rx.clone(), Rc::clone(&tx)));
    assert_eq!(dev.mac().unwrap().0, [2, 0, 0, 0, 0, 0x42]);
    assert_eq!(dev.capabilities().mtu, 1500);
    let (count, waker) = counting_waker();
    dev.set_waker(&waker);
    assert!(dev.receive(Instant::ZERO).is_none());
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    rx.borrow_mut().push(arp_request([10, 0, 0, 1]));
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "the frame woke the task");
    let mut storage = HeapStorage::new(2, 1, 2048, 2048);
    let mut stack = Stack::new(config(1), &mut storage);
    stack.poll(Instant::ZERO, &mut dev);
    let sent: Vec<Vec<u8>> = tx.borrow_mut().frames.drain(..).collect();
    // The gratuitous ARP of the first poll, and the reply to the request.
    assert!(
        sent.iter()
            .any(|f| f[0..6] == [2, 0, 0, 0, 0, 9] && f[21] == 2),
        "{sent:?}"
    );
}

/// While the link is down the stack sends and takes nothing; when it comes back, the
/// address is announced again (gratuitous ARP), and the link change wakes the task.
#[test]
fn link_down_sends_nothing_and_link_up_announces() {
    let (rx, tx) = (Rc::new(RefCell::new(Pipe::default())), Rc::default());
    let drv = Scripted::new(rx.clone(), Rc::clone(&tx));
    let (link, link_waker) = (drv.link.clone(), drv.link_waker.clone());
    let mut dev = EmbassyDevice::new(drv);
    let (count, waker) = counting_waker();
    dev.set_waker(&waker);
    let mut storage = HeapStorage::new(2, 1, 2048, 2048);
    let mut stack = Stack::new(config(1), &mut storage);
    let mut now = Instant::ZERO;
    stack.poll(now, &mut dev);
    let announced = tx.borrow_mut().frames.drain(..).count();
    assert!(announced >= 1);
    link.set(false);
    rx.borrow_mut().push(arp_request([10, 0, 0, 1]));
    let client = stack.connect("10.0.0.2:7".parse().unwrap()).unwrap();
    for _ in 0..50 {
        now += Duration::from_millis(100);
        dev.set_waker(&waker);
        stack.poll(now, &mut dev);
    }
    assert!(tx.borrow().frames.is_empty(), "nothing sent while down");
    assert_eq!(rx.borrow().frames.len(), 1, "nothing taken while down");
    // The link comes back: the driver wakes the task, the address is announced.
    let before = count.0.load(Ordering::SeqCst);
    link.set(true);
    if let Some(w) = link_waker.borrow_mut().take() {
        w.wake();
    }
    assert!(count.0.load(Ordering::SeqCst) > before);
    dev.set_waker(&waker);
    stack.poll(now, &mut dev);
    let sent: Vec<Vec<u8>> = tx.borrow_mut().frames.drain(..).collect();
    let gratuitous = sent
        .iter()
        .filter(|f| f[12..14] == [8, 6] && f[20..22] == [0, 1] && f[28..32] == f[38..42])
        .count();
    assert!(gratuitous >= 1, "{sent:?}");
    drop(client);
}

/// A driver with `max_burst_size` gets at most that many tokens between two
/// `set_waker`s (one per poll of the runner), and the bridge says it stopped there.
#[test]
fn burst_limit_caps_tokens_per_poll() {
    let (rx, tx) = (Rc::new(RefCell::new(Pipe::default())), Rc::default());
    let mut drv = Scripted::new(rx, tx);
    drv.burst = Some(2);
    let mut dev = EmbassyDevice::new(drv);
    let (_, waker) = counting_waker();
    dev.set_waker(&waker);
    assert!(dev.transmit(Instant::ZERO).is_some());
    assert!(dev.transmit(Instant::ZERO).is_some());
    assert!(!dev.burst_exhausted());
    assert!(dev.transmit(Instant::ZERO).is_none());
    assert!(dev.burst_exhausted());
    dev.set_waker(&waker);
    assert!(!dev.burst_exhausted());
    assert!(dev.transmit(Instant::ZERO).is_some());
}

/// A driver out of transmit buffers gives no token and registers the waker; freeing a
/// buffer wakes the task.
#[test]
fn transmit_busy_wakes_when_room_returns() {
    let (rx, tx) = (Rc::new(RefCell::new(Pipe::default())), Rc::default());
    let drv = Scripted::new(rx, tx);
    let (room, tx_waker) = (drv.tx_room.clone(), drv.tx_waker.clone());
    room.set(0);
    let mut dev = EmbassyDevice::new(drv);
    let (count, waker) = counting_waker();
    dev.set_waker(&waker);
    assert!(dev.transmit(Instant::ZERO).is_none());
    assert!(!dev.burst_exhausted(), "busy, not a burst limit");
    room.set(4);
    tx_waker
        .borrow_mut()
        .take()
        .expect("waker registered")
        .wake();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(dev.transmit(Instant::ZERO).is_some());
}

// ---------------------------------------------------------------- the runner

/// Virtual time for the runner: the test moves it; a sleep completes once it is reached.
#[derive(Clone, Default)]
struct Manual {
    now: Rc<Cell<Instant>>,
    waiting: Rc<RefCell<Option<(Instant, Waker)>>>,
    sleeps: Rc<Cell<usize>>,
}

struct ManualSleep {
    at: Instant,
    clock: Manual,
}

impl Future for ManualSleep {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.at {
            return Poll::Ready(());
        }
        *self.clock.waiting.borrow_mut() = Some((self.at, cx.waker().clone()));
        Poll::Pending
    }
}

impl Timer for Manual {
    type Sleep = ManualSleep;
    fn now(&mut self) -> Instant {
        self.now.get()
    }
    fn sleep_until(&mut self, at: Instant) -> ManualSleep {
        self.sleeps.set(self.sleeps.get() + 1);
        ManualSleep {
            at,
            clock: self.clone(),
        }
    }
}

impl Manual {
    /// Moves time to the pending sleep's deadline and wakes it; false if none is armed.
    fn fire(&self) -> bool {
        let Some((at, w)) = self.waiting.borrow_mut().take() else {
            return false;
        };
        self.now.set(at);
        w.wake();
        true
    }
}

/// The runner polls the stack, arms its timer for the stack's next deadline and then
/// awaits: it does not wake itself. A frame from the driver, a handle that needs the
/// stack, or the deadline wake it, and each time it polls again.
#[test]
fn runner_awaits_and_wakes_for_frames_handles_and_deadlines() {
    let (rx, tx) = (
        Rc::new(RefCell::new(Pipe::default())),
        Rc::new(RefCell::new(Pipe::default())),
    );
    let mut dev = EmbassyDevice::new(Scripted::new(rx.clone(), Rc::clone(&tx)));
    let mut storage = HeapStorage::new(2, 1, 2048, 2048);
    let net: AsyncStack<Stack<'_>, 2, 1> = AsyncStack::new(Stack::new(config(1), &mut storage));
    let mut clock = Manual::default();
    let probe = clock.clone();
    let mut run = pin!(net.run(&mut dev, &mut clock));
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    let woken = |c: &Arc<Counter>| c.0.load(Ordering::SeqCst);
    assert_eq!(woken(&count), 0, "nothing to do: no self-wake");
    let sent = tx.borrow_mut().frames.drain(..).count();
    assert!(sent >= 1, "the first poll announced the address");

    // A frame wakes it; the poll answers it.
    rx.borrow_mut().push(arp_request([10, 0, 0, 1]));
    assert_eq!(woken(&count), 1);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert!(
        tx.borrow_mut().frames.drain(..).any(|f| f[21] == 2),
        "ARP reply sent"
    );
    assert_eq!(woken(&count), 1, "and it sleeps again");

    // A handle that needs the stack (a connect) wakes it; the SYN waits for ARP, and the
    // ARP retry deadline is armed on the timer.
    let sleeps = probe.sleeps.get();
    let connecting = pin!(net.connect("10.0.0.7:80".parse().unwrap()));
    let mut connecting = connecting;
    assert!(connecting.as_mut().poll(&mut cx).is_pending());
    assert!(woken(&count) >= 2, "the connect woke the runner");
    assert!(run.as_mut().poll(&mut cx).is_pending());
    let asked: Vec<Vec<u8>> = tx.borrow_mut().frames.drain(..).collect();
    assert!(
        asked
            .iter()
            .any(|f| f[12..14] == [8, 6] && f[38..42] == [10, 0, 0, 7])
    );
    assert!(
        probe.sleeps.get() > sleeps,
        "timer armed for the stack's deadline"
    );

    // The deadline wakes it, and the poll at that time retries ARP.
    let before = woken(&count);
    assert!(probe.fire());
    assert_eq!(woken(&count), before + 1);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert!(
        tx.borrow_mut()
            .frames
            .drain(..)
            .any(|f| f[38..42] == [10, 0, 0, 7])
    );
}

// ---------------------------------------------------------------- end to end

/// Two stacks over a pair of in-memory embassy drivers, each driven by the async runner
/// with `StdTimer` under a real executor; the client connects through
/// `embedded_nal_async::TcpConnect` and echoes 100 kB through `embedded-io-async`.
#[test]
fn echo_through_runners_and_tcp_connect() {
    use embedded_io_async::Write;
    use embedded_nal_async::TcpConnect;
    use futures::future::{Either, join, select};

    let (ab, ba) = (
        Rc::new(RefCell::new(Pipe::default())),
        Rc::new(RefCell::new(Pipe::default())),
    );
    let mut dev_a = EmbassyDevice::new(Scripted::new(Rc::clone(&ba), Rc::clone(&ab)));
    let mut dev_b = EmbassyDevice::new(Scripted::new(Rc::clone(&ab), Rc::clone(&ba)));
    let (mut sa, mut sb) = (
        HeapStorage::new(4, 1, 16384, 16384),
        HeapStorage::new(4, 1, 16384, 16384),
    );
    let a: AsyncStack<Stack<'_>, 4, 1> = AsyncStack::new(Stack::new(config(1), &mut sa));
    let b: AsyncStack<Stack<'_>, 4, 1> = AsyncStack::new(Stack::new(config(2), &mut sb));
    let (mut ta, mut tb) = (StdTimer::new(), StdTimer::new());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let listener = b.listen(7, 1).unwrap();
    let server = async {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0; 2048];
        loop {
            match s.read(&mut buf).await.unwrap() {
                0 => break,
                n => s.write_all(&buf[..n]).await.unwrap(),
            }
        }
        s.close();
    };
    let client = async {
        let nal = TcpClient::new(&a).with_connect_timeout(core::time::Duration::from_secs(10));
        let mut c = nal.connect("10.0.0.2:7".parse().unwrap()).await.unwrap();
        let (mut r, mut w) = c.split();
        let writer = async {
            w.write_all(&data).await.unwrap();
            w.shutdown_write().unwrap();
        };
        let reader = async {
            let mut got = Vec::new();
            let mut buf = [0; 4096];
            loop {
                match r.read(&mut buf).await.unwrap() {
                    0 => break got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        let ((), got) = join(writer, reader).await;
        c.close();
        got
    };
    let runners = join(a.run(&mut dev_a, &mut ta), b.run(&mut dev_b, &mut tb));
    let apps = join(server, client);
    let got = match futures::executor::block_on(select(pin!(apps), pin!(runners))) {
        Either::Left((((), got), _)) => got,
        Either::Right(_) => unreachable!("the runners never end"),
    };
    assert!(got == data, "echo differs");
}

// ---------------------------------------------------------------- embedded-nal

/// `Dns` on `TcpClient`: an IPv4 literal is its own answer; a name goes to the
/// resolver (with no server configured: `NoServer`). `TcpConnect` refuses IPv6.
#[test]
fn dns_answers_literals_and_says_what_it_cannot() {
    use embedded_nal_async::{AddrType, Dns, TcpConnect};
    let mut storage = HeapStorage::new(2, 1, 2048, 2048);
    let net: AsyncStack<Stack<'_>, 2, 1> = AsyncStack::new(Stack::new(config(1), &mut storage));
    let client = TcpClient::new(&net);
    let on = |f: &mut dyn FnMut() -> Poll<()>| assert!(f().is_ready());
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut lit = pin!(client.get_host_by_name("10.1.2.3", AddrType::Either));
    on(&mut || {
        lit.as_mut()
            .poll(&mut cx)
            .map(|r| assert_eq!(r, Ok("10.1.2.3".parse().unwrap())))
    });
    let mut name = pin!(client.get_host_by_name("example.test", AddrType::IPv4));
    on(&mut || {
        name.as_mut()
            .poll(&mut cx)
            .map(|r| assert_eq!(r, Err(tidytcp::dns::DnsError::NoServer)))
    });
    let mut v6 = pin!(client.connect("[::1]:80".parse().unwrap()));
    on(&mut || {
        v6.as_mut()
            .poll(&mut cx)
            // IPv6 peers are fine; a loopback address is no peer on a link.
            .map(|r| assert_eq!(r.err(), Some(Error::InvalidInput)))
    });
}

/// `TcpClientStack` and `TcpFullStack` on a shared stack, as a super-loop client polls
/// them with `nb`: bind, listen, connect (`WouldBlock` while the handshake runs), accept,
/// send, receive, close.
#[test]
fn tcp_full_stack_in_a_super_loop() {
    use embedded_nal::{TcpClientStack, TcpFullStack};
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let cfg = Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "127.0.0.1/8".parse().unwrap(),
        [3; 16],
    );
    let shared = SharedStack::new(Stack::new(cfg, &mut storage));
    let mut nal = NalStack::new(&shared);
    let mut dev = Loopback::<8>::new();
    let mut now = Instant::ZERO;
    let mut poll = || {
        shared.with(|s| s.poll(now, &mut dev)).unwrap();
        now += Duration::from_millis(1);
    };
    let mut server = nal.socket().unwrap();
    nal.bind(&mut server, 7).unwrap();
    nal.listen(&mut server).unwrap();
    let mut client = nal.socket().unwrap();
    let remote = "127.0.0.1:7".parse().unwrap();
    let mut spins = 0;
    while let Err(nb::Error::WouldBlock) = nal.connect(&mut client, remote) {
        poll();
        spins += 1;
        assert!(spins < 100);
    }
    let (mut conn, peer) = loop {
        match nal.accept(&mut server) {
            Ok(c) => break c,
            Err(nb::Error::WouldBlock) => poll(),
            Err(nb::Error::Other(e)) => panic!("{e}"),
        }
    };
    assert!(matches!(conn, NalSocket::Stream(_)));
    assert_eq!(peer.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_eq!(nal.send(&mut client, b"nal"), Ok(3));
    let mut buf = [0; 8];
    let n = loop {
        poll();
        match nal.receive(&mut conn, &mut buf) {
            Ok(n) => break n,
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => panic!("{e}"),
        }
    };
    assert_eq!(&buf[..n], b"nal");
    nal.close(client).unwrap();
    nal.close(conn).unwrap();
    nal.close(server).unwrap();
    let mut s6 = nal.socket().unwrap();
    let v6 = nal.connect(&mut s6, "[::1]:7".parse().unwrap());
    assert_eq!(v6, Err(nb::Error::Other(Error::InvalidInput)));
}
