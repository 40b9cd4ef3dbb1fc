//! tidytcp on the NUCLEO-F767ZI: embassy-stm32's Ethernet driver through tidytcp's
//! `EmbassyDevice`, the stack run by `AsyncStack::run` as an embassy task, an echo
//! server on port 7 and a small HTTP page on port 80, logging with defmt over RTT.
//!
//! Flash and run with the on-board ST-LINK: `cargo run --release` (probe-rs, see
//! `.cargo/config.toml`). The address is static (`ADDRESS`); the MAC is the one given to
//! the driver, read back from it.
#![no_std]
#![no_main]

use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embedded_io_async::Write;
use nucleo_f767zi::{ADDRESS, BUF, CONNS, Device, MAC, PAGE};
use static_cell::StaticCell;
use tidytcp::drivers::EmbassyDevice;
use tidytcp::socket::SocketStorage;
use tidytcp::socket::asynch::{AsyncStack, TcpListener};
use tidytcp::socket::runner::EmbassyTimer;
use tidytcp::stack::Stack;
use tidytcp::wire::ipv4::Ipv4Cidr;
use {defmt_rtt as _, panic_probe as _};

type Net = AsyncStack<Stack<'static>, CONNS, 2>;

#[embassy_executor::task]
async fn net_task(net: &'static Net, mut device: EmbassyDevice<Device>) -> ! {
    match net.run(&mut device, &mut EmbassyTimer).await {}
}

/// RFC 862 echo, one connection at a time per task.
#[embassy_executor::task(pool_size = 2)]
async fn echo_task(listener: &'static TcpListener<'static, 'static>) {
    let mut buf = [0u8; 1024];
    loop {
        let Ok((mut conn, peer)) = listener.accept().await else {
            continue;
        };
        info!("echo: {}", defmt::Debug2Format(&peer));
        loop {
            match conn.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    warn!("echo: {}", defmt::Display2Format(&e));
                    break;
                }
            }
        }
        conn.close();
    }
}

/// A one-page HTTP/1.0 server.
#[embassy_executor::task]
async fn http_task(listener: &'static TcpListener<'static, 'static>) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        // Read the request head (up to its blank line), then answer and close.
        let mut seen = 0usize;
        while let Ok(n @ 1..) = conn.read(&mut buf[seen..]).await {
            seen = (seen + n).min(buf.len() - 1);
            if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        if conn.write_all(PAGE).await.is_ok() {
            let _ = conn.wait_acked().await;
        }
        conn.close();
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let (eth, seed) = nucleo_f767zi::init();
    info!("tidytcp on NUCLEO-F767ZI");
    let device = EmbassyDevice::new(eth);
    let mac = device
        .mac()
        .unwrap_or(tidytcp::wire::ethernet::EthernetAddress(MAC));
    let (ip, prefix) = ADDRESS;
    let cfg = tidytcp::stack::Config::new(mac, Ipv4Cidr::new(ip.into(), prefix), seed);

    static STORAGE: StaticCell<SocketStorage<CONNS, 2, BUF, BUF>> = StaticCell::new();
    static NET: StaticCell<Net> = StaticCell::new();
    let net: &'static Net = NET.init(AsyncStack::new(Stack::new(
        cfg,
        STORAGE.init(SocketStorage::new()),
    )));
    spawner.spawn(unwrap!(net_task(net, device)));

    static ECHO: StaticCell<TcpListener<'static, 'static>> = StaticCell::new();
    static HTTP: StaticCell<TcpListener<'static, 'static>> = StaticCell::new();
    let echo: &'static _ = ECHO.init(unwrap!(net.listen(7, CONNS).ok()));
    let http: &'static _ = HTTP.init(unwrap!(net.listen(80, CONNS).ok()));
    for _ in 0..2 {
        spawner.spawn(unwrap!(echo_task(echo)));
    }
    spawner.spawn(unwrap!(http_task(http)));
    info!("serving echo on 7 and HTTP on 80");
}
