//! The socket layer: the socket table with its two-sided slot lifetime, the owned
//! `TcpStream`/`TcpListener` handles, accept queues, readiness, and the listing of every
//! socket for debugging. The shared, async and blocking adapters sit on top of it.
//!
//! Files: `storage.rs` (caller-provided memory), `table.rs` (slots, lifetime, hash, timer
//! heap, output queue, readiness), `handle.rs` (handles and the user calls), `lock.rs`
//! and `sync.rs` (what the adapters share), and one file per adapter.
//!
//! # Four ways to use it
//!
//! - **Core, a super-loop** (`no_std`): one owner calls `stack.poll(now, &mut device)`
//!   and, between polls, the handles' calls with the stack; `WouldBlock` means "after
//!   the next poll". Below.
//! - **[`shared`]** (`no_std`): the stack behind a critical-section mutex, so that
//!   handles can live in other tasks and interrupt handlers.
//! - **[`asynch`]** (`no_std`, no allocation, any executor): `connect().await`,
//!   `accept().await`, `embedded-io-async` `Read`/`Write`, tasks woken by the stack's
//!   readiness events.
//! - **[`blocking`]** (`std`): the stack on its own thread; `std::io::Read`/`Write`
//!   handles that block with timeouts, like BSD sockets.
//!
//! # The same calls in all four
//!
//! | call | meaning |
//! |---|---|
//! | `connect(remote)`, `connect_timeout(remote, t)` | active open; the timeout bounds the handshake (the stack's timers count it) |
//! | `listen(port, backlog)`, `accept()` | `accept` gives `(stream, peer address)` |
//! | `read`, `write` | buffered bytes / what fits; end of stream is `Ok(0)` |
//! | `shutdown(Shutdown::{Read, Write, Both})` | as `shutdown(2)`; `shutdown_write()` is `Write` |
//! | `flush()` | everything written is handed to the stack, which sends it with no further call |
//! | `is_acked()` (core, shared), `wait_acked()` (async, blocking) | the peer has acknowledged everything written |
//! | `local_addr`, `peer_addr`, `state`, `readiness` | take `&self` |
//! | `set_nodelay`, `set_keepalive`, `set_user_timeout`, `set_congestion_control` | per-connection options |
//! | `split()` (async, blocking) | a reader and a writer half for two tasks or threads |
//! | `close(self)`, `abort(self)`, drop | consume the handle: orderly close, reset, close |
//!
//! The core calls take the socket set as their first argument (`stream.read(&mut stack,
//! buf)`); the adapters' handles carry it. `WouldBlock` means "after the next poll" in the
//! core and shared forms; the async forms await and the blocking forms block instead.
//!
//! The adapters name no stack type: they take anything that lends a [`SocketSet`]
//! (`T: AsMut<SocketSet>`; the blocking one also [`Drive`] to poll it), which `Stack`
//! does.
//!
//! ```
//! use tidytcp::drivers::Loopback;
//! use tidytcp::socket::SocketStorage;
//! use tidytcp::stack::{Config, Stack};
//! use tidytcp::{Duration, Error, Instant};
//!
//! let mut storage = SocketStorage::<4, 1, 2048, 2048>::new();
//! let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "127.0.0.1/8".parse().unwrap(), [1; 16]);
//! let mut stack = Stack::new(cfg, &mut storage);
//! let mut dev = Loopback::<8>::new();
//! let listener = stack.listen(7, 1).unwrap();
//! let mut client = Some(stack.connect("127.0.0.1:7".parse().unwrap()).unwrap());
//! let mut server = None;
//! let mut echoed = Vec::new();
//! let mut now = Instant::ZERO;
//! // The super-loop: poll, then let every handle do what it can without blocking.
//! while stack.in_use() > 0 || echoed.is_empty() {
//!     let next = stack.poll(now, &mut dev);
//!     if server.is_none() {
//!         server = listener.accept(&mut stack).ok().map(|(s, _)| s);
//!     }
//!     if let Some(s) = server.as_mut() {
//!         let mut buf = [0; 64];
//!         match s.read(&mut stack, &mut buf) {
//!             Ok(0) => server.take().unwrap().close(&mut stack), // end of stream: close
//!             Ok(n) => { s.write(&mut stack, &buf[..n]).unwrap(); }
//!             Err(Error::WouldBlock) => {}
//!             Err(e) => panic!("{e}"),
//!         }
//!     }
//!     if let Some(c) = client.as_mut() {
//!         if c.send_queue(&stack) == 0 && c.state(&stack) == tidytcp::tcp::State::Established
//!             && echoed.is_empty()
//!         {
//!             c.write(&mut stack, b"ping").ok();
//!             c.shutdown_write(&mut stack).unwrap();
//!         }
//!         let mut buf = [0; 64];
//!         match c.read(&mut stack, &mut buf) {
//!             Ok(0) => client.take().unwrap().close(&mut stack),
//!             Ok(n) => echoed.extend_from_slice(&buf[..n]),
//!             Err(_) => {}
//!         }
//!     }
//!     // A board sleeps here until `next` or an interrupt; this loop just jumps ahead.
//!     now = next.unwrap_or(now + Duration::from_millis(10)).max(now + Duration::from_millis(1));
//! }
//! assert_eq!(echoed, b"ping");
//! listener.close(&mut stack);
//! ```

