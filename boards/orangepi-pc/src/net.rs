//! The network side shared by the firmwares: the EMAC, the address, the seed, the
//! console commands.

use static_cell::ConstStaticCell;
use tidytcp::drivers::sun8i_emac::{
    EmacConfig, EmacStorage, H3_EMAC_BASE, H3_EPHY_ADDR, Mmio, Sun8iEmac, h3_power_up,
};
use tidytcp::wire::ethernet::EthernetAddress;
use tidytcp::wire::ipv4::Ipv4Cidr;

use crate::clock::Clock;
use crate::println;

/// The firmware's address: `10.8.0.2/24` unless `TIDYTCP_IP` was set at build time.
pub fn address() -> Ipv4Cidr {
    option_env!("TIDYTCP_IP")
        .unwrap_or("10.8.0.2/24")
        .parse()
        .unwrap_or_else(|_| panic!("TIDYTCP_IP is not an a.b.c.d/len address"))
}

/// Receive and transmit descriptors.
pub const RX_DESCS: usize = 64;
/// Transmit descriptors.
pub const TX_DESCS: usize = 32;

/// The EMAC driver type of the firmwares.
pub type Emac = Sun8iEmac<'static, Mmio>;

static EMAC_MEM: ConstStaticCell<EmacStorage<RX_DESCS, TX_DESCS>> =
    ConstStaticCell::new(EmacStorage::new());

/// Powers up and opens the EMAC (checksum offload as asked), waits up to three seconds
/// for the link, and returns the driver.
pub fn bring_up_emac(clock: &Clock, checksum_offload: bool) -> Emac {
    // SAFETY: this is an H3 (or QEMU's model of one) with the MMU off, and the firmware
    // opens the EMAC once; nothing else programs the CCU, system controller or EMAC.
    let regs = unsafe {
        h3_power_up(H3_EPHY_ADDR);
        Mmio::new(H3_EMAC_BASE)
    };
    let mem = EMAC_MEM.take();
    let cfg = EmacConfig {
        mac: None,
        phy_addr: H3_EPHY_ADDR,
        checksum_offload,
    };
    let mut emac = match Sun8iEmac::new(regs, mem, cfg) {
        Ok(e) => e,
        Err(e) => panic!("EMAC: {e}"),
    };
    // The MAC address is the one already programmed: QEMU's from `-nic ...,mac=`,
    // U-Boot's from the SoC's SID on a board.
    if emac.mac() == EthernetAddress([0; 6]) {
        panic!("EMAC has no MAC address; pass -nic ...,mac= (or let U-Boot set it)");
    }
    let deadline = clock.now() + tidytcp::Duration::from_secs(3);
    loop {
        match emac.link() {
            Ok(l) if l.up => {
                emac.apply_link_mode();
                println!(
                    "link up: {} Mbit/s {} duplex",
                    if l.speed_100 { 100 } else { 10 },
                    if l.full_duplex { "full" } else { "half" }
                );
                break;
            }
            Ok(_) if clock.now() < deadline => {}
            Ok(_) => {
                println!("link still down; going on");
                break;
            }
            Err(e) => panic!("PHY: {e}"),
        }
    }
    emac
}

/// 128 bits for the stack's secrets, from the generic timer counter (its low bits at the
/// moment of the call, after boot and link-up delays) mixed with a board constant.
///
/// NOT a real random number generator: the H3 has no documented TRNG, and under QEMU
/// the counter at this point varies little from run to run. Good enough to make ISNs
/// and ports differ between boots; a product must seed from a real entropy source.
pub fn seed() -> [u8; 16] {
    const BOARD: u64 = 0x4f72_616e_6765_5069; // "OrangePi"
    let mut x = crate::clock::counter() ^ BOARD;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        // splitmix64 step: spreads the counter's bits over the whole word.
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// The stack configuration of the firmwares: the EMAC's MAC, [`address`], [`seed`], and
/// the defaults for everything else.
pub fn stack_config(emac: &Emac) -> tidytcp::stack::Config {
    tidytcp::stack::Config::new(emac.mac(), address(), seed())
}

/// A console command, read without blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `s`: print the counters.
    Stats,
    /// `q`: print the counters and end the run (exit code 0 under QEMU).
    Quit,
}

/// The next console command, if one was typed.
pub fn command() -> Option<Command> {
    match crate::console::Uart.try_get()? {
        b's' => Some(Command::Stats),
        b'q' => Some(Command::Quit),
        _ => None,
    }
}
