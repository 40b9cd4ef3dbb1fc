//! What the two firmwares share: the clock tree and the board's constants.
#![no_std]

use embassy_stm32::time::Hertz;

/// Connections served at once: two echo tasks and one HTTP task.
pub const CONNS: usize = 3;
/// Receive and send buffer of each connection.
pub const BUF: usize = 8192;
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
