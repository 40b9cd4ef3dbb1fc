//! The BSD close race, under loom: a user lets go of a connection on one thread while the
//! protocol closes the same connection on another.
//!
//! In the RTOS port of the BSD stack, `soclose()` from the user and `tcp_close()` from the
//! protocol (a RST or a timeout processed by the network task) could both decide to free
//! the socket, and the second free was a data fault. Here the user's side is a handle
//! whose drop only raises two flags (the slot's and "some handle was dropped"), and whose
//! `close`/`abort` take the stack's lock; the protocol runs inside `poll` with the lock
//! held and reaps dropped handles at its start. `SocketSet::release` is the one function
//! that frees, when both sides are done.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --test loom_shared` (`.ci/run` does). Under
//! `cfg(loom)` the crate itself uses loom's atomics for those flags and loom's mutex for
//! the shared stack's lock, so what runs here is the real socket set, the real handles
//! and the real `SharedStack`, with every interleaving of the two threads explored.
//!
//! This test found a lost drop: the poll read "some handle was dropped", cleared it with a
//! separate store, then scanned the slot flags; a handle dropped in between could have its
//! "any" overwritten while its slot flag was still unseen, and its connection was never
//! closed. Both sides now put a `SeqCst` fence between their two accesses (plain loads
//! and stores only, so cores without compare-and-swap can run it too; loom also mis-models
//! a plain store racing a swap, tokio-rs/loom#254, which this avoids).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;

use tidytcp::Instant;
use tidytcp::drivers::Loopback;
use tidytcp::socket::shared::SharedStack;
use tidytcp::socket::{HeapStorage, SocketSet, TcpStream};
use tidytcp::stack::{Config, Stack};

/// The stack and its device, behind the one lock.
struct Net {
    stack: Stack<'static>,
    dev: Loopback<8>,
}

impl AsMut<SocketSet<'static>> for Net {
    fn as_mut(&mut self) -> &mut SocketSet<'static> {
        self.stack.as_mut()
    }
}

impl Net {
    fn poll(&mut self, now: Instant) {
        self.stack.poll(now, &mut self.dev);
    }
}

/// How the user lets go.
#[derive(Clone, Copy, Debug)]
enum LetGo {
    Drop,
    Close,
    Abort,
}

/// A stack talking to itself over a loopback with one established connection (two slots:
/// client and server). The server is aborted, so the next poll delivers a RST to the
/// client; the listener is dropped, so a drop is already pending when the race starts.
fn setup() -> (Arc<SharedStack<Net>>, TcpStream<'static>) {
    // Each loom iteration needs its own 'static storage; it is small (two slots, 1 KiB
    // buffers).
    let storage: &'static mut HeapStorage = Box::leak(Box::new(HeapStorage::new(2, 1, 1024, 1024)));
    let mut cfg = Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "127.0.0.1/8".parse().unwrap(),
        [1; 16],
    );
    let net = Arc::new(SharedStack::new(Net {
        stack: Stack::new(cfg, storage),
        dev: Loopback::new(),
    }));
    let (listener, client) = net
        .with(|n| {
            let l = n.stack.listen(7, 1).unwrap();
            let c = n.stack.connect("127.0.0.1:7".parse().unwrap()).unwrap();
            (l, c)
        })
        .unwrap();
    let server = net
        .with(|n| {
            n.poll(Instant::ZERO);
            listener.accept(&mut n.stack).unwrap().0
        })
        .unwrap();
    net.with(|n| {
        server.abort(&mut n.stack);
        assert_eq!(n.stack.in_use(), 1);
    })
    .unwrap();
    drop(listener);
    (net, client)
}

fn race(how: LetGo) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(move || big(move || run(how)).join().unwrap());
}

/// A loom thread with room for the stack, its loopback device and a debug-build poll
/// (loom's coroutines have small stacks by default).
fn big<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new().stack_size(8 << 20).spawn(f).unwrap()
}

fn run(how: LetGo) {
    {
        let (net, client) = setup();
        let user_net = Arc::clone(&net);
        let user = big(move || match how {
            LetGo::Drop => drop(client),
            LetGo::Close => user_net.with(|n| client.close(n.as_mut())).unwrap(),
            LetGo::Abort => user_net.with(|n| client.abort(n.as_mut())).unwrap(),
        });
        // The network task: the RST reaches the client, which goes to CLOSED.
        let proto_net = Arc::clone(&net);
        let proto = big(move || {
            proto_net.with(|n| n.poll(Instant::from_millis(1))).unwrap();
        });
        user.join().unwrap();
        proto.join().unwrap();
        // Whatever the order, later polls finish the job and nothing is freed twice.
        for ms in 2..6 {
            net.with(|n| n.poll(Instant::from_millis(ms))).unwrap();
        }
        net.with(|n| {
            let set: &mut SocketSet<'static> = n.as_mut();
            assert_eq!(
                set.in_use(),
                0,
                "{how:?}: a slot leaked: {:?}",
                set.sockets().collect::<Vec<_>>()
            );
            assert_eq!(set.listeners_in_use(), 0, "{how:?}: the listener leaked");
            assert_eq!(set.slots_allocated(), 2);
            assert_eq!(set.slots_freed(), 2, "{how:?}: freed count");
        })
        .unwrap();
    }
}

#[test]
fn user_drops_while_protocol_resets() {
    race(LetGo::Drop);
}

#[test]
fn user_closes_while_protocol_resets() {
    race(LetGo::Close);
}

#[test]
fn user_aborts_while_protocol_resets() {
    race(LetGo::Abort);
}
