//! Network devices: the [`Device`] trait the stack drives, and its implementations.
//!
//! A device moves Ethernet II frames (destination MAC first, no FCS). Receiving and
//! transmitting go through *tokens*: the stack is handed a token, and only when it
//! consumes it does it see the frame — in the driver's own memory — or get a buffer in
//! the driver's transmit memory to build a frame in. Nothing is copied in between.
//!
//! Drivers know nothing above `wire`. `unsafe` is allowed in this module only where
//! hardware or the operating system needs it, each block with a `// SAFETY:` comment.

use crate::time::Instant;

// Defined in the crate's checksum leaf, below both `drivers` and `ip`; named here, where
// devices report it.
pub use crate::checksum::ChecksumCaps;

#[cfg(feature = "embassy-net-driver")]
mod embassy;
#[cfg(feature = "std")]
mod faulty;
mod loopback;
mod pcap;
#[cfg(feature = "std")]
mod simlink;
#[cfg(any(feature = "sun8i-emac", test))]
#[cfg_attr(docsrs, doc(cfg(feature = "sun8i-emac")))]
pub mod sun8i_emac;
#[cfg(all(feature = "std", target_os = "linux"))]
mod tap;

#[cfg(feature = "embassy-net-driver")]
pub use embassy::{EmbassyDevice, EmbassyRxToken, EmbassyTxToken};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use faulty::{FaultConfig, FaultStats, Faulty, FaultyRxToken, FaultyTxToken};
pub use loopback::{LOOPBACK_MAX_FRAME, Loopback, LoopbackRxToken, LoopbackStats, LoopbackTxToken};
pub use pcap::{
    LINKTYPE_ETHERNET, PCAP_MAGIC, PCAP_SNAPLEN, PcapRxToken, PcapSink, PcapStats, PcapTxToken,
    PcapWriter, SinkError, global_header as pcap_global_header,
    record_header as pcap_record_header,
};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use simlink::{
    Delivery, Direction, DirectionConfig, End, FrameFilter, LinkConfig, LinkStats, SimLink,
    SimPort, SimRxToken, SimTxToken, Verdict, ethernet_fcs,
};
#[cfg(all(feature = "std", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
pub use tap::{Tap, TapRxToken, TapStats, TapTxToken, TapWaker};

/// A received frame, readable once.
pub trait RxToken {
    /// Calls `f` with the frame's bytes and returns its result.
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R;
}

/// Room for one frame to transmit.
pub trait TxToken {
    /// Calls `f` with a zeroed-or-not buffer of exactly `len` bytes in the driver's memory;
    /// what `f` leaves there is sent. `len` is at most the device's
    /// [`DeviceCaps::max_frame_len`].
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}

/// What the stack needs to know about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCaps {
    /// Largest IP packet the link carries (1500 on Ethernet).
    pub mtu: usize,
    /// Checksum work the device does in hardware.
    pub checksum: ChecksumCaps,
}

impl DeviceCaps {
    /// Largest frame: MTU plus the 14-byte Ethernet header.
    pub const fn max_frame_len(&self) -> usize {
        self.mtu + 14
    }
}

impl Default for DeviceCaps {
    fn default() -> Self {
        DeviceCaps {
            mtu: 1500,
            checksum: ChecksumCaps::default(),
        }
    }
}

/// A network interface the stack can poll.
///
/// `receive` hands out a received frame together with a transmit token, so that a reply
/// (an ARP reply, an ICMP echo reply, an ACK) can be built while the request is still in
/// the driver's buffer. A device that cannot offer transmit room returns `None` from
/// `receive` until it can.
pub trait Device {
    /// Token for one received frame.
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    /// Token for one frame to send.
    type TxToken<'a>: TxToken
    where
        Self: 'a;

    /// The next received frame, if any, with room for a reply.
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)>;
    /// Room for one frame to send, if the device has it.
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>>;
    /// Static properties of the device.
    fn capabilities(&self) -> DeviceCaps;
    /// Whether the link is up (carrier present). A device that knows (a PHY, an
    /// `embassy-net-driver` driver) says so; one that cannot tell keeps the default,
    /// always up. Asked once per poll. While it is down the device hands out no tokens
    /// and the DHCP client's timers do not make `Stack::poll_at` ask for a poll, so a
    /// driver whose link comes back should make the application poll (its interrupt or
    /// waker). When it comes back the stack announces its address again (gratuitous ARP)
    /// and the DHCP client confirms its lease (INIT-REBOOT).
    fn link_up(&mut self) -> bool {
        true
    }
}

/// A device that can wake the task polling the stack: what the async runner
/// ([`AsyncStack::run`](crate::socket::asynch::AsyncStack::run)) needs.
pub trait AsyncDevice: Device {
    /// The waker of the task that polls the stack, given before each poll. The device
    /// wakes it when a `receive` or `transmit` that found nothing could now succeed, or
    /// the link state changed. Also starts a new transmit burst.
    fn set_waker(&mut self, waker: &core::task::Waker);
    /// Whether the device stopped handing out tokens in the last poll because its burst
    /// limit was reached (the runner then polls again at once, after other tasks ran).
    fn burst_exhausted(&self) -> bool {
        false
    }
}
