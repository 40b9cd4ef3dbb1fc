//! The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement
//! sum of the data taken as big-endian 16-bit words.
//!
//! [`Checksum`] is an accumulator that takes the data in pieces of any length and
//! alignment (a TCP segment is summed as pseudo header, header, then payload straight
//! from the ring buffer, possibly in two pieces). It sums eight bytes at a time in native
//! byte order with an end-around carry, in several independent lanes, which RFC 1071 §2
//! shows gives the same result after a final byte swap; it folds to 16 bits only when the
//! sum is read, so a piece costs one add with carry. [`Checksum::copy_and_add`] copies
//! and sums in one pass over the data, which the TCP input and output paths use so that
//! each payload byte is touched once.
//!
//! A leaf of the crate (it imports nothing from it), below `wire` and `buf`, which both
//! sum bytes: its public path is [`crate::wire::checksum`]. [`ChecksumCaps`], the
//! checksum work a device does in hardware, lives here too, below both `drivers` (whose
//! devices report it) and `ip` (which acts on it).

use core::net::Ipv4Addr;

/// Checksum offloads. With everything `false` (the default) the stack computes and
/// verifies every checksum in software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// The device fills in IPv4 header checksums on transmit.
    pub tx_ipv4: bool,
    /// The device computes TCP checksums on transmit, pseudo header included; the stack
    /// leaves the field zero.
    pub tx_tcp: bool,
    /// The device has verified IPv4 and TCP checksums of received frames and drops bad
    /// ones, so the stack may skip verification.
    pub rx_verified: bool,
}

/// A running Internet checksum.
///
/// ```
/// use tidytcp::wire::checksum::Checksum;
/// // The example from RFC 1071 §3.
/// let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
/// let mut c = Checksum::new();
/// c.add_bytes(&data[..3]); // pieces of any length
/// c.add_bytes(&data[3..]);
/// assert_eq!(c.sum(), 0xddf2);
/// assert_eq!(c.finish(), !0xddf2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Ones' complement sum so far of the data taken as native-order words, with an
    /// end-around carry, not yet folded to 16 bits (folding happens once, in `sum`).
    acc: u64,
    /// The next byte sits at an odd offset of the summed stream.
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Checksum { acc: 0, odd: false }
    }

    /// Adds a big-endian 16-bit word at an even offset (a header field).
    #[inline]
    pub fn add_u16(&mut self, v: u16) {
        self.acc = add_carry(self.acc, u64::from(u16::from_ne_bytes(v.to_be_bytes())));
    }

    /// Adds a big-endian 32-bit word at an even offset.
    #[inline]
    pub fn add_u32(&mut self, v: u32) {
        self.acc = add_carry(self.acc, u64::from(u32::from_ne_bytes(v.to_be_bytes())));
    }

    /// Adds `data`, which continues the summed stream.
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub fn add_bytes(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let piece = sum_ne(data);
        self.add_piece(piece, data.len());
    }

    /// Copies `src` into `dst` and adds the bytes to the sum, in one pass.
    ///
    /// Only `min(src.len(), dst.len())` bytes are copied and summed; callers pass slices of
    /// equal length.
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub fn copy_and_add(&mut self, dst: &mut [u8], src: &[u8]) {
        let n = src.len().min(dst.len());
        if n == 0 {
            return;
        }
        let piece = copy_and_sum_ne(&mut dst[..n], &src[..n]);
        self.add_piece(piece, n);
    }

    /// Adds another accumulator that summed the bytes directly following this one's.
    pub fn combine(&mut self, other: Checksum, other_len: usize) {
        self.add_piece(other.acc, other_len);
    }

    /// The folded 16-bit ones' complement sum (not complemented). A received packet whose
    /// checksum field was included in the sum is intact when this is `0xffff`.
    pub fn sum(&self) -> u16 {
        native_to_be(fold(self.acc))
    }

    /// The value for a checksum field: the complement of [`Checksum::sum`].
    pub fn finish(&self) -> u16 {
        !self.sum()
    }

    /// Adds the unfolded native-order sum of `len` bytes that continue the stream. After
    /// an odd number of bytes they sit one byte off, which swaps the bytes of their
    /// 16-bit sum: for the unfolded 64-bit sum that is a rotation by 8 bits (both are a
    /// multiplication by 2^8, modulo 2^64 - 1 and modulo its divisor 2^16 - 1).
    #[inline]
    fn add_piece(&mut self, piece: u64, len: usize) {
        let v = if self.odd {
            piece.rotate_left(8)
        } else {
            piece
        };
        self.acc = add_carry(self.acc, v);
        if len & 1 == 1 {
            self.odd = !self.odd;
        }
    }
}

