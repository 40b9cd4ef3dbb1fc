//! TCP header (RFC 9293 §3.1) and the options tidytcp speaks: EOL, NOP, MSS (RFC 9293
//! §3.2), window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
//! Unknown options are skipped by their length.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;

/// A TCP sequence number: arithmetic modulo 2^32 and comparison by RFC 9293 §3.4 (a
/// number is "less" than another if it lies less than 2^31 behind it).
///
/// ```
/// use tidytcp::wire::tcp::SeqNum;
/// let a = SeqNum(u32::MAX - 1);
/// let b = a + 3; // wraps to 1
/// assert!(a < b);
/// assert_eq!(b - a, 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The signed distance from `other` to `self`.
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self >= other { self } else { other }
    }
    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self <= other { self } else { other }
    }
    /// Whether `self` lies in `[start, end)`.
    pub fn in_range(self, start: SeqNum, end: SeqNum) -> bool {
        start <= self && self < end
    }
}

/// Only `PartialOrd`, as in smoltcp: the comparison is modular, so it is not transitive
/// (`0 < 2^30 < 2^31 + 1 < 0`), and an `Ord` impl would let `sort`, `BTreeMap` or
/// `Ord::max` rely on a total order that does not exist. Use [`SeqNum::max`] and
/// [`SeqNum::min`], which say what they compare.
impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}
impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}
impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}
impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}
/// The distance from `rhs` forward to `self`, assuming `rhs <= self`.
impl Sub for SeqNum {
    type Output = u32;
    fn sub(self, rhs: SeqNum) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}
impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

bitflags::bitflags! {
    /// The control bits of the TCP header.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct TcpFlags: u8 {
        /// No more data from the sender.
        const FIN = 0x01;
        /// Synchronize sequence numbers.
        const SYN = 0x02;
        /// Reset the connection.
        const RST = 0x04;
        /// Push function.
        const PSH = 0x08;
        /// The acknowledgment field is significant.
        const ACK = 0x10;
        /// The urgent pointer is significant (ignored by tidytcp).
        const URG = 0x20;
        /// ECN-Echo (RFC 3168; not used).
        const ECE = 0x40;
        /// Congestion Window Reduced (RFC 3168; not used).
        const CWR = 0x80;
    }
}

/// The fixed 20-byte TCP header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Sequence number.
    pub seq: U32,
    /// Acknowledgment number.
    pub ack: U32,
    /// Data offset (high 4 bits, in 32-bit words) and reserved bits.
    pub data_offset: u8,
    /// Control bits.
    pub flags: u8,
    /// Receive window (scaled once window scaling is in use).
    pub window: U16,
    /// Checksum over pseudo header, header and payload.
    pub checksum: U16,
    /// Urgent pointer.
    pub urgent: U16,
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 20;
/// Longest header with options.
pub const MAX_HEADER_LEN: usize = 60;

/// Option kinds.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WSCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
}

/// A checked view of a TCP segment: header, options and payload, with the data offset
/// validated against the buffer. No accessor can panic once constructed.
#[derive(Clone, Copy)]
pub struct TcpPacket<'a> {
    header: &'a TcpHeader,
    options: &'a [u8],
    payload: &'a [u8],
}

impl<'a> TcpPacket<'a> {
    /// Checks that `segment` holds a whole header whose data offset fits.
    pub fn new_checked(segment: &'a [u8]) -> Result<Self, WireError> {
        let (header, rest) =
            TcpHeader::ref_from_prefix(segment).map_err(|_| WireError::Truncated)?;
        let hlen = usize::from(header.data_offset >> 4) * 4;
        if hlen < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if hlen > segment.len() {
            return Err(WireError::Truncated);
        }
        let (options, payload) = rest.split_at(hlen - HEADER_LEN);
        Ok(TcpPacket {
            header,
            options,
            payload,
        })
    }
    /// The fixed header.
    pub fn header(&self) -> &'a TcpHeader {
        self.header
    }
    /// The raw option bytes.
    pub fn options(&self) -> &'a [u8] {
        self.options
    }
    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }
    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_retain(self.header.flags)
    }
}

