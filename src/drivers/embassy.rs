//! A [`Device`] over any [`embassy_net_driver::Driver`] (feature `embassy-net-driver`):
//! the Ethernet and Wi-Fi drivers of the embassy ecosystem (STM32 ETH, cyw43, esp-radio,
//! W5500, ENC28J60, a Linux TAP through `embassy-net-tuntap`, ...) drive a tidytcp stack.
//!
//! The driver's model is async: `receive`, `transmit` and `link_state` take a
//! [`Context`] and, when they have nothing, register its waker and are woken when they
//! would have something. [`EmbassyDevice`] keeps the waker of the task that polls the
//! stack (the async runner gives it with [`AsyncDevice::set_waker`]) and passes it on
//! every call, so that a frame arriving wakes that task. Frames are read and written in
//! the driver's own tokens: nothing is copied in between.
//!
//! ```
//! # use tidytcp::drivers::{Device, EmbassyDevice};
//! fn with_driver<D: embassy_net_driver::Driver>(driver: D) {
//!     let mut dev = EmbassyDevice::new(driver);
//!     let mac = dev.mac(); // the MAC the driver reports, for `Config::new`
//!     let mtu = dev.capabilities().mtu; // the IP MTU
//!     # let _ = (mac, mtu, dev.link_up());
//! }
//! ```

use core::task::{Context, Waker};

use embassy_net_driver as edrv;

use super::{AsyncDevice, ChecksumCaps, Device, DeviceCaps};
use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;

/// A tidytcp [`Device`] over an `embassy-net-driver` [`Driver`](edrv::Driver).
pub struct EmbassyDevice<D> {
    inner: D,
    waker: Option<Waker>,
    /// Tokens left in this poll's burst (`max_burst_size`); `usize::MAX` without a limit.
    burst_left: usize,
    /// A call found the burst used up since the last `set_waker`.
    burst_hit: bool,
    /// The link state at the last look: nothing is sent or received while it is down.
    link: bool,
}

impl<D: edrv::Driver> EmbassyDevice<D> {
    /// Wraps `driver`.
    pub fn new(driver: D) -> Self {
        let mut d = EmbassyDevice {
            inner: driver,
            waker: None,
            burst_left: usize::MAX,
            burst_hit: false,
            link: true,
        };
        d.reset_burst();
        d
    }

    /// The driver.
    pub fn driver(&self) -> &D {
        &self.inner
    }

    /// The driver, mutably.
    pub fn driver_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The driver back.
    pub fn into_inner(self) -> D {
        self.inner
    }

    /// The Ethernet address the driver reports (`None` for a medium without one, such as
    /// PPP or IEEE 802.15.4, which tidytcp does not carry).
    pub fn mac(&self) -> Option<EthernetAddress> {
        match self.inner.hardware_address() {
            edrv::HardwareAddress::Ethernet(m) => Some(EthernetAddress(m)),
            _ => None,
        }
    }

    /// Asks the driver whether the link is up (its waker is registered, so a change wakes
    /// the task that polls the stack). While it is down the device hands out no tokens.
    fn refresh_link(&mut self) -> bool {
        let waker = self.waker.as_ref().unwrap_or(Waker::noop());
        let mut cx = Context::from_waker(waker);
        self.link = self.inner.link_state(&mut cx) == edrv::LinkState::Up;
        self.link
    }

    fn reset_burst(&mut self) {
        self.burst_left = self
            .inner
            .capabilities()
            .max_burst_size
            .unwrap_or(usize::MAX);
        self.burst_hit = false;
    }

    /// Takes one token from the burst; false (and remembered) once it is used up, and
    /// false while the link is down.
    fn take_burst(&mut self) -> bool {
        if !self.link {
            return false;
        }
        if self.burst_left == 0 {
            self.burst_hit = true;
            return false;
        }
        self.burst_left -= 1;
        true
    }
}

/// `embassy-net-driver`'s checksum modes mean what the *stack* must do: `Both` (the
/// stack checks received checksums and computes sent ones), `Rx` (the stack only checks:
/// the device computes on send), `Tx` (the stack only computes: the device checked on
/// receive), `None` (the device does both).
fn checksum_caps(c: &edrv::ChecksumCapabilities) -> ChecksumCaps {
    use edrv::Checksum::{None as Neither, Rx, Tx};
    let device_sends = |m: &edrv::Checksum| matches!(m, Rx | Neither);
    let device_checks = |m: &edrv::Checksum| matches!(m, Tx | Neither);
    ChecksumCaps {
        tx_ipv4: device_sends(&c.ipv4),
        tx_tcp: device_sends(&c.tcp),
        // One flag covers both IPv4 and TCP on receive: both must be checked by the device.
        rx_verified: device_checks(&c.ipv4) && device_checks(&c.tcp),
    }
}

impl<D: edrv::Driver> Device for EmbassyDevice<D> {
    type RxToken<'a>
        = EmbassyRxToken<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = EmbassyTxToken<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if !self.take_burst() {
            return None;
        }
        let waker = self.waker.as_ref().unwrap_or(Waker::noop());
        let mut cx = Context::from_waker(waker);
        match self.inner.receive(&mut cx) {
            Some((rx, tx)) => Some((EmbassyRxToken(rx), EmbassyTxToken(tx))),
            None => {
                self.burst_left += 1;
                None
            }
        }
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        if !self.take_burst() {
            return None;
        }
        let waker = self.waker.as_ref().unwrap_or(Waker::noop());
        let mut cx = Context::from_waker(waker);
        match self.inner.transmit(&mut cx) {
            Some(tx) => Some(EmbassyTxToken(tx)),
            None => {
                self.burst_left += 1;
                None
            }
        }
    }

    fn link_up(&mut self) -> bool {
        self.refresh_link()
    }

    fn capabilities(&self) -> DeviceCaps {
        let caps = self.inner.capabilities();
        DeviceCaps {
            // embassy counts the Ethernet header in the MTU; tidytcp's is the IP MTU.
            mtu: caps.max_transmission_unit.saturating_sub(14),
            checksum: checksum_caps(&caps.checksum),
        }
    }
}

impl<D: edrv::Driver> AsyncDevice for EmbassyDevice<D> {
    fn set_waker(&mut self, waker: &Waker) {
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
        self.reset_burst();
    }

    fn burst_exhausted(&self) -> bool {
        self.burst_hit
    }
}

/// A received frame in the driver's memory.
pub struct EmbassyRxToken<T>(T);

/// Room for one frame in the driver's memory.
pub struct EmbassyTxToken<T>(T);

impl<T: edrv::RxToken> super::RxToken for EmbassyRxToken<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(|frame| f(frame))
    }
}

impl<T: edrv::TxToken> super::TxToken for EmbassyTxToken<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}