pub mod asynch;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod blocking;
mod handle;
mod lock;
#[cfg(any(feature = "embedded-nal-async", feature = "embedded-nal"))]
pub mod nal;
pub mod runner;
pub mod shared;
mod storage;
mod sync;
mod table;

pub use handle::{Readiness, Shutdown, SocketId, TcpListener, TcpStream};
#[cfg(feature = "std")]
pub use storage::HeapStorage;
pub use storage::{Parts, SocketBuffers, SocketStorage, SocketTable, SplitStorage, Storage};
pub use table::{ListenSlot, Slot, SocketSet};

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use crate::tcp::{Connection, State};
use crate::time::Instant;
use table::Owner;

/// A stack that can be polled over a device of type `D`: what the blocking adapter's
/// stack thread needs, so that the adapters need not name the stack type. `Stack`
/// implements it for every `Device`.
pub trait Drive<D> {
    /// One poll at `now`; returns when the next must happen at the latest.
    fn drive(&mut self, now: Instant, device: &mut D) -> Option<Instant>;
}

/// Name resolution by the stack behind an adapter (feature `dns`; `Stack` implements
/// it), so that the async and blocking adapters offer `resolve` without naming the stack
/// type.
#[cfg(feature = "dns")]
pub trait Resolve {
    /// Starts resolving `name` to an address of `family` (an address literal or a
    /// cached name is answered at once).
    fn start_resolve(
        &mut self,
        name: &str,
        family: crate::dns::Family,
    ) -> Result<crate::dns::QueryHandle, crate::dns::DnsError>;
    /// The query's result: `Pending` while it runs; once `Ready` the query is over.
    fn poll_resolve(
        &mut self,
        query: &crate::dns::QueryHandle,
    ) -> core::task::Poll<Result<core::net::IpAddr, crate::dns::DnsError>>;
    /// Gives the query up.
    fn cancel_resolve(&mut self, query: crate::dns::QueryHandle);
}

bitflags::bitflags! {
    /// State flags of a socket, in the spirit of BSD's `so_state`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
    pub struct SocketFlags: u16 {
        /// A listening socket.
        const LISTENING = 0x0001;
        /// The connection is (or was) established.
        const CONNECTED = 0x0002;
        /// Handshake in progress.
        const CONNECTING = 0x0004;
        /// The peer sent its FIN: nothing more will arrive (BSD `SS_CANTRCVMORE`).
        const CANT_RECV_MORE = 0x0008;
        /// We sent or queued our FIN (BSD `SS_CANTSENDMORE`).
        const CANT_SEND_MORE = 0x0010;
        /// No user handle any more: the protocol finishes alone (BSD `SS_NOFDREF`).
        const NO_HANDLE = 0x0020;
        /// Owned by a listener, not yet accepted.
        const QUEUED = 0x0040;
        /// The connection failed (reset, timeout, unreachable).
        const ERROR = 0x0080;
    }
}

