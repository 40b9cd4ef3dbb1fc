//! UART0 of the H3: a 16550-compatible UART at `0x01C2_8000` with 32-bit-spaced
//! registers, 115200 8N1 from the 24 MHz oscillator.
//!
//! On a real board the boot ROM/U-Boot has routed pins PA4/PA5 to UART0 and opened its
//! clock gate; [`init`] only sets the line format. QEMU needs nothing.

use core::fmt;

const UART0: usize = 0x01C2_8000;
const THR: usize = 0x00; // transmit holding / receive buffer / divisor latch low
const DLH: usize = 0x04; // divisor latch high (with DLAB)
const FCR: usize = 0x08;
const LCR: usize = 0x0C;
const LSR: usize = 0x14;
const LSR_DATA_READY: u32 = 1 << 0;
const LSR_THR_EMPTY: u32 = 1 << 5;

fn read(off: usize) -> u32 {
    // SAFETY: UART0's registers on the H3, 32-bit aligned, mapped 1:1 with the MMU off;
    // reading them affects only the UART.
    unsafe { core::ptr::read_volatile((UART0 + off) as *const u32) }
}

fn write(off: usize, v: u32) {
    // SAFETY: as for `read`.
    unsafe { core::ptr::write_volatile((UART0 + off) as *mut u32, v) }
}

/// 115200 8N1 (divisor 13 from 24 MHz), FIFOs on and cleared.
pub fn init() {
    write(LCR, 0x83);
    write(THR, 13);
    write(DLH, 0);
    write(LCR, 0x03);
    write(FCR, 0x07);
}

/// The console. Zero-sized: every value writes to UART0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uart;

impl Uart {
    /// Sends one byte, waiting for room.
    pub fn put(self, b: u8) {
        while read(LSR) & LSR_THR_EMPTY == 0 {}
        write(THR, u32::from(b));
    }

    /// A received byte, if one is waiting.
    pub fn try_get(self) -> Option<u8> {
        (read(LSR) & LSR_DATA_READY != 0).then(|| read(THR) as u8)
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        Ok(())
    }
}

/// Prints to UART0, with a newline.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::console::Uart, $($arg)*);
    }};
}

/// Prints to UART0.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::console::Uart, $($arg)*);
    }};
}
