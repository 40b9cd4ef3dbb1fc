//! One echo exchange through each of tidytcp's four ways of use — core super-loop,
//! shared, async (under a tiny executor of its own) and blocking — with only the public
//! API and `tidytcp` as a dependency. Prints one line per adapter; exits non-zero on
//! any failure.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tidytcp::drivers::Loopback;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::socket::blocking::BlockingStack;
use tidytcp::socket::shared::SharedStack;
use tidytcp::socket::{HeapStorage, Shutdown};
use tidytcp::stack::{Config, Stack};
use tidytcp::{Duration, Error, Instant};

fn config() -> Config {
    let mac = "02:00:00:00:00:01".parse().unwrap();
    Config::with_os_seed(mac, "127.0.0.1/8".parse().unwrap()).expect("OS random source")
}

fn main() {
    core_loop();
    shared();
    asynch();
    blocking();
    println!("user-crate: 4 passed, 0 failed");
}

/// The core API in a super-loop.
fn core_loop() {
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let mut stack = Stack::new(config(), &mut storage);
    let mut dev = Loopback::<8>::new();
    let listener = stack.listen(7, 1).unwrap();
    let mut client = stack.connect("127.0.0.1:7".parse().unwrap()).unwrap();
    let mut now = Instant::ZERO;
    let (mut server, peer) = loop {
        stack.poll(now, &mut dev);
        match listener.accept(&mut stack) {
            Ok(s) => break s,
            Err(Error::WouldBlock) => now += Duration::from_millis(1),
            Err(e) => panic!("accept: {e}"),
        }
    };
    client.write(&mut stack, b"core").unwrap();
    client.shutdown(&mut stack, Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 16];
    loop {
        stack.poll(now, &mut dev);
        match server.read(&mut stack, &mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Error::WouldBlock) => now += Duration::from_millis(1),
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(got, b"core");
    assert_eq!(server.peer_addr(&stack).unwrap(), peer);
    server.close(&mut stack);
    client.close(&mut stack);
    listener.close(&mut stack);
    println!("core: echoed {:?} from {peer}", String::from_utf8_lossy(&got));
}

/// The shared stack: handles usable from other tasks; a critical-section implementation
/// comes with tidytcp's `std` feature.
fn shared() {
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net = SharedStack::new(Stack::new(config(), &mut storage));
    let mut dev = Loopback::<8>::new();
    let listener = net.listen(7, 1).unwrap();
    let mut client = net.connect("127.0.0.1:7".parse().unwrap()).unwrap();
    client.write(b"shared").unwrap();
    let mut now = Instant::ZERO;
    let mut step = || {
        net.with(|s| s.poll(now, &mut dev)).unwrap();
        now += Duration::from_millis(1);
    };
    let (mut server, _) = loop {
        step();
        if let Ok(s) = listener.accept() {
            break s;
        }
    };
    let mut buf = [0; 16];
    let n = loop {
        step();
        if let Ok(n) = server.read(&mut buf) {
            break n;
        }
    };
    assert_eq!(&buf[..n], b"shared");
    server.close();
    client.close();
    listener.close();
    println!("shared: received {:?}", String::from_utf8_lossy(&buf[..n]));
}

/// Wakes nothing: the loop below polls the futures and the stack in turn.
struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// The async adapter, driven by a hand-written executor loop (any executor works).
fn asynch() {
    use embedded_io_async::{Read, Write};
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net: AsyncStack<Stack<'_>, 4, 1> = AsyncStack::new(Stack::new(config(), &mut storage));
    let listener = net.listen(7, 1).unwrap();
    let server = async {
        let (mut conn, _) = listener.accept().await?;
        let mut buf = [0; 16];
        let n = conn.read(&mut buf).await?;
        let (_, mut w) = conn.split();
        w.write_all(&buf[..n]).await?;
        w.wait_acked().await?;
        conn.close();
        Ok::<(), Error>(())
    };
    let client = async {
        let mut conn = net
            .connect_timeout("127.0.0.1:7".parse().unwrap(), core::time::Duration::from_secs(5))
            .await?;
        conn.write_all(b"async").await?;
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).await.map_err(|_| Error::ConnectionReset)?;
        conn.close();
        Ok::<[u8; 5], Error>(buf)
    };
    let (mut server, mut client) = (pin!(server), pin!(client));
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut dev = Loopback::<8>::new();
    let (mut s_done, mut c_done) = (None, None);
    let mut now = Instant::ZERO;
    for _ in 0..100_000 {
        if s_done.is_none() {
            if let Poll::Ready(r) = server.as_mut().poll(&mut cx) {
                s_done = Some(r);
            }
        }
        if c_done.is_none() {
            if let Poll::Ready(r) = client.as_mut().poll(&mut cx) {
                c_done = Some(r);
            }
        }
        if s_done.is_some() && c_done.is_some() {
            break;
        }
        net.with(|s| s.poll(now, &mut dev)).unwrap();
        now += Duration::from_millis(1);
    }
    s_done.expect("server finished").unwrap();
    let echoed = c_done.expect("client finished").unwrap();
    assert_eq!(&echoed, b"async");
    println!("async: echoed {:?}", String::from_utf8_lossy(&echoed));
}

/// The blocking adapter: the stack on a scoped thread, stopped by its guard.
fn blocking() {
    use std::io::{Read, Write};
    let mut storage = HeapStorage::new(4, 1, 4096, 4096);
    let net = BlockingStack::new(Stack::new(config(), &mut storage));
    std::thread::scope(|s| {
        let _stack_thread = net.spawn_scoped(s, Loopback::<8>::new());
        let listener = net.listen(7, 1).unwrap();
        let server = s.spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut all = Vec::new();
            conn.read_to_end(&mut all).unwrap();
            conn.write_all(&all).unwrap();
        });
        let mut client = net
            .connect_timeout("127.0.0.1:7".parse().unwrap(), std::time::Duration::from_secs(5))
            .unwrap();
        client.write_all(b"blocking").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut echo = Vec::new();
        client.read_to_end(&mut echo).unwrap();
        server.join().unwrap();
        assert_eq!(echo, b"blocking");
        println!("blocking: echoed {:?}", String::from_utf8_lossy(&echo));
    });
}