/// Up to four SACK blocks `[left, right)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(SeqNum, SeqNum); 4],
    len: u8,
}

impl SackBlocks {
    /// No blocks.
    pub const EMPTY: SackBlocks = SackBlocks {
        blocks: [(SeqNum(0), SeqNum(0)); 4],
        len: 0,
    };
    /// Appends a block; returns false when four are already held.
    pub fn push(&mut self, left: SeqNum, right: SeqNum) -> bool {
        if usize::from(self.len) >= self.blocks.len() {
            return false;
        }
        self.blocks[usize::from(self.len)] = (left, right);
        self.len += 1;
        true
    }
    /// The blocks in order of appearance.
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..usize::from(self.len)]
    }
    /// Number of blocks.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// No blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The TCP options of one segment, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only).
    pub mss: Option<u16>,
    /// Window scale shift as sent (SYN only; may exceed 14, the receiver clamps).
    pub window_scale: Option<u8>,
    /// SACK permitted (SYN only).
    pub sack_permitted: bool,
    /// SACK blocks.
    pub sack: SackBlocks,
    /// Timestamps: (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    /// No options.
    pub const NONE: TcpOptions = TcpOptions {
        mss: None,
        window_scale: None,
        sack_permitted: false,
        sack: SackBlocks::EMPTY,
        timestamps: None,
    };

    /// Parses an option list. Unknown kinds are skipped by length; a length of 0 or 1,
    /// or one that runs past the end, is malformed. A known option with the wrong length
    /// is ignored (as Linux and BSD do) rather than failing the whole segment.
    pub fn parse(mut bytes: &[u8]) -> Result<TcpOptions, WireError> {
        let mut o = TcpOptions::NONE;
        // The layout of nearly every segment once timestamps are on (Linux, the BSDs,
        // us): NOP, NOP, timestamps. Same result as the general loop below.
        if let [
            kind::NOP,
            kind::NOP,
            kind::TIMESTAMPS,
            10,
            v0,
            v1,
            v2,
            v3,
            e0,
            e1,
            e2,
            e3,
        ] = *bytes
        {
            o.timestamps = Some((
                u32::from_be_bytes([v0, v1, v2, v3]),
                u32::from_be_bytes([e0, e1, e2, e3]),
            ));
            return Ok(o);
        }
        if bytes.is_empty() {
            return Ok(o);
        }
        while let Some((&k, rest)) = bytes.split_first() {
            match k {
                kind::EOL => break,
                kind::NOP => {
                    bytes = rest;
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*rest.first().ok_or(WireError::Malformed)?);
            if len < 2 || len > bytes.len() {
                return Err(WireError::Malformed);
            }
            let body = &bytes[2..len];
            match (k, body.len()) {
                (kind::MSS, 2) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (kind::WSCALE, 1) => o.window_scale = Some(body[0]),
                (kind::SACK_PERMITTED, 0) => o.sack_permitted = true,
                (kind::SACK, n) if n % 8 == 0 && n > 0 => {
                    for b in body.chunks_exact(8) {
                        let l = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        let r = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        o.sack.push(SeqNum(l), SeqNum(r));
                    }
                }
                (kind::TIMESTAMPS, 8) => {
                    let v = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let e = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    o.timestamps = Some((v, e));
                }
                _ => {}
            }
            bytes = &bytes[len..];
        }
        Ok(o)
    }

    /// Bytes these options take on the wire, padded to a multiple of four.
    pub fn wire_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4; // NOP + 3
        }
        match (self.sack_permitted, self.timestamps.is_some()) {
            (true, true) => n += 12,  // SACK-permitted(2) + TS(10)
            (true, false) => n += 4,  // NOP NOP + 2
            (false, true) => n += 12, // NOP NOP + 10
            (false, false) => {}
        }
        if !self.sack.is_empty() {
            n += 4 + 8 * self.sack.len(); // NOP NOP kind len + blocks
        }
        n
    }

    /// Writes the options into `buf` in the layout Linux uses (so that captures look
    /// familiar) and returns the number of bytes written, a multiple of four. `buf` must
    /// hold [`TcpOptions::wire_len`] bytes; fewer SACK blocks are written if it does not.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        if let (None, None, false, true, Some((v, e))) = (
            self.mss,
            self.window_scale,
            self.sack_permitted,
            self.sack.is_empty(),
            self.timestamps,
        ) {
            // Timestamps alone, the options of nearly every segment: as below, in one go.
            if let Some(b) = buf.get_mut(..12) {
                let (v, e) = (v.to_be_bytes(), e.to_be_bytes());
                b.copy_from_slice(&[
                    kind::NOP,
                    kind::NOP,
                    kind::TIMESTAMPS,
                    10,
                    v[0],
                    v[1],
                    v[2],
                    v[3],
                    e[0],
                    e[1],
                    e[2],
                    e[3],
                ]);
                return 12;
            }
        }
        let mut w = Writer { buf, at: 0 };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            w.put(&[kind::MSS, 4, m[0], m[1]]);
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some((v, e))) => {
                w.put(&[kind::SACK_PERMITTED, 2, kind::TIMESTAMPS, 10]);
                w.put(&v.to_be_bytes());
                w.put(&e.to_be_bytes());
            }
            (true, None) => w.put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]),
            (false, Some((v, e))) => {
                w.put(&[kind::NOP, kind::NOP, kind::TIMESTAMPS, 10]);
                w.put(&v.to_be_bytes());
                w.put(&e.to_be_bytes());
            }
            (false, None) => {}
        }
        if let Some(s) = self.window_scale {
            w.put(&[kind::NOP, kind::WSCALE, 3, s]);
        }
        if !self.sack.is_empty() {
            let room = w.room().saturating_sub(4) / 8;
            let n = self.sack.len().min(room);
            if n > 0 {
                w.put(&[kind::NOP, kind::NOP, kind::SACK, 2 + 8 * n as u8]);
                for (l, r) in &self.sack.as_slice()[..n] {
                    w.put(&l.0.to_be_bytes());
                    w.put(&r.0.to_be_bytes());
                }
            }
        }
        w.at
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}
impl Writer<'_> {
    fn room(&self) -> usize {
        self.buf.len() - self.at
    }
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.at += bytes.len();
        }
    }
}

