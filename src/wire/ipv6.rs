//! IPv6 (RFC 8200): addresses with a prefix ([`Ipv6Cidr`]), the address forms a host
//! derives (RFC 4291: link-local from the MAC, solicited-node groups, the Ethernet
//! multicast mapping of RFC 2464), the fixed header's view and parsed form, and the walk
//! over the extension-header chain to the upper-layer header.
//!
//! tidytcp neither fragments nor reassembles: a Fragment header ends the walk with
//! [`ExtError::Fragment`], for the caller to drop and count. A Routing header with
//! segments left is answered with a Parameter Problem, as for a routing type the node
//! does not implement (RFC 8200 §4.4): a host forwards nothing.

use core::fmt;
use core::net::Ipv6Addr;
use core::str::FromStr;

use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::checksum::Checksum;
use super::ethernet::EthernetAddress;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// The minimum link MTU every IPv6 link carries (RFC 8200 §5).
pub const MIN_MTU: usize = 1280;

/// Next Header values the walk and the stack know.
pub mod next_header {
    /// Hop-by-Hop Options (only directly after the fixed header).
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing.
    pub const ROUTING: u8 = 43;
    /// Fragment.
    pub const FRAGMENT: u8 = 44;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No Next Header: nothing follows.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options.
    pub const DEST_OPTS: u8 = 60;
}

/// An IPv6 address with a prefix length: an interface address and its on-link prefix.
///
/// ```
/// use core::net::Ipv6Addr;
/// use tidytcp::wire::ipv6::Ipv6Cidr;
/// let c: Ipv6Cidr = "2001:db8:1::7/64".parse().unwrap();
/// assert!(c.contains("2001:db8:1::ff".parse().unwrap()));
/// assert!(!c.contains("2001:db8:2::7".parse().unwrap()));
/// assert_eq!(c.network(), "2001:db8:1::".parse::<Ipv6Addr>().unwrap());
/// assert_eq!(c.to_string(), "2001:db8:1::7/64");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    address: Ipv6Addr,
    prefix_len: u8,
}

impl Ipv6Cidr {
    /// `address/prefix_len`; a prefix length above 128 is taken as 128.
    pub const fn new(address: Ipv6Addr, prefix_len: u8) -> Ipv6Cidr {
        let prefix_len = if prefix_len > 128 { 128 } else { prefix_len };
        Ipv6Cidr {
            address,
            prefix_len,
        }
    }
    /// The address.
    pub const fn address(&self) -> Ipv6Addr {
        self.address
    }
    /// The prefix length, 0 to 128.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
    /// The prefix (interface-identifier bits cleared).
    pub const fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.address.to_bits() & self.mask())
    }
    /// Whether `addr` lies under this prefix.
    pub const fn contains(&self, addr: Ipv6Addr) -> bool {
        (addr.to_bits() ^ self.address.to_bits()) & self.mask() == 0
    }
    const fn mask(&self) -> u128 {
        match u128::MAX.checked_shl(128 - self.prefix_len as u32) {
            Some(m) => m,
            None => 0,
        }
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl fmt::Debug for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses `addr/n` with `n` from 0 to 128; anything else is [`WireError::Malformed`].
impl FromStr for Ipv6Cidr {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, WireError> {
        let (addr, len) = s.split_once('/').ok_or(WireError::Malformed)?;
        let address = Ipv6Addr::from_str(addr).map_err(|_| WireError::Malformed)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WireError::Malformed);
        }
        let prefix_len = u8::from_str(len).map_err(|_| WireError::Malformed)?;
        if prefix_len > 128 {
            return Err(WireError::Malformed);
        }
        Ok(Ipv6Cidr::new(address, prefix_len))
    }
}

/// The modified EUI-64 interface identifier of a MAC (RFC 4291 Appendix A): `ff:fe` in
/// the middle, the universal/local bit inverted.
pub const fn interface_id_from_mac(mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]
}