/// The checksum field value for `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.add_bytes(data);
    c.finish()
}

/// [`checksum`] of exactly 20 bytes (an IPv4 header without options), unrolled: five
/// 32-bit words summed into 64 bits need no carries.
#[inline]
pub fn checksum20(data: &[u8; 20]) -> u16 {
    let mut s = 0u64;
    for w in data.chunks_exact(4) {
        s += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    !native_to_be(fold(s))
}

/// The IPv4 pseudo header of RFC 9293 §3.1 (source, destination, zero, protocol, length).
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> Checksum {
    // Three 32-bit words added into 64 bits cannot carry out.
    let l = length.to_be_bytes();
    let acc = u64::from(u32::from_ne_bytes(src.octets()))
        + u64::from(u32::from_ne_bytes(dst.octets()))
        + u64::from(u32::from_ne_bytes([0, protocol, l[0], l[1]]));
    Checksum { acc, odd: false }
}

fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

#[inline]
fn add_carry(acc: u64, w: u64) -> u64 {
    let (s, c) = acc.overflowing_add(w);
    s + u64::from(c)
}

// `add_bytes`, `copy_and_add` and `finish_tail` are inlined on 64-bit targets, where the
// call overhead shows in the per-segment cost, but not on 32-bit ones (the Cortex-M
// firmware), where inlining them into every caller cost 1 KiB of flash.

/// Independent accumulators in the inner loops. Each takes one 8-byte word per step with
/// an end-around carry (`add` + `adc 0` on x86-64); independent carry chains let the CPU
/// overlap them. Eight fit the x86-64 register file without spilling; 32-bit targets,
/// which need two registers per lane, use four. Measured on x86-64 over 1460 bytes: 1.5x
/// the two-lane loop for the sum, 1.5x for copy-and-sum.
const LANES: usize = if cfg!(target_pointer_width = "64") {
    8
} else {
    4
};
/// Bytes per inner-loop step.
const STEP: usize = 8 * LANES;

#[inline(always)]
fn word(w: &[u8]) -> u64 {
    u64::from_ne_bytes(w.try_into().unwrap_or([0; 8]))
}

#[inline(always)]
fn add_step(lanes: &mut [u64; LANES], chunk: &[u8]) {
    for (lane, w) in lanes.iter_mut().zip(chunk.chunks_exact(8)) {
        *lane = add_carry(*lane, word(w));
    }
}

fn fold_lanes(lanes: &[u64; LANES]) -> u64 {
    lanes.iter().fold(0, |a, &l| add_carry(a, l))
}

/// Unfolded native-order sum of `data`, starting at an even offset.
fn sum_ne(data: &[u8]) -> u64 {
    if data.len() < STEP {
        // Headers: skip the lanes and their folding.
        return finish_tail(0, data);
    }
    let mut lanes = [0u64; LANES];
    let mut chunks = data.chunks_exact(STEP);
    for c in &mut chunks {
        add_step(&mut lanes, c);
    }
    finish_tail(fold_lanes(&lanes), chunks.remainder())
}

/// Copies `src` to `dst` (equal lengths) and returns the unfolded native-order sum of the
/// bytes.
fn copy_and_sum_ne(dst: &mut [u8], src: &[u8]) -> u64 {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    if n < STEP {
        dst.copy_from_slice(src);
        return finish_tail(0, src);
    }
    let mut lanes = [0u64; LANES];
    let mut s = src.chunks_exact(STEP);
    let mut d = dst.chunks_exact_mut(STEP);
    for (sc, dc) in (&mut s).zip(&mut d) {
        dc.copy_from_slice(sc);
        add_step(&mut lanes, sc);
    }
    let tail = s.remainder();
    d.into_remainder().copy_from_slice(tail);
    finish_tail(fold_lanes(&lanes), tail)
}

/// Adds the last `< STEP` bytes (native order, zero padded) to `acc`, unfolded.
///
/// The bytes are taken as 32-bit words added into a 64-bit sum without carries: fewer
/// than 16 of them cannot overflow it, and the ones' complement sum of 32-bit words
/// folds to the same 16-bit sum as that of their 16-bit halves (RFC 1071 §2). Without
/// the carry chain, the adds of a header are independent.
#[cfg_attr(target_pointer_width = "64", inline)]
fn finish_tail(acc: u64, tail: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut quads = tail.chunks_exact(8);
    for q in &mut quads {
        let w = word(q);
        s += (w & 0xffff_ffff) + (w >> 32);
    }
    let mut words = quads.remainder().chunks_exact(4);
    for w in &mut words {
        s += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    s += match *words.remainder() {
        [a, b, c] => u64::from(u16::from_ne_bytes([a, b])) + u64::from(u16::from_ne_bytes([c, 0])),
        [a, b] => u64::from(u16::from_ne_bytes([a, b])),
        [a] => u64::from(u16::from_ne_bytes([a, 0])),
        _ => 0,
    };
    add_carry(acc, s)
}

fn native_to_be(v: u16) -> u16 {
    if cfg!(target_endian = "little") {
        v.swap_bytes()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte-by-byte reference: the RFC 1071 definition.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let w = if pair.len() == 2 {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], 0])
            };
            sum += u32::from(w);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_vector() {
        // A captured IPv4 header (Wikipedia's example): checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn checksum20_matches_checksum() {
        let mut h = [0u8; 20];
        for seed in 0..200u32 {
            for (i, b) in h.iter_mut().enumerate() {
                *b = (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32) >> 7) as u8;
            }
            assert_eq!(checksum20(&h), checksum(&h));
        }
        assert_eq!(checksum20(&[0; 20]), checksum(&[0; 20]));
        assert_eq!(checksum20(&[0xff; 20]), checksum(&[0xff; 20]));
    }

    #[test]
    fn empty_and_single_byte() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xab]), !0xab00);
    }

    /// Throughput of the inner loops. Run with
    /// `cargo test --release --lib checksum::tests::throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark; prints MB/s"]
    fn throughput() {
        use std::hint::black_box;
        use std::time::Instant as StdInstant;
        const ROUNDS: usize = 400_000;
        let src: std::vec::Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut dst = std::vec![0u8; 2048];
        for (len, off) in [(1460usize, 0usize), (1460, 1), (64, 0), (40, 0), (20, 0)] {
            let mb = (len * ROUNDS) as f64 / 1e6;
            let t = StdInstant::now();
            for _ in 0..ROUNDS {
                black_box(sum_ne(black_box(&src[off..off + len])));
            }
            let sum = mb / t.elapsed().as_secs_f64();
            let t = StdInstant::now();
            for _ in 0..ROUNDS {
                black_box(copy_and_sum_ne(
                    black_box(&mut dst[off..off + len]),
                    black_box(&src[..len]),
                ));
            }
            let copy_sum = mb / t.elapsed().as_secs_f64();
            let t = StdInstant::now();
            for _ in 0..ROUNDS {
                black_box(&mut dst[off..off + len]).copy_from_slice(black_box(&src[..len]));
            }
            let memcpy = mb / t.elapsed().as_secs_f64();
            std::println!(
                "len {len:5} off {off}: sum {sum:8.0} MB/s  copy+sum {copy_sum:8.0} MB/s  memcpy {memcpy:8.0} MB/s"
            );
        }
    }

    proptest! {
        #[test]
        fn matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(checksum(&data), reference(&data));
        }

        #[test]
        fn pieces_any_split(data in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(0usize..600, 0..6)) {
            let mut cuts: std::vec::Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut c = Checksum::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain(core::iter::once(data.len())) {
                c.add_bytes(&data[at..cut]);
                at = cut;
            }
            prop_assert_eq!(c.finish(), reference(&data));
        }

        #[test]
        fn copy_and_add_copies_and_sums(data in proptest::collection::vec(any::<u8>(), 0..2000), lead in 0usize..3) {
            let mut c = Checksum::new();
            c.add_bytes(&data[..lead.min(data.len())]);
            let rest = &data[lead.min(data.len())..];
            let mut dst = std::vec![0u8; rest.len()];
            c.copy_and_add(&mut dst, rest);
            prop_assert_eq!(&dst[..], rest);
            prop_assert_eq!(c.finish(), reference(&data));
        }
    }
}
