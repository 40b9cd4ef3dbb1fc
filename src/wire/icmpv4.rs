//! ICMP for IPv4 (RFC 792): echo request and reply, and the error messages that quote a
//! datagram (destination unreachable with the RFC 1191 next-hop MTU, time exceeded,
//! parameter problem). Other types are parsed far enough to be counted and ignored.

use core::net::Ipv4Addr;

use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::checksum::{Checksum, checksum};
use super::ipv4::{self, IpProtocol, Ipv4Header};

/// Length of the ICMP header: type, code, checksum and four type-specific bytes.
pub const HEADER_LEN: usize = 8;
/// Bytes of the quoted datagram's payload an error must carry (RFC 792: "64 bits").
pub const QUOTED_PAYLOAD_LEN: usize = 8;

/// Message types.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
}

/// The 8-byte ICMP header.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct Icmpv4Header {
    /// Message type.
    pub msg_type: u8,
    /// Code within the type.
    pub code: u8,
    /// Checksum over the whole message.
    pub checksum: U16,
    /// Type-specific: identifier and sequence number for echo, next-hop MTU for
    /// fragmentation needed, pointer for parameter problem.
    pub rest: [u8; 4],
}

/// The code of a destination-unreachable message (RFC 792, RFC 1122 §3.2.2.1, RFC 1812
/// §5.2.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DstUnreachableCode {
    /// 0: net unreachable.
    NetUnreachable,
    /// 1: host unreachable.
    HostUnreachable,
    /// 2: protocol unreachable.
    ProtocolUnreachable,
    /// 3: port unreachable.
    PortUnreachable,
    /// 4: fragmentation needed and DF set (carries the next-hop MTU, RFC 1191).
    FragNeeded,
    /// 5: source route failed.
    SourceRouteFailed,
    /// 6: destination network unknown.
    NetUnknown,
    /// 7: destination host unknown.
    HostUnknown,
    /// 8: source host isolated.
    SourceHostIsolated,
    /// 9: network administratively prohibited.
    NetProhibited,
    /// 10: host administratively prohibited.
    HostProhibited,
    /// 11: network unreachable for the type of service.
    NetUnreachableTos,
    /// 12: host unreachable for the type of service.
    HostUnreachableTos,
    /// 13: communication administratively prohibited.
    CommProhibited,
    /// 14: host precedence violation.
    HostPrecedenceViolation,
    /// 15: precedence cutoff in effect.
    PrecedenceCutoff,
    /// Any other code.
    Other(u8),
}

impl From<u8> for DstUnreachableCode {
    fn from(v: u8) -> Self {
        use DstUnreachableCode::*;
        match v {
            0 => NetUnreachable,
            1 => HostUnreachable,
            2 => ProtocolUnreachable,
            3 => PortUnreachable,
            4 => FragNeeded,
            5 => SourceRouteFailed,
            6 => NetUnknown,
            7 => HostUnknown,
            8 => SourceHostIsolated,
            9 => NetProhibited,
            10 => HostProhibited,
            11 => NetUnreachableTos,
            12 => HostUnreachableTos,
            13 => CommProhibited,
            14 => HostPrecedenceViolation,
            15 => PrecedenceCutoff,
            other => Other(other),
        }
    }
}

impl From<DstUnreachableCode> for u8 {
    fn from(c: DstUnreachableCode) -> u8 {
        use DstUnreachableCode::*;
        match c {
            NetUnreachable => 0,
            HostUnreachable => 1,
            ProtocolUnreachable => 2,
            PortUnreachable => 3,
            FragNeeded => 4,
            SourceRouteFailed => 5,
            NetUnknown => 6,
            HostUnknown => 7,
            SourceHostIsolated => 8,
            NetProhibited => 9,
            HostProhibited => 10,
            NetUnreachableTos => 11,
            HostUnreachableTos => 12,
            CommProhibited => 13,
            HostPrecedenceViolation => 14,
            PrecedenceCutoff => 15,
            Other(v) => v,
        }
    }
}

/// A checked view of an ICMP message: at least the 8-byte header. The checksum is not
/// checked here (see [`Icmpv4Packet::checksum_valid`]). No accessor can panic once
/// constructed.
#[derive(Clone, Copy)]
pub struct Icmpv4Packet<'a> {
    header: &'a Icmpv4Header,
    data: &'a [u8],
    whole: &'a [u8],
}

