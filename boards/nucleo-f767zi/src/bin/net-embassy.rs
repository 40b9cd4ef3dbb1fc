//! The same firmware as `net` (echo on port 7 by two tasks, a page on port 80, the same
//! buffers, the same clocks and driver), on embassy-net 0.9 (smoltcp) instead of
//! tidytcp: the baseline of the footprint table in BENCHMARKS.md.
#![no_std]
#![no_main]

use defmt::{info, unwrap};
use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::peripherals::{ETH, ETH_SMA};
use embassy_stm32::rng::{self, Rng};
use embassy_stm32::{bind_interrupts, eth, peripherals};
use embedded_io_async::Write;
use nucleo_f767zi::{BUF, CONNS, MAC, PAGE};
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<peripherals::RNG>;
});

type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

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
    let p = embassy_stm32::init(nucleo_f767zi::clocks());
    info!("embassy-net on NUCLEO-F767ZI");
    let mut seed = [0u8; 8];
    Rng::new(p.RNG, Irqs).fill_bytes(&mut seed);
    static QUEUE: StaticCell<PacketQueue<8, 8>> = StaticCell::new();
    let device = Ethernet::new(
        QUEUE.init(PacketQueue::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        MAC,
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(192, 168, 1, 50), 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    static RESOURCES: StaticCell<StackResources<CONNS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        config,
        RESOURCES.init(StackResources::new()),
        u64::from_le_bytes(seed),
    );
    spawner.spawn(unwrap!(net_task(runner)));
    for _ in 0..2 {
        spawner.spawn(unwrap!(echo_task(stack)));
    }
    spawner.spawn(unwrap!(http_task(stack)));
}
