//! Memory for a stack's sockets, provided by the caller: a `static` on a board
//! ([`SocketStorage`] has a `const fn new`), or the heap on a host ([`HeapStorage`]).

use super::sync::AtomicBool;

use super::table::{ListenSlot, Slot};

/// Borrowed views of all the arrays a socket set needs.
#[doc(hidden)] // Public only for the `Storage` trait.
pub struct Parts<'a> {
    pub(crate) slots: &'a mut [Slot],
    pub(crate) listeners: &'a mut [ListenSlot],
    pub(crate) rx: &'a mut [u8],
    pub(crate) tx: &'a mut [u8],
    pub(crate) rx_size: usize,
    pub(crate) tx_size: usize,
    pub(crate) stream_flags: &'a [AtomicBool],
    pub(crate) listener_flags: &'a [AtomicBool],
    pub(crate) any_dropped: &'a AtomicBool,
    pub(crate) buckets: &'a mut [u16],
    pub(crate) heap: &'a mut [u16],
}

/// Something that can lend the stack its socket memory for its whole life.
pub trait Storage {
    /// The arrays, borrowed.
    #[doc(hidden)]
    fn parts(&mut self) -> Parts<'_>;
}

/// Fixed socket memory: `N` connection slots with `RX`/`TX`-byte buffers each, and `L`
/// listener slots (listeners need no buffers). No heap; `new` is `const` so the whole
/// thing can live in a `static` (with `static_cell`).
///
/// It is a [`SocketTable`] and its [`SocketBuffers`] in one value. A `const`-initialised
/// `static` of it lands in `.data`, taking its full size in the firmware image, because
/// the table's empty state is not all zero bytes; when the buffers are large, keep the
/// two halves in separate `static`s and join them with [`SplitStorage`], so that the
/// buffers go to `.bss`.
///
/// ```
/// use tidytcp::socket::SocketStorage;
/// // Four connections with 2 KiB each way, two listeners: about 16.5 KiB plus slots.
/// static STORAGE: static_cell::StaticCell<SocketStorage<4, 2, 2048, 2048>> = static_cell::StaticCell::new();
/// let storage = STORAGE.init(SocketStorage::new());
/// # let _ = storage;
/// ```
pub struct SocketStorage<const N: usize, const L: usize, const RX: usize, const TX: usize> {
    table: SocketTable<N, L>,
    buffers: SocketBuffers<N, RX, TX>,
}

impl<const N: usize, const L: usize, const RX: usize, const TX: usize> SocketStorage<N, L, RX, TX> {
    /// Empty storage. Slot indices are 16-bit: `N` must be below 65535.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        SocketStorage {
            table: SocketTable::new(),
            buffers: SocketBuffers::new(),
        }
    }

    /// Empty storage (under loom, whose atomics cannot be made in a `const fn`).
    #[cfg(loom)]
    pub fn new() -> Self {
        SocketStorage {
            table: SocketTable::new(),
            buffers: SocketBuffers::new(),
        }
    }
}

impl<const N: usize, const L: usize, const RX: usize, const TX: usize> Default
    for SocketStorage<N, L, RX, TX>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const L: usize, const RX: usize, const TX: usize> Storage
    for SocketStorage<N, L, RX, TX>
{
    fn parts(&mut self) -> Parts<'_> {
        self.table.parts_with(&mut self.buffers)
    }
}

/// The socket table of `N` connection slots and `L` listener slots, without the stream
/// buffers: connection state, handle flags, the hash and the timer heap. Its size is a
/// few hundred bytes per slot; joined to [`SocketBuffers`] by [`SplitStorage`].
pub struct SocketTable<const N: usize, const L: usize> {
    slots: [Slot; N],
    listeners: [ListenSlot; L],
    stream_flags: [AtomicBool; N],
    listener_flags: [AtomicBool; L],
    any_dropped: AtomicBool,
    buckets: [u16; N],
    heap: [u16; N],
}

impl<const N: usize, const L: usize> SocketTable<N, L> {
    /// An empty table. Slot indices are 16-bit: `N` must be below 65535.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        assert!(
            N < u16::MAX as usize && L < u16::MAX as usize,
            "at most 65534 slots"
        );
        SocketTable {
            slots: [const { Slot::EMPTY }; N],
            listeners: [const { ListenSlot::EMPTY }; L],
            stream_flags: [const { AtomicBool::new(false) }; N],
            listener_flags: [const { AtomicBool::new(false) }; L],
            any_dropped: AtomicBool::new(false),
            buckets: [u16::MAX; N],
            heap: [u16::MAX; N],
        }
    }

    /// An empty table (under loom, whose atomics cannot be made in a `const fn`).
    #[cfg(loom)]
    pub fn new() -> Self {
        SocketTable {
            slots: [const { Slot::EMPTY }; N],
            listeners: [const { ListenSlot::EMPTY }; L],
            stream_flags: core::array::from_fn(|_| AtomicBool::new(false)),
            listener_flags: core::array::from_fn(|_| AtomicBool::new(false)),
            any_dropped: AtomicBool::new(false),
            buckets: [u16::MAX; N],
            heap: [u16::MAX; N],
        }
    }

    fn parts_with<'a, const RX: usize, const TX: usize>(
        &'a mut self,
        buffers: &'a mut SocketBuffers<N, RX, TX>,
    ) -> Parts<'a> {
        Parts {
            slots: &mut self.slots,
            listeners: &mut self.listeners,
            rx: buffers.rx.as_flattened_mut(),
            tx: buffers.tx.as_flattened_mut(),
            rx_size: RX,
            tx_size: TX,
            stream_flags: &self.stream_flags,
            listener_flags: &self.listener_flags,
            any_dropped: &self.any_dropped,
            buckets: &mut self.buckets,
            heap: &mut self.heap,
        }
    }
}

