//! A TCP echo server on port 7 for a Cortex-M4F, built only to measure tidytcp's flash and
//! RAM footprint (`.ci/run` prints the sizes; `firmware-echo-smoltcp` is the same program
//! on smoltcp). The device is a stub that only moves bytes between memory and two fake
//! FIFO registers: no real MAC, so the numbers are the stack's and the application's.
//!
//! Socket memory is identical in both programs: two connections with 2 KiB send and
//! 2 KiB receive buffers each (8 KiB in `.bss`).
#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut};

#[cfg(feature = "proto-ipv4")]
use core::net::Ipv4Addr;
use cortex_m_rt::entry;
use panic_halt as _;
use static_cell::StaticCell;
use tidytcp::drivers::{Device, DeviceCaps, RxToken, TxToken};
use tidytcp::socket::{SocketStorage, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::wire::ethernet::EthernetAddress;
#[cfg(feature = "proto-ipv4")]
use tidytcp::wire::ipv4::Ipv4Cidr;
use tidytcp::{Error, Instant};

const CONNS: usize = 2;
const BUF: usize = 2048;
const FRAME: usize = 1514;

/// Stand-ins for a MAC's registers: the length of a received frame, a data FIFO each way,
/// and a millisecond counter. Volatile accesses keep the compiler from assuming anything
/// about them, as with real hardware.
static mut RX_LEN: usize = 0;
static mut RX_FIFO: u32 = 0;
static mut TX_FIFO: u32 = 0;
static mut MILLIS: u64 = 0;

fn reg_read<T: Copy>(r: *const T) -> T {
    // SAFETY: `r` points to one of the statics above, which are only accessed through
    // these volatile helpers from this single thread.
    unsafe { core::ptr::read_volatile(r) }
}

fn reg_write<T: Copy>(r: *mut T, v: T) {
    // SAFETY: as in `reg_read`.
    unsafe { core::ptr::write_volatile(r, v) }
}

/// The stub device: frames are copied word by word from/to the fake FIFOs.
struct StubMac {
    rx: [u8; FRAME],
    tx: [u8; FRAME],
}

struct Rx<'a>(&'a mut [u8; FRAME]);
struct Tx<'a>(&'a mut [u8; FRAME]);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let len = reg_read(addr_of!(RX_LEN)).min(FRAME);
        for w in self.0[..len].chunks_mut(4) {
            let v = reg_read(addr_of!(RX_FIFO)).to_le_bytes();
            w.copy_from_slice(&v[..w.len()]);
        }
        reg_write(addr_of_mut!(RX_LEN), 0);
        f(&self.0[..len])
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(FRAME);
        let r = f(&mut self.0[..len]);
        for w in self.0[..len].chunks(4) {
            let mut v = [0; 4];
            v[..w.len()].copy_from_slice(w);
            reg_write(addr_of_mut!(TX_FIFO), u32::from_le_bytes(v));
        }
        r
    }
}

impl Device for StubMac {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        if reg_read(addr_of!(RX_LEN)) == 0 {
            return None;
        }
        Some((Rx(&mut self.rx), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps::default()
    }
}

static STORAGE: StaticCell<SocketStorage<CONNS, 1, BUF, BUF>> = StaticCell::new();
static MAC: StaticCell<StubMac> = StaticCell::new();

#[entry]
fn main() -> ! {
    let storage = STORAGE.init_with(SocketStorage::new);
    let dev = MAC.init_with(|| StubMac {
        rx: [0; FRAME],
        tx: [0; FRAME],
    });
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    #[cfg(feature = "proto-ipv4")]
    let cfg = Config::new(mac, Ipv4Cidr::new(Ipv4Addr::new(192, 168, 69, 2), 24), [0x5a; 16]);
    // IPv6-only: the link-local address from the MAC, and SLAAC.
    #[cfg(not(feature = "proto-ipv4"))]
    let cfg = Config::from_mac(mac, [0x5a; 16]);
    let mut stack = Stack::new(cfg, storage);
    let listener = stack.listen(7, CONNS).unwrap();
    let mut conns: [Option<TcpStream<'_>>; CONNS] = [const { None }; CONNS];
    let mut buf = [0u8; 512];
    loop {
        let now = Instant::from_millis(reg_read(addr_of!(MILLIS)));
        stack.poll(now, dev);
        while let Ok((s, _)) = listener.accept(&mut stack) {
            match conns.iter_mut().find(|c| c.is_none()) {
                Some(free) => *free = Some(s),
                None => s.abort(&mut stack),
            }
        }
        for slot in conns.iter_mut() {
            let Some(s) = slot else { continue };
            let room = s.send_capacity(&stack).min(buf.len());
            if room == 0 {
                continue;
            }
            match s.read(&mut stack, &mut buf[..room]) {
                Ok(0) => {
                    if let Some(s) = slot.take() {
                        s.close(&mut stack);
                    }
                }
                Ok(n) => {
                    let _ = s.write(&mut stack, &buf[..n]);
                }
                Err(Error::WouldBlock) => {}
                Err(_) => {
                    if let Some(s) = slot.take() {
                        s.close(&mut stack);
                    }
                }
            }
        }
    }
}