/// `prefix` (its first 64 bits) joined with interface identifier `iid`.
pub const fn with_interface_id(prefix: Ipv6Addr, iid: [u8; 8]) -> Ipv6Addr {
    let p = prefix.to_bits() & !(u64::MAX as u128);
    Ipv6Addr::from_bits(p | u64::from_be_bytes(iid) as u128)
}

/// The link-local address `fe80::/64` with the MAC's EUI-64 identifier.
///
/// ```
/// use tidytcp::wire::{ethernet::EthernetAddress, ipv6};
/// let mac = EthernetAddress([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
/// assert_eq!(ipv6::link_local_from_mac(mac), "fe80::5eff:fe10:2030".parse::<core::net::Ipv6Addr>().unwrap());
/// ```
pub const fn link_local_from_mac(mac: EthernetAddress) -> Ipv6Addr {
    with_interface_id(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        interface_id_from_mac(mac),
    )
}

/// The solicited-node multicast group of `addr` (RFC 4291 §2.7.1): `ff02::1:ffXX:XXXX`
/// with the address's low 24 bits.
pub const fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let low = addr.to_bits() & 0x00ff_ffff;
    Ipv6Addr::from_bits(0xff02_0000_0000_0000_0000_0001_ff00_0000 | low)
}

/// The Ethernet address a multicast `addr` is sent to (RFC 2464 §7): `33:33` and the
/// address's low 32 bits.
pub const fn multicast_mac(addr: Ipv6Addr) -> EthernetAddress {
    let o = addr.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// All-nodes link-local multicast, `ff02::1`.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast, `ff02::2`.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All MLDv2-capable routers, `ff02::16`: where MLDv2 reports go (RFC 3810 §5.2.14).
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// A Hop-by-Hop Options header holding only the Router Alert option with value 0 (MLD,
/// RFC 2711) and padding, followed by ICMPv6: what MLD messages carry (RFC 3810 §5).
pub const ROUTER_ALERT_HBH: [u8; 8] = [next_header::ICMPV6, 0, 5, 2, 0, 0, 1, 0];

/// The fixed 40-byte header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct Ipv6Header {
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub ver_tc_flow: U32,
    /// Length of everything after this header.
    pub payload_len: U16,
    /// The first extension header or the upper-layer protocol.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// A checked view of an IPv6 packet: version 6 and the whole payload present. The payload
/// is cut to the payload length (frames may carry Ethernet padding). No accessor can panic
/// once constructed.
#[derive(Clone, Copy)]
pub struct Ipv6Packet<'a> {
    header: &'a Ipv6Header,
    payload: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// Checks `buf` (an Ethernet payload). A payload length of zero with a Hop-by-Hop
    /// header would be a jumbogram (RFC 2675), which no Ethernet carries: it is checked
    /// like any other length.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, rest) = Ipv6Header::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        if header.ver_tc_flow.get() >> 28 != 6 {
            return Err(WireError::Malformed);
        }
        let payload = rest
            .get(..usize::from(header.payload_len.get()))
            .ok_or(WireError::Truncated)?;
        Ok(Ipv6Packet { header, payload })
    }
    /// The fixed header.
    pub fn header(&self) -> &'a Ipv6Header {
        self.header
    }
    /// Everything after the fixed header, extension headers included.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// The Next Header field of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.header.next_header
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.header.hop_limit
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.header.src)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.header.dst)
    }
    /// Walks the extension headers to the upper layer (see [`walk_extensions`]).
    pub fn upper_layer(&self) -> Result<UpperLayer<'a>, ExtError> {
        walk_extensions(
            self.header.next_header,
            self.payload,
            self.dst_addr().is_multicast(),
        )
    }
}

