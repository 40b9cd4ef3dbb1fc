//! IPv4 (RFC 791): addresses with a prefix ([`Ipv4Cidr`]), the header view and its
//! parsed form.
//!
//! tidytcp neither fragments nor reassembles: it sends with DF set and the input path
//! drops fragments. Options are skipped, not parsed.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::checksum::{Checksum, checksum, checksum20};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Largest total length.
pub const MAX_PACKET_LEN: usize = 65535;

/// An IPv4 address with a prefix length: an interface address and its subnet.
///
/// ```
/// use core::net::Ipv4Addr;
/// use tidytcp::wire::ipv4::Ipv4Cidr;
/// let c: Ipv4Cidr = "10.7.0.2/24".parse().unwrap();
/// assert_eq!(c.address(), Ipv4Addr::new(10, 7, 0, 2));
/// assert!(c.contains(Ipv4Addr::new(10, 7, 0, 200)));
/// assert_eq!(c.broadcast(), Some(Ipv4Addr::new(10, 7, 0, 255)));
/// assert_eq!(c.to_string(), "10.7.0.2/24");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    address: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// `address/prefix_len`; a prefix length above 32 is taken as 32.
    pub const fn new(address: Ipv4Addr, prefix_len: u8) -> Ipv4Cidr {
        let prefix_len = if prefix_len > 32 { 32 } else { prefix_len };
        Ipv4Cidr {
            address,
            prefix_len,
        }
    }
    /// The address.
    pub const fn address(&self) -> Ipv4Addr {
        self.address
    }
    /// The prefix length, 0 to 32.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
    /// The subnet mask (`255.255.255.0` for /24).
    pub const fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.mask())
    }
    /// The network address (host bits cleared).
    pub const fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.address.to_bits() & self.mask())
    }
    /// The subnet's directed broadcast address (host bits set), or `None` for /31 and /32,
    /// which have none (RFC 3021).
    pub const fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            None
        } else {
            Some(Ipv4Addr::from_bits(self.address.to_bits() | !self.mask()))
        }
    }
    /// Whether `addr` lies in this subnet.
    pub const fn contains(&self, addr: Ipv4Addr) -> bool {
        (addr.to_bits() ^ self.address.to_bits()) & self.mask() == 0
    }
    const fn mask(&self) -> u32 {
        match u32::MAX.checked_shl(32 - self.prefix_len as u32) {
            Some(m) => m,
            None => 0,
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses `a.b.c.d/n` with `n` from 0 to 32; anything else is [`WireError::Malformed`].
impl FromStr for Ipv4Cidr {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, WireError> {
        let (addr, len) = s.split_once('/').ok_or(WireError::Malformed)?;
        let address = Ipv4Addr::from_str(addr).map_err(|_| WireError::Malformed)?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WireError::Malformed);
        }
        let prefix_len = u8::from_str(len).map_err(|_| WireError::Malformed)?;
        if prefix_len > 32 {
            return Err(WireError::Malformed);
        }
        Ok(Ipv4Cidr::new(address, prefix_len))
    }
}

/// The protocol field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// ICMP, 1.
    Icmp,
    /// TCP, 6.
    Tcp,
    /// UDP, 17.
    Udp,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(v) => v,
        }
    }
}

/// The fixed 20-byte IPv4 header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct Ipv4Header {
    /// Version (high 4 bits) and header length in 32-bit words (IHL, low 4 bits).
    pub ver_ihl: u8,
    /// DSCP and ECN.
    pub tos: u8,
    /// Length of header and payload.
    pub total_len: U16,
    /// Identification.
    pub ident: U16,
    /// Flags (reserved, DF, MF: the high 3 bits) and fragment offset in 8-byte units.
    pub flags_frag: U16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

/// Don't Fragment.
const FLAG_DF: u16 = 0x4000;
/// More Fragments.
const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask.
const FRAG_OFFSET: u16 = 0x1fff;

impl Ipv4Header {
    /// The version field.
    pub fn version(&self) -> u8 {
        self.ver_ihl >> 4
    }
    /// The header length the IHL field claims, in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.ver_ihl & 0x0f) * 4
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst)
    }
    /// The protocol field.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.protocol)
    }
}