impl<'a> Icmpv4Packet<'a> {
    /// Checks that `buf` (the IP payload) holds the header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, data) =
            Icmpv4Header::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        Ok(Icmpv4Packet {
            header,
            data,
            whole: buf,
        })
    }
    /// The header.
    pub fn header(&self) -> &'a Icmpv4Header {
        self.header
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.header.msg_type
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.header.code
    }
    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Echo identifier (bytes 4-5).
    pub fn echo_ident(&self) -> u16 {
        u16::from_be_bytes([self.header.rest[0], self.header.rest[1]])
    }
    /// Echo sequence number (bytes 6-7).
    pub fn echo_seq_no(&self) -> u16 {
        u16::from_be_bytes([self.header.rest[2], self.header.rest[3]])
    }
    /// Next-hop MTU of a fragmentation-needed message (bytes 6-7, RFC 1191 §4); zero from
    /// routers that predate RFC 1191.
    pub fn next_hop_mtu(&self) -> u16 {
        self.echo_seq_no()
    }
    /// Everything after the 8-byte header: echo data, or the quoted datagram.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Whether the checksum over the whole message is correct.
    pub fn checksum_valid(&self) -> bool {
        checksum(self.whole) == 0
    }
}

/// What an ICMP error tells about the datagram it quotes: the header fields the transport
/// layer needs to find the connection it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuotedIpv4 {
    /// Source of the quoted datagram (our address, if we sent it).
    pub src: Ipv4Addr,
    /// Destination of the quoted datagram.
    pub dst: Ipv4Addr,
    /// Its protocol.
    pub protocol: IpProtocol,
    /// Its header length, options included: the quoted payload starts here.
    pub header_len: usize,
}

impl QuotedIpv4 {
    /// Reads the quoted datagram at the front of `quote`. It must be IPv4 with a header
    /// that fits and at least [`QUOTED_PAYLOAD_LEN`] bytes after it; its total length may
    /// exceed what was quoted.
    pub fn parse(quote: &[u8]) -> Result<QuotedIpv4, WireError> {
        let (h, _) = Ipv4Header::ref_from_prefix(quote).map_err(|_| WireError::Truncated)?;
        if h.version() != 4 {
            return Err(WireError::Unsupported);
        }
        let header_len = h.header_len();
        if header_len < ipv4::HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if quote.len() < header_len + QUOTED_PAYLOAD_LEN {
            return Err(WireError::Truncated);
        }
        Ok(QuotedIpv4 {
            src: h.src_addr(),
            dst: h.dst_addr(),
            protocol: h.protocol(),
            header_len,
        })
    }
}