/// The header fields an outgoing packet needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next Header (the upper-layer protocol, or the first extension header).
    pub next_header: u8,
    /// Length of everything after the fixed header.
    pub payload_len: u16,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Writes the fixed header (traffic class and flow label zero) into `buf`'s first
    /// [`HEADER_LEN`] bytes; [`WireError::Truncated`] if `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let (h, _) = Ipv6Header::mut_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        *h = Ipv6Header {
            ver_tc_flow: U32::new(6 << 28),
            payload_len: U16::new(self.payload_len),
            next_header: self.next_header,
            hop_limit: self.hop_limit,
            src: self.src.octets(),
            dst: self.dst.octets(),
        };
        Ok(())
    }
}

/// The IPv6 pseudo header of RFC 8200 §8.1 (source, destination, upper-layer length,
/// zeros, next header), for the TCP, UDP and ICMPv6 checksums.
pub fn pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> Checksum {
    let mut c = Checksum::new();
    c.add_bytes(&src.octets());
    c.add_bytes(&dst.octets());
    c.add_u32(length);
    c.add_u32(u32::from(next_header));
    c
}

/// Where the extension-header chain ends: the upper-layer protocol and its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperLayer<'a> {
    /// The upper-layer protocol ([`next_header::TCP`], [`next_header::ICMPV6`], ...).
    pub protocol: u8,
    /// Its offset from the start of the payload (after the extension headers).
    pub offset: usize,
    /// Its bytes.
    pub data: &'a [u8],
}

/// Why the walk over the extension headers stops short of an upper layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtError {
    /// Drop the packet silently (truncated or malformed header, No Next Header, an
    /// unrecognised option whose type says "discard").
    Discard,
    /// A fragment: tidytcp does not reassemble; drop and count.
    Fragment,
    /// Drop and answer with an ICMPv6 Parameter Problem (RFC 4443 §3.4) with this code
    /// (0: erroneous header field, 1: unrecognised Next Header, 2: unrecognised option)
    /// and pointer (an offset from the start of the IPv6 header).
    ParamProblem {
        /// The Parameter Problem code.
        code: u8,
        /// The offending octet, counted from the start of the IPv6 header.
        pointer: u32,
    },
}

/// Walks the extension headers from `first` (the fixed header's Next Header) through
/// `payload` to the upper-layer header, per RFC 8200 §4: Hop-by-Hop only first,
/// Destination Options and Hop-by-Hop options processed by their type's action bits,
/// Routing headers with segments left 0 skipped, Fragment headers refused. `dst_multicast`
/// says whether the packet's destination is multicast (an option action of `11` sends no
/// Parameter Problem then). Any other Next Header value is the upper layer: the caller
/// decides whether it knows the protocol.
pub fn walk_extensions(
    first: u8,
    payload: &[u8],
    dst_multicast: bool,
) -> Result<UpperLayer<'_>, ExtError> {
    let mut nh = first;
    let mut off = 0usize;
    // The offset of the Next Header field that named `nh`: 6 in the fixed header.
    let mut nh_field = 6u32;
    loop {
        let here = &payload[off.min(payload.len())..];
        let len = match nh {
            next_header::HOP_BY_HOP if off != 0 => return Err(param_problem(1, nh_field)),
            next_header::HOP_BY_HOP | next_header::DEST_OPTS => {
                options_header(here, HEADER_LEN + off, dst_multicast)?
            }
            next_header::ROUTING => routing_header(here, HEADER_LEN + off)?,
            next_header::FRAGMENT => return Err(ExtError::Fragment),
            next_header::NO_NEXT => return Err(ExtError::Discard),
            protocol => {
                return Ok(UpperLayer {
                    protocol,
                    offset: off,
                    data: here,
                });
            }
        };
        nh_field = (HEADER_LEN + off) as u32;
        nh = here[0];
        off += len;
    }
}

fn param_problem(code: u8, pointer: u32) -> ExtError {
    ExtError::ParamProblem { code, pointer }
}

