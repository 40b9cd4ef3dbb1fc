//! The crate's error type.

use core::fmt;

/// Everything that can go wrong in a call to the stack.
///
/// Errors from the network (a reset, a timeout, an unreachable host) are reported to the
/// owner of the connection after any data that arrived before them has been read. API
/// misuse returns a typed error instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The operation cannot complete now; retry after the next `poll` (or await/block in
    /// the async and blocking adapters).
    WouldBlock,
    /// A fixed capacity is used up; the [`Capacity`] says which one, and so which limit
    /// to raise (the storage type's `N` or `L`, the ephemeral port range, the async
    /// adapter's waker table).
    Exhausted(Capacity),
    /// The local port is already in use by a listener or by a connection with the same
    /// four-tuple.
    AddrInUse,
    /// An argument is not acceptable (port 0 where a port is required, an unspecified or
    /// broadcast remote address, a backlog of 0, ...).
    InvalidInput,
    /// The handle belongs to another stack or to a connection that no longer exists.
    InvalidHandle,
    /// The connection is not (yet) established, or was never connected.
    NotConnected,
    /// Writing after `shutdown_write` or `close`: this side has already sent its FIN.
    BrokenPipe,
    /// The peer answered the connection request with a reset.
    ConnectionRefused,
    /// The peer reset an established connection.
    ConnectionReset,
    /// The connection was aborted locally (the listener it was queued on was closed).
    ConnectionAborted,
    /// The peer stopped answering: the retransmission limit or the user timeout was
    /// reached, or the connection request was never answered.
    TimedOut,
    /// The remote host or network could not be reached (ARP failed, or ICMP said so).
    HostUnreachable,
    /// Not supported by this build or not yet by tidytcp: an IPv6 lookup, a name to
    /// resolve without the resolver.
    Unsupported,
}

/// Which fixed capacity an [`Error::Exhausted`] ran out of.
///
/// ```
/// use tidytcp::error::{Capacity, Error};
/// assert_eq!(Error::Exhausted(Capacity::Slots).to_string(), "no free connection slot");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capacity {
    /// Every connection slot is in use: the storage's `N` (`SocketStorage<N, ..>`,
    /// `HeapStorage::new(n, ..)`). Slots in TIME-WAIT count until it ends.
    Slots,
    /// Every listener slot is in use: the storage's `L`.
    Listeners,
    /// No ephemeral port is free for this remote endpoint: `TcpConfig::ephemeral_ports`.
    EphemeralPorts,
    /// The async adapter's waker table (`AsyncStack<_, N, L>`) has no entry for this
    /// slot: its `N` or `L` is smaller than the storage's.
    Wakers,
    /// Every DNS query slot is in use (`dns::MAX_QUERIES` at a time).
    Queries,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::WouldBlock => "operation would block",
            Error::Exhausted(Capacity::Slots) => "no free connection slot",
            Error::Exhausted(Capacity::Listeners) => "no free listener slot",
            Error::Exhausted(Capacity::EphemeralPorts) => "no free ephemeral port",
            Error::Exhausted(Capacity::Wakers) => "no room in the waker table",
            Error::Exhausted(Capacity::Queries) => "no free DNS query slot",
            Error::AddrInUse => "address in use",
            Error::InvalidInput => "invalid argument",
            Error::InvalidHandle => "handle does not belong to this stack",
            Error::NotConnected => "not connected",
            Error::BrokenPipe => "write side already shut down",
            Error::ConnectionRefused => "connection refused",
            Error::ConnectionReset => "connection reset by peer",
            Error::ConnectionAborted => "connection aborted",
            Error::TimedOut => "connection timed out",
            Error::HostUnreachable => "host unreachable",
            Error::Unsupported => "not supported",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e {
            Error::WouldBlock => K::WouldBlock,
            Error::Exhausted(_) => K::OutOfMemory,
            Error::AddrInUse => K::AddrInUse,
            Error::InvalidInput | Error::InvalidHandle => K::InvalidInput,
            Error::NotConnected => K::NotConnected,
            Error::BrokenPipe => K::BrokenPipe,
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionAborted => K::ConnectionAborted,
            Error::TimedOut => K::TimedOut,
            Error::HostUnreachable => K::HostUnreachable,
            Error::Unsupported => K::Unsupported,
        };
        std::io::Error::new(kind, e)
    }
}

/// For `embedded-io` users: each error's nearest [`embedded_io::ErrorKind`].
impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self {
            // `WouldBlock` never reaches an `embedded-io` caller: the async adapter waits.
            Error::WouldBlock => K::Other,
            Error::Exhausted(_) => K::OutOfMemory,
            Error::AddrInUse => K::AddrInUse,
            Error::InvalidInput | Error::InvalidHandle => K::InvalidInput,
            Error::NotConnected => K::NotConnected,
            Error::BrokenPipe => K::BrokenPipe,
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionAborted => K::ConnectionAborted,
            Error::TimedOut => K::TimedOut,
            Error::HostUnreachable => K::AddrNotAvailable,
            Error::Unsupported => K::Unsupported,
        }
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