impl SocketFlags {
    pub(crate) fn of(c: &Connection, owner: Owner, queued: bool) -> Self {
        let mut f = SocketFlags::empty();
        match c.state() {
            State::SynSent | State::SynReceived => f |= SocketFlags::CONNECTING,
            State::Closed | State::Listen => {}
            _ => f |= SocketFlags::CONNECTED,
        }
        if c.peer_closed() {
            f |= SocketFlags::CANT_RECV_MORE;
        }
        if c.write_closed() {
            f |= SocketFlags::CANT_SEND_MORE;
        }
        match owner {
            Owner::Released => f |= SocketFlags::NO_HANDLE,
            Owner::Listener { .. } if queued => f |= SocketFlags::QUEUED,
            _ => {}
        }
        if c.error().is_some() {
            f |= SocketFlags::ERROR;
        }
        f
    }
}

/// The flags joined by ` | `, `-` when there are none:
///
/// ```
/// use tidytcp::socket::SocketFlags;
/// let f = SocketFlags::CONNECTED | SocketFlags::CANT_RECV_MORE;
/// assert_eq!(f.to_string(), "CONNECTED | CANT_RECV_MORE");
/// assert_eq!(SocketFlags::empty().to_string(), "-");
/// ```
impl fmt::Display for SocketFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        bitflags::parser::to_writer(self, f)
    }
}

/// The local address of every listener in [`SocketSet::sockets`]: the IPv6 unspecified
/// address `::` when the `proto-ipv6` feature is on (with `proto-ipv4` too, listeners take
/// connections of both families, as a Linux socket bound to `::` without `IPV6_V6ONLY`,
/// and the listing writes them `*:port`), `0.0.0.0` in an IPv4-only build.
pub const LISTEN_ANY: IpAddr = if cfg!(feature = "proto-ipv6") {
    IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED)
} else {
    IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED)
};

/// One line of the socket table ([`SocketSet::sockets`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    /// Slot index (listener slots and connection slots are numbered separately).
    pub slot: usize,
    /// A listener, not a connection.
    pub listener: bool,
    /// Local endpoint. A listener's is [`LISTEN_ANY`] (it takes connections to any local
    /// address, of either family when IPv6 is built in).
    pub local: SocketAddr,
    /// Remote endpoint of a connection.
    pub remote: Option<SocketAddr>,
    /// TCP state.
    pub state: State,
    /// State flags.
    pub flags: SocketFlags,
    /// Bytes waiting to be read (listeners: connections waiting to be accepted).
    pub recv_queue: usize,
    /// Bytes waiting to be acknowledged or sent (listeners: handshakes in progress).
    pub send_queue: usize,
}

impl fmt::Display for SocketInfo {
    /// `netstat`-like: `tcp  slot  recv-q send-q  local  remote  state  flags`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.listener { "L" } else { "S" };
        let mut remote = heapless_addr::Buf::new();
        match self.remote {
            Some(r) => {
                let _ = fmt::write(&mut remote, format_args!("{r}"));
            }
            None => {
                let _ = fmt::write(&mut remote, format_args!("*:*"));
            }
        }
        let mut local = heapless_addr::Buf::new();
        let dual = cfg!(all(feature = "proto-ipv4", feature = "proto-ipv6"));
        if dual && self.listener && self.local.ip().is_unspecified() {
            // Both families, written as `ss` writes a dual-stack socket.
            let _ = fmt::write(&mut local, format_args!("*:{}", self.local.port()));
        } else {
            let _ = fmt::write(&mut local, format_args!("{}", self.local));
        }
        write!(
            f,
            "tcp {kind}{:<3} {:>6} {:>6}  {:<21} {:<21} {:<12} {}",
            self.slot,
            self.recv_queue,
            self.send_queue,
            local.as_str(),
            remote.as_str(),
            self.state.name(),
            self.flags
        )
    }
}

/// A fixed buffer to format an address into, so that column widths apply.
mod heapless_addr {
    pub struct Buf {
        b: [u8; 48],
        n: usize,
    }
    impl Buf {
        pub fn new() -> Self {
            Buf { b: [0; 48], n: 0 }
        }
        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
        }
    }
    impl core::fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let room = self.b.len() - self.n;
            let k = s.len().min(room);
            self.b[self.n..self.n + k].copy_from_slice(&s.as_bytes()[..k]);
            self.n += k;
            Ok(())
        }
    }
}