/// A parsed ICMP message. Data and quotes borrow from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (type 8).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data, to be returned in the reply.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data of the request.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Why.
        code: DstUnreachableCode,
        /// Next-hop MTU (RFC 1191), meaningful for [`DstUnreachableCode::FragNeeded`]
        /// only; zero otherwise and from old routers.
        next_hop_mtu: u16,
        /// The quoted datagram's header, read from `data`.
        header: QuotedIpv4,
        /// The quote: the datagram's IP header and at least its first 8 payload bytes.
        data: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// 0: TTL exceeded in transit; 1: fragment reassembly time exceeded.
        code: u8,
        /// The quoted datagram's header, read from `data`.
        header: QuotedIpv4,
        /// The quote.
        data: &'a [u8],
    },
    /// Parameter problem (type 12).
    ParamProblem {
        /// 0: `pointer` marks the bad octet; others per RFC 1122/1812.
        code: u8,
        /// Offset of the offending octet in the quoted header.
        pointer: u8,
        /// The quoted datagram's header, read from `data`.
        header: QuotedIpv4,
        /// The quote.
        data: &'a [u8],
    },
    /// Any other type (source quench, redirect, timestamp, ...): kept whole so it can be
    /// counted and ignored.
    Other {
        /// Message type (not one of the above).
        msg_type: u8,
        /// Code.
        code: u8,
        /// The four type-specific header bytes.
        rest: [u8; 4],
        /// The data after the header.
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a checked message and verifies its checksum ([`WireError::BadChecksum`]).
    ///
    /// The code of an echo message is not kept. An error message whose quote is not an
    /// IPv4 header followed by 8 bytes is [`WireError::Truncated`],
    /// [`WireError::Malformed`] or [`WireError::Unsupported`] (see [`QuotedIpv4::parse`]).
    pub fn parse(packet: &Icmpv4Packet<'a>) -> Result<Icmpv4Repr<'a>, WireError> {
        if !packet.checksum_valid() {
            return Err(WireError::BadChecksum);
        }
        let data = packet.data();
        let repr = match packet.msg_type() {
            msg_type::ECHO_REQUEST => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            msg_type::ECHO_REPLY => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            msg_type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code: DstUnreachableCode::from(packet.code()),
                next_hop_mtu: packet.next_hop_mtu(),
                header: QuotedIpv4::parse(data)?,
                data,
            },
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code: packet.code(),
                header: QuotedIpv4::parse(data)?,
                data,
            },
            msg_type::PARAM_PROBLEM => Icmpv4Repr::ParamProblem {
                code: packet.code(),
                pointer: packet.header().rest[0],
                header: QuotedIpv4::parse(data)?,
                data,
            },
            other => Icmpv4Repr::Other {
                msg_type: other,
                code: packet.code(),
                rest: packet.header().rest,
                data,
            },
        };
        Ok(repr)
    }

    /// The data after the header: echo data or the quote.
    pub fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. }
            | Icmpv4Repr::ParamProblem { data, .. }
            | Icmpv4Repr::Other { data, .. } => data,
        }
    }

    /// For an error message, the quoted datagram's header and the payload bytes quoted
    /// after it (at least 8).
    pub fn quoted(&self) -> Option<(QuotedIpv4, &'a [u8])> {
        match *self {
            Icmpv4Repr::DstUnreachable { header, data, .. }
            | Icmpv4Repr::TimeExceeded { header, data, .. }
            | Icmpv4Repr::ParamProblem { header, data, .. } => {
                Some((header, data.get(header.header_len..).unwrap_or(&[])))
            }
            _ => None,
        }
    }

    /// Length of the message: header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.data().len())
    }

    /// Writes the message with its checksum to the front of `buf`, which must hold
    /// [`Icmpv4Repr::buffer_len`] bytes, and returns that length. The data is copied and
    /// summed in one pass. For error messages `data` is written as it is (`header` is
    /// only a reading of it).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        let (hbuf, dbuf) = out.split_at_mut(HEADER_LEN);
        let (msg_type, code, rest) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no))
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no))
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => {
                let m = next_hop_mtu.to_be_bytes();
                (msg_type::DST_UNREACHABLE, code.into(), [0, 0, m[0], m[1]])
            }
            Icmpv4Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, [0; 4]),
            Icmpv4Repr::ParamProblem { code, pointer, .. } => {
                (msg_type::PARAM_PROBLEM, code, [pointer, 0, 0, 0])
            }
            Icmpv4Repr::Other {
                msg_type,
                code,
                rest,
                ..
            } => (msg_type, code, rest),
        };
        let mut sum = Checksum::new();
        sum.add_u16(u16::from_be_bytes([msg_type, code]));
        sum.add_u16(u16::from_be_bytes([rest[0], rest[1]]));
        sum.add_u16(u16::from_be_bytes([rest[2], rest[3]]));
        let mut body = Checksum::new();
        body.copy_and_add(dbuf, self.data());
        sum.combine(body, dbuf.len());
        let header = Icmpv4Header {
            msg_type,
            code,
            checksum: U16::new(sum.finish()),
            rest,
        };
        hbuf.copy_from_slice(header.as_bytes());
        Ok(len)
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> [u8; 4] {
    let i = ident.to_be_bytes();
    let s = seq_no.to_be_bytes();
    [i[0], i[1], s[0], s[1]]
}

