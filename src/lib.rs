//! # tidytcp
//!
//! A safe-Rust, `no_std`, heap-free TCP/IP stack for embedded boards, with a TCP-only
//! socket layer whose handles cannot be closed twice.
//!
//! One owner drives the stack in a loop: [`Stack::poll`](stack::Stack::poll) takes the
//! time and a [`Device`](drivers::Device), does all input, timers and output, and says by
//! when it must run again; between polls, the handles' calls return
//! [`Error::WouldBlock`] instead of waiting. The core never reads a clock and never
//! blocks, and all its memory is the caller's (a `static` on a board).
//!
//! ```
//! use tidytcp::prelude::*;
//!
//! // Memory for 4 connections with 2 KiB buffers each way, and 1 listener.
//! let mut storage = SocketStorage::<4, 1, 2048, 2048>::new();
//! let seed = [7; 16]; // from the board's RNG: every stack needs secrets of its own
//! let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), seed);
//! let mut stack = Stack::new(cfg, &mut storage);
//! let mut device = Loopback::<8>::new(); // every frame sent comes back in
//!
//! let listener = stack.listen(7, 1)?;
//! let mut client = stack.connect("127.0.0.1:7".parse().unwrap())?;
//! client.write(&mut stack, b"hello")?; // sent once the handshake completes
//!
//! // The super-loop: poll, then let each handle do what it can without blocking.
//! let mut server = None;
//! let mut echoed = [0; 5];
//! let mut got = 0;
//! let mut now = Instant::ZERO;
//! while got < echoed.len() {
//!     let next = stack.poll(now, &mut device);
//!     if server.is_none() {
//!         // (stream, peer address); WouldBlock until a handshake ends
//!         server = listener.accept(&mut stack).ok().map(|(conn, _peer)| conn);
//!     }
//!     if let Some(conn) = server.as_mut() {
//!         let mut buf = [0; 64];
//!         if let Ok(n) = conn.read(&mut stack, &mut buf) {
//!             conn.write(&mut stack, &buf[..n])?; // echo
//!         }
//!     }
//!     if let Ok(n) = client.read(&mut stack, &mut echoed[got..]) {
//!         got += n;
//!     }
//!     // A board sleeps here until `next` or an interrupt; this loop jumps ahead.
//!     now = next.unwrap_or(now).max(now + Duration::from_millis(1));
//! }
//! assert_eq!(&echoed, b"hello");
//! client.close(&mut stack); // consumes `client`: a second close would not compile
//! if let Some(conn) = server {
//!     conn.close(&mut stack);
//! }
//! listener.close(&mut stack);
//! # Ok::<(), Error>(())
//! ```
//!
//! # Where things are
//!
//! - [`prelude`]: the one `use` line above.
//! - [`stack`]: [`Stack`](stack::Stack), its [`Config`](stack::Config) and counters.
//! - [`socket`]: the handles, the storage types, the socket table, and the three other
//!   ways to use the stack, each module opening with a runnable example:
//!   [`socket::shared`] (handles in other tasks and interrupt handlers),
//!   [`socket::asynch`] (`async` with `embedded-io-async`, any executor) and
//!   `socket::blocking` (`std`: a stack thread and `std::io` handles).
//! - [`drivers`]: the [`Device`](drivers::Device) trait, [`Loopback`](drivers::Loopback),
//!   the bridge to `embassy-net-driver` drivers, and with `std` the simulated link, the
//!   fault injector, the pcap writer and the Linux TAP device; the Allwinner EMAC with
//!   `sun8i-emac`. The async network task that drives a device is
//!   [`AsyncStack::run`](socket::asynch::AsyncStack::run) ([`socket::runner`]).
//! - [`tcp`]: the protocol engine, sans-IO, and its [`TcpConfig`](tcp::TcpConfig).
//! - [`ip`]: Ethernet, ARP, IPv4 and ICMP; [`wire`]: the header views and checksums;
//!   [`time`]: [`Instant`] and [`Duration`]; [`error`]: [`Error`].
//!
//! The repository's ARCHITECTURE.md describes the data flow and the module map, and its
//! BENCHMARKS.md the measurements against smoltcp.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | the Linux TAP driver, the simulated link and the fault injector, the blocking adapter, `HeapStorage`, and the `std::io` impls |
//! | `cubic` | yes | CUBIC congestion control (RFC 9438) besides NewReno (`tcp::cc::Algorithm::Cubic`); about 4 KiB of flash on Cortex-M |
//! | `bbr` | yes | BBR-style model-based congestion control (`tcp::cc::Algorithm::Bbr`): the window from the measured delivery rate and RTT, not cut on random loss |
//! | `sack` | yes | SACK (RFC 2018) and SACK-based loss recovery (RFC 6675, RACK-TLP) |
//! | `timestamps` | yes | TCP timestamps (RFC 7323: RTT measurement, PAWS) |
//! | `window-scaling` | yes | window scaling (RFC 7323 §2) |
//! | `syncookies` | yes | SYN cookies when a listener's queue is full |
//! | `embassy-net-driver` | yes | `drivers::EmbassyDevice`: any `embassy-net-driver` 0.2 driver (STM32 ETH, cyw43, esp-radio, W5500, ENC28J60, `embassy-net-tuntap`) as a device |
//! | `embedded-nal-async` | yes | `socket::nal::TcpClient`: `embedded_nal_async::TcpConnect` and `Dns` on the async stack (reqwless, rust-mqtt) |
//! | `embedded-nal` | yes | `socket::nal::NalStack`: `embedded_nal::TcpClientStack` and `TcpFullStack` on the shared stack (minimq) |
//! | `embassy-time` | no | `socket::runner::EmbassyTimer`, the async runner's timer on `embassy-time` |
//! | `log` | no | events (connections, link changes, drops) through the `log` crate |
//! | `defmt` | no | the same events through `defmt`, and `defmt::Format` on the public types |
//! | `dhcpv4` | yes | the DHCPv4 client inside the interface (`Stack::enable_dhcp`), over a UDP carrier internal to the stack |
//! | `dns` | yes | the DNS stub resolver (`Stack::resolve`), over the same carrier, with a TCP retry for truncated answers |
//! | `proto-ipv4` | yes | IPv4 on the interface (`ip::IfaceConfig::new` with an address, gateway, TTL, `ip::ArpConfig`): ARP, IPv4, ICMPv4 echo and errors, TCP over IPv4 (`tcp::Endpoint::v4`). `dhcpv4` and `dns` bring it |
//! | `proto-ipv6` | yes | IPv6 on the interface (`ip::Ipv6Config`): the IPv6, ICMPv6 (with MLDv2) and Neighbor Discovery wire formats (`wire::ipv6`, `wire::icmpv6`, `wire::ndisc`), link-local and SLAAC addresses with DAD (`ip::slaac`), Neighbor Discovery with NUD, echo, ICMPv6 errors; TCP over IPv6 (connections and listeners of both families, `tcp::Endpoint`) |
//! | `sun8i-emac` | no | the Allwinner H3/H5/A64 EMAC driver (`drivers::sun8i_emac`), for bare-metal boards such as the Orange Pi PC |
//!
//! Without one of the protocol options, its `TcpConfig` switch is ignored and the option
//! is never offered. `default-features = false` is the minimal set: `no_std`, NewReno,
//! none of the options and no IP family: a firmware adds back what it needs, and at least
//! one of `proto-ipv4` and `proto-ipv6` (either alone, or both for a dual-stack host).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(any(feature = "proto-ipv4", feature = "proto-ipv6")))]
compile_error!("tidytcp needs an IP family: enable feature `proto-ipv4`, `proto-ipv6`, or both");

#[cfg(any(test, feature = "std"))]
extern crate std;

mod checksum;
mod log;

#[doc(hidden)] // The stream buffers: public for the engine's signatures, not for programs.
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

// Declared after the modules it re-exports from: in its messages, the compiler names a
// type by the first public path it finds, and that should be `socket::TcpStream`, not
// `prelude::TcpStream`.
pub mod prelude;

pub use error::{Capacity, Error, Result};
pub use time::{Duration, Instant};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
