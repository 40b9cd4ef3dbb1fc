//! The blocking adapter: a stack on its own thread, handles with `std::io::Read`/`Write`
//! used from other threads. The stack talks to itself over a loopback wire. Real time and
//! real threads: the tests check outcomes only, never how long anything took.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration as StdDuration;

use common::loopwire::LoopWire;
use common::pattern;
use tidytcp::Duration;
use tidytcp::socket::HeapStorage;
use tidytcp::socket::blocking::BlockingStack;
use tidytcp::stack::{Config, Stack};

const SELF: &str = "10.0.0.1:7";
/// Long enough never to be reached when things work; a failing test ends instead of hanging.
const GUARD: Option<StdDuration> = Some(StdDuration::from_secs(60));

fn config() -> Config {
    let mut cfg = Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "10.0.0.1/24".parse().unwrap(),
        [8; 16],
    );
    cfg.tcp.msl = Duration::from_millis(20); // short TIME-WAIT, so slots free quickly
    cfg
}

/// Runs `body` with a stack thread over a loopback wire, then stops it and checks that
/// every slot was freed, once.
fn with_net(rx_tx: usize, body: impl FnOnce(&BlockingStack<Stack<'_>>) + Send) {
    let mut storage = HeapStorage::new(8, 2, rx_tx, rx_tx);
    let mut net = BlockingStack::new(Stack::new(config(), &mut storage));
    // The stack thread never wakes on its own except for the stack's deadlines: every
    // user call that needs a poll must kick it, or the test stalls (and fails at GUARD).
    net.set_max_idle(StdDuration::from_secs(3600));
    let mut wire = LoopWire::default();
    std::thread::scope(|s| {
        s.spawn(|| net.run(&mut wire));
        body(&net);
        assert!(
            net.wait_for(GUARD, |st| st.in_use() == 0).unwrap(),
            "slots still in use: {:?}",
            net.with(|st| st.sockets().collect::<Vec<_>>()).unwrap()
        );
        net.with(|st| assert_eq!(st.slots_allocated(), st.slots_freed()))
            .unwrap();
        net.stop();
    });
}

#[test]
fn echo_through_small_buffers() {
    const LEN: u64 = 300_000;
    with_net(8192, |net| {
        let l = net.listen(7, 1).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let (mut conn, peer) = l.accept().unwrap();
                assert_eq!(peer.ip(), std::net::Ipv4Addr::new(10, 0, 0, 1));
                let mut buf = [0u8; 3000];
                loop {
                    let n = conn.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    conn.write_all(&buf[..n]).unwrap();
                }
                conn.close();
            });
            let mut c = net.connect(SELF.parse().unwrap()).unwrap();
            c.set_read_timeout(GUARD).unwrap();
            c.set_write_timeout(GUARD).unwrap();
            let data: Vec<u8> = (0..LEN).map(|i| pattern(3, i)).collect();
            // Write and read in turn: both directions' buffers are small.
            let (mut w, mut got) = (0usize, Vec::new());
            let mut buf = [0u8; 4096];
            while got.len() < data.len() {
                if w < data.len() {
                    let end = (w + 2048).min(data.len());
                    c.write_all(&data[w..end]).unwrap();
                    w = end;
                    if w == data.len() {
                        c.shutdown(Shutdown::Write).unwrap();
                    }
                }
                while got.len() < w.saturating_sub(8192 * 2) || (w == data.len() && got.len() < w) {
                    let n = c.read(&mut buf).unwrap();
                    assert_ne!(n, 0, "early end of stream");
                    got.extend_from_slice(&buf[..n]);
                }
            }
            assert!(got == data, "echo differs");
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            c.close();
        });
        l.close();
    });
}

/// The documented `thread::scope` pattern cannot hang: when the scope's closure panics
/// before anything stops the stack thread, the guard of `spawn_scoped` stops it while the
/// panic unwinds, and a thread still blocked in `accept` fails with `ConnectionAborted`
/// instead of waiting for polls that will never come; the scope ends and the panic
/// reaches the caller.
#[test]
fn scoped_stack_thread_ends_when_the_scope_panics() {
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net = BlockingStack::new(Stack::new(config(), &mut storage));
    let accepted = std::sync::Mutex::new(None);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        std::thread::scope(|s| {
            let _stack_thread = net.spawn_scoped(s, LoopWire::default());
            let l = net.listen(7, 1).unwrap();
            let accepted = &accepted;
            s.spawn(move || {
                let r = l.accept().map(|_| ());
                *accepted.lock().unwrap() = Some(r.map_err(|e| e.kind()));
            });
            // Whether `accept` has blocked by now or starts after the stack thread has
            // stopped, it fails the same way.
            panic!("the user's code fails before stop()");
        })
    }));
    assert!(r.is_err(), "the panic reaches the caller");
    assert_eq!(
        accepted.into_inner().unwrap(),
        Some(Err(ErrorKind::ConnectionAborted))
    );
}

/// `StackThread::stop` gives the device back; a scope that returns early stops the
/// thread through the guard as well.
#[test]
fn scoped_stack_thread_stops_and_returns_the_device() {
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net = BlockingStack::new(Stack::new(config(), &mut storage));
    let early = std::thread::scope(|s| -> Result<(), ()> {
        let _guard = net.spawn_scoped(s, LoopWire::default());
        Err(())?;
        Ok(())
    });
    assert!(early.is_err());
    std::thread::scope(|s| {
        let t = net.spawn_scoped(s, LoopWire::default());
        let mut c = net.connect(SELF.parse().unwrap());
        assert_eq!(
            c.as_mut().err().map(|e| e.kind()),
            Some(ErrorKind::ConnectionRefused)
        );
        let _wire: LoopWire = t.stop();
    });
}

