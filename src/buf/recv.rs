//! The receive ring and its reassembly ranges.
use super::{copy_prefix, ring_add, ring_slices, ring_slices_mut, split_clamped};
use crate::checksum::Checksum;

/// Compile-time capacity of the out-of-order range table of one receive ring: 8 with the
/// `sack` feature (a SACK sender fills several holes per round trip, and each range held
/// is data it need not send again), 4 without it (as smoltcp's assembler), which saves
/// 32 bytes per connection where every byte of RAM counts. Each range takes 8 bytes.
pub const MAX_RANGES: usize = if cfg!(feature = "sack") { 8 } else { 4 };

/// `window` capped at `u32::MAX`, the largest window (and out-of-order offset) a ring
/// tracks: range offsets are stored as `u32`. Far above any TCP window (at most 2^30 bytes
/// with window scaling); only rings over 4 GiB on 64-bit targets are affected.
#[inline]
fn cap_window(window: usize) -> usize {
    match u32::try_from(window) {
        Ok(_) => window,
        Err(_) => usize::try_from(u32::MAX).unwrap_or(usize::MAX),
    }
}

/// A new out-of-order range could not be tracked: the range table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

/// The state of a receive ring: the in-order bytes the user has not read yet, and the
/// out-of-order ranges held beyond them.
///
/// Offsets in this API count from the *end of the in-order data* (for TCP: from
/// `RCV.NXT`). Out-of-order bytes are stored at their final position in the ring, so a
/// filled gap makes them readable without moving anything.
///
/// Invariants (restored by [`RecvBuf::new`] if the state was joined with the wrong
/// memory): the ranges are sorted, each is non-empty, none starts at offset 0 (that data
/// is in order), no two overlap or touch, there are at most `max_ranges` of them, and all
/// lie inside the window.
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
    pub const fn new(max_ranges: usize) -> Self {
        let max = if max_ranges < 1 {
            1
        } else if max_ranges > MAX_RANGES {
            MAX_RANGES
        } else {
            max_ranges
        };
        RecvState {
            head: 0,
            len: 0,
            ranges: [(0, 0); MAX_RANGES],
            nranges: 0,
            max_ranges: max as u8,
        }
    }

    /// In-order bytes ready to read, read without joining the memory. Equal to
    /// [`RecvBuf::len`] when the state is used as documented.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// No in-order bytes (see [`RecvState::len`]).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The limit on out-of-order ranges this state was created with.
    pub const fn max_ranges(&self) -> usize {
        self.max_ranges as usize
    }

    /// Number of out-of-order ranges held.
    pub const fn range_count(&self) -> usize {
        self.nranges as usize
    }

    fn range_slice(&self) -> &[(u32, u32)] {
        self.ranges.get(..usize::from(self.nranges)).unwrap_or(&[])
    }

    /// Repairs the state so that it fits memory of `cap` bytes (see the type's invariants).
    fn normalize(&mut self, cap: usize) {
        // The usual case, checked cheaply: nothing out of order, positions inside the ring.
        if self.nranges == 0
            && self.len <= cap
            && (self.head < cap || cap == 0 && self.head == 0)
            && (1..=MAX_RANGES as u8).contains(&self.max_ranges)
        {
            return;
        }
        self.len = self.len.min(cap);
        self.head = ring_add(cap, self.head, 0);
        self.max_ranges = self.max_ranges.clamp(1, MAX_RANGES as u8);
        let window = cap_window(cap - self.len) as u64;
        let limit = usize::from(self.nranges.min(self.max_ranges));
        let mut out = [(0, 0); MAX_RANGES];
        let mut k = 0;
        let mut prev_end = 0u64;
        for &(off, len) in self.ranges.get(..limit).unwrap_or(&[]) {
            let end = u64::from(off) + u64::from(len);
            if len > 0 && u64::from(off) > prev_end && end <= window {
                if let Some(slot) = out.get_mut(k) {
                    *slot = (off, len);
                    k += 1;
                }
                prev_end = end;
            }
        }
        self.ranges = out;
        self.nranges = k as u8;
    }

    /// The state after marking `[off, end)` received, with `off < end <= window`, and how
    /// many bytes became readable in order.
    fn committed(&self, off: usize, end: usize) -> Result<(RecvState, usize), TooManyRanges> {
        let off = u32::try_from(off).unwrap_or(u32::MAX);
        let end = u32::try_from(end).unwrap_or(u32::MAX);
        if off == 0 && self.nranges == 0 {
            // In-order data with nothing out of order (bulk transfer): no ranges to merge.
            let mut next = *self;
            next.len = self.len.saturating_add(end as usize);
            return Ok((next, end as usize));
        }
        let rs = self.range_slice();
        // Ranges `i..j` overlap or touch `[off, end)`; those before `i` end before `off`,
        // those from `j` start after `end`.
        let i = rs
            .iter()
            .position(|&(o, l)| o.saturating_add(l) >= off)
            .unwrap_or(rs.len());
        let j = rs
            .iter()
            .position(|&(o, _)| o > end)
            .unwrap_or(rs.len())
            .max(i);
        let (before, rest) = rs.split_at_checked(i).unwrap_or((rs, &[]));
        let (merging, after) = rest.split_at_checked(j - i).unwrap_or((rest, &[]));
        let mut lo = off;
        let mut hi = end;
        if let Some(&(o, _)) = merging.first() {
            lo = lo.min(o);
        }
        if let Some(&(o, l)) = merging.last() {
            hi = hi.max(o.saturating_add(l));
        }

        let mut next = *self;
        next.ranges = [(0, 0); MAX_RANGES];
        let mut k = 0;
        let mut push = |r: (u32, u32)| {
            if let Some(slot) = next.ranges.get_mut(k) {
                *slot = r;
                k += 1;
            }
        };
        let readable;
        if lo == 0 {
            // The merged range starts at the in-order end: it joins the in-order data, and
            // the offsets of every later range move down by its length. The next range
            // cannot start at the new end, because ranges never touch.
            readable = hi as usize;
            for &(o, l) in after {
                push((o.saturating_sub(hi), l));
            }
            next.len = self.len.saturating_add(readable);
        } else {
            if before.len() + 1 + after.len() > usize::from(self.max_ranges) {
                return Err(TooManyRanges);
            }
            readable = 0;
            for &r in before {
                push(r);
            }
            push((lo, hi - lo));
            for &r in after {
                push(r);
            }
        }
        next.nranges = k as u8;
        Ok((next, readable))
    }
}

