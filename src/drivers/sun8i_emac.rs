//! [`Sun8iEmac`]: the Ethernet MAC of the Allwinner H3 (and its sun8i/sun50i kin: H5,
//! A64, A83T), as found on the Orange Pi PC, with its internal 100 Mbit/s PHY.
//!
//! The EMAC moves frames by DMA through two closed rings of 16-byte descriptors
//! `{status, ctl, buf, next}` (little-endian words): bit 31 of `status` says who owns a
//! descriptor (set: the DMA engine). The driver polls; it uses no interrupt.
//!
//! - **Receive**: every receive descriptor starts owned by the DMA, pointing at a
//!   [`BUF_SIZE`]-byte buffer. When one comes back, its frame is handed to the stack
//!   in place (the receive token borrows the DMA buffer), and the descriptor is
//!   returned to the DMA when the token is consumed or dropped.
//! - **Transmit**: a transmit token hands out the buffer of the next free descriptor;
//!   the stack builds its frame there, the driver sets length and flags, gives the
//!   descriptor to the DMA and writes the start bit. With
//!   [`EmacConfig::checksum_offload`] the EMAC inserts the IPv4 header and TCP
//!   checksums (the stack then leaves them zero: [`ChecksumCaps`]).
//! - **Memory**: descriptors and buffers live in an [`EmacStorage`] the caller puts in
//!   a `static` (const-constructible, e.g. in a `static_cell::StaticCell`). Descriptor
//!   words are atomics and buffers sit in `UnsafeCell`s: the DMA engine is another
//!   agent writing the same memory, and the ownership bit decides who may touch a
//!   buffer. A storage is claimed once; a second driver on it is refused.
//! - **Registers** go through [`Regs`]: [`Mmio`] on the board, a model of the device
//!   in the host unit tests.
//!
//! ## Caches and addresses
//!
//! Descriptor and buffer addresses are given to the DMA as the CPU sees them: the
//! driver assumes physical = virtual addresses and uncached memory, which is what the
//! Cortex-A7 runs with while its MMU and data cache are off (all data accesses are then
//! strongly ordered). Firmware that turns the data cache on must map the storage
//! non-cacheable.
//!
//! ## Real board versus QEMU
//!
//! QEMU's `orangepi-pc` model ignores clocks, resets and the EPHY control register,
//! but a real H3 needs them: [`h3_power_up`] opens the EMAC and EPHY bus clock gates,
//! takes both out of reset and selects the internal PHY, as the H3 user manual
//! (CCU and "EMAC-EPHY clock register" of the system controller) describes. U-Boot
//! normally leaves all of this done; doing it again is harmless.
//!
//! QEMU's model differs from the silicon in ways the driver handles:
//! - the receive length includes the 4 FCS bytes and is at least 68; the driver hands
//!   out `length - 4` bytes, and the IPv4 layer trusts the IP total length, so the
//!   padding of short frames is ignored;
//! - when the receive ring fills up, the model raises "receive buffer unavailable"
//!   and restarts at the *first* descriptor of the list rather than where it stopped,
//!   and it stops taking frames from its backend until the start bit is written
//!   again. After returning descriptors, the driver therefore re-points the list
//!   register at the oldest descriptor it gave back and writes the start bit, so
//!   frames stay in order. On silicon the DMA stops at exactly that descriptor, so
//!   re-pointing it there is harmless.
//! - transmission happens synchronously when the start bit is written.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering, compiler_fence, fence};

use super::{ChecksumCaps, Device, DeviceCaps, RxToken, TxToken};
use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;

/// Bytes per DMA buffer: a 1514-byte frame plus the FCS fits, rounded up to a
/// multiple of 64 (the buffers are 64-byte aligned). The descriptor's size field holds
/// at most 2047.
pub const BUF_SIZE: usize = 1536;

/// Physical address of the H3's EMAC register block.
pub const H3_EMAC_BASE: usize = 0x01C3_0000;
/// Physical address of the H3's clock control unit (CCU).
pub const H3_CCU_BASE: usize = 0x01C2_0000;
/// Physical address of the H3's system controller (holds the EMAC-EPHY register).
pub const H3_SYSCON_BASE: usize = 0x01C0_0000;
/// MDIO address of the H3's internal PHY as the Orange Pi PC device tree sets it
/// (and QEMU's `orangepi-pc` models it).
pub const H3_EPHY_ADDR: u8 = 1;

/// EMAC register offsets.
mod reg {
    pub const BASIC_CTL0: usize = 0x00;
    pub const BASIC_CTL1: usize = 0x04;
    pub const INT_STA: usize = 0x08;
    pub const INT_EN: usize = 0x0C;
    pub const TX_CTL0: usize = 0x10;
    pub const TX_CTL1: usize = 0x14;
    pub const TX_FLOW_CTL: usize = 0x1C;
    pub const TX_DESC_LIST: usize = 0x20;
    pub const RX_CTL0: usize = 0x24;
    pub const RX_CTL1: usize = 0x28;
    pub const RX_DESC_LIST: usize = 0x34;
    pub const RX_FRM_FLT: usize = 0x38;
    pub const MII_CMD: usize = 0x48;
    pub const MII_DATA: usize = 0x4C;
    pub const ADDR0_HIGH: usize = 0x50;
    pub const ADDR0_LOW: usize = 0x54;
}

/// Register bits.
mod bits {
    // BASIC_CTL0
    pub const CTL0_FULL_DUPLEX: u32 = 1 << 0;
    pub const CTL0_SPEED_100: u32 = 0b11 << 2;
    pub const CTL0_SPEED_10: u32 = 0b10 << 2;
    // BASIC_CTL1
    pub const CTL1_SOFT_RESET: u32 = 1 << 0;
    /// DMA burst length 8 (the reset value).
    pub const CTL1_BURST_8: u32 = 8 << 24;
    // INT_STA
    pub const INT_RX_BUF_UA: u32 = 1 << 9;
    // TX_CTL0 / RX_CTL0
    pub const TX_EN: u32 = 1 << 31;
    pub const RX_EN: u32 = 1 << 31;
    // TX_CTL1 / RX_CTL1
    pub const DMA_START: u32 = 1 << 31;
    pub const DMA_EN: u32 = 1 << 30;
    /// Store-and-forward (needed for transmit checksum insertion).
    pub const TX_MD: u32 = 1 << 1;
    /// Receive store-and-forward: a frame is passed on only once complete.
    pub const RX_MD: u32 = 1 << 1;
    // MII_CMD
    pub const MII_BUSY: u32 = 1 << 0;
    pub const MII_WRITE: u32 = 1 << 1;
    /// MDC = AHB clock / 128 (field value 3), under 2.5 MHz for any H3 AHB clock.
    pub const MII_MDC_DIV_128: u32 = 3 << 20;
}

/// Descriptor bits.
mod desc {
    /// The DMA engine owns the descriptor.
    pub const OWN: u32 = 1 << 31;
    /// Receive status: first and last descriptor of a frame.
    pub const RX_FIRST: u32 = 1 << 9;
    pub const RX_LAST: u32 = 1 << 8;
    /// Receive status: errors that spoil a frame (CRC, PHY, length, collision,
    /// overflow, no buffer). The payload and header checksum bits (0 and 7) are only
    /// meaningful with receive checksum offload, which this driver leaves off.
    pub const RX_ERRORS: u32 = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 11) | (1 << 14);
    pub const RX_LEN_SHIFT: u32 = 16;
    pub const RX_LEN_MASK: u32 = 0x3fff;
    /// Receive control: no interrupt for this descriptor.
    pub const RX_NO_INT: u32 = 1 << 31;
    /// Transmit control: first and last descriptor of the frame.
    pub const TX_FIRST: u32 = 1 << 29;
    pub const TX_LAST: u32 = 1 << 30;
    /// Transmit control: insert IPv4 header and TCP/UDP checksums (pseudo header
    /// included).
    pub const TX_CSUM_FULL: u32 = 0b11 << 27;
    /// Transmit status: error bits (underflow, deferral, collisions, carrier,
    /// payload/length/header errors).
    pub const TX_ERRORS: u32 =
        (1 << 1) | (1 << 2) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 14) | (1 << 16);
}

