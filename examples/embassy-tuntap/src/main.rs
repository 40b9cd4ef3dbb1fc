//! RFC 862 echo (port 7), RFC 863 discard (9), RFC 864 chargen (19) and an iperf3
//! server (5201, one stream, `-R` too) on tidytcp, with
//! the stack driven by its async runner over `EmbassyDevice<TunTapDevice>`: the
//! `embassy-net-tuntap` driver, under the `futures` `LocalPool` executor. One task per
//! connection. A line `quit` sent to port 7777 ends the program.
//!
//! ```text
//! embassy-tuntap [--tap tap0] [--ip 10.7.0.2/24]
//! ```
//! Prints `ready: ...` once serving, and one line per finished connection
//! (`SERVICE PEER: in N out M bytes, ...`), as the `inetd` example does.

use std::net::SocketAddr;

mod iperf3;

use embassy_tuntap::{Net, open, options};
use embedded_io_async::Write;
use futures::executor::LocalPool;
use futures::future::{Either, select};
use futures::task::LocalSpawnExt;
use tidytcp::socket::asynch::{TcpListener, TcpStream};
use tidytcp::socket::runner::StdTimer;

fn main() {
    let o = options();
    assert!(o.rest.is_empty(), "unknown arguments {:?}", o.rest);
    let (tap, cidr) = (o.tap.clone(), o.ip);
    let (mut device, net): (_, &'static Net) = open(&o);
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    for (port, service) in [
        (7, Service::Echo),
        (9, Service::Discard),
        (19, Service::Chargen),
    ] {
        let listener = net.listen(port, 16).expect("listen");
        let s = spawner.clone();
        spawner
            .spawn_local(serve(listener, service, s))
            .expect("spawn");
    }
    let iperf = net.listen(5201, 4).expect("listen on the iperf3 port");
    spawner.spawn_local(iperf3::serve(iperf)).expect("spawn");
    let quit = net.listen(7777, 1).expect("listen on the status port");
    println!(
        "ready: {} on {tap}, echo 7, discard 9, chargen 19, iperf3 5201",
        cidr.address()
    );
    let mut timer = StdTimer::new();
    let runner = net.run(&mut device, &mut timer);
    match pool.run_until(select(Box::pin(runner), Box::pin(wait_for_quit(quit)))) {
        Either::Left(_) => unreachable!("the runner never ends"),
        Either::Right(_) => println!("quit"),
    }
}

#[derive(Clone, Copy)]
enum Service {
    Echo,
    Discard,
    Chargen,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Discard => "discard",
            Service::Chargen => "chargen",
        }
    }
}

/// Accepts connections for ever, one task each.
async fn serve(
    listener: TcpListener<'static, 'static>,
    service: Service,
    spawner: futures::executor::LocalSpawner,
) {
    loop {
        match listener.accept().await {
            Ok((conn, peer)) => {
                let task = handle(conn, peer, service);
                if spawner.spawn_local(task).is_err() {
                    return;
                }
            }
            Err(e) => eprintln!("{}: accept: {e}", service.name()),
        }
    }
}

/// Serves one connection and prints what it moved.
async fn handle(mut conn: TcpStream<'static, 'static>, peer: SocketAddr, service: Service) {
    let (mut rx, mut tx) = (0u64, 0u64);
    let r = match service {
        Service::Echo => echo(&mut conn, &mut rx, &mut tx).await,
        Service::Discard => discard(&mut conn, &mut rx).await,
        Service::Chargen => chargen(&mut conn, &mut tx).await,
    };
    let name = service.name();
    match r {
        Ok(()) => {
            println!("{name} {peer}: in {rx} out {tx} bytes, peer closed first, closed");
            conn.close();
        }
        Err(e) => {
            println!("{name} {peer}: in {rx} out {tx} bytes, failed: {e}");
            conn.abort();
        }
    }
}

async fn echo(c: &mut TcpStream<'_, '_>, rx: &mut u64, tx: &mut u64) -> tidytcp::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = c.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        *rx += n as u64;
        c.write_all(&buf[..n]).await?;
        *tx += n as u64;
    }
}

async fn discard(c: &mut TcpStream<'_, '_>, rx: &mut u64) -> tidytcp::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf).await? {
            0 => return Ok(()),
            n => *rx += n as u64,
        }
    }
}

/// RFC 864's rotating 72-character lines, until the peer half-closes.
async fn chargen(c: &mut TcpStream<'_, '_>, tx: &mut u64) -> tidytcp::Result<()> {
    let period: Vec<u8> = (0..95u32)
        .flat_map(|line| {
            (0..72u32)
                .map(move |col| (32 + (line + col) % 95) as u8)
                .chain(*b"\r\n")
        })
        .collect();
    let (mut r, mut w) = c.split();
    let peer_done = async {
        let mut buf = [0u8; 64];
        loop {
            match r.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    };
    let writing = async {
        let mut pos = 0usize;
        loop {
            let off = pos % period.len();
            let n = w.write(&period[off..]).await?;
            pos += n;
            *tx += n as u64;
        }
    };
    match select(Box::pin(peer_done), Box::pin(writing)).await {
        Either::Left((r, _)) => r,
        Either::Right((r, _)) => r,
    }
}

/// Completes when a line `quit` arrives on the status port.
async fn wait_for_quit(listener: TcpListener<'static, 'static>) {
    loop {
        let Ok((mut c, _)) = listener.accept().await else {
            continue;
        };
        let mut line = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = c.read(&mut buf).await {
            line.extend_from_slice(&buf[..n]);
            if line.contains(&b'\n') {
                break;
            }
        }
        c.close();
        if line.starts_with(b"quit") {
            return;
        }
    }
}