/// The length of the generic extension header at the front of `h` (Next Header, Hdr Ext
/// Len in 8-octet units not counting the first 8), if it fits.
fn ext_len(h: &[u8]) -> Result<usize, ExtError> {
    let len = 8 * (usize::from(*h.get(1).ok_or(ExtError::Discard)?) + 1);
    if h.len() < len {
        return Err(ExtError::Discard);
    }
    Ok(len)
}

/// A Hop-by-Hop or Destination Options header at `at` bytes into the packet: checks each
/// option's action bits (RFC 8200 §4.2) and returns the header's length.
fn options_header(h: &[u8], at: usize, dst_multicast: bool) -> Result<usize, ExtError> {
    let len = ext_len(h)?;
    let mut i = 2;
    while i < len {
        let ty = h[i];
        if ty == 0 {
            i += 1; // Pad1
            continue;
        }
        let opt_len = usize::from(
            *h.get(i + 1)
                .filter(|_| i + 1 < len)
                .ok_or(ExtError::Discard)?,
        );
        if i + 2 + opt_len > len {
            return Err(ExtError::Discard);
        }
        // PadN (1) and Router Alert (5, RFC 2711) are understood and need nothing here.
        if ty != 1 && ty != 5 {
            match ty >> 6 {
                0 => {}
                1 => return Err(ExtError::Discard),
                3 if dst_multicast => return Err(ExtError::Discard),
                _ => return Err(param_problem(2, (at + i) as u32)),
            }
        }
        i += 2 + opt_len;
    }
    Ok(len)
}