impl Default for RecvState {
    fn default() -> Self {
        RecvState::new(MAX_RANGES)
    }
}

/// A receive ring: [`RecvState`] over its memory.
pub struct RecvBuf<'a> {
    mem: &'a mut [u8],
    st: &'a mut RecvState,
}

/// How many of `len` bytes starting `offset` past the in-order end fit in `window`.
#[inline]
fn in_window(window: usize, offset: usize, len: usize) -> usize {
    if offset >= window {
        0
    } else {
        len.min(window - offset)
    }
}

/// Copies `src` into the ring at position `start` (wrapping), summing it if `sum` is given.
#[inline]
fn put(mem: &mut [u8], start: usize, src: &[u8], sum: Option<&mut Checksum>) {
    if src.is_empty() {
        return;
    }
    let (a, b) = ring_slices_mut(mem, start, src.len());
    let (s1, s2) = split_clamped(src, a.len());
    match sum {
        Some(c) => {
            c.copy_and_add(a, s1);
            c.copy_and_add(b, s2);
        }
        None => {
            copy_prefix(a, s1);
            copy_prefix(b, s2);
        }
    }
}

impl<'a> RecvBuf<'a> {
    /// Joins state and memory. The state must only ever be used with memory of the same
    /// length; a state that does not fit `mem` is repaired (clamped, and out-of-order
    /// ranges that do not fit dropped), never a panic.
    pub fn new(mem: &'a mut [u8], st: &'a mut RecvState) -> Self {
        st.normalize(mem.len());
        RecvBuf { mem, st }
    }

    /// Joins state and memory that are known to fit each other (the socket table always
    /// joins a state with the same memory): no repair, only a debug assertion.
    #[inline]
    pub(crate) fn joined(mem: &'a mut [u8], st: &'a mut RecvState) -> Self {
        debug_assert!(
            {
                let mut n = *st;
                n.normalize(mem.len());
                n == *st
            },
            "receive state does not fit its memory"
        );
        RecvBuf { mem, st }
    }

    /// Size of the ring.
    pub fn capacity(&self) -> usize {
        self.mem.len()
    }

    /// In-order bytes ready to read.
    pub fn len(&self) -> usize {
        self.st.len
    }

    /// No in-order bytes.
    pub fn is_empty(&self) -> bool {
        self.st.len == 0
    }

    /// Space from the end of the in-order data to the end of the ring's capacity: the
    /// receive window (out-of-order ranges lie inside it). Reading grows it, in-order
    /// data arriving shrinks it; out-of-order data does not change it.
    ///
    /// Capped at `u32::MAX` (range offsets are 32-bit), which only matters for rings
    /// larger than 4 GiB.
    pub fn window(&self) -> usize {
        cap_window(self.capacity() - self.st.len)
    }