/// MII (IEEE 802.3 clause 22) registers and bits.
mod mii {
    pub const BMCR: u8 = 0;
    pub const BMSR: u8 = 1;
    pub const PHYID1: u8 = 2;
    pub const PHYID2: u8 = 3;
    pub const ADVERTISE: u8 = 4;
    pub const LPA: u8 = 5;
    pub const BMCR_ANENABLE: u16 = 1 << 12;
    pub const BMCR_ANRESTART: u16 = 1 << 9;
    pub const BMSR_LSTATUS: u16 = 1 << 2;
    /// 10/100 half/full duplex, IEEE 802.3 selector.
    pub const ADVERTISE_ALL: u16 = 0x01e1;
    pub const ADV_100FULL: u16 = 1 << 8;
    pub const ADV_100HALF: u16 = 1 << 7;
    pub const ADV_10FULL: u16 = 1 << 6;
}

/// Polls of a busy bit before giving up (MDIO at 1.5 MHz takes ~45 us per access; soft
/// reset a few microseconds).
const BUSY_POLLS: u32 = 1_000_000;

/// Access to the EMAC's 32-bit registers.
pub trait Regs {
    /// Reads the register at byte `offset`.
    fn read(&self, offset: usize) -> u32;
    /// Writes the register at byte `offset`.
    fn write(&self, offset: usize, value: u32);
}

impl<T: Regs + ?Sized> Regs for &T {
    fn read(&self, offset: usize) -> u32 {
        (**self).read(offset)
    }
    fn write(&self, offset: usize, value: u32) {
        (**self).write(offset, value)
    }
}

/// Memory-mapped registers at a physical address (MMU off, or mapped 1:1 as device
/// memory).
#[derive(Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// Registers at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a register block of the kind it is used for (the
    /// EMAC at [`H3_EMAC_BASE`] for [`Sun8iEmac`]), mapped and accessible with 32-bit
    /// accesses, and nothing else may program that block while this value is in use.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }

    /// Read-modify-write: sets `set` and clears `clear` in the register at `offset`.
    fn modify(&self, offset: usize, clear: u32, set: u32) {
        let v = self.read(offset);
        self.write(offset, (v & !clear) | set);
    }
}

impl Regs for Mmio {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `Mmio::new`'s contract: `base + offset` is a 32-bit register of the
        // block, aligned, mapped, and a volatile read of it has no effect on memory
        // the Rust program owns.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }
    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`; register writes change device state only.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}

/// Turns on what a real H3 needs before its EMAC answers: the EMAC and EPHY bus clock
/// gates, their resets released, and the internal PHY selected, powered up and given
/// MDIO address `phy_addr`, with a 25 MHz reference clock and MII between MAC and PHY.
/// (QEMU ignores all of this.)
///
/// Registers (H3 user manual): CCU `BUS_CLK_GATING_REG0` (0x060) bit 17 EMAC,
/// `BUS_CLK_GATING_REG4` (0x070) bit 0 EPHY, `BUS_SOFT_RST_REG0` (0x2C0) bit 17 EMAC,
/// `BUS_SOFT_RST_REG2` (0x2C8) bit 2 EPHY; system controller `EMAC_EPHY_CLK_REG0`
/// (0x30): bits 0-1 interface (0 = MII), bit 15 select internal PHY, bit 16 shut down
/// the PHY, bit 18 PHY clock (0 = 25 MHz), bits 20-24 PHY address.
///
/// # Safety
///
/// The H3's CCU and system controller must be at [`H3_CCU_BASE`] and
/// [`H3_SYSCON_BASE`], mapped 1:1, and nothing else may change these registers at the
/// same time.
pub unsafe fn h3_power_up(phy_addr: u8) {
    // SAFETY: the caller's contract: these are the H3's CCU and system controller.
    let ccu = unsafe { Mmio::new(H3_CCU_BASE) };
    // SAFETY: as above.
    let syscon = unsafe { Mmio::new(H3_SYSCON_BASE) };
    ccu.modify(0x060, 0, 1 << 17);
    ccu.modify(0x070, 0, 1 << 0);
    ccu.modify(0x2C0, 0, 1 << 17);
    ccu.modify(0x2C8, 0, 1 << 2);
    let ephy = syscon.read(0x30);
    let ephy = (ephy & !((0x1f << 20) | (1 << 18) | (1 << 16) | 0b11))
        | (1 << 15)
        | ((u32::from(phy_addr) & 0x1f) << 20);
    syscon.write(0x30, ephy);
}

/// One DMA descriptor as the EMAC reads and writes it.
#[repr(C, align(16))]
struct Desc {
    status: AtomicU32,
    ctl: AtomicU32,
    buf: AtomicU32,
    next: AtomicU32,
}

impl Desc {
    const fn new() -> Self {
        Desc {
            status: AtomicU32::new(0),
            ctl: AtomicU32::new(0),
            buf: AtomicU32::new(0),
            next: AtomicU32::new(0),
        }
    }
}

/// One DMA buffer. Who may touch it is decided by its descriptor's ownership bit.
#[repr(C, align(64))]
struct Buf(UnsafeCell<[u8; BUF_SIZE]>);

impl Buf {
    const fn new() -> Self {
        Buf(UnsafeCell::new([0; BUF_SIZE]))
    }
}

/// Descriptor rings and buffers for one EMAC: `RX` receive and `TX` transmit
/// descriptors, each with a [`BUF_SIZE`]-byte buffer. Const-constructible, for a
/// `static`:
///
/// ```
/// use static_cell::StaticCell;
/// use tidytcp::drivers::sun8i_emac::EmacStorage;
/// static EMAC_MEM: StaticCell<EmacStorage<32, 16>> = StaticCell::new();
/// let mem: &'static mut EmacStorage<32, 16> = EMAC_MEM.init(EmacStorage::new());
/// # let _ = mem;
/// ```
#[repr(C)]
pub struct EmacStorage<const RX: usize, const TX: usize> {
    rx_desc: [Desc; RX],
    tx_desc: [Desc; TX],
    rx_buf: [Buf; RX],
    tx_buf: [Buf; TX],
    taken: AtomicBool,
}

impl<const RX: usize, const TX: usize> EmacStorage<RX, TX> {
    /// Empty rings.
    pub const fn new() -> Self {
        EmacStorage {
            rx_desc: [const { Desc::new() }; RX],
            tx_desc: [const { Desc::new() }; TX],
            rx_buf: [const { Buf::new() }; RX],
            tx_buf: [const { Buf::new() }; TX],
            taken: AtomicBool::new(false),
        }
    }
}

impl<const RX: usize, const TX: usize> Default for EmacStorage<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize> core::fmt::Debug for EmacStorage<RX, TX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmacStorage")
            .field("rx", &RX)
            .field("tx", &TX)
            .finish_non_exhaustive()
    }
}

/// How to bring the EMAC up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmacConfig {
    /// The MAC address to program; `None` keeps the one in the address registers (set
    /// by U-Boot on a board, by `-nic ...,mac=` under QEMU).
    pub mac: Option<EthernetAddress>,
    /// MDIO address of the PHY ([`H3_EPHY_ADDR`] for the internal one).
    pub phy_addr: u8,
    /// Let the EMAC insert IPv4 header and TCP checksums on transmit.
    pub checksum_offload: bool,
}

