//! The echo server of `firmware-echo`, written with smoltcp (TCP-only features:
//! `proto-ipv4`, `socket-tcp`, `medium-ethernet`), to compare flash and RAM. The device is a stub that only moves bytes between memory and two fake
//! FIFO registers: no real MAC, so the numbers are the stack's and the application's.
//!
//! Socket memory is identical in both programs: two connections with 2 KiB send and
//! 2 KiB receive buffers each (8 KiB in `.bss`).
#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut};

use cortex_m_rt::entry;
use panic_halt as _;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use static_cell::StaticCell;

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

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME; // smoltcp counts the Ethernet header
        caps
    }
}

static SOCKETS: StaticCell<[SocketStorage<'static>; CONNS]> = StaticCell::new();
static BUFFERS: StaticCell<[[u8; BUF]; 2 * CONNS]> = StaticCell::new();
static MAC: StaticCell<StubMac> = StaticCell::new();

#[entry]
fn main() -> ! {
    let dev = MAC.init_with(|| StubMac {
        rx: [0; FRAME],
        tx: [0; FRAME],
    });
    let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
        2, 0, 0, 0, 0, 1,
    ])));
    cfg.random_seed = 0x5a5a_5a5a; // a real board takes this from its RNG
    let mut iface = Interface::new(cfg, dev, Instant::from_millis(0));
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::v4(192, 168, 69, 2), 24));
    });
    let mut sockets = SocketSet::new(&mut SOCKETS.init_with(|| [SocketStorage::EMPTY; CONNS])[..]);
    let mut bufs = BUFFERS.init_with(|| [[0; BUF]; 2 * CONNS]).iter_mut();
    let mut handles: [Option<SocketHandle>; CONNS] = [None; CONNS];
    for h in handles.iter_mut() {
        let (Some(rx), Some(tx)) = (bufs.next(), bufs.next()) else {
            break;
        };
        let s = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        *h = Some(sockets.add(s));
    }
    let mut buf = [0u8; 512];
    loop {
        let now = Instant::from_millis(reg_read(addr_of!(MILLIS)) as i64);
        iface.poll(now, dev, &mut sockets);
        for h in handles.iter().flatten() {
            let s = sockets.get_mut::<tcp::Socket>(*h);
            if !s.is_open() {
                let _ = s.listen(7);
                continue;
            }
            if s.can_recv() && s.can_send() {
                let room = (s.send_capacity() - s.send_queue()).min(buf.len());
                if let Ok(n) = s.recv_slice(&mut buf[..room]) {
                    let _ = s.send_slice(&buf[..n]);
                }
            } else if !s.may_recv() && s.may_send() {
                s.close();
            }
        }
    }
}