/// A parsed TCP header: the fields the protocol uses, with its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field as carried (not yet scaled).
    pub window: u16,
    /// Options.
    pub options: TcpOptions,
}

impl TcpRepr {
    /// Parses the header and options of a checked packet. The checksum is not verified
    /// here: the input path sums the payload while copying it.
    pub fn parse(packet: &TcpPacket<'_>) -> Result<TcpRepr, WireError> {
        let h = packet.header();
        let options = TcpOptions::parse(packet.options())?;
        Ok(TcpRepr {
            src_port: h.src_port.get(),
            dst_port: h.dst_port.get(),
            seq: SeqNum(h.seq.get()),
            ack: SeqNum(h.ack.get()),
            flags: packet.flags(),
            window: h.window.get(),
            options,
        })
    }

    /// Header length with options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.wire_len()
    }

    /// Writes header and options to the front of `buf` with a zero checksum field and
    /// returns the header length. `buf` must hold [`TcpRepr::header_len`] bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let hlen = self.header_len();
        if buf.len() < hlen || hlen > MAX_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let (hbuf, rest) = buf.split_at_mut(HEADER_LEN);
        let written = self.options.emit(&mut rest[..hlen - HEADER_LEN]);
        let hlen = HEADER_LEN + written;
        let header = TcpHeader {
            src_port: U16::new(self.src_port),
            dst_port: U16::new(self.dst_port),
            seq: U32::new(self.seq.0),
            ack: U32::new(self.ack.0),
            data_offset: ((hlen / 4) as u8) << 4,
            flags: self.flags.bits(),
            window: U16::new(self.window),
            checksum: U16::new(0),
            urgent: U16::new(0),
        };
        hbuf.copy_from_slice(header.as_bytes());
        Ok(hlen)
    }

    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN.
    pub fn seq_len(&self, payload_len: usize) -> u32 {
        payload_len as u32
            + u32::from(self.flags.contains(TcpFlags::SYN))
            + u32::from(self.flags.contains(TcpFlags::FIN))
    }
}