impl EmacConfig {
    /// The internal PHY, the MAC address already programmed, checksum offload on.
    pub const fn new() -> Self {
        EmacConfig {
            mac: None,
            phy_addr: H3_EPHY_ADDR,
            checksum_offload: true,
        }
    }
}

impl Default for EmacConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the EMAC could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmacError {
    /// The storage is already used by another driver.
    StorageInUse,
    /// The storage is not addressable by the 32-bit DMA engine.
    NotDmaAddressable,
    /// The ring sizes are unusable (each ring needs at least 2 descriptors).
    BadRingSize,
    /// The soft reset bit did not clear.
    ResetTimeout,
    /// The MDIO interface stayed busy.
    MdioTimeout,
}

impl core::fmt::Display for EmacError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EmacError::StorageInUse => "EMAC storage already in use",
            EmacError::NotDmaAddressable => "EMAC storage above 4 GiB",
            EmacError::BadRingSize => "EMAC rings need at least 2 descriptors each",
            EmacError::ResetTimeout => "EMAC soft reset did not complete",
            EmacError::MdioTimeout => "MDIO interface stayed busy",
        })
    }
}

/// Link state as the PHY reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// The PHY has a link.
    pub up: bool,
    /// 100 Mbit/s (else 10).
    pub speed_100: bool,
    /// Full duplex.
    pub full_duplex: bool,
}

/// What the driver has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmacStats {
    /// Frames handed to the stack.
    pub rx_frames: u64,
    /// Received frames dropped for an error bit, a frame split over descriptors or a
    /// length shorter than an Ethernet header.
    pub rx_errors: u64,
    /// Times the receive ring had run full and the DMA was restarted.
    pub rx_restarts: u64,
    /// Frames given to the DMA.
    pub tx_frames: u64,
    /// Transmit descriptors the DMA gave back with an error bit.
    pub tx_errors: u64,
    /// Frames not sent because the stack asked for more than [`BUF_SIZE`] bytes.
    pub tx_oversize: u64,
    /// Transmit requests refused because every descriptor was still with the DMA.
    pub tx_ring_full: u64,
}

/// Converts CPU addresses in the storage into the addresses the DMA engine uses.
#[derive(Clone, Copy, Debug)]
struct BusMap {
    /// CPU address of the storage.
    cpu: usize,
    /// Bus address of the storage.
    bus: u32,
}

impl BusMap {
    fn addr<T>(&self, p: &T) -> u32 {
        let off = (p as *const T as usize).wrapping_sub(self.cpu);
        self.bus.wrapping_add(off as u32)
    }
}

/// The receive side: descriptors, buffers and the next descriptor to look at.
struct RxRing<'a> {
    desc: &'a [Desc],
    buf: &'a [Buf],
    head: usize,
    map: BusMap,
    frames: u64,
    errors: u64,
    restarts: u64,
    /// The DMA stopped on a full ring and could not be restarted yet.
    stalled: bool,
}

/// The transmit side.
struct TxRing<'a> {
    desc: &'a [Desc],
    buf: &'a [Buf],
    head: usize,
    csum: u32,
    frames: u64,
    errors: u64,
    oversize: u64,
    ring_full: u64,
}

/// The sun8i EMAC as a [`Device`].
///
/// ```no_run
/// use static_cell::StaticCell;
/// use tidytcp::drivers::sun8i_emac::{EmacConfig, EmacStorage, H3_EMAC_BASE, Mmio, Sun8iEmac, h3_power_up, H3_EPHY_ADDR};
/// static EMAC_MEM: StaticCell<EmacStorage<64, 32>> = StaticCell::new();
/// // SAFETY: an H3 with the MMU off; nothing else drives these blocks.
/// let regs = unsafe {
///     h3_power_up(H3_EPHY_ADDR);
///     Mmio::new(H3_EMAC_BASE)
/// };
/// let emac = Sun8iEmac::new(regs, EMAC_MEM.init(EmacStorage::new()), EmacConfig::new()).unwrap();
/// let _mac = emac.mac();
/// ```
pub struct Sun8iEmac<'a, R: Regs> {
    regs: R,
    rx: RxRing<'a>,
    tx: TxRing<'a>,
    mac: EthernetAddress,
    phy: u8,
    caps: DeviceCaps,
}

impl<R: Regs> core::fmt::Debug for Sun8iEmac<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sun8iEmac")
            .field("mac", &self.mac)
            .field("rx_head", &self.rx.head)
            .field("tx_head", &self.tx.head)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Makes descriptor and buffer writes visible to the DMA engine before a register write
/// starts it.
#[inline]
fn dma_barrier() {
    fence(Ordering::SeqCst);
    #[cfg(target_arch = "arm")]
    // SAFETY: `dsb` only waits for earlier memory accesses to complete; it touches no
    // memory or register the compiler knows about.
    unsafe {
        core::arch::asm!("dsb", options(nostack, preserves_flags));
    }
    compiler_fence(Ordering::SeqCst);
}

impl<'a, R: Regs> Sun8iEmac<'a, R> {
    /// Resets the EMAC, sets up both rings in `storage`, programs or reads the MAC
    /// address, starts auto-negotiation on the PHY and enables both DMA engines. Does not
    /// wait for the link: see [`link`](Self::link).
    ///
    /// On a real H3 call [`h3_power_up`] first.
    pub fn new<const RX: usize, const TX: usize>(
        regs: R,
        storage: &'a mut EmacStorage<RX, TX>,
        config: EmacConfig,
    ) -> Result<Self, EmacError> {
        let cpu = storage as *const EmacStorage<RX, TX> as usize;
        let size = core::mem::size_of::<EmacStorage<RX, TX>>();
        let end = cpu.checked_add(size).ok_or(EmacError::NotDmaAddressable)?;
        if u32::try_from(end).is_err() {
            return Err(EmacError::NotDmaAddressable);
        }
        Self::with_bus_address(regs, storage, config, cpu as u32)
    }

    /// As [`new`](Self::new), with the storage at bus address `bus` for the DMA engine
    /// (for a model of the device whose memory is not the CPU's).
    fn with_bus_address<const RX: usize, const TX: usize>(
        regs: R,
        storage: &'a EmacStorage<RX, TX>,
        config: EmacConfig,
        bus: u32,
    ) -> Result<Self, EmacError> {
        if RX < 2 || TX < 2 {
            return Err(EmacError::BadRingSize);
        }
        if storage.taken.swap(true, Ordering::AcqRel) {
            return Err(EmacError::StorageInUse);
        }
        let map = BusMap {
            cpu: storage as *const EmacStorage<RX, TX> as usize,
            bus,
        };
        // Soft reset: the bit clears itself when done.
        regs.write(reg::BASIC_CTL1, bits::CTL1_SOFT_RESET);
        if !Self::wait_clear(&regs, reg::BASIC_CTL1, bits::CTL1_SOFT_RESET) {
            storage.taken.store(false, Ordering::Release);
            return Err(EmacError::ResetTimeout);
        }
        regs.write(reg::BASIC_CTL1, bits::CTL1_BURST_8);
        regs.write(reg::INT_EN, 0);
        regs.write(reg::INT_STA, u32::MAX);

        let mac = match config.mac {
            Some(m) => {
                let a = m.0;
                regs.write(reg::ADDR0_HIGH, u32::from(a[4]) | (u32::from(a[5]) << 8));
                regs.write(reg::ADDR0_LOW, u32::from_le_bytes([a[0], a[1], a[2], a[3]]));
                m
            }
            None => {
                let hi = regs.read(reg::ADDR0_HIGH).to_le_bytes();
                let lo = regs.read(reg::ADDR0_LOW).to_le_bytes();
                EthernetAddress([lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]])
            }
        };

