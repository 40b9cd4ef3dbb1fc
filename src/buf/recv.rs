//! The receive ring and its reassembly ranges.
use crate::wire::checksum::Checksum;

/// Compile-time capacity of the out-of-order range table of one receive ring.
pub const MAX_RANGES: usize = 8;

/// A new out-of-order range could not be tracked: the range table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

/// The state of a receive ring: the in-order bytes the user has not read yet, and the
/// out-of-order ranges held beyond them.
///
/// Offsets in this API count from the *end of the in-order data* (for TCP: from
/// `RCV.NXT`). Out-of-order bytes are stored at their final position in the ring, so a
/// filled gap makes them readable without moving anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvState {
    head: usize,
    len: usize,
    ranges: [(u32, u32); MAX_RANGES],
    nranges: u8,
    max_ranges: u8,
}

impl RecvState {
    /// An empty state tracking at most `max_ranges` out-of-order ranges (clamped to
    /// `1..=MAX_RANGES`).
    pub const fn new(max_ranges: usize) -> Self { todo!() }
}

impl Default for RecvState {
    fn default() -> Self { RecvState::new(MAX_RANGES) }
}

/// A receive ring: [`RecvState`] over its memory.
pub struct RecvBuf<'a> {
    mem: &'a mut [u8],
    st: &'a mut RecvState,
}

impl<'a> RecvBuf<'a> {
    /// Joins state and memory. The state must only ever be used with memory of the same
    /// length.
    pub fn new(mem: &'a mut [u8], st: &'a mut RecvState) -> Self { RecvBuf { mem, st } }
    /// Size of the ring.
    pub fn capacity(&self) -> usize { todo!() }
    /// In-order bytes ready to read.
    pub fn len(&self) -> usize { todo!() }
    /// No in-order bytes.
    pub fn is_empty(&self) -> bool { todo!() }
    /// Space from the end of the in-order data to the end of the ring's capacity: the
    /// receive window (out-of-order ranges lie inside it).
    pub fn window(&self) -> usize { todo!() }
    /// Copies in-order bytes out; returns the count.
    pub fn read(&mut self, out: &mut [u8]) -> usize { todo!() }
    /// Offers the largest contiguous run of in-order bytes to `f`, which consumes a prefix
    /// and returns its length (clamped). Returns that length.
    pub fn read_with(&mut self, f: impl FnOnce(&[u8]) -> usize) -> usize { todo!() }
    /// Copies up to `out.len()` in-order bytes starting `offset` bytes in without
    /// consuming them; returns the count.
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize { todo!() }
    /// The out-of-order ranges as `(offset, len)` past the in-order end, lowest first.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ { core::iter::empty() }
    /// Bytes held out of order.
    pub fn ooo_bytes(&self) -> usize { todo!() }
    /// The fused receive path, first half. Adds every byte of `data` to `sum` in order,
    /// and copies `data[skip..]` to `offset` bytes past the in-order end — but only the
    /// bytes that fall inside the window and are not already held by an out-of-order
    /// range (the first copy wins). Nothing becomes readable until [`RecvBuf::commit`].
    /// Returns how many bytes of `data[skip..]` fall inside the window.
    pub fn stage(&mut self, data: &[u8], skip: usize, offset: usize, sum: &mut Checksum) -> usize { todo!() }
    /// The fused receive path, second half: marks `[offset, offset + len)` (bytes staged
    /// or already held) as received. Returns how many bytes became readable in order.
    /// Fails, changing nothing, if the range would need a new out-of-order entry and the
    /// table is full.
    pub fn commit(&mut self, offset: usize, len: usize) -> Result<usize, TooManyRanges> { todo!() }
    /// Copies `data` to `offset` past the in-order end (in-window bytes only, held bytes
    /// not overwritten) and commits it. Returns how many bytes became readable in order.
    pub fn insert(&mut self, offset: usize, data: &[u8]) -> Result<usize, TooManyRanges> { todo!() }
    /// Forgets every out-of-order range.
    pub fn clear_ooo(&mut self) { todo!() }
    /// Drops everything.
    pub fn clear(&mut self) { todo!() }
}
