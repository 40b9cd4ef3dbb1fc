//! The send ring.
use crate::wire::checksum::Checksum;

/// Where the queued bytes sit in a send ring's memory.
///
/// The bytes from `head` (wrapping) for `len` bytes are the stream from `SND.UNA` on:
/// first the sent-but-unacknowledged bytes, then the not-yet-sent ones. Retransmission is
/// an offset from the head; there are no per-segment copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendState {
    head: usize,
    len: usize,
}

/// A send ring: [`SendState`] over its memory.
pub struct SendBuf<'a> {
    mem: &'a mut [u8],
    st: &'a mut SendState,
}

impl<'a> SendBuf<'a> {
    /// Joins state and memory. The state must only ever be used with memory of the same
    /// length.
    pub fn new(mem: &'a mut [u8], st: &'a mut SendState) -> Self {
        SendBuf { mem, st }
    }
    /// Size of the ring.
    pub fn capacity(&self) -> usize { todo!() }
    /// Bytes held: unacknowledged plus unsent.
    pub fn len(&self) -> usize { todo!() }
    /// Nothing held.
    pub fn is_empty(&self) -> bool { todo!() }
    /// Room for more bytes.
    pub fn free(&self) -> usize { todo!() }
    /// Appends as much of `data` as fits; returns the count.
    pub fn write(&mut self, data: &[u8]) -> usize { todo!() }
    /// Offers the largest contiguous free region to `f`, which fills a prefix and returns
    /// its length (clamped to the region). Returns that length.
    pub fn write_with(&mut self, f: impl FnOnce(&mut [u8]) -> usize) -> usize { todo!() }
    /// Removes `n` acknowledged bytes from the front (`n` is clamped to `len`).
    pub fn consume(&mut self, n: usize) { todo!() }
    /// The bytes `[offset, offset + len)` counted from the front, as one or two slices
    /// (two when they wrap). Clamped to what is held.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) { todo!() }
    /// Copies `dst.len()` bytes starting `offset` bytes from the front into `dst`, adding
    /// them to `sum` in the same pass. Returns the number copied (less than `dst.len()`
    /// only if fewer bytes are held).
    pub fn copy_and_sum(&self, offset: usize, dst: &mut [u8], sum: &mut Checksum) -> usize { todo!() }
    /// Drops every byte.
    pub fn clear(&mut self) { todo!() }
}