        // Closed rings: each descriptor points at its buffer and at the next one.
        for (i, (d, b)) in storage.rx_desc.iter().zip(&storage.rx_buf).enumerate() {
            let next = &storage.rx_desc[(i + 1) % RX];
            d.buf.store(map.addr(b), Ordering::Relaxed);
            d.next.store(map.addr(next), Ordering::Relaxed);
            d.ctl
                .store(BUF_SIZE as u32 | desc::RX_NO_INT, Ordering::Relaxed);
            d.status.store(desc::OWN, Ordering::Release);
        }
        for (i, (d, b)) in storage.tx_desc.iter().zip(&storage.tx_buf).enumerate() {
            let next = &storage.tx_desc[(i + 1) % TX];
            d.buf.store(map.addr(b), Ordering::Relaxed);
            d.next.store(map.addr(next), Ordering::Relaxed);
            d.ctl.store(0, Ordering::Relaxed);
            d.status.store(0, Ordering::Release);
        }
        dma_barrier();
        regs.write(reg::TX_DESC_LIST, map.addr(&storage.tx_desc[0]));
        regs.write(reg::RX_DESC_LIST, map.addr(&storage.rx_desc[0]));
        // Our unicast address, broadcast and multicast per the (empty) hash filter.
        regs.write(reg::RX_FRM_FLT, 0);
        regs.write(reg::TX_FLOW_CTL, 0);

        let mut emac = Sun8iEmac {
            regs,
            rx: RxRing {
                desc: &storage.rx_desc,
                buf: &storage.rx_buf,
                head: 0,
                map,
                frames: 0,
                errors: 0,
                restarts: 0,
                stalled: false,
            },
            tx: TxRing {
                desc: &storage.tx_desc,
                buf: &storage.tx_buf,
                head: 0,
                csum: if config.checksum_offload {
                    desc::TX_CSUM_FULL
                } else {
                    0
                },
                frames: 0,
                errors: 0,
                oversize: 0,
                ring_full: 0,
            },
            mac,
            phy: config.phy_addr & 0x1f,
            caps: DeviceCaps {
                mtu: 1500,
                checksum: ChecksumCaps {
                    tx_ipv4: config.checksum_offload,
                    tx_tcp: config.checksum_offload,
                    rx_verified: false,
                },
            },
        };

        // PHY: advertise 10/100 half/full and (re)start auto-negotiation.
        let r = emac
            .mdio_write(mii::ADVERTISE, mii::ADVERTISE_ALL)
            .and_then(|()| emac.mdio_write(mii::BMCR, mii::BMCR_ANENABLE | mii::BMCR_ANRESTART));
        if let Err(e) = r {
            storage.taken.store(false, Ordering::Release);
            return Err(e);
        }
        emac.apply_link_mode();

        emac.regs.write(reg::TX_CTL0, bits::TX_EN);
        emac.regs.write(reg::TX_CTL1, bits::TX_MD | bits::DMA_EN);
        emac.regs.write(reg::RX_CTL0, bits::RX_EN);
        emac.regs
            .write(reg::RX_CTL1, bits::RX_MD | bits::DMA_EN | bits::DMA_START);
        Ok(emac)
    }

    fn wait_clear(regs: &R, offset: usize, bit: u32) -> bool {
        (0..BUSY_POLLS).any(|_| regs.read(offset) & bit == 0)
    }

    /// The MAC address in use.
    pub fn mac(&self) -> EthernetAddress {
        self.mac
    }

    /// Counters since `new`.
    pub fn stats(&self) -> EmacStats {
        EmacStats {
            rx_frames: self.rx.frames,
            rx_errors: self.rx.errors,
            rx_restarts: self.rx.restarts,
            tx_frames: self.tx.frames,
            tx_errors: self.tx.errors,
            tx_oversize: self.tx.oversize,
            tx_ring_full: self.tx.ring_full,
        }
    }

    /// Diagnostics: the next receive descriptor the driver will read, which receive
    /// descriptors the DMA owns (bit i = descriptor i, first 64), and the receive
    /// DMA's current-descriptor and interrupt-status registers.
    pub fn rx_ring_state(&self) -> (usize, u64, u32, u32) {
        let owned = self
            .rx
            .desc
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, d)| d.status.load(Ordering::Acquire) & desc::OWN != 0)
            .fold(0u64, |m, (i, _)| m | (1 << i));
        let cur = self.regs.read(0xC4);
        (self.rx.head, owned, cur, self.regs.read(reg::INT_STA))
    }

    /// Reads PHY register `reg` over MDIO.
    pub fn mdio_read(&self, reg: u8) -> Result<u16, EmacError> {
        if !Self::wait_clear(&self.regs, reg::MII_CMD, bits::MII_BUSY) {
            return Err(EmacError::MdioTimeout);
        }
        self.regs.write(reg::MII_CMD, self.mii_cmd(reg));
        if !Self::wait_clear(&self.regs, reg::MII_CMD, bits::MII_BUSY) {
            return Err(EmacError::MdioTimeout);
        }
        Ok(self.regs.read(reg::MII_DATA) as u16)
    }

    /// Writes PHY register `reg` over MDIO.
    pub fn mdio_write(&self, reg: u8, value: u16) -> Result<(), EmacError> {
        if !Self::wait_clear(&self.regs, reg::MII_CMD, bits::MII_BUSY) {
            return Err(EmacError::MdioTimeout);
        }
        self.regs.write(reg::MII_DATA, u32::from(value));
        self.regs
            .write(reg::MII_CMD, self.mii_cmd(reg) | bits::MII_WRITE);
        if Self::wait_clear(&self.regs, reg::MII_CMD, bits::MII_BUSY) {
            Ok(())
        } else {
            Err(EmacError::MdioTimeout)
        }
    }

    fn mii_cmd(&self, reg: u8) -> u32 {
        bits::MII_MDC_DIV_128
            | (u32::from(self.phy) << 12)
            | ((u32::from(reg) & 0x1f) << 4)
            | bits::MII_BUSY
    }

    /// The PHY's identifier (registers 2 and 3).
    pub fn phy_id(&self) -> Result<u32, EmacError> {
        let hi = self.mdio_read(mii::PHYID1)?;
        let lo = self.mdio_read(mii::PHYID2)?;
        Ok((u32::from(hi) << 16) | u32::from(lo))
    }

    /// The link as the PHY reports it: up or down (the status bit latches low, so it is
    /// read twice), and the best mode both ends advertise.
    pub fn link(&self) -> Result<LinkStatus, EmacError> {
        let _latched = self.mdio_read(mii::BMSR)?;
        let up = self.mdio_read(mii::BMSR)? & mii::BMSR_LSTATUS != 0;
        let common = self.mdio_read(mii::ADVERTISE)? & self.mdio_read(mii::LPA)?;
        let speed_100 = common & (mii::ADV_100FULL | mii::ADV_100HALF) != 0;
        let full_duplex = if speed_100 {
            common & mii::ADV_100FULL != 0
        } else {
            common & mii::ADV_10FULL != 0
        };
        Ok(LinkStatus {
            up,
            speed_100,
            full_duplex,
        })
    }

    /// Sets the MAC's speed and duplex to what the PHY negotiated (100 Mbit/s full
    /// duplex if it cannot be read). Call again after the link comes up.
    pub fn apply_link_mode(&mut self) {
        let l = self.link().unwrap_or(LinkStatus {
            up: false,
            speed_100: true,
            full_duplex: true,
        });
        let mut v = if l.speed_100 {
            bits::CTL0_SPEED_100
        } else {
            bits::CTL0_SPEED_10
        };
        if l.full_duplex {
            v |= bits::CTL0_FULL_DUPLEX;
        }
        self.regs.write(reg::BASIC_CTL0, v);
    }
}