/// Frames captured from `ping -c1 127.0.0.1` on Linux loopback (zero MACs), for tests
/// here and in `ip`.
#[cfg(test)]
pub(crate) mod vectors {
    /// Ethernet + IPv4 + ICMP echo request, 56 data bytes.
    pub const PING_REQUEST: [u8; 98] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x54, 0xae, 0xd1, 0x40, 0x00, 0x40, 0x01, 0x8d, 0xd5, 0x7f, 0x00, 0x00, 0x01,
        0x7f, 0x00, 0x00, 0x01, 0x08, 0x00, 0xa4, 0xac, 0x3a, 0x13, 0x00, 0x01, 0x27, 0xbb, 0x06,
        0x6b, 0x00, 0x00, 0x00, 0x00, 0x29, 0x46, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
        0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
        0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];
    /// Linux's reply to it.
    pub const PING_REPLY: [u8; 98] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x54, 0xae, 0xd2, 0x00, 0x00, 0x40, 0x01, 0xcd, 0xd4, 0x7f, 0x00, 0x00, 0x01,
        0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0xac, 0xac, 0x3a, 0x13, 0x00, 0x01, 0x27, 0xbb, 0x06,
        0x6b, 0x00, 0x00, 0x00, 0x00, 0x29, 0x46, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
        0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
        0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];
    /// Offset of the ICMP message in the frames (Ethernet 14 + IPv4 20).
    pub const ICMP_AT: usize = 34;
}

#[cfg(test)]
mod tests {
    use super::vectors::*;
    use super::*;
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
    use proptest::prelude::*;

