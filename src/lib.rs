//! # tidytcp
//!
//! A safe-Rust, `no_std`, heap-free TCP/IP stack for embedded boards, with a TCP-only
//! socket layer whose handles cannot be closed twice.
//!
//! See `ARCHITECTURE.md` for the data flow and the module map.
//!
//! Cargo features, all on by default: `std` adds the TAP driver, the blocking adapter and
//! the `std::io` impls; `cubic` adds CUBIC congestion control besides NewReno
//! (`tcp::cc::Algorithm::Cubic`); `sack` (SACK and RFC 6675 recovery), `timestamps`
//! (RFC 7323 RTTM and PAWS), `window-scaling` (RFC 7323 §2) and `syncookies` build in
//! those protocol options (without one, the matching `TcpConfig` switch is ignored and
//! the option is never offered); `dhcpv4` and `dns` add the DHCPv4 client
//! (`Stack::enable_dhcp`) and the DNS resolver (`Stack::resolve`) over a UDP carrier
//! internal to the stack. `default-features = false` is the documented minimal
//! set: `no_std`, NewReno, none of the options; a firmware adds back what it needs.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod buf;
#[cfg(feature = "dns")]
pub mod dns;
pub mod drivers;
pub mod error;
pub mod ip;
pub mod socket;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;

pub use error::{Error, Result};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use time::{Duration, Instant};
