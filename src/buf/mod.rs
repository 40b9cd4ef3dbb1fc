//! The TCP stream buffers: a send ring and a receive ring over caller-provided memory,
//! plus the out-of-order reassembly ranges of the receive side.
//!
//! There is one kind of buffer because there is one protocol: a byte stream. No record
//! boundaries, no address records, no out-of-band data (TCP urgent data is not
//! supported). The state of each ring ([`SendState`], [`RecvState`]) is plain data kept
//! in the socket slot; the bytes live in storage the caller provided. A view
//! ([`SendBuf`], [`RecvBuf`]) joins the two for the duration of an operation.
//!
//! # Overlapping data
//!
//! When received segments overlap, the first copy of each byte wins, whatever a later
//! copy says (a broken or hostile sender may send different bytes for the same
//! sequence numbers): bytes already in order, read or not, are never written again;
//! bytes held out of order are never overwritten ([`RecvBuf::insert`] and
//! [`RecvBuf::stage`] fill only the gaps, as BSD's reassembly trims new segments); and
//! staging writes only into free window space, so a segment whose checksum then fails
//! changes nothing that was received.
//!
//! # Robustness
//!
//! No operation panics, whatever its arguments: counts and offsets are clamped to what
//! the ring holds or to its window, and memory of any length (including 0, which makes
//! every operation a no-op) is accepted. Creating a view also repairs a state that does
//! not fit the memory it is joined with (a programming error: the state must always be
//! used with memory of the same length), so the invariants every operation relies on
//! hold on entry.
//!
//! # Speed
//!
//! The data paths ([`SendBuf::write`], [`SendBuf::copy_and_sum`], [`RecvBuf::read`],
//! [`RecvBuf::stage`]) copy with `copy_from_slice` (or the checksum's fused
//! copy-and-sum) on at most two pieces per contiguous run: there are no per-byte loops.

mod recv;
mod send;

pub use recv::{MAX_RANGES, RecvBuf, RecvState, TooManyRanges};
pub use send::{SendBuf, SendState};

/// `(pos + n) % cap` without overflow, for any `pos` and `n`; 0 when `cap` is 0.
#[inline]
fn ring_add(cap: usize, pos: usize, n: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let pos = if pos < cap { pos } else { pos % cap };
    let n = if n < cap { n } else { n % cap };
    let room = cap - pos;
    if n >= room { n - room } else { pos + n }
}

/// The ring bytes at positions `start, start + 1, ...` (wrapping) for `len` bytes, as the
/// part up to the end of memory and the part continued from the front. `start` is reduced
/// modulo the capacity and `len` is clamped to it.
#[inline]
fn ring_slices(mem: &[u8], start: usize, len: usize) -> (&[u8], &[u8]) {
    let start = ring_add(mem.len(), start, 0);
    let len = len.min(mem.len());
    let (front, back) = mem.split_at_checked(start).unwrap_or((&[], &[]));
    let first = len.min(back.len());
    let a = back.get(..first).unwrap_or(&[]);
    let b = front.get(..len - first).unwrap_or(&[]);
    (a, b)
}

/// Mutable version of [`ring_slices`].
#[inline]
fn ring_slices_mut(mem: &mut [u8], start: usize, len: usize) -> (&mut [u8], &mut [u8]) {
    let start = ring_add(mem.len(), start, 0);
    let len = len.min(mem.len());
    let (front, back) = mem.split_at_mut_checked(start).unwrap_or_default();
    let first = len.min(back.len());
    let a = back.get_mut(..first).unwrap_or_default();
    let b = front.get_mut(..len - first).unwrap_or_default();
    (a, b)
}

/// Copies the common prefix of `src` into `dst`; returns its length.
#[inline]
fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

/// Splits `data` after `n` bytes (`n` clamped to its length).
#[inline]
fn split_clamped(data: &[u8], n: usize) -> (&[u8], &[u8]) {
    data.split_at_checked(n).unwrap_or((data, &[]))
}