impl RxRing<'_> {
    /// Length of the good frame at the head, dropping bad ones; `None` when the DMA
    /// still owns the head.
    fn next_frame<R: Regs>(&mut self, regs: &R) -> Option<usize> {
        for _ in 0..self.desc.len() {
            let d = &self.desc[self.head];
            let status = d.status.load(Ordering::Acquire);
            if status & desc::OWN != 0 {
                return None;
            }
            let whole = desc::RX_FIRST | desc::RX_LAST;
            let len = ((status >> desc::RX_LEN_SHIFT) & desc::RX_LEN_MASK) as usize;
            // The length includes the 4-byte FCS.
            let len = len.saturating_sub(4).min(BUF_SIZE);
            if status & desc::RX_ERRORS == 0 && status & whole == whole && len >= 14 {
                return Some(len);
            }
            self.errors += 1;
            self.give_back(regs);
        }
        None
    }

    /// Returns the head descriptor to the DMA and moves on; restarts the DMA if the ring
    /// had run full.
    fn give_back<R: Regs>(&mut self, regs: &R) {
        let n = self.desc.len();
        let d = &self.desc[self.head];
        d.ctl
            .store(BUF_SIZE as u32 | desc::RX_NO_INT, Ordering::Relaxed);
        d.status.store(desc::OWN, Ordering::Release);
        self.head = (self.head + 1) % n;
        dma_barrier();
        if !self.stalled && regs.read(reg::INT_STA) & bits::INT_RX_BUF_UA == 0 {
            return;
        }
        // The ring ran full and the DMA stopped (QEMU's model also stops taking frames
        // from its backend). Clear the flag first, so that the ring running full again
        // from here on raises it anew, and only then look at the descriptors: the DMA
        // must go on at the oldest one we gave back, the first it owns looking on from
        // the head (the ones before it hold frames we have not read).
        regs.write(reg::INT_STA, bits::INT_RX_BUF_UA);
        let Some(k) = (0..n)
            .map(|i| (self.head + i) % n)
            .find(|&i| self.desc[i].status.load(Ordering::Acquire) & desc::OWN != 0)
        else {
            // Every descriptor holds a frame again: retry after the next give-back.
            self.stalled = true;
            return;
        };
        self.stalled = false;
        regs.write(reg::RX_DESC_LIST, self.map.addr(&self.desc[k]));
        regs.write(reg::RX_CTL1, bits::RX_MD | bits::DMA_EN | bits::DMA_START);
        self.restarts += 1;
    }
}

impl TxRing<'_> {
    /// Whether the head descriptor is free (counted when not).
    fn available(&mut self) -> bool {
        let free = self.desc[self.head].status.load(Ordering::Acquire) & desc::OWN == 0;
        if !free {
            self.ring_full += 1;
        }
        free
    }
}

/// A frame received by a [`Sun8iEmac`], read in place in its DMA buffer. The buffer goes
/// back to the DMA when the token is consumed or dropped.
pub struct Sun8iRxToken<'t, 'a, R: Regs> {
    ring: &'t mut RxRing<'a>,
    regs: &'t R,
    len: usize,
}

impl<R: Regs> core::fmt::Debug for Sun8iRxToken<'_, '_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sun8iRxToken")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<R: Regs> RxToken for Sun8iRxToken<'_, '_, R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let buf = &self.ring.buf[self.ring.head];
        // SAFETY: the head descriptor's ownership bit is clear (checked by
        // `next_frame`, with acquire ordering), so the DMA engine does not write this
        // buffer until the descriptor is given back, which happens in `drop`, after
        // `f` has returned; `f` cannot keep the slice (its lifetime is local to this
        // call). `len` is at most `BUF_SIZE`. Nothing else in the program writes the
        // buffer: the storage is claimed by this driver alone.
        let frame = unsafe { &(&*buf.0.get())[..self.len] };
        f(frame)
    }
}

impl<R: Regs> Drop for Sun8iRxToken<'_, '_, R> {
    fn drop(&mut self) {
        self.ring.frames += 1;
        self.ring.give_back(self.regs);
    }
}

/// Room for one frame in a [`Sun8iEmac`]'s transmit DMA buffer.
pub struct Sun8iTxToken<'t, 'a, R: Regs> {
    ring: &'t mut TxRing<'a>,
    regs: &'t R,
}

impl<R: Regs> core::fmt::Debug for Sun8iTxToken<'_, '_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sun8iTxToken").finish_non_exhaustive()
    }
}

impl<R: Regs> TxToken for Sun8iTxToken<'_, '_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let ring = self.ring;
        let d = &ring.desc[ring.head];
        let cell = &ring.buf[ring.head];
        // SAFETY: the token exists only while the head descriptor's ownership bit is
        // clear (checked by `available` with acquire ordering, and only the driver sets
        // it), so the DMA engine does not read this buffer until the descriptor is
        // handed over below, after `f` has returned and the slice is gone. The storage
        // is claimed by this driver alone and the token borrows the ring mutably, so no
        // other reference to the buffer exists.
        let buf = unsafe { &mut *cell.0.get() };
        if len > BUF_SIZE {
            ring.oversize += 1;
            return f(&mut buf[..]);
        }
        let r = f(&mut buf[..len]);
        let status = d.status.load(Ordering::Relaxed);
        if status & desc::TX_ERRORS != 0 {
            ring.errors += 1;
        }
        d.ctl.store(
            len as u32 | desc::TX_FIRST | desc::TX_LAST | ring.csum,
            Ordering::Relaxed,
        );
        d.status.store(desc::OWN, Ordering::Release);
        ring.head = (ring.head + 1) % ring.desc.len();
        dma_barrier();
        self.regs
            .write(reg::TX_CTL1, bits::TX_MD | bits::DMA_EN | bits::DMA_START);
        ring.frames += 1;
        r
    }
}