/// A Routing header at `at` bytes into the packet: skipped when no segments are left, else
/// a Parameter Problem at its Routing Type (a host implements no routing type).
fn routing_header(h: &[u8], at: usize) -> Result<usize, ExtError> {
    let len = ext_len(h)?;
    if h[3] != 0 {
        return Err(param_problem(0, (at + 2) as u32));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn address_forms() {
        let mac = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(link_local_from_mac(mac), addr("fe80::5054:ff:fe12:3456"));
        assert_eq!(
            solicited_node(addr("2001:db8::5054:ff:fe12:3456")),
            addr("ff02::1:ff12:3456")
        );
        assert_eq!(
            multicast_mac(addr("ff02::1:ff12:3456")),
            EthernetAddress([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
        assert_eq!(
            with_interface_id(addr("2001:db8:1:2:aaaa::"), [0, 0, 0, 0, 0, 0, 0, 9]),
            addr("2001:db8:1:2::9")
        );
    }

    #[test]
    fn cidr_parses_and_bounds() {
        let c: Ipv6Cidr = "fe80::1/64".parse().unwrap();
        assert_eq!(c.prefix_len(), 64);
        assert!(c.contains(addr("fe80::2")));
        assert!(!c.contains(addr("fe81::1")));
        assert!(Ipv6Cidr::new(addr("::1"), 0).contains(addr("2001::1")));
        assert!(Ipv6Cidr::new(addr("::1"), 200).contains(addr("::1")));
        for bad in [
            "fe80::1",
            "fe80::1/129",
            "fe80::1/",
            "x/64",
            "fe80::1/+6",
            "::1/1234",
        ] {
            assert_eq!(bad.parse::<Ipv6Cidr>(), Err(WireError::Malformed), "{bad}");
        }
    }

    fn packet(next: u8, payload: &[u8]) -> [u8; 128] {
        let mut b = [0u8; 128];
        Ipv6Repr {
            src: addr("fe80::1"),
            dst: addr("fe80::2"),
            next_header: next,
            payload_len: payload.len() as u16,
            hop_limit: 64,
        }
        .emit(&mut b)
        .unwrap();
        b[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        b
    }

    #[test]
    fn header_round_trip_and_checks() {
        let b = packet(next_header::TCP, &[1, 2, 3]);
        let p = Ipv6Packet::new_checked(&b).unwrap();
        assert_eq!(p.payload(), &[1, 2, 3]);
        assert_eq!(
            (p.src_addr(), p.dst_addr()),
            (addr("fe80::1"), addr("fe80::2"))
        );
        assert_eq!((p.next_header(), p.hop_limit()), (6, 64));
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&b[..42]).err(),
            Some(WireError::Truncated)
        );
        let mut v4 = b;
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&v4).err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn walks_to_the_upper_layer() {
        // Hop-by-Hop (Router Alert, PadN), Destination Options (Pad1s, unknown
        // skippable 0x1e), Routing with no segments left, then TCP.
        let chain = [
            60, 0, 5, 2, 0, 0, 1, 0, // HbH: Router Alert, PadN(0)
            43, 0, 0x1e, 1, 0, 0, 0, 0, // Dest opts: 0x1e len 1, 3 Pad1
            6, 0, 0, 0, 0, 0, 0, 0, // Routing type 0, segments left 0
            0xaa, 0xbb,
        ];
        let u = walk_extensions(next_header::HOP_BY_HOP, &chain, false).unwrap();
        assert_eq!((u.protocol, u.offset, u.data), (6, 24, &[0xaa, 0xbb][..]));
        let b = packet(next_header::HOP_BY_HOP, &chain);
        assert_eq!(
            Ipv6Packet::new_checked(&b)
                .unwrap()
                .upper_layer()
                .unwrap()
                .offset,
            24
        );
    }

    #[test]
    fn refuses_what_rfc_8200_refuses() {
        // Hop-by-Hop after another header: unrecognised Next Header at that field.
        let late_hbh = [0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &late_hbh, false),
            Err(ExtError::ParamProblem {
                code: 1,
                pointer: 40
            })
        );
        // Unknown option with action 10: Parameter Problem at the option type.
        let opt = |ty: u8| [6, 0, 1, 0, ty, 0, 1, 0];
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &opt(0x80), false),
            Err(ExtError::ParamProblem {
                code: 2,
                pointer: 44
            })
        );
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &opt(0x40), false),
            Err(ExtError::Discard)
        );
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &opt(0xc0), true),
            Err(ExtError::Discard)
        );
        assert!(matches!(
            walk_extensions(next_header::DEST_OPTS, &opt(0xc0), false),
            Err(ExtError::ParamProblem { code: 2, .. })
        ));
        // Routing with segments left: a host routes nothing.
        let routing = [6, 0, 4, 1, 0, 0, 0, 0];
        assert_eq!(
            walk_extensions(next_header::ROUTING, &routing, false),
            Err(ExtError::ParamProblem {
                code: 0,
                pointer: 42
            })
        );
        assert_eq!(
            walk_extensions(next_header::FRAGMENT, &[6, 0, 0, 1, 0, 0, 0, 1], false),
            Err(ExtError::Fragment)
        );
        assert_eq!(
            walk_extensions(next_header::NO_NEXT, &[], false),
            Err(ExtError::Discard)
        );
        // Truncated headers and options.
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &[6, 1, 0, 0], false),
            Err(ExtError::Discard)
        );
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &[], false),
            Err(ExtError::Discard)
        );
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &[6, 0, 1, 0, 0, 0, 0, 1], false),
            Err(ExtError::Discard)
        );
        assert_eq!(
            walk_extensions(next_header::DEST_OPTS, &[6, 0, 0, 0, 0, 0, 0, 0x1e], false),
            Err(ExtError::Discard)
        );
    }

    #[test]
    fn pseudo_header_sums_like_the_rfc() {
        // The sum of the 40-byte pseudo header written out.
        let (s, d) = (addr("2001:db8::1"), addr("2001:db8::2"));
        let mut raw = [0u8; 40];
        raw[..16].copy_from_slice(&s.octets());
        raw[16..32].copy_from_slice(&d.octets());
        raw[32..36].copy_from_slice(&1234u32.to_be_bytes());
        raw[39] = 58;
        let mut c = Checksum::new();
        c.add_bytes(&raw);
        assert_eq!(pseudo_header(s, d, 58, 1234).finish(), c.finish());
    }
}
