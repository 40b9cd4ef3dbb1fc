//! The same firmware as `net` (echo on port 7 by two tasks, a page on port 80, the same
//! buffers, the same clocks and driver), on embassy-net 0.9 (smoltcp) instead of
//! tidytcp: the baseline of the footprint table in BENCHMARKS.md.
#![no_std]
#![no_main]

use defmt::{info, unwrap};
use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embedded_io_async::Write;
use nucleo_f767zi::{ADDRESS, BUF, CONNS, Device, PAGE};
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = 2)]
async fn echo_task(stack: Stack<'static>) {
    let (mut rx, mut tx, mut buf) = ([0u8; BUF], [0u8; BUF], [0u8; 1024]);
    loop {
        let mut s = TcpSocket::new(stack, &mut rx, &mut tx);
        if s.accept(7).await.is_err() {
            continue;
        }
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        s.close();
        let _ = s.flush().await;
    }
}

#[embassy_executor::task]
async fn http_task(stack: Stack<'static>) {
    let (mut rx, mut tx, mut buf) = ([0u8; BUF], [0u8; BUF], [0u8; 512]);
    loop {
        let mut s = TcpSocket::new(stack, &mut rx, &mut tx);
        if s.accept(80).await.is_err() {
            continue;
        }
        let mut seen = 0usize;
        while let Ok(n @ 1..) = s.read(&mut buf[seen..]).await {
            seen = (seen + n).min(buf.len() - 1);
            if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let _ = s.write_all(PAGE).await;
        s.close();
        let _ = s.flush().await;
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let (device, seed) = nucleo_f767zi::init();
    info!("embassy-net on NUCLEO-F767ZI");
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::from(ADDRESS.0), ADDRESS.1),
        gateway: None,
        dns_servers: Default::default(),
    });
    static RESOURCES: StaticCell<StackResources<CONNS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        config,
        RESOURCES.init(StackResources::new()),
        u64::from_le_bytes([
            seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
        ]),
    );
    spawner.spawn(unwrap!(net_task(runner)));
    for _ in 0..2 {
        spawner.spawn(unwrap!(echo_task(stack)));
    }
    spawner.spawn(unwrap!(http_task(stack)));
}
