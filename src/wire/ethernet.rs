//! Ethernet II framing (IEEE 802.3 with an EtherType, as RFC 894 uses for IP): a 14-byte
//! header of destination address, source address and EtherType, then the payload. Frames
//! arrive and leave without the FCS (the driver or MAC handles it).

use core::fmt;
use core::str::FromStr;

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;

/// A 48-bit IEEE 802 MAC address.
///
/// ```
/// use tidytcp::wire::ethernet::EthernetAddress;
/// let a: EthernetAddress = "02:00:0a:07:00:02".parse().unwrap();
/// assert!(a.is_unicast());
/// assert_eq!(a.to_string(), "02:00:0a:07:00:02");
/// assert!(EthernetAddress::BROADCAST.is_broadcast());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// `00:00:00:00:00:00` (an ARP request's unknown target).
    pub const ZERO: EthernetAddress = EthernetAddress([0; 6]);

    /// The address as bytes, first byte first on the wire.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// An individual (not group) address that is not all zeroes.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// The broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A group address (the I/G bit, bit 0 of the first byte, is set); the broadcast
    /// address is one.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// A locally administered address (the U/L bit, bit 1 of the first byte, is set).
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses six two-digit hexadecimal bytes separated by `:` (or `-`); anything else is
/// [`WireError::Malformed`].
impl FromStr for EthernetAddress {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, WireError> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for byte in &mut out {
            let part = parts.next().ok_or(WireError::Malformed)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(WireError::Malformed);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| WireError::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(WireError::Malformed);
        }
        Ok(EthernetAddress(out))
    }
}

/// The EtherType of an Ethernet II frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// IPv4, 0x0800.
    Ipv4,
    /// ARP, 0x0806.
    Arp,
    /// IPv6, 0x86DD (carried by the stack with the `proto-ipv6` feature).
    Ipv6,
    /// Anything else (VLAN tags, ...): counted and dropped by the stack.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(v) => v,
        }
    }
}

/// The 14-byte Ethernet II header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct EthernetHeader {
    /// Destination address.
    pub dst: [u8; 6],
    /// Source address.
    pub src: [u8; 6],
    /// EtherType.
    pub ethertype: U16,
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// A checked view of an Ethernet II frame. No accessor can panic once constructed.
#[derive(Clone, Copy)]
pub struct EthernetFrame<'a> {
    header: &'a EthernetHeader,
    payload: &'a [u8],
}

impl<'a> EthernetFrame<'a> {
    /// Checks that `frame` holds a whole header.
    pub fn new_checked(frame: &'a [u8]) -> Result<Self, WireError> {
        let (header, payload) =
            EthernetHeader::ref_from_prefix(frame).map_err(|_| WireError::Truncated)?;
        Ok(EthernetFrame { header, payload })
    }
    /// The header.
    pub fn header(&self) -> &'a EthernetHeader {
        self.header
    }
    /// Destination address.
    pub fn dst(&self) -> EthernetAddress {
        EthernetAddress(self.header.dst)
    }
    /// Source address.
    pub fn src(&self) -> EthernetAddress {
        EthernetAddress(self.header.src)
    }
    /// EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.header.ethertype.get())
    }
    /// Everything after the header (may include padding to the 60-byte minimum frame).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// A parsed Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source address.
    pub src: EthernetAddress,
    /// Destination address.
    pub dst: EthernetAddress,
    /// EtherType.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// The header of a checked frame.
    pub fn parse(frame: &EthernetFrame<'_>) -> EthernetRepr {
        EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            ethertype: frame.ethertype(),
        }
    }

    /// Writes the header to the front of `buf` and returns [`HEADER_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let out = buf.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let header = EthernetHeader {
            dst: self.dst.0,
            src: self.src.0,
            ethertype: U16::new(self.ethertype.into()),
        };
        out.copy_from_slice(header.as_bytes());
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn address_classes() {
        let a = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
        assert!(a.is_unicast() && a.is_local() && !a.is_multicast());
        let m = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(m.is_multicast() && !m.is_unicast() && !m.is_broadcast());
        assert!(EthernetAddress::BROADCAST.is_multicast());
        assert!(!EthernetAddress::ZERO.is_unicast());
    }

    #[test]
    fn address_text() {
        let a: EthernetAddress = "aa:bb:cc:dd:ee:ff".parse().unwrap();
        assert_eq!(a, EthernetAddress([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
        assert_eq!(a.to_string(), "aa:bb:cc:dd:ee:ff");
        assert_eq!(
            "AA-BB-CC-DD-EE-0F".parse::<EthernetAddress>().unwrap().0[5],
            0x0f
        );
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:f",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:gg",
            "aa:bb:cc:dd:ee:+f",
            "aa:bb-cc:dd:ee:ff",
        ] {
            assert_eq!(
                bad.parse::<EthernetAddress>(),
                Err(WireError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn frame_round_trip() {
        let repr = EthernetRepr {
            src: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        };
        let mut buf = [0u8; 20];
        assert_eq!(repr.emit(&mut buf), Ok(HEADER_LEN));
        assert_eq!(
            &buf[..14],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06
            ]
        );
        let f = EthernetFrame::new_checked(&buf).unwrap();
        assert_eq!(EthernetRepr::parse(&f), repr);
        assert_eq!(f.payload().len(), 6);
        assert_eq!(
            EthernetFrame::new_checked(&buf[..13]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(repr.emit(&mut buf[..13]), Err(WireError::Truncated));
    }

    #[test]
    fn ethertype_values() {
        for v in [0x0800u16, 0x0806, 0x86dd, 0] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(f) = EthernetFrame::new_checked(&bytes) {
                let _ = EthernetRepr::parse(&f);
                prop_assert_eq!(f.payload().len(), bytes.len() - HEADER_LEN);
            }
        }

        #[test]
        fn repr_round_trip(src in any::<[u8; 6]>(), dst in any::<[u8; 6]>(), et in any::<u16>()) {
            let repr = EthernetRepr {
                src: EthernetAddress(src),
                dst: EthernetAddress(dst),
                ethertype: EtherType::from(et),
            };
            let mut buf = [0u8; HEADER_LEN];
            repr.emit(&mut buf).unwrap();
            prop_assert_eq!(EthernetRepr::parse(&EthernetFrame::new_checked(&buf).unwrap()), repr);
        }

        #[test]
        fn address_text_round_trip(a in any::<[u8; 6]>()) {
            let a = EthernetAddress(a);
            prop_assert_eq!(a.to_string().parse::<EthernetAddress>(), Ok(a));
        }
    }
}