    /// Drops `n <= len` in-order bytes from the front.
    fn advance(&mut self, n: usize) {
        let n = n.min(self.st.len);
        self.st.len -= n;
        // Out-of-order bytes sit at positions relative to the head: keep it unless there
        // are none.
        self.st.head = if self.st.len == 0 && self.st.nranges == 0 {
            0
        } else {
            ring_add(self.mem.len(), self.st.head, n)
        };
    }

    /// Copies in-order bytes out; returns the count.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(0, out);
        self.advance(n);
        n
    }

    /// Offers the largest contiguous run of in-order bytes to `f`, which consumes a prefix
    /// and returns its length (clamped). Returns that length.
    ///
    /// The run starts at the first unread byte and ends at the end of the in-order data
    /// or of memory, whichever comes first; when the data wraps, call again for the rest.
    /// `f` is called even when there is nothing to read, with an empty slice.
    pub fn read_with(&mut self, f: impl FnOnce(&[u8]) -> usize) -> usize {
        let (run, _) = ring_slices(self.mem, self.st.head, self.st.len);
        let n = f(run).min(run.len());
        self.advance(n);
        n
    }

    /// Copies up to `out.len()` in-order bytes starting `offset` bytes in without
    /// consuming them; returns the count.
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        let offset = offset.min(self.st.len);
        let n = out.len().min(self.st.len - offset);
        let start = ring_add(self.mem.len(), self.st.head, offset);
        let (a, b) = ring_slices(self.mem, start, n);
        let (o1, o2) = out.split_at_mut_checked(a.len()).unwrap_or_default();
        copy_prefix(o1, a) + copy_prefix(o2, b)
    }

    /// The out-of-order ranges as `(offset, len)` past the in-order end, lowest first.
    ///
    /// They are sorted, non-empty, start after offset 0, neither overlap nor touch, and
    /// number at most the state's `max_ranges`. (For SACK, which wants the most recently
    /// received block first, see [`RecvBuf::range_containing`].)
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.st
            .range_slice()
            .iter()
            .map(|&(o, l)| (o as usize, l as usize))
    }

    /// The out-of-order range holding the byte `offset` past the in-order end, if any, as
    /// `(offset, len)`. After committing an out-of-order segment, the range containing its
    /// first byte is the block a SACK option reports first (RFC 2018 §4).
    pub fn range_containing(&self, offset: usize) -> Option<(usize, usize)> {
        self.ranges().find(|&(o, l)| o <= offset && offset - o < l)
    }

    /// Whether any bytes are held out of order (`ooo_bytes() > 0`, without the sum).
    #[inline]
    pub fn has_ooo(&self) -> bool {
        self.st.nranges != 0
    }

    /// Bytes held out of order.
    pub fn ooo_bytes(&self) -> usize {
        self.ranges().map(|(_, l)| l).sum()
    }

    /// Copies the in-window bytes of `data` (offset `offset` past the in-order end) into
    /// the ring, skipping bytes already held, and sums all of `data` into `sum` if given.
    /// Returns how many bytes of `data` lie inside the window.
    fn place(&mut self, data: &[u8], offset: usize, mut sum: Option<&mut Checksum>) -> usize {
        let cap = self.mem.len();
        let n = in_window(self.window(), offset, data.len());
        let (inwin, beyond) = split_clamped(data, n);
        if self.st.nranges == 0 {
            // Nothing held out of order (the common case): one run to copy. A non-empty
            // run starts inside the window, so `len + offset < cap`.
            if !inwin.is_empty() {
                let pos = ring_add(cap, self.st.head, self.st.len + offset);
                put(self.mem, pos, inwin, sum.as_deref_mut());
            }
            if let Some(c) = sum {
                c.add_bytes(beyond);
            }
            return n;
        }
        // Ring position of offset 0 (RCV.NXT).
        let base = ring_add(cap, self.st.head, self.st.len);
        // `inwin[..at]` is done; `offset + at` is its offset past the in-order end.
        let mut at = 0usize;
        for &(ro, rl) in self.st.range_slice() {
            let r_start = ro as usize;
            let r_end = r_start.saturating_add(rl as usize);
            if r_end <= offset + at {
                continue;
            }
            if r_start >= offset + n {
                break;
            }
            // A gap before the held range: copy it. Then the held part: sum only.
            let gap_end = r_start.saturating_sub(offset).max(at);
            let held_end = (r_end - offset).min(n);
            let gap = inwin.get(at..gap_end).unwrap_or(&[]);
            put(
                self.mem,
                ring_add(cap, base, offset + at),
                gap,
                sum.as_deref_mut(),
            );
            if let Some(c) = sum.as_deref_mut() {
                c.add_bytes(inwin.get(gap_end..held_end).unwrap_or(&[]));
            }
            at = held_end;
        }
        let tail = inwin.get(at..).unwrap_or(&[]);
        put(
            self.mem,
            ring_add(cap, base, offset + at),
            tail,
            sum.as_deref_mut(),
        );
        if let Some(c) = sum {
            c.add_bytes(beyond);
        }
        n
    }

    /// The fused receive path, first half. Adds every byte of `data` to `sum` in order,
    /// and copies `data[skip..]` to `offset` bytes past the in-order end — but only the
    /// bytes that fall inside the window and are not already held by an out-of-order
    /// range (the first copy wins). Nothing becomes readable until [`RecvBuf::commit`].
    /// Returns how many bytes of `data[skip..]` fall inside the window.
    ///
    /// `data[..skip]` (a header, or payload the peer sent again below `RCV.NXT`) is only
    /// summed; `skip` is clamped to `data.len()`. The state is not changed, and the bytes
    /// written land only in free window space, so staging a segment whose checksum then
    /// fails (and is never committed) is harmless. Pass the returned count as `len` to
    /// [`RecvBuf::commit`] with the same `offset`.
    pub fn stage(&mut self, data: &[u8], skip: usize, offset: usize, sum: &mut Checksum) -> usize {
        let (header, payload) = split_clamped(data, skip);
        sum.add_bytes(header);
        self.place(payload, offset, Some(sum))
    }

    /// The fused receive path, second half: marks `[offset, offset + len)` (bytes staged
    /// or already held) as received. Returns how many bytes became readable in order.
    /// Fails, changing nothing, if the range would need a new out-of-order entry and the
    /// table is full.
    ///
    /// The range is clamped to the window (bytes past it are ignored; an empty range or
    /// one starting at or past the window is `Ok(0)`). A range at offset 0 extends the
    /// in-order data, together with every out-of-order range it reaches; the return value
    /// is then the amount to advance `RCV.NXT` by (it can exceed `len`), and never fails.
    /// Overlapping and touching ranges are merged.
    pub fn commit(&mut self, offset: usize, len: usize) -> Result<usize, TooManyRanges> {
        let window = self.window();
        if len == 0 || offset >= window {
            return Ok(0);
        }
        let end = offset.saturating_add(len).min(window);
        if offset == 0 && self.st.nranges == 0 {
            // In order with nothing out of order (the common case): no ranges to merge.
            self.st.len += end;
            return Ok(end);
        }
        let (next, readable) = self.st.committed(offset, end)?;
        *self.st = next;
        Ok(readable)
    }

    /// Copies `data` to `offset` past the in-order end (in-window bytes only, held bytes
    /// not overwritten) and commits it. Returns how many bytes became readable in order.
    ///
    /// On `Err(TooManyRanges)` nothing is copied or changed.
    #[inline(never)] // cold: kept out of the per-segment path's cache lines
    pub fn insert(&mut self, offset: usize, data: &[u8]) -> Result<usize, TooManyRanges> {
        let n = in_window(self.window(), offset, data.len());
        if n == 0 {
            return Ok(0);
        }
        let (next, readable) = self.st.committed(offset, offset + n)?;
        self.place(data, offset, None);
        *self.st = next;
        Ok(readable)
    }

    /// Forgets every out-of-order range.
    pub fn clear_ooo(&mut self) {
        self.st.nranges = 0;
        if self.st.len == 0 {
            self.st.head = 0;
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        *self.st = RecvState::new(usize::from(self.st.max_ranges));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    fn read_all(b: &mut RecvBuf) -> Vec<u8> {
        let mut out = std::vec![0u8; b.len()];
        let n = b.read(&mut out);
        out.truncate(n);
        out
    }

    fn ranges(b: &RecvBuf) -> Vec<(usize, usize)> {
        b.ranges().collect()
    }

    #[test]
    fn new_is_const_and_clamps_max_ranges() {
        static S: RecvState = RecvState::new(4);
        assert_eq!(S.max_ranges(), 4);
        assert_eq!(RecvState::new(0).max_ranges(), 1);
        assert_eq!(RecvState::new(100).max_ranges(), MAX_RANGES);
        assert_eq!(RecvState::default().max_ranges(), MAX_RANGES);
        assert!(S.is_empty());
        assert_eq!(S.range_count(), 0);
    }

    #[test]
    fn zero_capacity_does_nothing() {
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut [], &mut st);
        assert_eq!(b.window(), 0);
        assert_eq!(b.insert(0, b"abc"), Ok(0));
        assert_eq!(b.insert(3, b"abc"), Ok(0));
        let mut sum = Checksum::new();
        assert_eq!(b.stage(b"hdrabc", 3, 0, &mut sum), 0);
        assert_eq!(sum.finish(), checksum(b"hdrabc"));
        assert_eq!(b.commit(0, 3), Ok(0));
        assert_eq!(b.read(&mut [0; 4]), 0);
        let mut offered = None;
        assert_eq!(
            b.read_with(|r| {
                offered = Some(r.len());
                5
            }),
            0
        );
        assert_eq!(offered, Some(0));
        assert_eq!(b.peek(0, &mut [0; 4]), 0);
        assert_eq!(b.ooo_bytes(), 0);
        b.clear_ooo();
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn in_order_wraps_around() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        assert_eq!(b.insert(0, b"abcdef"), Ok(6));
        assert_eq!(b.window(), 2);
        let mut out = [0u8; 4];
        assert_eq!(b.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(b.window(), 6);
        assert_eq!(b.insert(0, b"ghijklmnop"), Ok(6));
        assert_eq!(b.len(), 8);
        assert_eq!(b.window(), 0);
        let mut p = [0u8; 3];
        assert_eq!(b.peek(1, &mut p), 3);
        assert_eq!(&p, b"fgh");
        assert_eq!(b.peek(7, &mut p), 1);
        assert_eq!(b.peek(100, &mut p), 0);
        assert_eq!(read_all(&mut b), b"efghijkl");
    }

    #[test]
    fn read_with_at_wrap_point() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(0, b"abcdef").unwrap();
        b.read(&mut [0; 5]);
        b.insert(0, b"ghij").unwrap(); // "fghij": "fgh" at 5..8, "ij" at 0..2
        let n = b.read_with(|r| {
            assert_eq!(r, b"fgh");
            2
        });
        assert_eq!(n, 2);
        assert_eq!(b.read_with(|r| r.len() + 10), 1); // clamped
        let n = b.read_with(|r| {
            assert_eq!(r, b"ij");
            2
        });
        assert_eq!(n, 2);
        assert!(b.is_empty());
        assert_eq!(b.read_with(|r| r.len()), 0);
    }

    #[test]
    fn gap_fill_absorbs_ranges_in_a_chain() {
        let mut mem = [0u8; 16];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        assert_eq!(b.insert(2, b"cd"), Ok(0));
        assert_eq!(b.insert(6, b"gh"), Ok(0));
        assert_eq!(ranges(&b), [(2, 2), (6, 2)]);
        assert_eq!(b.ooo_bytes(), 4);
        assert_eq!(b.range_containing(7), Some((6, 2)));
        assert_eq!(b.range_containing(5), None);
        // Adjacent on both sides: one range.
        assert_eq!(b.insert(4, b"ef"), Ok(0));
        assert_eq!(ranges(&b), [(2, 6)]);
        assert_eq!(b.window(), 16);
        assert_eq!(b.insert(0, b"ab"), Ok(8));
        assert!(ranges(&b).is_empty());
        assert_eq!(b.window(), 8);
        assert_eq!(read_all(&mut b), b"abcdefgh");
    }

    #[test]
    fn in_order_growth_shifts_range_offsets() {
        let mut mem = [0u8; 16];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(5, b"fg").unwrap();
        b.insert(10, b"k").unwrap();
        assert_eq!(b.insert(0, b"abc"), Ok(3));
        assert_eq!(ranges(&b), [(2, 2), (7, 1)]);
        // Reading does not move them.
        let mut out = [0u8; 2];
        b.read(&mut out);
        assert_eq!(ranges(&b), [(2, 2), (7, 1)]);
        b.read(&mut out);
        assert!(b.is_empty());
        assert_eq!(ranges(&b), [(2, 2), (7, 1)]);
        assert_eq!(b.insert(0, b"de"), Ok(4));
        assert_eq!(read_all(&mut b), b"defg");
        assert_eq!(ranges(&b), [(3, 1)]);
        assert_eq!(b.insert(0, b"hij"), Ok(4));
        assert_eq!(read_all(&mut b), b"hijk");
    }

    #[test]
    fn too_many_ranges_changes_nothing() {
        let mut mem = [0u8; 32];
        let mut st = RecvState::new(2);
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(2, b"c").unwrap();
        b.insert(5, b"f").unwrap();
        let before = *b.st;
        let mem_before: Vec<u8> = b.mem.to_vec();
        assert_eq!(b.insert(8, b"i"), Err(TooManyRanges));
        assert_eq!(b.commit(8, 1), Err(TooManyRanges));
        assert_eq!(*b.st, before);
        assert_eq!(b.mem.to_vec(), mem_before);
        // Extending, merging and in-order data still work with a full table.
        assert_eq!(b.insert(6, b"g"), Ok(0));
        assert_eq!(b.insert(3, b"de"), Ok(0));
        assert_eq!(ranges(&b), [(2, 5)]);
        assert_eq!(b.insert(9, b"j"), Ok(0));
        assert_eq!(b.insert(0, b"a"), Ok(1));
        assert_eq!(b.insert(0, b"b"), Ok(6));
        assert_eq!(read_all(&mut b), b"abcdefg");
        assert_eq!(ranges(&b), [(2, 1)]);
    }

    #[test]
    fn first_copy_wins() {
        let mut mem = [0u8; 16];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(3, b"XYZ").unwrap();
        b.insert(8, b"W").unwrap();
        let mut sum = Checksum::new();
        let seg = b"HDRabcdefghij";
        let n = b.stage(seg, 3, 0, &mut sum);
        assert_eq!(n, 10);
        assert_eq!(sum.finish(), checksum(seg));
        assert_eq!(b.commit(0, n), Ok(10));
        assert_eq!(read_all(&mut b), b"abcXYZghWj");
    }

    #[test]
    fn window_limits_what_is_copied() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(0, b"abc").unwrap();
        // Window 5: offset 2 fits 3 of 6 bytes, offset 5 fits none.
        let mut sum = Checksum::new();
        assert_eq!(b.stage(b"123456", 0, 2, &mut sum), 3);
        assert_eq!(sum.finish(), checksum(b"123456"));
        assert_eq!(b.stage(b"123456", 0, 5, &mut Checksum::new()), 0);
        assert_eq!(b.stage(b"123456", 9, usize::MAX, &mut Checksum::new()), 0);
        assert_eq!(b.commit(2, 6), Ok(0));
        assert_eq!(ranges(&b), [(2, 3)]);
        assert_eq!(b.commit(5, 1), Ok(0));
        assert_eq!(b.commit(usize::MAX, usize::MAX), Ok(0));
        assert_eq!(ranges(&b), [(2, 3)]);
        // The unread in-order bytes were not overwritten.
        assert_eq!(b.insert(0, b"de"), Ok(5));
        assert_eq!(read_all(&mut b), b"abcde123");
        // commit clamps a huge length to the window.
        assert_eq!(b.commit(0, usize::MAX), Ok(8));
    }

    #[test]
    fn stage_without_commit_is_harmless() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(4, b"ef").unwrap();
        // A corrupted segment: staged, checksum fails, never committed.
        b.stage(b"!!!!!!!!", 0, 0, &mut Checksum::new());
        assert_eq!(b.len(), 0);
        assert_eq!(ranges(&b), [(4, 2)]);
        assert_eq!(b.insert(0, b"abcdgh"), Ok(6));
        assert_eq!(read_all(&mut b), b"abcdef");
    }

    #[test]
    fn head_kept_while_ranges_exist() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(0, b"abcde").unwrap();
        b.insert(2, b"h").unwrap(); // at ring position 7
        read_all(&mut b);
        assert_eq!(b.insert(0, b"fg"), Ok(3));
        assert_eq!(read_all(&mut b), b"fgh");
        // Now empty with no ranges: head back at 0, a full contiguous run.
        b.insert(0, b"12345678").unwrap();
        assert_eq!(b.read_with(|r| r.len()), 8);
    }

    #[test]
    fn clear_ooo_and_clear() {
        let mut mem = [0u8; 8];
        let mut st = RecvState::new(3);
        let mut b = RecvBuf::new(&mut mem, &mut st);
        b.insert(0, b"ab").unwrap();
        b.insert(4, b"x").unwrap();
        b.clear_ooo();
        assert_eq!(b.ooo_bytes(), 0);
        assert_eq!(b.len(), 2);
        b.clear();
        assert_eq!(b.len(), 0);
        assert_eq!(b.window(), 8);
        assert_eq!(b.st.max_ranges(), 3);
    }

    #[test]
    fn stale_state_is_repaired() {
        let mut big = [0u8; 32];
        let mut st = RecvState::default();
        let mut b = RecvBuf::new(&mut big, &mut st);
        b.insert(0, &[1; 3]).unwrap();
        b.insert(5, &[2; 2]).unwrap();
        b.insert(20, &[3; 4]).unwrap();
        let mut small = [0u8; 12];
        let mut b = RecvBuf::new(&mut small, &mut st);
        assert_eq!(b.len(), 3);
        assert_eq!(ranges(&b), [(5, 2)]);
        assert_eq!(b.insert(0, &[9; 100]), Ok(9));
        assert_eq!(b.len(), 12);
    }

    /// Byte `pos` of the stream as sent in copy `variant` (0 is the real stream).
    fn byte(pos: usize, variant: u8) -> u8 {
        (pos as u8).wrapping_mul(31).wrapping_add(7) ^ variant.wrapping_mul(0x55)
    }

    /// The receive side as a map from stream position to the first byte that arrived there.
    struct Model {
        cap: usize,
        max: usize,
        read: usize,
        nxt: usize,
        held: BTreeMap<usize, u8>,
    }

    impl Model {
        fn window(&self) -> usize {
            self.cap - (self.nxt - self.read)
        }

        /// Out-of-order runs relative to `nxt`.
        fn runs(held: &BTreeMap<usize, u8>, nxt: usize) -> Vec<(usize, usize)> {
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for &p in held.range(nxt..).map(|(p, _)| p) {
                match runs.last_mut() {
                    Some((o, l)) if nxt + *o + *l == p => *l += 1,
                    _ => runs.push((p - nxt, 1)),
                }
            }
            runs
        }

        fn commit(&mut self, start: usize, bytes: &[u8]) -> Result<usize, TooManyRanges> {
            let lo = start.max(self.nxt);
            let hi = (start + bytes.len()).min(self.read + self.cap);
            if lo >= hi {
                return Ok(0);
            }
            let mut held = self.held.clone();
            for p in lo..hi {
                held.entry(p).or_insert(bytes[p - start]);
            }
            if lo > self.nxt && Self::runs(&held, self.nxt).len() > self.max {
                return Err(TooManyRanges);
            }
            self.held = held;
            let old = self.nxt;
            while self.held.contains_key(&self.nxt) {
                self.nxt += 1;
            }
            Ok(self.nxt - old)
        }

        fn readable(&self) -> Vec<u8> {
            self.held
                .range(self.read..self.nxt)
                .map(|(_, &b)| b)
                .collect()
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Mode {
        Insert,
        StageCommit,
        StageOnly,
    }

    #[derive(Debug, Clone)]
    enum Op {
        Piece {
            rel: isize,
            len: usize,
            variant: u8,
            mode: Mode,
            lead: usize,
            pre: usize,
        },
        Read {
            n: usize,
        },
        ReadWith {
            n: usize,
        },
        Peek {
            offset: usize,
            n: usize,
        },
        ClearOoo,
    }

    fn op() -> impl Strategy<Value = Op> {
        let mode = prop_oneof![
            Just(Mode::Insert),
            Just(Mode::StageCommit),
            Just(Mode::StageOnly)
        ];
        prop_oneof![
            10 => (-10isize..50, 0usize..24, prop_oneof![4 => Just(0u8), 1 => 1u8..4], mode, 0usize..4, 0usize..3)
                .prop_map(|(rel, len, variant, mode, lead, pre)| Op::Piece { rel, len, variant, mode, lead, pre }),
            3 => (0usize..30).prop_map(|n| Op::Read { n }),
            2 => (0usize..30).prop_map(|n| Op::ReadWith { n }),
            1 => (0usize..30, 0usize..30).prop_map(|(offset, n)| Op::Peek { offset, n }),
            1 => Just(Op::ClearOoo),
        ]
    }

    fn check(b: &RecvBuf, m: &Model) -> Result<(), TestCaseError> {
        prop_assert_eq!(b.len(), m.nxt - m.read);
        prop_assert_eq!(b.window(), m.window());
        let rs = ranges(b);
        prop_assert_eq!(&rs, &Model::runs(&m.held, m.nxt));
        prop_assert!(rs.len() <= m.max);
        let mut prev_end = 0;
        for &(o, l) in &rs {
            prop_assert!(
                l > 0 && o > prev_end,
                "sorted, disjoint, non-adjacent: {:?}",
                rs
            );
            prev_end = o + l;
        }
        prop_assert!(prev_end <= b.window());
        prop_assert_eq!(b.ooo_bytes(), rs.iter().map(|r| r.1).sum::<usize>());
        let mut all = std::vec![0u8; b.len()];
        prop_assert_eq!(b.peek(0, &mut all), b.len());
        prop_assert_eq!(all, m.readable());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn reassembly_matches_model(
            cap in 0usize..48,
            max in 0usize..10,
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let mut mem = std::vec![0u8; cap];
            let mut st = RecvState::new(max);
            let mut m = Model { cap, max: max.clamp(1, MAX_RANGES), read: 0, nxt: 0, held: BTreeMap::new() };
            let mut stream_read: Vec<u8> = Vec::new();
            for op in ops {
                let mut b = RecvBuf::new(&mut mem, &mut st);
                match op {
                    Op::Piece { rel, len, variant, mode, lead, pre } => {
                        let start = m.nxt.saturating_add_signed(rel);
                        let piece: Vec<u8> = (start..start + len).map(|p| byte(p, variant)).collect();
                        // Bytes below RCV.NXT are skipped, like a retransmission's old part.
                        let dup = (m.nxt - start.min(m.nxt)).min(len);
                        let offset = start.max(m.nxt) - m.nxt;
                        let expected_in_window =
                            if offset >= m.window() { 0 } else { (len - dup).min(m.window() - offset) };
                        match mode {
                            Mode::Insert => {
                                let got = b.insert(offset, &piece[dup..]);
                                prop_assert_eq!(got, m.commit(start, &piece));
                            }
                            Mode::StageCommit | Mode::StageOnly => {
                                let pre = &[0x12u8, 0x34][..pre];
                                let mut seg = std::vec![0xc3u8; lead];
                                seg.extend_from_slice(&piece);
                                let mut sum = Checksum::new();
                                sum.add_bytes(pre);
                                let n = b.stage(&seg, lead + dup, offset, &mut sum);
                                prop_assert_eq!(n, expected_in_window);
                                prop_assert_eq!(sum.finish(), checksum(&[pre, &seg[..]].concat()));
                                if let Mode::StageCommit = mode {
                                    let got = b.commit(offset, n);
                                    prop_assert_eq!(got, m.commit(start, &piece));
                                }
                            }
                        }
                    }
                    Op::Read { n } => {
                        let mut out = std::vec![0u8; n];
                        let got = b.read(&mut out);
                        prop_assert_eq!(got, n.min(m.nxt - m.read));
                        prop_assert_eq!(&out[..got], &m.readable()[..got]);
                        stream_read.extend_from_slice(&out[..got]);
                        m.read += got;
                    }
                    Op::ReadWith { n } => {
                        let mut seen = Vec::new();
                        let got = b.read_with(|r| { seen = r.to_vec(); n });
                        prop_assert_eq!(seen.is_empty(), m.nxt == m.read);
                        prop_assert_eq!(got, n.min(seen.len()));
                        prop_assert_eq!(&seen[..], &m.readable()[..seen.len()]);
                        stream_read.extend_from_slice(&seen[..got]);
                        m.read += got;
                    }
                    Op::Peek { offset, n } => {
                        let mut out = std::vec![0u8; n];
                        let got = b.peek(offset, &mut out);
                        let want: Vec<u8> = m.readable().into_iter().skip(offset).take(n).collect();
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    Op::ClearOoo => {
                        b.clear_ooo();
                        let nxt = m.nxt;
                        m.held.retain(|&p, _| p < nxt);
                    }
                }
                let b = RecvBuf::new(&mut mem, &mut st);
                check(&b, &m)?;
                m.held.retain(|&p, _| p >= m.read);
            }
            // Drain: deliver the real stream in order until everything held has been read.
            let end = m.held.keys().next_back().map_or(m.nxt, |&p| p + 1);
            while cap > 0 && m.read < end {
                let mut b = RecvBuf::new(&mut mem, &mut st);
                let fill: Vec<u8> = (m.nxt..m.nxt + b.window()).map(|p| byte(p, 0)).collect();
                prop_assert_eq!(b.insert(0, &fill), m.commit(m.nxt, &fill));
                let got = read_all(&mut b);
                prop_assert_eq!(&got, &m.readable());
                m.read += got.len();
                stream_read.extend_from_slice(&got);
                check(&RecvBuf::new(&mut mem, &mut st), &m)?;
                m.held.retain(|&p, _| p >= m.read);
            }
            // Every byte read was the first copy that arrived for its position (checked
            // against the model above), and nothing was read twice or skipped.
            prop_assert_eq!(stream_read.len(), m.read);
            if cap > 0 {
                prop_assert!(m.read >= end && m.read == m.nxt);
            }
        }

        #[test]
        fn in_order_stream_reads_back_exactly(
            cap in 1usize..40,
            pieces in proptest::collection::vec((0usize..30, -8isize..40, 0usize..30), 1..60),
        ) {
            // Only the real stream is sent (duplicates, overlaps, out of order, past the
            // window): what is read must be exactly its prefix.
            let mut mem = std::vec![0u8; cap];
            let mut st = RecvState::new(4);
            let mut nxt = 0usize;
            let mut read = Vec::new();
            for (len, rel, rd) in pieces {
                let mut b = RecvBuf::new(&mut mem, &mut st);
                let start = nxt.saturating_add_signed(rel);
                let dup = (nxt - start.min(nxt)).min(len);
                let data: Vec<u8> = (start + dup..start + len).map(|p| byte(p, 0)).collect();
                let offset = start.max(nxt) - nxt;
                let mut sum = Checksum::new();
                let n = b.stage(&data, 0, offset, &mut sum);
                prop_assert_eq!(sum.finish(), checksum(&data));
                if let Ok(adv) = b.commit(offset, n) {
                    nxt += adv;
                }
                let mut out = std::vec![0u8; rd];
                let got = b.read(&mut out);
                read.extend_from_slice(&out[..got]);
            }
            let want: Vec<u8> = (0..read.len()).map(|p| byte(p, 0)).collect();
            prop_assert_eq!(read, want);
        }
    }
}