/// A checked view of an IPv4 packet.
///
/// Construction checks that the version is 4, that the IHL is at least 5 and the header
/// fits, and that the total length covers the header and fits in the buffer. Bytes past
/// the total length (Ethernet padding of short frames) are not part of the packet. The
/// checksum is not checked here (see [`Ipv4Packet::checksum_valid`]). No accessor can
/// panic once constructed.
#[derive(Clone, Copy)]
pub struct Ipv4Packet<'a> {
    header: &'a Ipv4Header,
    header_bytes: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    /// Validates the lengths and the version.
    ///
    /// Errors: fewer than 20 bytes, a header longer than the buffer, or a total length
    /// past the end of the buffer is [`WireError::Truncated`]; a version other than 4 is
    /// [`WireError::Unsupported`]; an IHL below 5 or a total length shorter than the
    /// header is [`WireError::Malformed`].
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, _) = Ipv4Header::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        if header.version() != 4 {
            return Err(WireError::Unsupported);
        }
        let hlen = header.header_len();
        if hlen < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let total = usize::from(header.total_len.get());
        let header_bytes = buf.get(..hlen).ok_or(WireError::Truncated)?;
        if total < hlen {
            return Err(WireError::Malformed);
        }
        let payload = buf.get(hlen..total).ok_or(WireError::Truncated)?;
        Ok(Ipv4Packet {
            header,
            header_bytes,
            payload,
        })
    }
    /// The fixed header.
    pub fn header(&self) -> &'a Ipv4Header {
        self.header
    }
    /// The header with its options, as on the wire.
    pub fn header_bytes(&self) -> &'a [u8] {
        self.header_bytes
    }
    /// The raw option bytes (not interpreted).
    pub fn options(&self) -> &'a [u8] {
        self.header_bytes.get(HEADER_LEN..).unwrap_or(&[])
    }
    /// The payload, up to the total length.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        self.header_bytes.len()
    }
    /// Total length: header plus payload.
    pub fn total_len(&self) -> usize {
        self.header_bytes.len() + self.payload.len()
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        self.header.ident.get()
    }
    /// Don't Fragment.
    pub fn dont_frag(&self) -> bool {
        self.header.flags_frag.get() & FLAG_DF != 0
    }
    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        self.header.flags_frag.get() & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(self.header.flags_frag.get() & FRAG_OFFSET) * 8
    }
    /// Whether this is a fragment of a larger datagram (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.header.ttl
    }
    /// The protocol field.
    pub fn protocol(&self) -> IpProtocol {
        self.header.protocol()
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        self.header.src_addr()
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.header.dst_addr()
    }
    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Whether the header checksum (options included) is correct.
    pub fn checksum_valid(&self) -> bool {
        match <&[u8; HEADER_LEN]>::try_from(self.header_bytes) {
            Ok(h) => checksum20(h) == 0,
            Err(_) => checksum(self.header_bytes) == 0,
        }
    }
}