/// Stores `checksum` in the checksum field of the TCP segment at the front of `segment`.
pub fn set_checksum(segment: &mut [u8], checksum: u16) {
    if let Some(f) = segment.get_mut(16..18) {
        f.copy_from_slice(&checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_options() -> TcpOptions {
        let mut sack = SackBlocks::EMPTY;
        sack.push(SeqNum(100), SeqNum(200));
        sack.push(SeqNum(300), SeqNum(400));
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack,
            timestamps: Some((0xdead_beef, 0x0102_0304)),
        }
    }

    #[test]
    fn seq_compare_wraps() {
        assert!(SeqNum(0xffff_fff0) < SeqNum(0x10));
        assert!(SeqNum(5) > SeqNum(0xffff_fff0));
        assert_eq!(SeqNum(0x10) - SeqNum(0xffff_fff0), 0x20);
        assert!(SeqNum(3).in_range(SeqNum(0xffff_ffff), SeqNum(4)));
        assert!(!SeqNum(4).in_range(SeqNum(0xffff_ffff), SeqNum(4)));
    }

    /// The modular order is not a total order (three numbers a quarter-circle and more
    /// apart go round in a cycle), so `SeqNum` must not be `Ord`; `max`/`min` are the
    /// inherent, modular ones.
    #[test]
    fn seq_order_is_partial_only() {
        let (a, b, c) = (SeqNum(0), SeqNum(0x6000_0000), SeqNum(0xc000_0000));
        assert!(a < b && b < c && c < a, "not transitive");
        assert_eq!(SeqNum(0xffff_fff0).max(SeqNum(0x10)), SeqNum(0x10));
        assert_eq!(SeqNum(0x10).max(SeqNum(0xffff_fff0)), SeqNum(0x10));
        assert_eq!(SeqNum(0xffff_fff0).min(SeqNum(0x10)), SeqNum(0xffff_fff0));
        assert_eq!(SeqNum(0x10).min(SeqNum(0xffff_fff0)), SeqNum(0xffff_fff0));

        // Method resolution picks the inherent `is_ord` only where `T: Ord` holds.
        struct Probe<T>(core::marker::PhantomData<T>);
        trait NotOrd {
            fn is_ord(&self) -> bool {
                false
            }
        }
        impl<T> NotOrd for Probe<T> {}
        impl<T: Ord> Probe<T> {
            fn is_ord(&self) -> bool {
                true
            }
        }
        assert!(Probe::<u32>(core::marker::PhantomData).is_ord());
        assert!(!Probe::<SeqNum>(core::marker::PhantomData).is_ord());
    }

    #[test]
    fn header_round_trip_with_every_option() {
        let repr = TcpRepr {
            src_port: 49152,
            dst_port: 80,
            seq: SeqNum(0x1234_5678),
            ack: SeqNum(0x9abc_def0),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 65535,
            options: all_options(),
        };
        let mut buf = [0u8; 60];
        let n = repr.emit(&mut buf).unwrap();
        assert_eq!(n, repr.header_len());
        assert_eq!(n % 4, 0);
        let p = TcpPacket::new_checked(&buf[..n]).unwrap();
        assert_eq!(p.header_len(), n);
        assert!(p.payload().is_empty());
        assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn each_option_alone_round_trips() {
        let full = all_options();
        let singles = [
            TcpOptions {
                mss: full.mss,
                ..TcpOptions::NONE
            },
            TcpOptions {
                window_scale: full.window_scale,
                ..TcpOptions::NONE
            },
            TcpOptions {
                sack_permitted: true,
                ..TcpOptions::NONE
            },
            TcpOptions {
                sack: full.sack,
                ..TcpOptions::NONE
            },
            TcpOptions {
                timestamps: full.timestamps,
                ..TcpOptions::NONE
            },
            TcpOptions {
                sack: full.sack,
                timestamps: full.timestamps,
                ..TcpOptions::NONE
            },
        ];
        for o in singles {
            let mut buf = [0u8; 40];
            let n = o.emit(&mut buf);
            assert_eq!(n, o.wire_len());
            assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), o);
        }
    }

    #[test]
    fn four_sack_blocks_with_timestamps_truncate_to_three() {
        let mut sack = SackBlocks::EMPTY;
        for i in 0..4 {
            sack.push(SeqNum(i * 10), SeqNum(i * 10 + 5));
        }
        let o = TcpOptions {
            sack,
            timestamps: Some((1, 2)),
            ..TcpOptions::NONE
        };
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        assert!(n <= 40);
        let back = TcpOptions::parse(&buf[..n]).unwrap();
        assert_eq!(back.sack.len(), 3);
        assert_eq!(back.timestamps, Some((1, 2)));
    }

    #[test]
    fn malformed_option_lengths() {
        assert_eq!(
            TcpOptions::parse(&[kind::MSS, 0, 0, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            TcpOptions::parse(&[kind::MSS, 1, 0, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            TcpOptions::parse(&[kind::MSS, 8, 0, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(TcpOptions::parse(&[kind::MSS]), Err(WireError::Malformed));
        // Unknown kinds are skipped by length, EOL ends the list.
        let o = TcpOptions::parse(&[99, 4, 0xaa, 0xbb, kind::MSS, 4, 0x05, 0xb4, kind::EOL, 0xff])
            .unwrap();
        assert_eq!(o.mss, Some(1460));
        // A known option with a wrong length is ignored.
        let o = TcpOptions::parse(&[kind::MSS, 3, 0, kind::NOP]).unwrap();
        assert_eq!(o.mss, None);
    }

    #[test]
    fn bad_data_offsets() {
        let mut buf = [0u8; 24];
        buf[12] = 4 << 4; // 16 bytes: below minimum
        assert_eq!(
            TcpPacket::new_checked(&buf).err(),
            Some(WireError::Malformed)
        );
        buf[12] = 7 << 4; // 28 bytes: past the end
        assert_eq!(
            TcpPacket::new_checked(&buf).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            TcpPacket::new_checked(&buf[..19]).err(),
            Some(WireError::Truncated)
        );
        buf[12] = 6 << 4;
        let p = TcpPacket::new_checked(&buf).unwrap();
        assert_eq!(p.options().len(), 4);
        assert!(p.payload().is_empty());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = TcpPacket::new_checked(&bytes) {
                let _ = TcpRepr::parse(&p);
            }
            let _ = TcpOptions::parse(&bytes);
        }

        #[test]
        fn repr_round_trip(src in any::<u16>(), dst in any::<u16>(), seq in any::<u32>(), ack in any::<u32>(),
                           flags in any::<u8>(), window in any::<u16>(), mss in proptest::option::of(any::<u16>()),
                           ws in proptest::option::of(0u8..15), sp in any::<bool>(),
                           ts in proptest::option::of((any::<u32>(), any::<u32>())),
                           blocks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..4)) {
            let mut sack = SackBlocks::EMPTY;
            let max_blocks = if ts.is_some() || mss.is_some() || ws.is_some() || sp { 2 } else { 4 };
            for (l, r) in blocks.into_iter().take(max_blocks) { sack.push(SeqNum(l), SeqNum(r)); }
            let repr = TcpRepr { src_port: src, dst_port: dst, seq: SeqNum(seq), ack: SeqNum(ack),
                flags: TcpFlags::from_bits_retain(flags), window,
                options: TcpOptions { mss, window_scale: ws, sack_permitted: sp, sack, timestamps: ts } };
            prop_assume!(repr.header_len() <= MAX_HEADER_LEN);
            let mut buf = [0u8; 60];
            let n = repr.emit(&mut buf).unwrap();
            let p = TcpPacket::new_checked(&buf[..n]).unwrap();
            prop_assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
        }
    }
}