    #[test]
    fn captured_ping() {
        let ip = Ipv4Packet::new_checked(&PING_REQUEST[14..]).unwrap();
        assert!(ip.checksum_valid());
        let p = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert!(p.checksum_valid());
        assert_eq!(p.checksum(), 0xa4ac);
        let r = Icmpv4Repr::parse(&p).unwrap();
        let data = &PING_REQUEST[ICMP_AT + 8..];
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x3a13,
                seq_no: 1,
                data
            }
        );
        // Our reply's ICMP part matches the reply Linux sent, checksum included.
        let reply = Icmpv4Repr::EchoReply {
            ident: 0x3a13,
            seq_no: 1,
            data,
        };
        let mut buf = [0u8; 64];
        assert_eq!(reply.emit(&mut buf), Ok(64));
        assert_eq!(&buf[..], &PING_REPLY[ICMP_AT..]);
        assert_eq!(reply.emit(&mut buf[..63]), Err(WireError::Truncated));
    }

    #[test]
    fn bad_checksum() {
        let mut f = PING_REQUEST;
        f[ICMP_AT + 20] ^= 1;
        let p = Icmpv4Packet::new_checked(&f[ICMP_AT..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p), Err(WireError::BadChecksum));
        assert_eq!(
            Icmpv4Packet::new_checked(&f[ICMP_AT..ICMP_AT + 7]).err(),
            Some(WireError::Truncated)
        );
    }

    /// A quoted TCP SYN from 10.7.0.2:49152 to 93.184.216.34:80, seq 0x01020304.
    fn quoted_syn() -> [u8; 28] {
        let ip = Ipv4Repr {
            src: Ipv4Addr::new(10, 7, 0, 2),
            dst: Ipv4Addr::new(93, 184, 216, 34),
            protocol: IpProtocol::Tcp,
            payload_len: 40,
            ttl: 63,
            ident: 7,
            dont_frag: true,
        };
        let mut q = [0u8; 28];
        ip.emit(&mut q).unwrap();
        q[20..28].copy_from_slice(&[0xc0, 0x00, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04]);
        q
    }

    #[test]
    fn frag_needed_round_trip() {
        let q = quoted_syn();
        let header = QuotedIpv4::parse(&q).unwrap();
        assert_eq!(header.dst, Ipv4Addr::new(93, 184, 216, 34));
        let r = Icmpv4Repr::DstUnreachable {
            code: DstUnreachableCode::FragNeeded,
            next_hop_mtu: 1400,
            header,
            data: &q,
        };
        let mut buf = [0u8; 36];
        assert_eq!(r.emit(&mut buf), Ok(36));
        assert_eq!(&buf[..8], &[3, 4, buf[2], buf[3], 0, 0, 0x05, 0x78]);
        let p = Icmpv4Packet::new_checked(&buf).unwrap();
        let back = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(back, r);
        let (h, payload) = back.quoted().unwrap();
        assert_eq!(h.protocol, IpProtocol::Tcp);
        assert_eq!(payload, &[0xc0, 0x00, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04]);
    }

    #[test]
    fn short_or_bad_quotes() {
        let q = quoted_syn();
        assert_eq!(QuotedIpv4::parse(&q[..27]), Err(WireError::Truncated));
        assert_eq!(QuotedIpv4::parse(&q[..19]), Err(WireError::Truncated));
        let mut b = q;
        b[0] = 0x44;
        assert_eq!(QuotedIpv4::parse(&b), Err(WireError::Malformed));
        b[0] = 0x60;
        assert_eq!(QuotedIpv4::parse(&b), Err(WireError::Unsupported));
        // An unreachable with a short quote fails to parse even with a good checksum.
        let r = Icmpv4Repr::Other {
            msg_type: 3,
            code: 1,
            rest: [0; 4],
            data: &q[..24],
        };
        let mut buf = [0u8; 32];
        r.emit(&mut buf).unwrap();
        let p = Icmpv4Packet::new_checked(&buf).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p), Err(WireError::Truncated));
    }

    #[test]
    fn other_errors_round_trip() {
        let q = quoted_syn();
        let header = QuotedIpv4::parse(&q).unwrap();
        for r in [
            Icmpv4Repr::TimeExceeded {
                code: 0,
                header,
                data: &q,
            },
            Icmpv4Repr::ParamProblem {
                code: 0,
                pointer: 9,
                header,
                data: &q,
            },
            Icmpv4Repr::Other {
                msg_type: 5,
                code: 1,
                rest: [10, 7, 0, 1],
                data: &q,
            },
        ] {
            let mut buf = [0u8; 36];
            r.emit(&mut buf).unwrap();
            let p = Icmpv4Packet::new_checked(&buf).unwrap();
            assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), fix in any::<bool>()) {
            let mut bytes = bytes;
            if fix && bytes.len() >= 4 {
                // Make the checksum right so the type-specific parsing runs.
                bytes[2] = 0;
                bytes[3] = 0;
                let c = checksum(&bytes);
                bytes[2..4].copy_from_slice(&c.to_be_bytes());
            }
            if let Ok(p) = Icmpv4Packet::new_checked(&bytes) {
                if let Ok(r) = Icmpv4Repr::parse(&p) {
                    let _ = r.quoted();
                    let mut out = std::vec![0u8; r.buffer_len()];
                    prop_assert_eq!(r.emit(&mut out), Ok(bytes.len()));
                }
            }
        }

        #[test]
        fn echo_round_trip(req in any::<bool>(), ident in any::<u16>(), seq_no in any::<u16>(),
                           data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = if req {
                Icmpv4Repr::EchoRequest { ident, seq_no, data: &data }
            } else {
                Icmpv4Repr::EchoReply { ident, seq_no, data: &data }
            };
            let mut buf = std::vec![0u8; r.buffer_len()];
            r.emit(&mut buf).unwrap();
            let p = Icmpv4Packet::new_checked(&buf).unwrap();
            prop_assert!(p.checksum_valid());
            prop_assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        }

        #[test]
        fn unreachable_round_trip(code in any::<u8>(), mtu in any::<u16>(), src in any::<u32>(), dst in any::<u32>(),
                                  proto in any::<u8>(), extra in proptest::collection::vec(any::<u8>(), 8..64)) {
            let ip = Ipv4Repr {
                src: Ipv4Addr::from_bits(src),
                dst: Ipv4Addr::from_bits(dst),
                protocol: IpProtocol::from(proto),
                payload_len: 1000,
                ttl: 1,
                ident: 0,
                dont_frag: true,
            };
            let mut quote = std::vec![0u8; 20];
            ip.emit(&mut quote).unwrap();
            quote.extend_from_slice(&extra);
            let header = QuotedIpv4::parse(&quote).unwrap();
            let r = Icmpv4Repr::DstUnreachable { code: code.into(), next_hop_mtu: mtu, header, data: &quote };
            let mut buf = std::vec![0u8; r.buffer_len()];
            r.emit(&mut buf).unwrap();
            let p = Icmpv4Packet::new_checked(&buf).unwrap();
            prop_assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        }
    }
}
