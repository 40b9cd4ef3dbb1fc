//! Board support for tidytcp on the Orange Pi PC (Allwinner H3, quad Cortex-A7, on-chip
//! EMAC with an internal 100 Mbit/s PHY), as real hardware or as QEMU's `orangepi-pc`.
//!
//! - [`boot`]: the entry point, exception vectors, stacks and `.bss`.
//! - [`console`]: UART0 (16550-compatible) as a `core::fmt::Write`, [`println!`].
//! - [`clock`]: a monotonic [`tidytcp::Instant`] from the ARM generic timer, and the
//!   wall clock from the H3's RTC.
//! - [`semihosting`]: ends QEMU with an exit code (`-semihosting`).
//! - [`net`]: the EMAC and the stack's configuration for the firmwares.
//! - [`iperf3`]: the iperf3 server protocol, sans-IO, shared by both iperf3 firmwares.
//!
//! The firmwares (`src/bin`) start with [`entry!`] and run a polling loop: one core,
//! no interrupts, MMU and caches off.
#![cfg_attr(not(test), no_std)]

// The hardware parts build for the board only; the protocol and date logic also on the
// host, where `cargo test --lib --target <host>` runs their unit tests.
#[cfg(target_arch = "arm")]
pub mod boot;
pub mod clock;
#[cfg(target_arch = "arm")]
pub mod console;
pub mod iperf3;
#[cfg(target_arch = "arm")]
pub mod net;
#[cfg(target_arch = "arm")]
pub mod semihosting;

/// Names the firmware's `fn main() -> !`, called by the boot code once the stacks are set
/// and `.bss` is zero.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn board_main() -> ! {
            let f: fn() -> ! = $main;
            f()
        }
    };
}

#[cfg(all(target_arch = "arm", not(test)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut c = console::Uart;
    let _ = writeln!(c, "\r\n*** PANIC: {info}");
    semihosting::exit(101)
}
