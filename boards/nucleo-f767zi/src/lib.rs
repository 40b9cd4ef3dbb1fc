//! What the two firmwares share: the clock tree, the Ethernet driver on the board's
//! pins, the seed from the RNG, and the board's constants.
#![no_std]

use embassy_stm32::eth::{self, Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::peripherals::{self, ETH, ETH_SMA};
use embassy_stm32::rng::{self, Rng};
use embassy_stm32::time::Hertz;
use embassy_stm32::{Peripherals, bind_interrupts};
use static_cell::StaticCell;

bind_interrupts!(
    /// The Ethernet and RNG interrupts.
    pub struct Irqs {
        ETH => eth::InterruptHandler;
        RNG => rng::InterruptHandler<peripherals::RNG>;
    }
);

/// The Ethernet driver of the board: the MAC with the LAN8742A PHY.
pub type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

/// Starts the clocks, and returns the Ethernet driver and 16 random bytes from the
/// hardware RNG (new at every boot).
pub fn init() -> (Device, [u8; 16]) {
    let p: Peripherals = embassy_stm32::init(clocks());
    let mut seed = [0u8; 16];
    Rng::new(p.RNG, Irqs).fill_bytes(&mut seed);
    static QUEUE: StaticCell<PacketQueue<8, 8>> = StaticCell::new();
    // NUCLEO-F767ZI RMII: REF_CLK PA1, CRS_DV PA7, RXD0 PC4, RXD1 PC5, TXD0 PG13,
    // TXD1 PB13, TX_EN PG11; MDIO PA2, MDC PC1.
    let eth = Ethernet::new(
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
    (eth, seed)
}

/// Connections served at once: two echo tasks and one HTTP task.
pub const CONNS: usize = 3;
/// Receive and send buffer of each connection.
pub const BUF: usize = 8192;
/// The board's address and prefix length (static: DHCP once tidytcp has it).
pub const ADDRESS: ([u8; 4], u8) = ([192, 168, 1, 50], 24);
/// A locally administered MAC.
pub const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0xf7, 0x67, 0x01];
/// The page the HTTP task serves.
pub const PAGE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 44\r\n\
    Connection: close\r\n\r\n<h1>tidytcp on a NUCLEO-F767ZI board</h1>\r\n";

/// 216 MHz from the ST-LINK's 8 MHz clock (HSE bypass): Ethernet needs HCLK ≥ 25 MHz.
pub fn clocks() -> embassy_stm32::Config {
    use embassy_stm32::rcc::*;
    let mut config = embassy_stm32::Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.pll_src = PllSource::HSE;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL216,
        divp: Some(PllPDiv::DIV2),
        divq: None,
        divr: None,
    });
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.sys = Sysclk::PLL1_P;
    config
}
