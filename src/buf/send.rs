//! The send ring.
use super::{copy_prefix, ring_add, ring_slices, ring_slices_mut, split_clamped};
use crate::checksum::Checksum;

/// Where the queued bytes sit in a send ring's memory.
///
/// The bytes from `head` (wrapping) for `len` bytes are the stream from `SND.UNA` on:
/// first the sent-but-unacknowledged bytes, then the not-yet-sent ones. Retransmission is
/// an offset from the head; there are no per-segment copies.
///
/// The position of `head` in memory is not observable through the API (everything is an
/// offset from `SND.UNA`), so the ring moves it back to the start of memory whenever it
/// becomes empty, which keeps writes contiguous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendState {
    head: usize,
    len: usize,
}

impl SendState {
    /// An empty state (usable in `static` initialisers).
    pub const fn new() -> Self {
        SendState { head: 0, len: 0 }
    }

    /// Bytes held (unacknowledged plus unsent), read without joining the memory. Equal to
    /// [`SendBuf::len`] when the state is used as documented.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Nothing held: every byte written has been acknowledged (or the ring was cleared).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A send ring: [`SendState`] over its memory.
pub struct SendBuf<'a> {
    mem: &'a mut [u8],
    st: &'a mut SendState,
}

impl<'a> SendBuf<'a> {
    /// Joins state and memory. The state must only ever be used with memory of the same
    /// length; a state that does not fit `mem` is clamped to it (never a panic).
    pub fn new(mem: &'a mut [u8], st: &'a mut SendState) -> Self {
        let cap = mem.len();
        st.len = st.len.min(cap);
        st.head = ring_add(cap, st.head, 0);
        SendBuf { mem, st }
    }

    /// Joins state and memory that are known to fit each other (the socket table always
    /// joins a state with the same memory): no clamping, only a debug assertion.
    #[inline]
    pub(crate) fn joined(mem: &'a mut [u8], st: &'a mut SendState) -> Self {
        debug_assert!(
            st.len <= mem.len() && (st.head < mem.len() || st.head == 0),
            "send state does not fit its memory"
        );
        SendBuf { mem, st }
    }

    /// Size of the ring.
    pub fn capacity(&self) -> usize {
        self.mem.len()
    }

    /// Bytes held: unacknowledged plus unsent.
    pub fn len(&self) -> usize {
        self.st.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.st.len == 0
    }

    /// Room for more bytes.
    pub fn free(&self) -> usize {
        self.capacity() - self.st.len
    }

    /// Ring position one past the last byte held.
    fn tail(&self) -> usize {
        ring_add(self.capacity(), self.st.head, self.st.len)
    }

    /// Appends as much of `data` as fits; returns the count.
    pub fn write(&mut self, data: &[u8]) -> usize {
        if self.st.len == 0 {
            self.st.head = 0;
        }
        let n = data.len().min(self.free());
        let tail = self.tail();
        let (a, b) = ring_slices_mut(self.mem, tail, n);
        let (d1, d2) = split_clamped(data, a.len());
        let copied = copy_prefix(a, d1) + copy_prefix(b, d2);
        self.st.len += copied;
        copied
    }

    /// Offers the largest contiguous free region to `f`, which fills a prefix and returns
    /// its length (clamped to the region). Returns that length.
    ///
    /// The region starts right after the last byte held and runs to the end of memory or
    /// to the head, whichever comes first; when the free space wraps, only the part up to
    /// the end of memory is offered (call again for the rest). An empty ring offers all
    /// of its memory. `f` is called even when there is no room, with an empty slice.
    pub fn write_with(&mut self, f: impl FnOnce(&mut [u8]) -> usize) -> usize {
        if self.st.len == 0 {
            self.st.head = 0;
        }
        let free = self.free();
        let tail = self.tail();
        let (region, _) = ring_slices_mut(self.mem, tail, free);
        let room = region.len();
        let n = f(region).min(room);
        self.st.len += n;
        n
    }