impl<const N: usize, const L: usize> Default for SocketTable<N, L> {
    fn default() -> Self {
        Self::new()
    }
}

/// The receive and send buffers of `N` connections, `RX` and `TX` bytes each. Empty,
/// they are all zero bytes, so a `static` of them is placed in `.bss` and costs nothing
/// in the firmware image.
pub struct SocketBuffers<const N: usize, const RX: usize, const TX: usize> {
    rx: [[u8; RX]; N],
    tx: [[u8; TX]; N],
}

impl<const N: usize, const RX: usize, const TX: usize> SocketBuffers<N, RX, TX> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        SocketBuffers {
            rx: [[0; RX]; N],
            tx: [[0; TX]; N],
        }
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Default for SocketBuffers<N, RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

/// A [`SocketTable`] and [`SocketBuffers`] kept in separate places, lent together to a
/// stack. This is how firmware with large buffers keeps them out of its image: the
/// table, whose empty state is not all zero, goes to `.data` (a few hundred bytes per
/// slot), the buffers to `.bss`.
///
/// ```
/// use static_cell::ConstStaticCell;
/// use tidytcp::socket::{SocketBuffers, SocketTable, SplitStorage};
/// use tidytcp::stack::{Config, Stack};
///
/// // Four connections with 128 KiB each way: 1 MiB of buffers in .bss.
/// static TABLE: ConstStaticCell<SocketTable<4, 1>> = ConstStaticCell::new(SocketTable::new());
/// static BUFFERS: ConstStaticCell<SocketBuffers<4, 131072, 131072>> =
///     ConstStaticCell::new(SocketBuffers::new());
///
/// let mut storage = SplitStorage::new(TABLE.take(), BUFFERS.take());
/// let seed = [0x17; 16]; // from the board's RNG
/// let cfg = Config::new("02:00:00:00:00:01".parse().unwrap(), "192.168.1.2/24".parse().unwrap(), seed);
/// let stack = Stack::new(cfg, &mut storage);
/// # drop(stack);
/// ```
pub struct SplitStorage<'m, const N: usize, const L: usize, const RX: usize, const TX: usize> {
    table: &'m mut SocketTable<N, L>,
    buffers: &'m mut SocketBuffers<N, RX, TX>,
}

impl<'m, const N: usize, const L: usize, const RX: usize, const TX: usize>
    SplitStorage<'m, N, L, RX, TX>
{
    /// `table` and `buffers` as one storage.
    pub fn new(
        table: &'m mut SocketTable<N, L>,
        buffers: &'m mut SocketBuffers<N, RX, TX>,
    ) -> Self {
        SplitStorage { table, buffers }
    }
}

impl<const N: usize, const L: usize, const RX: usize, const TX: usize> Storage
    for SplitStorage<'_, N, L, RX, TX>
{
    fn parts(&mut self) -> Parts<'_> {
        self.table.parts_with(self.buffers)
    }
}

/// Socket memory on the heap, sized at run time (hosts and tests; feature `std`).
///
/// ```
/// use tidytcp::socket::HeapStorage;
/// // 1000 connections with 64 KiB buffers each way: 128 MB, allocated without touching
/// // the thread's stack.
/// let storage = HeapStorage::new(1000, 4, 65536, 65536);
/// # drop(storage);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct HeapStorage {
    slots: std::vec::Vec<Slot>,
    listeners: std::vec::Vec<ListenSlot>,
    rx: std::vec::Vec<u8>,
    tx: std::vec::Vec<u8>,
    rx_size: usize,
    tx_size: usize,
    stream_flags: std::vec::Vec<AtomicBool>,
    listener_flags: std::vec::Vec<AtomicBool>,
    any_dropped: AtomicBool,
    buckets: std::vec::Vec<u16>,
    heap: std::vec::Vec<u16>,
}

#[cfg(feature = "std")]
impl HeapStorage {
    /// `sockets` connection slots with `rx`/`tx`-byte buffers, `listeners` listener slots.
    /// Counts are clamped to 65534.
    pub fn new(sockets: usize, listeners: usize, rx: usize, tx: usize) -> Self {
        use std::vec::Vec;
        let n = sockets.min(usize::from(u16::MAX) - 1);
        let l = listeners.min(usize::from(u16::MAX) - 1);
        HeapStorage {
            slots: (0..n).map(|_| Slot::EMPTY).collect(),
            listeners: (0..l).map(|_| ListenSlot::EMPTY).collect(),
            rx: std::vec![0; n * rx],
            tx: std::vec![0; n * tx],
            rx_size: rx,
            tx_size: tx,
            stream_flags: (0..n).map(|_| AtomicBool::new(false)).collect::<Vec<_>>(),
            listener_flags: (0..l).map(|_| AtomicBool::new(false)).collect::<Vec<_>>(),
            any_dropped: AtomicBool::new(false),
            buckets: std::vec![u16::MAX; n],
            heap: std::vec![u16::MAX; n],
        }
    }
}

#[cfg(feature = "std")]
impl Storage for HeapStorage {
    fn parts(&mut self) -> Parts<'_> {
        Parts {
            slots: &mut self.slots,
            listeners: &mut self.listeners,
            rx: &mut self.rx,
            tx: &mut self.tx,
            rx_size: self.rx_size,
            tx_size: self.tx_size,
            stream_flags: &self.stream_flags,
            listener_flags: &self.listener_flags,
            any_dropped: &self.any_dropped,
            buckets: &mut self.buckets,
            heap: &mut self.heap,
        }
    }
}
