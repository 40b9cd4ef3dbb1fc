//! One `use` line for a program: `use tidytcp::prelude::*;`.
//!
//! It brings what a super-loop over a device names: the [`Stack`] and its [`Config`],
//! [`Instant`] and [`Duration`], [`Error`] and [`Result`], the handles [`TcpStream`] and
//! [`TcpListener`], the storage types, the [`Device`] trait with the [`Loopback`] device,
//! and the three adapters as modules — [`shared`], [`asynch`] and (with `std`)
//! `blocking` — whose handles have the core's names, so a program writes
//! `asynch::TcpStream` or `blocking::BlockingStack`.
//!
//! Everything else stays at its module path: `tcp::TcpConfig` and the engine,
//! `drivers::SimLink` and the other devices, `ip` and `wire`.
//!
//! ```
//! use tidytcp::prelude::*;
//!
//! let mut storage = SocketStorage::<2, 1, 1024, 1024>::new();
//! let mut stack = Stack::new(
//!     Config::new("02:00:00:00:00:01".parse().unwrap(), "10.0.0.2/24".parse().unwrap(), [9; 16]),
//!     &mut storage,
//! );
//! let listener: TcpListener = stack.listen(80, 1)?;
//! assert_eq!(listener.accept(&mut stack).err(), Some(Error::WouldBlock));
//! let mut device = Loopback::<4>::new();
//! let _next: Option<Instant> = stack.poll(Instant::ZERO + Duration::from_millis(1), &mut device);
//! # Ok::<(), Error>(())
//! ```

pub use crate::drivers::{Device, Loopback};
pub use crate::error::{Capacity, Error};
#[cfg(feature = "std")]
pub use crate::socket::HeapStorage;
#[cfg(feature = "std")]
pub use crate::socket::blocking;
pub use crate::socket::{
    Shutdown, SocketBuffers, SocketStorage, SocketTable, SplitStorage, TcpListener, TcpStream,
    asynch, shared,
};
pub use crate::stack::{Config, Stack};
pub use crate::time::{Duration, Instant};

/// The crate's [`Result`](crate::Result), with the error type as a default parameter: a
/// glob import of the prelude hides the standard `Result`, and this keeps a
/// two-parameter `Result<T, E>` written in the same file meaning what it always did.
pub type Result<T, E = Error> = core::result::Result<T, E>;