/// `split`: one thread writes while another reads the echo from the same connection;
/// `wait_acked` returns once the peer has acknowledged all of it and our FIN.
#[test]
fn split_halves_in_two_threads() {
    const LEN: u64 = 300_000;
    with_net(8192, |net| {
        let l = net.listen(7, 1).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let (mut conn, _) = l.accept().unwrap();
                let (mut r, mut w) = conn.split();
                std::io::copy(&mut r, &mut w).unwrap();
            });
            let mut c = net.connect(SELF.parse().unwrap()).unwrap();
            c.set_write_timeout(GUARD).unwrap();
            c.set_read_timeout(GUARD).unwrap();
            let (mut r, mut w) = c.split();
            std::thread::scope(|s2| {
                s2.spawn(move || {
                    let data: Vec<u8> = (0..LEN).map(|i| pattern(6, i)).collect();
                    w.write_all(&data).unwrap();
                    w.shutdown_write().unwrap();
                    w.wait_acked().unwrap();
                });
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                assert_eq!(got.len() as u64, LEN);
                assert!(
                    got.iter()
                        .enumerate()
                        .all(|(i, b)| *b == pattern(6, i as u64))
                );
            });
        });
    });
}

/// The blocking `embedded-io` traits on the blocking stream, as `embedded-io` code
/// (drivers, protocol crates) uses them; a timeout comes back as tidytcp's `WouldBlock`.
#[test]
fn embedded_io_traits_on_blocking_streams() {
    use embedded_io::{Read as ERead, Write as EWrite};
    with_net(8192, |net| {
        let l = net.listen(7, 1).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let (mut conn, _) = l.accept().unwrap();
                let mut buf = [0u8; 5];
                ERead::read_exact(&mut conn, &mut buf).unwrap();
                EWrite::write_all(&mut conn, &buf).unwrap();
                EWrite::flush(&mut conn).unwrap();
            });
            let mut c = net.connect(SELF.parse().unwrap()).unwrap();
            EWrite::write_all(&mut c, b"e-io!").unwrap();
            let mut got = [0u8; 5];
            ERead::read_exact(&mut c, &mut got).unwrap();
            assert_eq!(&got, b"e-io!");
            c.set_read_timeout(Some(StdDuration::from_millis(1)))
                .unwrap();
            let mut more = [0u8; 1];
            // The server has closed or will close: end of stream, or a timeout first.
            match ERead::read(&mut c, &mut more) {
                Ok(0) | Err(tidytcp::Error::WouldBlock) => {}
                other => panic!("{other:?}"),
            }
        });
    });
}

#[test]
fn read_timeout_is_would_block_and_reading_goes_on() {
    with_net(4096, |net| {
        let l = net.listen(7, 1).unwrap();
        let mut c = net.connect(SELF.parse().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        assert_eq!(
            c.set_read_timeout(Some(StdDuration::ZERO))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        c.set_read_timeout(Some(StdDuration::from_millis(20)))
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        s.write_all(b"late").unwrap();
        c.set_read_timeout(GUARD).unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"late");
        c.close();
        s.close();
        l.close();
    });
}

#[test]
fn write_timeout_when_the_peer_does_not_read() {
    with_net(4096, |net| {
        let l = net.listen(7, 1).unwrap();
        let mut c = net.connect(SELF.parse().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.set_write_timeout(Some(StdDuration::from_millis(50)))
            .unwrap();
        let chunk = [1u8; 1024];
        let mut queued = 0;
        let err = loop {
            match c.write(&chunk) {
                Ok(n) => queued += n,
                Err(e) => break e,
            }
            assert!(queued < 1 << 20, "writes never blocked");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        // Our send buffer and the peer's receive buffer are full, nothing more.
        assert!(queued >= 4096);
        c.abort();
        s.abort();
        l.close();
    });
}

#[test]
fn shutdown_read_and_write() {
    with_net(4096, |net| {
        let l = net.listen(7, 1).unwrap();
        let mut c = net.connect(SELF.parse().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.shutdown(Shutdown::Read).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(c.read(&mut buf).unwrap(), 0);
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
        s.set_read_timeout(GUARD).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0, "the peer sees our FIN");
        drop(s);
        drop(c);
        drop(l);
    });
}

#[test]
fn accept_timeout_and_refused_connect() {
    with_net(4096, |net| {
        let l = net.listen(7, 1).unwrap();
        let e = l
            .accept_timeout(Some(StdDuration::from_millis(20)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        let e = net.connect("10.0.0.1:8".parse().unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        l.close();
    });
}

#[test]
fn dropped_listener_resets_its_queue() {
    with_net(4096, |net| {
        let l = net.listen(7, 2).unwrap();
        let mut c = net.connect(SELF.parse().unwrap()).unwrap();
        c.set_read_timeout(GUARD).unwrap();
        drop(l);
        let mut buf = [0u8; 4];
        assert_eq!(
            c.read(&mut buf).unwrap_err().kind(),
            ErrorKind::ConnectionReset
        );
        c.close();
    });
}

/// The `'static` variant: the stack thread owns the device and hands it back on `stop`.
#[test]
fn static_stack_thread() {
    let storage: &'static mut HeapStorage = Box::leak(Box::new(HeapStorage::new(2, 1, 4096, 4096)));
    let net: &'static BlockingStack<Stack<'static>> =
        Box::leak(Box::new(BlockingStack::new(Stack::new(config(), storage))));
    let thread = net.spawn(LoopWire::default());
    let l = net.listen(7, 1).unwrap();
    let mut c = net.connect(SELF.parse().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"static").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "static");
    drop((c, s, l));
    assert!(net.wait_for(GUARD, |st| st.in_use() == 0).unwrap());
    net.stop();
    let _wire: LoopWire = thread.join().unwrap();
}
