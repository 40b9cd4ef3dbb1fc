//! ARP (RFC 826) for IPv4 over Ethernet, the only combination tidytcp speaks: hardware
//! type 1, protocol type 0x0800, address lengths 6 and 4. A packet for anything else is
//! [`WireError::Unsupported`].

use core::net::Ipv4Addr;

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::ethernet::EthernetAddress;

/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type IPv4 (the EtherType).
pub const PTYPE_IPV4: u16 = 0x0800;
/// Length of an IPv4-over-Ethernet ARP packet.
pub const PACKET_LEN: usize = 28;

/// An IPv4-over-Ethernet ARP packet, 28 bytes.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct ArpHeader {
    /// Hardware type (1, Ethernet).
    pub htype: U16,
    /// Protocol type (0x0800, IPv4).
    pub ptype: U16,
    /// Hardware address length (6).
    pub hlen: u8,
    /// Protocol address length (4).
    pub plen: u8,
    /// Operation (1 request, 2 reply).
    pub oper: U16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: [u8; 4],
}

/// The ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// Who has `target_ip`? (1)
    Request,
    /// `source_ip` is at `source_hw`. (2)
    Reply,
}

impl ArpOperation {
    /// The operation's code on the wire.
    pub const fn code(self) -> u16 {
        match self {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
        }
    }
}

/// A checked view of an IPv4-over-Ethernet ARP packet: the buffer holds 28 bytes and the
/// hardware/protocol types and lengths are the Ethernet/IPv4 ones. Bytes after the packet
/// (Ethernet padding) are ignored.
#[derive(Clone, Copy)]
pub struct ArpPacket<'a> {
    header: &'a ArpHeader,
}

impl<'a> ArpPacket<'a> {
    /// Checks length and the address types.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, _) = ArpHeader::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        if header.htype.get() != HTYPE_ETHERNET
            || header.ptype.get() != PTYPE_IPV4
            || header.hlen != 6
            || header.plen != 4
        {
            return Err(WireError::Unsupported);
        }
        Ok(ArpPacket { header })
    }
    /// The packet.
    pub fn header(&self) -> &'a ArpHeader {
        self.header
    }
    /// The raw operation code.
    pub fn operation_code(&self) -> u16 {
        self.header.oper.get()
    }
    /// Sender hardware address.
    pub fn source_hw(&self) -> EthernetAddress {
        EthernetAddress(self.header.sha)
    }
    /// Sender protocol address.
    pub fn source_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.spa)
    }
    /// Target hardware address.
    pub fn target_hw(&self) -> EthernetAddress {
        EthernetAddress(self.header.tha)
    }
    /// Target protocol address.
    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.tpa)
    }
}

/// A parsed ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_hw: EthernetAddress,
    /// Sender protocol address.
    pub source_ip: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_hw: EthernetAddress,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Parses a checked packet; an operation other than request or reply is
    /// [`WireError::Unsupported`].
    pub fn parse(packet: &ArpPacket<'_>) -> Result<ArpRepr, WireError> {
        let operation = match packet.operation_code() {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            _ => return Err(WireError::Unsupported),
        };
        Ok(ArpRepr {
            operation,
            source_hw: packet.source_hw(),
            source_ip: packet.source_ip(),
            target_hw: packet.target_hw(),
            target_ip: packet.target_ip(),
        })
    }

    /// A request from `source_hw`/`source_ip` for `target_ip`.
    pub fn request(source_hw: EthernetAddress, source_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Self {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hw,
            source_ip,
            target_hw: EthernetAddress::ZERO,
            target_ip,
        }
    }

    /// Writes the packet to the front of `buf` and returns [`PACKET_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let out = buf.get_mut(..PACKET_LEN).ok_or(WireError::Truncated)?;
        let header = ArpHeader {
            htype: U16::new(HTYPE_ETHERNET),
            ptype: U16::new(PTYPE_IPV4),
            hlen: 6,
            plen: 4,
            oper: U16::new(self.operation.code()),
            sha: self.source_hw.0,
            spa: self.source_ip.octets(),
            tha: self.target_hw.0,
            tpa: self.target_ip.octets(),
        };
        out.copy_from_slice(header.as_bytes());
        Ok(PACKET_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An ARP request as Linux sends it (who-has 10.7.0.1 tell 10.7.0.2).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen oper
        0x02, 0x00, 0x0a, 0x07, 0x00, 0x02, 10, 7, 0, 2, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 7, 0, 1, // target
    ];

    #[test]
    fn parse_request() {
        let p = ArpPacket::new_checked(&REQUEST).unwrap();
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            ArpRepr::request(
                EthernetAddress([0x02, 0, 0x0a, 7, 0, 2]),
                Ipv4Addr::new(10, 7, 0, 2),
                Ipv4Addr::new(10, 7, 0, 1)
            )
        );
        let mut buf = [0u8; 28];
        assert_eq!(r.emit(&mut buf), Ok(PACKET_LEN));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn rejects_other_kinds() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).err(),
            Some(WireError::Truncated)
        );
        for (at, v) in [(1, 0x06u8), (3, 0xdd), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            assert_eq!(
                ArpPacket::new_checked(&b).err(),
                Some(WireError::Unsupported)
            );
        }
        let mut b = REQUEST;
        b[7] = 3; // RARP request
        let p = ArpPacket::new_checked(&b).unwrap();
        assert_eq!(ArpRepr::parse(&p), Err(WireError::Unsupported));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = ArpPacket::new_checked(&bytes) {
                let _ = ArpRepr::parse(&p);
            }
        }

        #[test]
        fn repr_round_trip(reply in any::<bool>(), sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(),
                           tha in any::<[u8; 6]>(), tpa in any::<[u8; 4]>()) {
            let repr = ArpRepr {
                operation: if reply { ArpOperation::Reply } else { ArpOperation::Request },
                source_hw: EthernetAddress(sha),
                source_ip: Ipv4Addr::from(spa),
                target_hw: EthernetAddress(tha),
                target_ip: Ipv4Addr::from(tpa),
            };
            let mut buf = [0u8; 46];
            prop_assert_eq!(repr.emit(&mut buf), Ok(PACKET_LEN));
            let p = ArpPacket::new_checked(&buf).unwrap();
            prop_assert_eq!(ArpRepr::parse(&p), Ok(repr));
        }
    }
}