/// A parsed IPv4 header as tidytcp sends and accepts it: no options, no fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// The header fields of a checked packet. Options are skipped; a fragment is
    /// [`WireError::Unsupported`]. The checksum is not verified here (call
    /// [`Ipv4Packet::checksum_valid`] unless the device did it).
    pub fn parse(packet: &Ipv4Packet<'_>) -> Result<Ipv4Repr, WireError> {
        if packet.is_fragment() {
            return Err(WireError::Unsupported);
        }
        Ok(Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: packet.payload().len(),
            ttl: packet.ttl(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Header plus payload.
    pub fn total_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Writes a 20-byte header with its checksum to the front of `buf` and returns
    /// [`HEADER_LEN`]. A payload too long for the total length field is
    /// [`WireError::Malformed`]; a `buf` shorter than the header is
    /// [`WireError::Truncated`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let n = self.emit_no_checksum(buf)?;
        let h = buf
            .get(..HEADER_LEN)
            .and_then(|h| <&[u8; HEADER_LEN]>::try_from(h).ok())
            .ok_or(WireError::Truncated)?;
        let c = checksum20(h);
        set_checksum(buf, c);
        Ok(n)
    }

    /// As [`Ipv4Repr::emit`], but leaves the checksum field zero for a device that
    /// fills it in (transmit checksum offload).
    pub fn emit_no_checksum(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let total = u16::try_from(self.total_len()).map_err(|_| WireError::Malformed)?;
        let out = buf.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let header = Ipv4Header {
            ver_ihl: 0x45,
            tos: 0,
            total_len: U16::new(total),
            ident: U16::new(self.ident),
            flags_frag: U16::new(if self.dont_frag { FLAG_DF } else { 0 }),
            ttl: self.ttl,
            protocol: self.protocol.into(),
            checksum: U16::new(0),
            src: self.src.octets(),
            dst: self.dst.octets(),
        };
        out.copy_from_slice(header.as_bytes());
        Ok(HEADER_LEN)
    }

    /// The pseudo header sum for the payload's checksum (RFC 9293 §3.1).
    pub fn pseudo_header(&self) -> Checksum {
        let len = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
        super::checksum::pseudo_header(self.src, self.dst, self.protocol.into(), len)
    }
}

/// Stores `checksum` in the checksum field of the IPv4 header at the front of `header`.
pub fn set_checksum(header: &mut [u8], checksum: u16) {
    if let Some(f) = header.get_mut(10..12) {
        f.copy_from_slice(&checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    /// A real header (Wikipedia's example): UDP, 192.168.0.1 -> 192.168.0.199, checksum
    /// 0xb861, total length 0x73.
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet_with_payload(header: &[u8], payload_len: usize) -> std::vec::Vec<u8> {
        let mut v = header.to_vec();
        v.resize(header.len() + payload_len, 0xab);
        v
    }

    #[test]
    fn real_header_vector() {
        let buf = packet_with_payload(&HEADER, 0x73 - 20);
        let p = Ipv4Packet::new_checked(&buf).unwrap();
        assert!(p.checksum_valid());
        assert_eq!(p.checksum(), 0xb861);
        assert!(p.dont_frag() && !p.is_fragment());
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Ipv4Repr {
                src: Ipv4Addr::new(192, 168, 0, 1),
                dst: Ipv4Addr::new(192, 168, 0, 199),
                protocol: IpProtocol::Udp,
                payload_len: 0x73 - 20,
                ttl: 64,
                ident: 0,
                dont_frag: true,
            }
        );
        let mut out = [0u8; 20];
        assert_eq!(r.emit(&mut out), Ok(HEADER_LEN));
        assert_eq!(out, HEADER);
        assert_eq!(r.emit_no_checksum(&mut out), Ok(HEADER_LEN));
        assert_eq!(&out[10..12], &[0, 0]);
        let mut bad = buf.clone();
        bad[8] = 0x3f;
        assert!(!Ipv4Packet::new_checked(&bad).unwrap().checksum_valid());
    }

    #[test]
    fn validation_errors() {
        let buf = packet_with_payload(&HEADER, 0x73 - 20);
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..19]).err(),
            Some(WireError::Truncated)
        );
        // Total length past the end of the buffer.
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..0x72]).err(),
            Some(WireError::Truncated)
        );
        let mut b = buf.clone();
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b).err(),
            Some(WireError::Unsupported)
        );
        b[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&b).err(),
            Some(WireError::Malformed)
        );
        b[0] = 0x4f; // 60-byte header in a 40-byte buffer
        assert_eq!(
            Ipv4Packet::new_checked(&b[..40]).err(),
            Some(WireError::Truncated)
        );
        let mut b = buf.clone();
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&b).err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn padding_and_options() {
        // A 24-byte header (one option word) carrying 4 bytes, padded to 46 bytes.
        let mut b = [0u8; 46];
        b[..20].copy_from_slice(&HEADER);
        b[0] = 0x46;
        b[2..4].copy_from_slice(&28u16.to_be_bytes());
        b[20..24].copy_from_slice(&[1, 1, 1, 0]);
        b[24..28].copy_from_slice(&[9, 8, 7, 6]);
        set_checksum(&mut b, 0);
        let c = checksum(&b[..24]);
        set_checksum(&mut b, c);
        let p = Ipv4Packet::new_checked(&b).unwrap();
        assert!(p.checksum_valid());
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[9, 8, 7, 6]);
        assert_eq!(p.total_len(), 28);
    }

    #[test]
    fn fragments() {
        let mut b = packet_with_payload(&HEADER, 0x73 - 20);
        b[6..8].copy_from_slice(&0x2000u16.to_be_bytes()); // MF
        let p = Ipv4Packet::new_checked(&b).unwrap();
        assert!(p.is_fragment() && p.more_frags() && p.frag_offset() == 0);
        assert_eq!(Ipv4Repr::parse(&p), Err(WireError::Unsupported));
        b[6..8].copy_from_slice(&0x0003u16.to_be_bytes()); // last fragment, offset 24
        let p = Ipv4Packet::new_checked(&b).unwrap();
        assert!(p.is_fragment() && !p.more_frags());
        assert_eq!(p.frag_offset(), 24);
    }

    #[test]
    fn emit_rejects_oversized_and_short() {
        let mut r = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::Tcp,
            payload_len: MAX_PACKET_LEN - HEADER_LEN + 1,
            ttl: 64,
            ident: 1,
            dont_frag: true,
        };
        let mut buf = [0u8; 20];
        assert_eq!(r.emit(&mut buf), Err(WireError::Malformed));
        r.payload_len = usize::MAX;
        assert_eq!(r.emit(&mut buf), Err(WireError::Malformed));
        r.payload_len = 0;
        assert_eq!(r.emit(&mut buf[..19]), Err(WireError::Truncated));
    }

    #[test]
    fn cidr() {
        let c = Ipv4Cidr::new(Ipv4Addr::new(10, 7, 0, 2), 24);
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network(), Ipv4Addr::new(10, 7, 0, 0));
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(10, 7, 0, 255)));
        assert!(c.contains(Ipv4Addr::new(10, 7, 0, 1)));
        assert!(!c.contains(Ipv4Addr::new(10, 7, 1, 1)));
        let all = Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 0);
        assert!(all.contains(Ipv4Addr::new(200, 1, 1, 1)));
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        let host = Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 40);
        assert_eq!(host.prefix_len(), 32);
        assert_eq!(host.broadcast(), None);
        assert!(!host.contains(Ipv4Addr::new(1, 2, 3, 5)));
        assert_eq!(
            Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 31).broadcast(),
            None
        );
        assert_eq!("10.7.0.2/24".parse::<Ipv4Cidr>(), Ok(c));
        assert_eq!(c.to_string(), "10.7.0.2/24");
        for bad in [
            "10.7.0.2",
            "10.7.0.2/",
            "10.7.0.2/33",
            "10.7.0/24",
            "10.7.0.2/+4",
            "10.7.0.2/024",
            "/24",
        ] {
            assert_eq!(bad.parse::<Ipv4Cidr>(), Err(WireError::Malformed), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(p) = Ipv4Packet::new_checked(&bytes) {
                let _ = Ipv4Repr::parse(&p);
                let _ = p.checksum_valid();
                let _ = p.options();
                prop_assert!(p.total_len() <= bytes.len());
            }
        }

        #[test]
        fn repr_round_trip(src in any::<u32>(), dst in any::<u32>(), proto in any::<u8>(),
                           payload_len in 0usize..200, ttl in any::<u8>(), ident in any::<u16>(),
                           df in any::<bool>(), offload in any::<bool>()) {
            let r = Ipv4Repr {
                src: Ipv4Addr::from_bits(src),
                dst: Ipv4Addr::from_bits(dst),
                protocol: IpProtocol::from(proto),
                payload_len, ttl, ident, dont_frag: df,
            };
            let mut buf = std::vec![0u8; r.total_len()];
            if offload {
                r.emit_no_checksum(&mut buf).unwrap();
            } else {
                r.emit(&mut buf).unwrap();
            }
            let p = Ipv4Packet::new_checked(&buf).unwrap();
            if !offload {
                prop_assert!(p.checksum_valid());
            }
            prop_assert_eq!(Ipv4Repr::parse(&p), Ok(r));
        }

        #[test]
        fn cidr_text_round_trip(a in any::<u32>(), len in 0u8..=32) {
            let c = Ipv4Cidr::new(Ipv4Addr::from_bits(a), len);
            prop_assert_eq!(c.to_string().parse::<Ipv4Cidr>(), Ok(c));
            prop_assert!(c.contains(c.network()));
            if let Some(b) = c.broadcast() {
                prop_assert!(c.contains(b));
            }
        }
    }
}
