//! UDP (RFC 768): the header view and its parsed form.
//!
//! UDP exists only inside the stack, as the carrier of the DHCPv4 client and the DNS
//! resolver; the socket layer stays TCP-only.

use core::net::Ipv4Addr;

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::checksum::{Checksum, pseudo_header};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// The 8-byte UDP header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Length of header and payload.
    pub len: U16,
    /// Checksum over pseudo header, header and payload; zero means none (IPv4 only).
    pub checksum: U16,
}

/// A checked view of a UDP datagram: the buffer holds the header and the length field
/// covers the header and fits in the buffer. Bytes past the length are not part of it.
#[derive(Clone, Copy)]
pub struct UdpPacket<'a> {
    header: &'a UdpHeader,
    datagram: &'a [u8],
}

impl<'a> UdpPacket<'a> {
    /// Checks the lengths. Fewer than 8 bytes, or a length past the buffer, is
    /// [`WireError::Truncated`]; a length below 8 is [`WireError::Malformed`].
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, _) = UdpHeader::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        let len = usize::from(header.len.get());
        if len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let datagram = buf.get(..len).ok_or(WireError::Truncated)?;
        Ok(UdpPacket { header, datagram })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }
    /// The payload, up to the length field.
    pub fn payload(&self) -> &'a [u8] {
        self.datagram.get(HEADER_LEN..).unwrap_or(&[])
    }
    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Whether the checksum is right for a datagram from `src` to `dst`; a zero checksum
    /// field (none sent, RFC 768) counts as right.
    pub fn checksum_valid(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = u16::try_from(self.datagram.len()).unwrap_or(u16::MAX);
        self.checksum_valid_with(pseudo_header(src, dst, 17, len))
    }
    /// Whether the checksum is right given the pseudo-header's sum `pseudo` (of either
    /// IP version). A zero field is wrong here: over IPv6 the checksum is mandatory (RFC
    /// 8200 §8.1).
    pub fn checksum_valid_with(&self, mut pseudo: Checksum) -> bool {
        pseudo.add_bytes(self.datagram);
        self.checksum() != 0 && pseudo.sum() == 0xffff
    }
}

/// A parsed UDP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// The ports of a checked datagram; a zero destination port is
    /// [`WireError::Malformed`].
    pub fn parse(packet: &UdpPacket<'_>) -> Result<UdpRepr, WireError> {
        if packet.dst_port() == 0 {
            return Err(WireError::Malformed);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    /// Writes the header to the front of `datagram`, whose bytes after [`HEADER_LEN`] are
    /// the payload already in place, and the checksum over all of it. The whole slice is
    /// the datagram; one longer than 65535 bytes is [`WireError::Malformed`].
    pub fn emit(&self, datagram: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<(), WireError> {
        let len = u16::try_from(datagram.len()).map_err(|_| WireError::Malformed)?;
        self.emit_with(datagram, pseudo_header(src, dst, 17, len))
    }

    /// Like [`UdpRepr::emit`], with the pseudo-header's sum `pseudo` given (for IPv6:
    /// `wire::ipv6::pseudo_header`).
    pub fn emit_with(&self, datagram: &mut [u8], mut sum: Checksum) -> Result<(), WireError> {
        let len = u16::try_from(datagram.len()).map_err(|_| WireError::Malformed)?;
        let out = datagram.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let header = UdpHeader {
            src_port: U16::new(self.src_port),
            dst_port: U16::new(self.dst_port),
            len: U16::new(len),
            checksum: U16::new(0),
        };
        out.copy_from_slice(header.as_bytes());
        sum.add_bytes(datagram);
        // RFC 768: a computed zero is sent as all ones.
        let c = match sum.finish() {
            0 => 0xffff,
            c => c,
        };
        if let Some(f) = datagram.get_mut(6..8) {
            f.copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn round_trip_and_checksum() {
        let mut buf = [0u8; 13];
        buf[8..].copy_from_slice(b"hello");
        let r = UdpRepr {
            src_port: 67,
            dst_port: 68,
        };
        r.emit(&mut buf, SRC, DST).unwrap();
        let p = UdpPacket::new_checked(&buf).unwrap();
        assert!(p.checksum_valid(SRC, DST));
        assert!(!p.checksum_valid(SRC, Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(UdpRepr::parse(&p), Ok(r));
        assert_eq!(p.payload(), b"hello");
        buf[9] ^= 1;
        let p = UdpPacket::new_checked(&buf).unwrap();
        assert!(!p.checksum_valid(SRC, DST));
    }

    /// Over IPv6 the pseudo-header is another, and a zero checksum is not "none".
    #[cfg(feature = "proto-ipv6")]
    #[test]
    fn ipv6_pseudo_header_and_mandatory_checksum() {
        use crate::wire::ipv6::{next_header, pseudo_header as pseudo6};
        let (src, dst) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let mut buf = [0u8; 13];
        buf[8..].copy_from_slice(b"hello");
        let r = UdpRepr {
            src_port: 53,
            dst_port: 50000,
        };
        r.emit_with(&mut buf, pseudo6(src, dst, next_header::UDP, 13))
            .unwrap();
        let p = UdpPacket::new_checked(&buf).unwrap();
        assert!(p.checksum_valid_with(pseudo6(src, dst, next_header::UDP, 13)));
        assert!(!p.checksum_valid_with(pseudo6(dst, src, 6, 13)));
        buf[6..8].fill(0);
        let p = UdpPacket::new_checked(&buf).unwrap();
        assert!(!p.checksum_valid_with(pseudo6(src, dst, next_header::UDP, 13)));
    }

    #[test]
    fn lengths_checked() {
        let mut buf = [0u8; 12];
        buf[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&buf).err(),
            Some(WireError::Truncated)
        );
        buf[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&buf).err(),
            Some(WireError::Malformed)
        );
        buf[4..6].copy_from_slice(&10u16.to_be_bytes());
        let p = UdpPacket::new_checked(&buf).unwrap();
        assert_eq!(p.payload().len(), 2);
        assert!(p.checksum_valid(SRC, DST)); // zero: none sent
        assert_eq!(UdpRepr::parse(&p), Err(WireError::Malformed)); // port 0
        assert_eq!(
            UdpPacket::new_checked(&buf[..7]).err(),
            Some(WireError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = UdpPacket::new_checked(&bytes) {
                let _ = UdpRepr::parse(&p);
                let _ = p.checksum_valid(SRC, DST);
            }
        }
    }
}