impl<'a, R: Regs> Device for Sun8iEmac<'a, R> {
    type RxToken<'t>
        = Sun8iRxToken<'t, 'a, R>
    where
        Self: 't;
    type TxToken<'t>
        = Sun8iTxToken<'t, 'a, R>
    where
        Self: 't;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if !self.tx.available() {
            return None;
        }
        let len = self.rx.next_frame(&self.regs)?;
        Some((
            Sun8iRxToken {
                ring: &mut self.rx,
                regs: &self.regs,
                len,
            },
            Sun8iTxToken {
                ring: &mut self.tx,
                regs: &self.regs,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        if !self.tx.available() {
            return None;
        }
        Some(Sun8iTxToken {
            ring: &mut self.tx,
            regs: &self.regs,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        self.caps
    }
}

#[cfg(test)]
mod tests {
    //! The driver against a model of the EMAC that behaves as QEMU's `orangepi-pc` one
    //! does (descriptor walk, length with FCS and padding, restart at the list head
    //! when the ring runs full, frames held back while no descriptor is free,
    //! synchronous transmit), with the DMA memory being the test's storage.
    use super::*;
    use std::boxed::Box;
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::vec::Vec;

    use crate::drivers::{Device, RxToken, TxToken};
    #[cfg(feature = "proto-ipv4")]
    use crate::socket::HeapStorage;
    #[cfg(feature = "proto-ipv4")]
    use crate::stack::{Config, Stack};

    const BUS: u32 = 0x4000_0000;
    const SIZE_MASK: u32 = 0x7ff;
    const PHY: u8 = 1;
    const QEMU_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    /// The model's registers and the frames it moved.
    struct Fake {
        cpu: usize,
        len: usize,
        regs: RefCell<[u32; 64]>,
        mac: RefCell<[u8; 6]>,
        rx_head: Cell<u32>,
        rx_curr: Cell<u32>,
        tx_curr: Cell<u32>,
        /// Frames the backend holds while the EMAC cannot take them.
        held: RefCell<VecDeque<Vec<u8>>>,
        /// Frames sent, with the control word of their last descriptor.
        sent: RefCell<Vec<(Vec<u8>, u32)>>,
        /// Transmit only when the test says so (silicon), not on the start bit (QEMU).
        async_tx: Cell<bool>,
        mii_adv: Cell<u16>,
        mii_bmcr: Cell<u16>,
        link_up: Cell<bool>,
        /// Status bits to add to the next received frame's descriptor.
        next_rx_error: Cell<u32>,
        /// Frames still on the wire; with `race`, one arrives at every access to the
        /// interrupt status or list register, as frames arrive while the CPU runs.
        wire: RefCell<VecDeque<Vec<u8>>>,
        race: Cell<bool>,
        coin: Cell<u32>,
        /// Scripted races: before the next write to this register takes effect, this
        /// frame arrives.
        on_write: RefCell<VecDeque<(usize, Vec<u8>)>>,
    }

    impl Fake {
        fn new<const RX: usize, const TX: usize>(mem: &EmacStorage<RX, TX>) -> Fake {
            Fake {
                cpu: mem as *const _ as usize,
                len: core::mem::size_of::<EmacStorage<RX, TX>>(),
                regs: RefCell::new([0; 64]),
                mac: RefCell::new(QEMU_MAC),
                rx_head: Cell::new(0),
                rx_curr: Cell::new(0),
                tx_curr: Cell::new(0),
                held: RefCell::new(VecDeque::new()),
                sent: RefCell::new(Vec::new()),
                async_tx: Cell::new(false),
                mii_adv: Cell::new(0),
                mii_bmcr: Cell::new(0x3100),
                link_up: Cell::new(true),
                next_rx_error: Cell::new(0),
                wire: RefCell::new(VecDeque::new()),
                race: Cell::new(false),
                coin: Cell::new(7),
                on_write: RefCell::new(VecDeque::new()),
            }
        }

        /// One frame from the wire arrives, if any is on its way.
        fn arrive(&self) {
            let f = self.wire.borrow_mut().pop_front();
            if let Some(f) = f {
                self.deliver(&f);
            }
        }

        /// With `race`, a frame arrives (or not: a coin toss) before an access to the
        /// interrupt status or list register takes effect.
        fn maybe_race(&self, off: usize) {
            if !self.race.get() || !matches!(off, reg::INT_STA | reg::RX_DESC_LIST) {
                return;
            }
            let x = self
                .coin
                .get()
                .wrapping_mul(1_103_515_245)
                .wrapping_add(12345);
            self.coin.set(x);
            if (x >> 16) & 1 == 1 {
                self.arrive();
            }
        }

        /// CPU address of bus address `bus`, checked to lie in the storage.
        fn cpu_addr(&self, bus: u32, len: usize) -> usize {
            let off = bus.checked_sub(BUS).expect("DMA address below the storage") as usize;
            assert!(off + len <= self.len, "DMA access outside the storage");
            self.cpu + off
        }

        fn word(&self, bus: u32) -> &AtomicU32 {
            let p = self.cpu_addr(bus, 4);
            assert_eq!(p % 4, 0);
            // SAFETY: `p` lies inside the storage (checked), which outlives the model in
            // every test, is 4-aligned, and every word the driver shares with the DMA
            // is an `AtomicU32`; the model only addresses descriptor words.
            unsafe { &*(p as *const AtomicU32) }
        }

        fn desc(&self, bus: u32) -> [u32; 4] {
            [0, 4, 8, 12].map(|o| self.word(bus + o).load(Ordering::Acquire))
        }

        fn set_status(&self, bus: u32, v: u32) {
            self.word(bus).store(v, Ordering::Release);
        }

        fn owned(&self, bus: u32, min: u32) -> bool {
            let d = self.desc(bus);
            d[0] & desc::OWN != 0 && (min == 0 || d[1] & SIZE_MASK >= min)
        }

        /// First descriptor the DMA owns, from `start` round the ring.
        fn find(&self, start: u32, min: u32) -> u32 {
            let mut a = start;
            while a != 0 {
                if self.owned(a, min) {
                    return a;
                }
                let next = self.desc(a)[3];
                if next == start {
                    break;
                }
                a = next;
            }
            0
        }

        fn reg(&self, off: usize) -> u32 {
            self.regs.borrow()[off / 4]
        }

        fn can_receive(&self) -> bool {
            self.reg(reg::RX_CTL0) & bits::RX_EN != 0 && self.find(self.rx_curr.get(), 0) != 0
        }

        /// A frame from the wire.
        fn deliver(&self, frame: &[u8]) {
            if self.can_receive() && self.held.borrow().is_empty() {
                self.receive(frame);
            } else {
                self.held.borrow_mut().push_back(frame.to_vec());
            }
        }

        fn flush(&self) {
            while self.can_receive() {
                let Some(f) = self.held.borrow_mut().pop_front() else {
                    return;
                };
                self.receive(&f);
            }
        }

        fn receive(&self, frame: &[u8]) {
            let mut cur = self.find(self.rx_curr.get(), 64);
            if cur == 0 {
                self.regs.borrow_mut()[reg::INT_STA / 4] |= bits::INT_RX_BUF_UA;
                self.rx_curr.set(0);
                return;
            }
            let d = self.desc(cur);
            assert!(
                (d[1] & SIZE_MASK) as usize >= frame.len() + 4,
                "the driver's buffers hold any frame"
            );
            let pad = 4 + 64usize.saturating_sub(frame.len());
            let dst = self.cpu_addr(d[2], frame.len()) as *mut u8;
            // SAFETY: `dst..dst + len` lies in the storage (checked) and is the buffer of
            // a descriptor the driver handed to the DMA, so the driver holds no
            // reference into it.
            unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), dst, frame.len()) };
            let status = desc::RX_FIRST
                | desc::RX_LAST
                | (((frame.len() + pad) as u32) << desc::RX_LEN_SHIFT)
                | self.next_rx_error.replace(0);
            self.set_status(cur, status);
            cur = self.find(d[3], 64);
            if cur == 0 {
                self.regs.borrow_mut()[reg::INT_STA / 4] |= bits::INT_RX_BUF_UA;
                cur = self.rx_head.get();
            }
            self.rx_curr.set(cur);
        }

        /// Sends every frame the DMA owns, from the current descriptor on.
        fn transmit(&self) {
            let mut cur = self.tx_curr.get();
            let mut frame = Vec::new();
            while cur != 0 && self.owned(cur, 0) {
                let d = self.desc(cur);
                let n = (d[1] & SIZE_MASK) as usize;
                let src = self.cpu_addr(d[2], n) as *const u8;
                // SAFETY: in the storage (checked), the buffer of a descriptor the
                // driver handed to the DMA.
                frame.extend_from_slice(unsafe { core::slice::from_raw_parts(src, n) });
                self.set_status(cur, 0);
                if d[1] & desc::TX_LAST != 0 {
                    self.sent
                        .borrow_mut()
                        .push((core::mem::take(&mut frame), d[1]));
                }
                cur = d[3];
            }
            self.tx_curr.set(cur);
        }

        fn mii(&self, cmd: u32) {
            let mut r = self.regs.borrow_mut();
            if (cmd >> 12) & 0x1f != u32::from(PHY) {
                return;
            }
            let reg = ((cmd >> 4) & 0x1f) as u8;
            if cmd & bits::MII_WRITE != 0 {
                let v = r[reg::MII_DATA / 4] as u16;
                match reg {
                    mii::BMCR => self.mii_bmcr.set(v & !mii::BMCR_ANRESTART),
                    mii::ADVERTISE => self.mii_adv.set(v),
                    _ => {}
                }
            } else {
                let v = match reg {
                    mii::BMCR => self.mii_bmcr.get(),
                    mii::BMSR => 0x7829 | if self.link_up.get() { 4 } else { 0 },
                    mii::PHYID1 => 0x0044,
                    mii::PHYID2 => 0x1400,
                    mii::ADVERTISE => self.mii_adv.get(),
                    mii::LPA => 0x05e0,
                    _ => 0,
                };
                r[reg::MII_DATA / 4] = u32::from(v);
            }
        }
    }

    impl Regs for Fake {
        fn read(&self, off: usize) -> u32 {
            self.maybe_race(off);
            let m = self.mac.borrow();
            match off {
                reg::ADDR0_HIGH => u32::from(m[4]) | (u32::from(m[5]) << 8),
                reg::ADDR0_LOW => u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
                _ => self.reg(off),
            }
        }
        fn write(&self, off: usize, v: u32) {
            self.maybe_race(off);
            let scripted = {
                let mut q = self.on_write.borrow_mut();
                match q.front() {
                    Some((o, _)) if *o == off => q.pop_front().map(|(_, f)| f),
                    _ => None,
                }
            };
            if let Some(f) = scripted {
                self.deliver(&f);
            }
            match off {
                reg::INT_STA => self.regs.borrow_mut()[off / 4] &= !v,
                reg::BASIC_CTL1 => self.regs.borrow_mut()[off / 4] = v & !bits::CTL1_SOFT_RESET,
                reg::ADDR0_HIGH => {
                    let mut m = self.mac.borrow_mut();
                    m[4] = v as u8;
                    m[5] = (v >> 8) as u8;
                }
                reg::ADDR0_LOW => self.mac.borrow_mut()[..4].copy_from_slice(&v.to_le_bytes()),
                reg::TX_DESC_LIST => self.tx_curr.set(v),
                reg::RX_DESC_LIST => {
                    self.rx_head.set(v);
                    self.rx_curr.set(v);
                }
                reg::MII_CMD => {
                    self.regs.borrow_mut()[off / 4] = v & !bits::MII_BUSY;
                    self.mii(v);
                    return;
                }
                _ => {}
            }
            if !matches!(off, reg::INT_STA | reg::BASIC_CTL1) {
                self.regs.borrow_mut()[off / 4] = v;
            }
            if off == reg::TX_CTL1 && v & bits::DMA_EN != 0 && !self.async_tx.get() {
                self.transmit();
            }
            if off == reg::RX_CTL1 && v & bits::DMA_EN != 0 {
                self.flush();
            }
        }
    }

    fn frame(n: u32, len: usize) -> Vec<u8> {
        let mut f = std::vec![0u8; len];
        f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f[14..18].copy_from_slice(&n.to_be_bytes());
        for (i, b) in f[18..].iter_mut().enumerate() {
            *b = (i as u8) ^ (n as u8);
        }
        f
    }

    fn config() -> EmacConfig {
        EmacConfig {
            mac: Some(EthernetAddress([0x02, 0, 0, 0, 0, 1])),
            phy_addr: PHY,
            checksum_offload: true,
        }
    }

    /// Receives one frame, returning its bytes and where they were read from.
    fn recv(emac: &mut Sun8iEmac<'_, &Fake>) -> Option<(Vec<u8>, usize)> {
        let (rx, _tx) = emac.receive(Instant::ZERO)?;
        Some(rx.consume(|f| (f.to_vec(), f.as_ptr() as usize)))
    }

    #[test]
    fn bring_up_programs_mac_rings_and_phy() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        assert_eq!(*fake.mac.borrow(), [0x02, 0, 0, 0, 0, 1]);
        assert_eq!(emac.mac(), EthernetAddress([0x02, 0, 0, 0, 0, 1]));
        // Closed rings at the storage's bus address, receive all with the DMA.
        let mut a = fake.rx_head.get();
        for _ in 0..4 {
            assert!(fake.owned(a, BUF_SIZE as u32));
            a = fake.desc(a)[3];
        }
        assert_eq!(a, fake.rx_head.get(), "receive ring closes after 4");
        let t = fake.tx_curr.get();
        assert_eq!(
            fake.desc(fake.desc(t)[3])[3],
            t,
            "transmit ring closes after 2"
        );
        assert!(!fake.owned(t, 0));
        // PHY: everything advertised, auto-negotiation on, the link read back.
        assert_eq!(fake.mii_adv.get(), mii::ADVERTISE_ALL);
        assert!(fake.mii_bmcr.get() & mii::BMCR_ANENABLE != 0);
        let l = emac.link().unwrap();
        assert_eq!((l.up, l.speed_100, l.full_duplex), (true, true, true));
        assert_eq!(fake.reg(reg::BASIC_CTL0), bits::CTL0_SPEED_100 | 1);
        assert_eq!(emac.phy_id().unwrap(), 0x0044_1400);
        fake.link_up.set(false);
        assert!(!emac.link().unwrap().up);
        // Both engines on.
        assert!(fake.reg(reg::RX_CTL0) & bits::RX_EN != 0);
        assert!(fake.reg(reg::TX_CTL0) & bits::TX_EN != 0);
    }

    #[test]
    fn keeps_the_boot_loaders_mac_and_refuses_shared_storage() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let cfg = EmacConfig {
            mac: None,
            ..config()
        };
        let emac = Sun8iEmac::with_bus_address(&fake, &mem, cfg, BUS).unwrap();
        assert_eq!(emac.mac(), EthernetAddress(QEMU_MAC));
        let again = Sun8iEmac::with_bus_address(&fake, &mem, cfg, BUS);
        assert_eq!(again.err(), Some(EmacError::StorageInUse));
        let tiny = Box::new(EmacStorage::<1, 2>::new());
        let again = Sun8iEmac::with_bus_address(&fake, &tiny, cfg, BUS);
        assert_eq!(again.err(), Some(EmacError::BadRingSize));
    }

    #[test]
    fn frames_are_read_in_place_without_fcs() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        assert!(recv(&mut emac).is_none());
        let long = frame(1, 1514);
        fake.deliver(&long);
        let (got, at) = recv(&mut emac).unwrap();
        assert_eq!(got, long);
        let bufs = mem.rx_buf.as_ptr() as usize;
        assert!((bufs..bufs + 4 * BUF_SIZE).contains(&at), "zero copy");
        // A short frame comes with padding: 68 bytes with the FCS, 64 handed out; the
        // IP layer trusts the IP length.
        let short = frame(2, 42);
        fake.deliver(&short);
        let (got, _) = recv(&mut emac).unwrap();
        assert_eq!(got.len(), 64);
        assert_eq!(&got[..42], &short[..]);
        assert_eq!(emac.stats().rx_frames, 2);
    }

    #[test]
    fn bad_frames_are_dropped_and_counted() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        fake.next_rx_error.set(1 << 1); // CRC error
        fake.deliver(&frame(1, 100));
        fake.deliver(&frame(2, 100));
        let (got, _) = recv(&mut emac).unwrap();
        assert_eq!(got, frame(2, 100));
        assert_eq!(emac.stats().rx_errors, 1);
        assert!(recv(&mut emac).is_none());
    }

    #[test]
    fn full_ring_keeps_frames_in_order() {
        // Deliver and consume in uneven bursts, often filling the 4-slot ring, so the
        // model restarts at the list head; every frame must come out once, in order.
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        let mut sent = 0u32;
        let mut got = 0u32;
        let mut seed = 12345u32;
        let mut rand = |m: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) % m
        };
        for _ in 0..300 {
            for _ in 0..rand(9) {
                fake.deliver(&frame(sent, 60 + rand(1400) as usize));
                sent += 1;
            }
            // Sometimes a token is dropped unread: the frame is still gone.
            for _ in 0..rand(7) {
                let Some((rx, _tx)) = emac.receive(Instant::ZERO) else {
                    break;
                };
                if rand(10) == 0 {
                    drop(rx);
                } else {
                    let n = rx.consume(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
                    assert_eq!(n, got, "frames out of order");
                }
                got += 1;
            }
        }
        while let Some((rx, _tx)) = emac.receive(Instant::ZERO) {
            let n = rx.consume(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
            assert_eq!(n, got, "frames out of order");
            got += 1;
        }
        assert_eq!(got, sent, "every frame delivered once");
        assert!(fake.held.borrow().is_empty());
        assert!(emac.stats().rx_restarts > 10, "{:?}", emac.stats());
    }

    #[test]
    fn frames_arriving_during_a_restart_stay_in_order() {
        // Frames arrive while the driver is between giving a descriptor back, reading
        // the status and re-pointing the list: the races of a real DMA engine (and of
        // QEMU's I/O thread) against the CPU. No frame may be lost, stuck or reordered.
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        fake.race.set(true);
        let mut seed = 99u32;
        let mut rand = |m: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) % m
        };
        let (mut sent, mut got) = (0u32, 0u32);
        for _ in 0..5000 {
            for _ in 0..rand(8) {
                fake.wire.borrow_mut().push_back(frame(sent, 60));
                sent += 1;
            }
            for _ in 0..rand(3) {
                fake.arrive();
            }
            for _ in 0..rand(6) {
                let Some((rx, _tx)) = emac.receive(Instant::ZERO) else {
                    break;
                };
                let n = rx.consume(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
                assert_eq!(n, got, "frames out of order");
                got += 1;
            }
        }
        // Drain: the wire, then the ring; nothing may stay held back.
        for _ in 0..10_000 {
            fake.arrive();
            while let Some((rx, _tx)) = emac.receive(Instant::ZERO) {
                let n = rx.consume(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
                assert_eq!(n, got, "frames out of order");
                got += 1;
            }
            if got == sent {
                break;
            }
        }
        assert_eq!(got, sent, "frames stuck: {:?}", emac.stats());
    }

    #[test]
    fn ring_filling_again_during_the_restart_is_not_lost() {
        // The ring is full and the DMA stopped. The driver gives one descriptor back and
        // starts the restart; before it clears the status flag, a frame takes that
        // descriptor (the ring is full again), and before it re-points the list another
        // frame arrives and is held back. Clearing the flag must not lose the second
        // stop: the held frame has to come through.
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        for n in 0..4 {
            fake.deliver(&frame(n, 60));
        }
        fake.on_write.borrow_mut().extend([
            (reg::INT_STA, frame(4, 60)),
            (reg::RX_DESC_LIST, frame(5, 60)),
        ]);
        let mut got = 0;
        for _ in 0..20 {
            while let Some((rx, _tx)) = emac.receive(Instant::ZERO) {
                let n = rx.consume(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
                assert_eq!(n, got, "frames out of order");
                got += 1;
            }
            // The second scripted frame arrives by itself if no list write came.
            if let Some((_, f)) = fake.on_write.borrow_mut().pop_front() {
                fake.deliver(&f);
            }
        }
        assert_eq!(got, 6, "a frame stuck: {:?}", emac.stats());
    }

    #[test]
    fn transmit_writes_in_place_with_checksum_insertion() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        let caps = emac.capabilities().checksum;
        assert!(caps.tx_ipv4 && caps.tx_tcp && !caps.rx_verified);
        for n in 0..5 {
            let tok = emac.transmit(Instant::ZERO).unwrap();
            let at = tok.consume(100 + n, |b| {
                b.copy_from_slice(&frame(n as u32, 100 + n));
                b.as_ptr() as usize
            });
            let bufs = mem.tx_buf.as_ptr() as usize;
            assert!((bufs..bufs + 2 * BUF_SIZE).contains(&at), "zero copy");
        }
        let sent = fake.sent.borrow();
        assert_eq!(sent.len(), 5);
        for (n, (f, ctl)) in sent.iter().enumerate() {
            assert_eq!(*f, frame(n as u32, 100 + n));
            assert_eq!(ctl & desc::TX_CSUM_FULL, desc::TX_CSUM_FULL);
            assert_eq!(
                ctl & (desc::TX_FIRST | desc::TX_LAST),
                desc::TX_FIRST | desc::TX_LAST
            );
        }
        assert_eq!(emac.stats().tx_frames, 5);
    }

    #[test]
    fn without_offload_no_checksum_bits() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        let cfg = EmacConfig {
            checksum_offload: false,
            ..config()
        };
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, cfg, BUS).unwrap();
        assert_eq!(emac.capabilities().checksum, ChecksumCaps::default());
        emac.transmit(Instant::ZERO)
            .unwrap()
            .consume(60, |b| b.copy_from_slice(&frame(0, 60)));
        assert_eq!(fake.sent.borrow()[0].1 & desc::TX_CSUM_FULL, 0);
    }

    #[test]
    fn busy_transmit_ring_refuses_tokens_until_the_dma_is_done() {
        let mem = Box::new(EmacStorage::<4, 2>::new());
        let fake = Fake::new(&mem);
        fake.async_tx.set(true);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        for n in 0..2 {
            emac.transmit(Instant::ZERO)
                .unwrap()
                .consume(60, |b| b.copy_from_slice(&frame(n, 60)));
        }
        assert!(emac.transmit(Instant::ZERO).is_none());
        // No reply room, so no receive either (the frame waits in the ring).
        fake.deliver(&frame(9, 60));
        assert!(emac.receive(Instant::ZERO).is_none());
        assert_eq!(emac.stats().tx_ring_full, 2);
        fake.transmit();
        assert_eq!(fake.sent.borrow().len(), 2);
        assert!(recv(&mut emac).is_some());
        assert!(emac.transmit(Instant::ZERO).is_some());
        // Too long for a buffer: the closure runs, nothing is sent.
        emac.transmit(Instant::ZERO)
            .unwrap()
            .consume(BUF_SIZE + 1, |_| ());
        assert_eq!(emac.stats().tx_oversize, 1);
        fake.transmit();
        assert_eq!(fake.sent.borrow().len(), 2);
    }

    #[cfg(feature = "proto-ipv4")]
    #[test]
    fn a_stack_answers_ping_through_the_driver() {
        let mem = Box::new(EmacStorage::<8, 4>::new());
        let fake = Fake::new(&mem);
        let mut emac = Sun8iEmac::with_bus_address(&fake, &mem, config(), BUS).unwrap();
        let mut sockets = HeapStorage::new(2, 1, 1024, 1024);
        let cfg = Config::new(emac.mac(), "10.8.0.2/24".parse().unwrap(), [3; 16]);
        let mut stack = Stack::new(cfg, &mut sockets);
        // ICMP echo request from 10.8.0.1 (MAC ...:02), 8 bytes of data.
        let mut f = std::vec![0u8; 14 + 20 + 16];
        f[..6].copy_from_slice(&emac.mac().0);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip.copy_from_slice(&[
            0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 8, 0, 1, 10, 8, 0, 2,
        ]);
        let c = crate::wire::checksum::checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let icmp = &mut f[34..];
        icmp[..8].copy_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
        icmp[8..].copy_from_slice(b"tidytcp!");
        let c = crate::wire::checksum::checksum(icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        fake.deliver(&f);
        stack.poll(Instant::from_secs(1), &mut emac);
        let sent = fake.sent.borrow();
        let reply = sent
            .iter()
            .map(|(f, _)| f)
            .find(|f| f.len() >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 1)
            .expect("an ICMP reply");
        assert_eq!(reply[34], 0, "echo reply");
        assert_eq!(&reply[42..50], b"tidytcp!");
        assert_eq!(&reply[30..34], &[10, 8, 0, 1]);
    }
}