    /// Removes `n` acknowledged bytes from the front (`n` is clamped to `len`).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.st.len);
        self.st.len -= n;
        self.st.head = if self.st.len == 0 {
            0
        } else {
            ring_add(self.capacity(), self.st.head, n)
        };
    }

    /// The bytes `[offset, offset + len)` counted from the front, as one or two slices
    /// (two when they wrap). Clamped to what is held: an `offset` at or past the end gives
    /// two empty slices. The second slice is empty unless the first reaches the end of
    /// memory.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let offset = offset.min(self.st.len);
        let len = len.min(self.st.len - offset);
        let start = ring_add(self.capacity(), self.st.head, offset);
        ring_slices(self.mem, start, len)
    }

    /// Copies `dst.len()` bytes starting `offset` bytes from the front into `dst`, adding
    /// them to `sum` in the same pass. Returns the number copied (less than `dst.len()`
    /// only if fewer bytes are held).
    ///
    /// Only the bytes copied are summed, continuing whatever `sum` holds (any parity), so
    /// a segment is summed as pseudo header, header, then this payload.
    pub fn copy_and_sum(&self, offset: usize, dst: &mut [u8], sum: &mut Checksum) -> usize {
        // The common case: the bytes are held and do not wrap.
        if offset <= self.st.len && dst.len() <= self.st.len - offset {
            let start = self.st.head + offset;
            if let Some(src) = self.mem.get(start..start + dst.len()) {
                sum.copy_and_add(dst, src);
                return dst.len();
            }
        }
        let (a, b) = self.slices(offset, dst.len());
        let (d1, rest) = dst.split_at_mut_checked(a.len()).unwrap_or_default();
        let d2 = rest.get_mut(..b.len()).unwrap_or_default();
        sum.copy_and_add(d1, a);
        sum.copy_and_add(d2, b);
        d1.len() + d2.len()
    }

    /// Drops every byte.
    pub fn clear(&mut self) {
        *self.st = SendState::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    fn contents(b: &SendBuf) -> Vec<u8> {
        let (x, y) = b.slices(0, usize::MAX);
        [x, y].concat()
    }

    #[test]
    fn new_state_is_const_and_empty() {
        static S: SendState = SendState::new();
        assert_eq!(S, SendState::default());
        assert!(S.is_empty());
        assert_eq!(S.len(), 0);
    }

    #[test]
    fn zero_capacity_does_nothing() {
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut [], &mut st);
        assert_eq!(b.capacity(), 0);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"abc"), 0);
        let mut offered = None;
        assert_eq!(
            b.write_with(|r| {
                offered = Some(r.len());
                10
            }),
            0
        );
        assert_eq!(offered, Some(0));
        b.consume(5);
        assert_eq!(b.slices(0, 10), (&[][..], &[][..]));
        let mut sum = Checksum::new();
        let mut dst = [0u8; 4];
        assert_eq!(b.copy_and_sum(0, &mut dst, &mut sum), 0);
        assert_eq!(sum, Checksum::new());
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn wraps_around() {
        let mut mem = [0u8; 8];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        assert_eq!(b.write(b"abcdef"), 6);
        b.consume(4);
        assert_eq!(b.write(b"ghijk"), 5);
        assert_eq!(b.len(), 7);
        assert_eq!(b.free(), 1);
        let (x, y) = b.slices(0, 7);
        assert_eq!((x, y), (&b"efgh"[..], &b"ijk"[..]));
        assert_eq!(b.slices(3, 2), (&b"h"[..], &b"i"[..]));
        assert_eq!(b.slices(5, 100), (&b"jk"[..], &b""[..]));
        assert_eq!(b.slices(7, 1), (&b""[..], &b""[..]));
        assert_eq!(b.slices(usize::MAX, usize::MAX), (&b""[..], &b""[..]));
        assert_eq!(contents(&b), b"efghijk");
    }

    #[test]
    fn full_ring_refuses_more() {
        let mut mem = [0u8; 4];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        assert_eq!(b.write(b"abcdef"), 4);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        assert_eq!(b.write_with(|r| r.len() + 3), 0);
        assert_eq!(contents(&b), b"abcd");
        assert_eq!(st.len(), 4);
    }

    #[test]
    fn write_with_at_wrap_point() {
        let mut mem = [0u8; 8];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        b.write(b"abcdef");
        b.consume(2); // head 2, tail 6: free space is 6..8 then 0..2
        let n = b.write_with(|r| {
            assert_eq!(r.len(), 2);
            r.copy_from_slice(b"gh");
            2
        });
        assert_eq!(n, 2);
        let n = b.write_with(|r| {
            assert_eq!(r.len(), 2);
            r[0] = b'i';
            1
        });
        assert_eq!(n, 1);
        assert_eq!(contents(&b), b"cdefghi");
        // The callback's count is clamped to the region.
        assert_eq!(b.write_with(|r| r.len() + 100), 1);
        assert_eq!(b.free(), 0);
    }

    #[test]
    fn empty_ring_offers_all_memory() {
        let mut mem = [0u8; 8];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        b.write(b"abcde");
        b.consume(5);
        assert_eq!(b.write_with(|r| r.len()), 8);
        assert_eq!(b.len(), 8);
    }

    #[test]
    fn consume_more_than_held() {
        let mut mem = [0u8; 8];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        b.write(b"abc");
        b.consume(usize::MAX);
        assert!(b.is_empty());
        assert_eq!(b.free(), 8);
        b.write(b"xy");
        assert_eq!(contents(&b), b"xy");
    }

    #[test]
    fn copy_and_sum_across_wrap() {
        let mut mem = [0u8; 7];
        let mut st = SendState::new();
        let mut b = SendBuf::new(&mut mem, &mut st);
        b.write(b"01234");
        b.consume(3);
        b.write(b"56789"); // "3456789", wrapping after "3456"
        for offset in 0..8 {
            for n in 0..9 {
                let mut sum = Checksum::new();
                sum.add_bytes(b"x"); // odd start
                let mut dst = std::vec![0u8; n];
                let got = b.copy_and_sum(offset, &mut dst, &mut sum);
                let want = b"3456789".get(offset..).unwrap_or(&[]);
                let want = &want[..n.min(want.len())];
                assert_eq!(got, want.len());
                assert_eq!(&dst[..got], want);
                assert_eq!(sum.finish(), checksum(&[b"x", want].concat()));
            }
        }
    }

    #[test]
    fn stale_state_is_clamped() {
        let mut big = [7u8; 16];
        let mut st = SendState::new();
        SendBuf::new(&mut big, &mut st).write(&[1; 12]);
        let mut small = [0u8; 4];
        let mut b = SendBuf::new(&mut small, &mut st);
        assert_eq!(b.len(), 4);
        assert_eq!(b.free(), 0);
        b.consume(1);
        assert_eq!(b.write(b"ab"), 1);
        assert_eq!(contents(&b).len(), 4);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(Vec<u8>),
        WriteWith {
            seed: u8,
            take: usize,
        },
        Consume(usize),
        Slices {
            offset: usize,
            len: usize,
        },
        CopyAndSum {
            offset: usize,
            len: usize,
            lead: usize,
        },
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Op::Write),
            3 => (any::<u8>(), 0usize..40).prop_map(|(seed, take)| Op::WriteWith { seed, take }),
            4 => (0usize..30).prop_map(Op::Consume),
            2 => (0usize..40, 0usize..40).prop_map(|(offset, len)| Op::Slices { offset, len }),
            3 => (0usize..40, 0usize..40, 0usize..3)
                .prop_map(|(offset, len, lead)| Op::CopyAndSum { offset, len, lead }),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #[test]
        fn matches_vecdeque_model(cap in 0usize..40, ops in proptest::collection::vec(op(), 0..80)) {
            let mut mem = std::vec![0u8; cap];
            let mut st = SendState::new();
            let mut model: VecDeque<u8> = VecDeque::new();
            for op in ops {
                let mut b = SendBuf::new(&mut mem, &mut st);
                match op {
                    Op::Write(data) => {
                        let n = b.write(&data);
                        prop_assert_eq!(n, data.len().min(cap - model.len()));
                        model.extend(&data[..n]);
                    }
                    Op::WriteWith { seed, take } => {
                        let free = cap - model.len();
                        let mut offered = Vec::new();
                        let n = b.write_with(|r| {
                            for (i, x) in r.iter_mut().enumerate() {
                                *x = seed.wrapping_add(i as u8);
                            }
                            offered = r.to_vec();
                            take
                        });
                        prop_assert!(offered.len() <= free);
                        prop_assert_eq!(offered.is_empty(), free == 0);
                        if model.is_empty() {
                            prop_assert_eq!(offered.len(), cap);
                        }
                        prop_assert_eq!(n, take.min(offered.len()));
                        model.extend(&offered[..n]);
                    }
                    Op::Consume(n) => {
                        b.consume(n);
                        model.drain(..n.min(model.len()));
                    }
                    Op::Slices { offset, len } => {
                        let (x, y) = b.slices(offset, len);
                        let want: Vec<u8> = model.iter().skip(offset).take(len).copied().collect();
                        prop_assert_eq!([x, y].concat(), want);
                        prop_assert!(y.is_empty() || !x.is_empty());
                    }
                    Op::CopyAndSum { offset, len, lead } => {
                        let lead = &[0xa5u8, 0x17][..lead.min(2)];
                        let mut sum = Checksum::new();
                        sum.add_bytes(lead);
                        let mut dst = std::vec![0xeeu8; len];
                        let n = b.copy_and_sum(offset, &mut dst, &mut sum);
                        let want: Vec<u8> = model.iter().skip(offset).take(len).copied().collect();
                        prop_assert_eq!(n, want.len());
                        prop_assert_eq!(&dst[..n], &want[..]);
                        prop_assert!(dst[n..].iter().all(|&x| x == 0xee));
                        prop_assert_eq!(sum.finish(), checksum(&[lead, &want[..]].concat()));
                    }
                    Op::Clear => {
                        b.clear();
                        model.clear();
                    }
                }
                let b = SendBuf::new(&mut mem, &mut st);
                prop_assert_eq!(b.len(), model.len());
                prop_assert_eq!(b.free(), cap - model.len());
                prop_assert_eq!(contents(&b), model.iter().copied().collect::<Vec<u8>>());
            }
        }
    }
}
