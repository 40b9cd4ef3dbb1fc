//! # tidytcp
//!
//! A safe-Rust, `no_std`, heap-free TCP/IP stack for embedded boards, with a TCP-only
//! socket layer whose handles cannot be closed twice.
//!
//! See `ARCHITECTURE.md` for the data flow and the module map.
//!
//! Cargo features: `std` (default) adds the TAP driver, the blocking adapter and the
//! `std::io` impls; `cubic` (default) adds CUBIC congestion control besides NewReno
//! (`tcp::cc::Algorithm::Cubic`). A firmware that needs neither builds with
//! `default-features = false`.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod buf;
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
