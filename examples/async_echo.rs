//! The async adapter under a real executor (`futures`' single-threaded `LocalPool`): an
//! echo server and a client as two tasks on one stack that talks to itself over a
//! loopback device, and a super-loop that runs the executor and the stack in turn —
//! the shape of firmware whose main loop sleeps (`wfi`) until an interrupt or a deadline.
//!
//! ```sh
//! cargo run --example async_echo
//! ```

use std::cell::Cell;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use embedded_io_async::Write;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use static_cell::StaticCell;
use tidytcp::drivers::Loopback;
use tidytcp::socket::SocketStorage;
use tidytcp::socket::asynch::AsyncStack;
use tidytcp::stack::{Config, Stack};
use tidytcp::{Error, Instant};

type Net = AsyncStack<Stack<'static>, 4, 1>;

static STORAGE: StaticCell<SocketStorage<4, 1, 4096, 4096>> = StaticCell::new();
static NET: StaticCell<Net> = StaticCell::new();
static DONE: StaticCell<Cell<usize>> = StaticCell::new();

async fn server(net: &'static Net, done: &'static Cell<usize>) -> Result<(), Error> {
    let listener = net.listen(7, 2)?;
    for _ in 0..2 {
        let (mut conn, _peer) = listener.accept().await?;
        let mut buf = [0; 256];
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break; // the client's FIN
            }
            conn.write_all(&buf[..n]).await?;
        }
        conn.wait_acked().await?; // everything echoed has reached the client
        conn.close();
    }
    listener.close();
    done.set(done.get() + 1);
    Ok(())
}

async fn client(
    net: &'static Net,
    done: &'static Cell<usize>,
    text: &'static str,
) -> Result<(), Error> {
    let mut conn = net.connect("127.0.0.1:7".parse().unwrap()).await?;
    conn.write_all(text.as_bytes()).await?;
    conn.shutdown_write()?;
    let mut echo = Vec::new();
    let mut buf = [0; 64];
    loop {
        match conn.read(&mut buf).await? {
            0 => break,
            n => echo.extend_from_slice(&buf[..n]),
        }
    }
    println!("client got back {:?}", String::from_utf8_lossy(&echo));
    assert_eq!(echo, text.as_bytes());
    conn.close();
    done.set(done.get() + 1);
    Ok(())
}

fn main() {
    let cfg = Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "127.0.0.1/8".parse().unwrap(),
        *b"example seed 16b",
    );
    let net: &'static Net = NET.init(AsyncStack::new(Stack::new(
        cfg,
        STORAGE.init(SocketStorage::new()),
    )));
    let done: &'static Cell<usize> = DONE.init(Cell::new(0));

    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    spawner
        .spawn_local(async move { server(net, done).await.unwrap() })
        .unwrap();
    for text in ["hello, async world", "a second connection"] {
        spawner
            .spawn_local(async move { client(net, done, text).await.unwrap() })
            .unwrap();
    }

    let mut dev = Loopback::<8>::new();
    let start = StdInstant::now();
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    while done.get() < 3 {
        let now = clock();
        let next = net.with(|stack| stack.poll(now, &mut dev)).unwrap();
        // Run every task the poll woke; they may queue more for the stack.
        pool.run_until_stalled();
        if net.take_activity() {
            continue;
        }
        // Nothing to do until the stack's next deadline (a board would sleep in `wfi`,
        // woken early by the network interrupt).
        let wait = next.map_or(StdDuration::from_millis(10), |t| {
            t.saturating_duration_since(clock()).into()
        });
        std::thread::sleep(wait.min(StdDuration::from_millis(10)));
    }
    println!("\nsocket table at the end (closed connections wait in TIME-WAIT):");
    net.with(|stack| {
        for s in stack.sockets() {
            println!("{s}");
        }
    })
    .unwrap();
}
