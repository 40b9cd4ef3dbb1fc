//! ICMPv6 (RFC 4443): echo request and reply, the error messages that quote a packet
//! (destination unreachable, packet too big, time exceeded, parameter problem), the
//! Neighbor Discovery messages ([`super::ndisc`]), the MLD query a host answers and the
//! MLDv2 report it sends (RFC 3810). Other types are parsed far enough to be counted and
//! ignored.
//!
//! The checksum covers the IPv6 pseudo header, so parsing and emitting take the
//! packet's source and destination.

use core::net::Ipv6Addr;

use super::WireError;
use super::checksum::Checksum;
use super::ipv6::{self, HEADER_LEN as IPV6_HEADER_LEN, Ipv6Header, next_header};
use super::ndisc::{NdiscIp, NdiscRepr};
use zerocopy::FromBytes;

/// Length of the ICMPv6 header: type, code, checksum and four type-specific bytes.
pub const HEADER_LEN: usize = 8;
/// The most of an offending packet an error quotes: what keeps the error within the
/// minimum MTU (RFC 4443 §2.4 (c)).
pub const MAX_QUOTE_LEN: usize = ipv6::MIN_MTU - IPV6_HEADER_LEN - HEADER_LEN;
/// Bytes of the quoted packet's upper layer an error must carry for tidytcp to use it
/// (TCP's ports and sequence number).
pub const QUOTED_UPPER_LEN: usize = 8;

/// Message types.
pub mod msg_type {
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Multicast Listener Query (MLDv1 and MLDv2).
    pub const MLD_QUERY: u8 = 130;
    /// Router Solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router Advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor Solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor Advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
    /// Version 2 Multicast Listener Report.
    pub const MLDV2_REPORT: u8 = 143;
}

/// MLDv2 record type for joining a group from all sources (RFC 3810 §5.2.12).
pub const CHANGE_TO_EXCLUDE: u8 = 4;
/// MLDv2 record type for answering a query about a group held from all sources.
pub const MODE_IS_EXCLUDE: u8 = 2;
/// MLDv2 record type for leaving a group.
pub const CHANGE_TO_INCLUDE: u8 = 3;

/// What an ICMPv6 error tells about the packet it quotes: the fields the transport layer
/// needs to find the connection it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuotedIpv6 {
    /// Source of the quoted packet (our address, if we sent it).
    pub src: Ipv6Addr,
    /// Destination of the quoted packet.
    pub dst: Ipv6Addr,
    /// The upper-layer protocol, after any extension headers.
    pub protocol: u8,
    /// Where the upper layer starts in the quote.
    pub upper_offset: usize,
}

impl QuotedIpv6 {
    /// Reads the quoted packet at the front of `quote`: an IPv6 header, its extension
    /// headers and at least [`QUOTED_UPPER_LEN`] bytes of the upper layer. The quote may
    /// end before the packet's payload length says.
    pub fn parse(quote: &[u8]) -> Result<QuotedIpv6, WireError> {
        let (h, rest) = Ipv6Header::ref_from_prefix(quote).map_err(|_| WireError::Truncated)?;
        if h.ver_tc_flow.get() >> 28 != 6 {
            return Err(WireError::Unsupported);
        }
        let upper = ipv6::walk_extensions(h.next_header, rest, false)
            .map_err(|_| WireError::Unsupported)?;
        if upper.data.len() < QUOTED_UPPER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(QuotedIpv6 {
            src: Ipv6Addr::from(h.src),
            dst: Ipv6Addr::from(h.dst),
            protocol: upper.protocol,
            upper_offset: IPV6_HEADER_LEN + upper.offset,
        })
    }
}

/// A parsed ICMPv6 message. Data and quotes borrow from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr<'a> {
    /// Echo request (type 128).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data, to be returned in the reply.
        data: &'a [u8],
    },
    /// Echo reply (type 129).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data of the request.
        data: &'a [u8],
    },
    /// Destination unreachable (type 1): code 0 no route, 1 administratively
    /// prohibited, 3 address unreachable, 4 port unreachable, and others.
    DstUnreachable {
        /// Why.
        code: u8,
        /// The quoted packet's header, read from `data` (`None` when emitting is all the
        /// message is for, or when the quote is unusable).
        header: Option<QuotedIpv6>,
        /// The quote: as much of the offending packet as fits.
        data: &'a [u8],
    },
    /// Packet too big (type 2): the next hop's MTU, for path MTU discovery (RFC 8201).
    PacketTooBig {
        /// The MTU of the link the packet did not fit.
        mtu: u32,
        /// The quoted packet's header, read from `data`.
        header: Option<QuotedIpv6>,
        /// The quote.
        data: &'a [u8],
    },
    /// Time exceeded (type 3): 0 hop limit exceeded, 1 reassembly time exceeded.
    TimeExceeded {
        /// The code.
        code: u8,
        /// The quoted packet's header, read from `data`.
        header: Option<QuotedIpv6>,
        /// The quote.
        data: &'a [u8],
    },
    /// Parameter problem (type 4).
    ParamProblem {
        /// 0 erroneous header field, 1 unrecognised Next Header, 2 unrecognised option.
        code: u8,
        /// The offending octet's offset in the quoted packet.
        pointer: u32,
        /// The quoted packet's header, read from `data`.
        header: Option<QuotedIpv6>,
        /// The quote.
        data: &'a [u8],
    },
    /// A Neighbor Discovery message, validated.
    Ndisc(NdiscRepr<'a>),
    /// A Multicast Listener Query (MLDv1 or MLDv2; the MLDv2 source list is not kept,
    /// since a host that listens to all sources answers the same).
    MldQuery {
        /// Maximum response delay code (milliseconds below 32768).
        max_resp_code: u16,
        /// The group asked about; unspecified for a general query.
        group: Ipv6Addr,
    },
    /// Any other type: kept whole so it can be counted and ignored.
    Other {
        /// Message type.
        msg_type: u8,
        /// Code.
        code: u8,
        /// The four type-specific header bytes.
        rest: [u8; 4],
        /// The data after the header.
        data: &'a [u8],
    },
}

/// The IPv6 header fields an ICMPv6 message is checked and summed against.
pub type Icmpv6Ip = NdiscIp;

fn message_sum(ip: &Icmpv6Ip, msg: &[u8]) -> u16 {
    let mut c: Checksum =
        ipv6::pseudo_header(ip.src, ip.dst, next_header::ICMPV6, msg.len() as u32);
    c.add_bytes(msg);
    c.finish()
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses `msg` (the upper-layer bytes of a packet received with `ip`) and verifies
    /// its checksum ([`WireError::BadChecksum`]). Neighbor Discovery messages are
    /// validated too (see [`super::ndisc`]); an error message's quote that cannot be read
    /// leaves `header` at `None` rather than failing the message.
    pub fn parse(ip: Icmpv6Ip, msg: &'a [u8]) -> Result<Icmpv6Repr<'a>, WireError> {
        if msg.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if message_sum(&ip, msg) != 0 {
            return Err(WireError::BadChecksum);
        }
        let (ty, code) = (msg[0], msg[1]);
        let rest = [msg[4], msg[5], msg[6], msg[7]];
        let data = &msg[HEADER_LEN..];
        let word = u32::from_be_bytes(rest);
        let half = |i: usize| u16::from_be_bytes([rest[i], rest[i + 1]]);
        // Only error messages quote a packet: the others skip the extension-header walk.
        let header = is_error(ty).then(|| QuotedIpv6::parse(data).ok()).flatten();
        Ok(match ty {
            msg_type::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: half(0),
                seq_no: half(2),
                data,
            },
            msg_type::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: half(0),
                seq_no: half(2),
                data,
            },
            msg_type::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, header, data },
            msg_type::PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: word,
                header,
                data,
            },
            msg_type::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, header, data },
            msg_type::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: word,
                header,
                data,
            },
            msg_type::MLD_QUERY => Self::parse_query(ip, data, half(0))?,
            msg_type::ROUTER_SOLICIT..=msg_type::REDIRECT => {
                Icmpv6Repr::Ndisc(NdiscRepr::parse(ip, ty, code, &msg[4..])?)
            }
            msg_type => Icmpv6Repr::Other {
                msg_type,
                code,
                rest,
                data,
            },
        })
    }

    /// An MLD query (RFC 3810 §5.1, §6.2): from a link-local source with hop limit 1.
    fn parse_query(ip: Icmpv6Ip, data: &[u8], max_resp_code: u16) -> Result<Self, WireError> {
        if !ip.src.is_unicast_link_local() || ip.hop_limit != 1 {
            return Err(WireError::Malformed);
        }
        let g: [u8; 16] = data
            .get(..16)
            .and_then(|g| g.try_into().ok())
            .ok_or(WireError::Truncated)?;
        Ok(Icmpv6Repr::MldQuery {
            max_resp_code,
            group: Ipv6Addr::from(g),
        })
    }

    /// For an error message, the quoted packet's header and its upper-layer bytes.
    pub fn quoted(&self) -> Option<(QuotedIpv6, &'a [u8])> {
        match *self {
            Icmpv6Repr::DstUnreachable { header, data, .. }
            | Icmpv6Repr::PacketTooBig { header, data, .. }
            | Icmpv6Repr::TimeExceeded { header, data, .. }
            | Icmpv6Repr::ParamProblem { header, data, .. } => {
                header.map(|h| (h, data.get(h.upper_offset..).unwrap_or(&[])))
            }
            _ => None,
        }
    }

    /// The type, code, four type-specific bytes and data of a message [`emit`] can
    /// write: everything but Neighbor Discovery (written by [`NdiscRepr::emit_body`]
    /// behind the same header) and queries (a host sends none).
    ///
    /// [`emit`]: Icmpv6Repr::emit
    fn parts(&self) -> Result<Parts<'a>, WireError> {
        let echo = |i: u16, s: u16| {
            let (i, s) = (i.to_be_bytes(), s.to_be_bytes());
            [i[0], i[1], s[0], s[1]]
        };
        Ok(match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REQUEST, 0, echo(ident, seq_no), data),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REPLY, 0, echo(ident, seq_no), data),
            Icmpv6Repr::DstUnreachable { code, data, .. } => {
                (msg_type::DST_UNREACHABLE, code, [0; 4], data)
            }
            Icmpv6Repr::PacketTooBig { mtu, data, .. } => {
                (msg_type::PACKET_TOO_BIG, 0, mtu.to_be_bytes(), data)
            }
            Icmpv6Repr::TimeExceeded { code, data, .. } => {
                (msg_type::TIME_EXCEEDED, code, [0; 4], data)
            }
            Icmpv6Repr::ParamProblem {
                code,
                pointer,
                data,
                ..
            } => (msg_type::PARAM_PROBLEM, code, pointer.to_be_bytes(), data),
            Icmpv6Repr::Other {
                msg_type,
                code,
                rest,
                data,
            } => (msg_type, code, rest, data),
            Icmpv6Repr::Ndisc(_) | Icmpv6Repr::MldQuery { .. } => {
                return Err(WireError::Unsupported);
            }
        })
    }

    /// Length of the message [`Icmpv6Repr::emit`] writes. An error message's quote is
    /// cut to [`MAX_QUOTE_LEN`].
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::Ndisc(n) => 4 + n.body_len(),
            Icmpv6Repr::MldQuery { .. } => HEADER_LEN + 16,
            _ => self
                .parts()
                .map_or(0, |(ty, _, _, d)| HEADER_LEN + quote_len(ty, d)),
        }
    }

    /// Writes the message with its checksum for a packet sent with `ip` to the front of
    /// `buf`, and returns its length ([`Icmpv6Repr::buffer_len`]). An MLD query is
    /// [`WireError::Unsupported`]: a host sends none.
    pub fn emit(&self, ip: Icmpv6Ip, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        if let Icmpv6Repr::Ndisc(n) = self {
            out[0] = n.msg_type();
            out[1] = 0;
            n.emit_body(&mut out[4..])?;
        } else {
            let (ty, code, rest, data) = self.parts()?;
            out[..2].copy_from_slice(&[ty, code]);
            out[4..8].copy_from_slice(&rest);
            out[8..].copy_from_slice(&data[..len - HEADER_LEN]);
        }
        out[2..4].fill(0);
        let sum = message_sum(&ip, out);
        out[2..4].copy_from_slice(&sum.to_be_bytes());
        Ok(len)
    }
}

/// Whether type `ty` is an error message (RFC 4443 §2.1: the high-order bit clear).
fn is_error(ty: u8) -> bool {
    ty < 128
}

/// A message's type, code, four type-specific header bytes and data.
type Parts<'a> = (u8, u8, [u8; 4], &'a [u8]);

/// How much of `data` a message of type `ty` carries: error quotes are cut to
/// [`MAX_QUOTE_LEN`].
fn quote_len(ty: u8, data: &[u8]) -> usize {
    if is_error(ty) {
        data.len().min(MAX_QUOTE_LEN)
    } else {
        data.len()
    }
}

/// Length of an MLDv2 report with `groups.len()` records and no sources.
pub const fn mldv2_report_len(groups: usize) -> usize {
    HEADER_LEN + 20 * groups
}

/// Writes an MLDv2 report (RFC 3810 §5.2) with one source-less record of `record_type`
/// ([`CHANGE_TO_EXCLUDE`] to join, [`MODE_IS_EXCLUDE`] to answer a query,
/// [`CHANGE_TO_INCLUDE`] to leave) per group, checksummed for `ip` (a link-local or the
/// unspecified source, to [`ipv6::ALL_MLDV2_ROUTERS`], hop limit 1, with the Router
/// Alert option: see [`ipv6::ROUTER_ALERT_HBH`]). Returns the length.
pub fn emit_mldv2_report(
    ip: Icmpv6Ip,
    record_type: u8,
    groups: &[Ipv6Addr],
    buf: &mut [u8],
) -> Result<usize, WireError> {
    let len = mldv2_report_len(groups.len());
    let n = u16::try_from(groups.len()).map_err(|_| WireError::Malformed)?;
    let out = buf.get_mut(..len).ok_or(WireError::Truncated)?;
    out.fill(0);
    out[0] = msg_type::MLDV2_REPORT;
    out[6..8].copy_from_slice(&n.to_be_bytes());
    for (rec, g) in out[HEADER_LEN..].chunks_exact_mut(20).zip(groups) {
        rec[0] = record_type;
        rec[4..20].copy_from_slice(&g.octets());
    }
    let sum = message_sum(&ip, out);
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(len)
}

/// Whether `msg`, an ICMPv6 message received with `ip`, has a correct checksum.
pub fn checksum_valid(ip: Icmpv6Ip, msg: &[u8]) -> bool {
    message_sum(&ip, msg) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::EthernetAddress;
    use crate::wire::ipv6::Ipv6Repr;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn ip(src: &str, dst: &str, hop_limit: u8) -> Icmpv6Ip {
        Icmpv6Ip {
            src: a(src),
            dst: a(dst),
            hop_limit,
        }
    }

    #[test]
    fn echo_round_trip_and_checksum() {
        let i = ip("fe80::1", "fe80::2", 64);
        let req = Icmpv6Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"abcdefg",
        };
        let mut b = [0u8; 64];
        let n = req.emit(i, &mut b).unwrap();
        assert_eq!(n, 15);
        assert_eq!(Icmpv6Repr::parse(i, &b[..n]), Ok(req));
        assert!(checksum_valid(i, &b[..n]));
        // The pseudo header counts: another destination fails the sum.
        assert_eq!(
            Icmpv6Repr::parse(ip("fe80::1", "fe80::3", 64), &b[..n]),
            Err(WireError::BadChecksum)
        );
        b[9] ^= 1;
        assert_eq!(Icmpv6Repr::parse(i, &b[..n]), Err(WireError::BadChecksum));
        assert_eq!(Icmpv6Repr::parse(i, &b[..7]), Err(WireError::Truncated));
    }

    /// An offending TCP packet behind a Destination Options header, as an error quotes it.
    fn offending() -> [u8; 68] {
        let mut p = [0u8; 68];
        Ipv6Repr {
            src: a("2001:db8::1"),
            dst: a("2001:db8::2"),
            next_header: next_header::DEST_OPTS,
            payload_len: 28,
            hop_limit: 64,
        }
        .emit(&mut p)
        .unwrap();
        p[40] = next_header::TCP;
        p[42] = 1; // PadN, 4 bytes
        p[43] = 4;
        p[48..52].copy_from_slice(&[0x30, 0x39, 0x00, 0x50]);
        p
    }

    #[test]
    fn errors_quote_the_offending_packet() {
        let quote = offending();
        let i = ip("2001:db8::ff", "2001:db8::1", 64);
        let ptb = Icmpv6Repr::PacketTooBig {
            mtu: 1400,
            header: None,
            data: &quote,
        };
        let mut b = [0u8; 128];
        let n = ptb.emit(i, &mut b).unwrap();
        let parsed = Icmpv6Repr::parse(i, &b[..n]).unwrap();
        let Icmpv6Repr::PacketTooBig { mtu, .. } = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(mtu, 1400);
        let (h, upper) = parsed.quoted().unwrap();
        assert_eq!(
            (h.src, h.dst, h.protocol, h.upper_offset),
            (a("2001:db8::1"), a("2001:db8::2"), 6, 48)
        );
        assert_eq!(&upper[..4], &[0x30, 0x39, 0x00, 0x50]);
        // A quote too short for the ports still parses, with no header.
        let short = Icmpv6Repr::DstUnreachable {
            code: 4,
            header: None,
            data: &quote[..50],
        };
        let n = short.emit(i, &mut b).unwrap();
        assert_eq!(Icmpv6Repr::parse(i, &b[..n]).unwrap().quoted(), None);
    }

    #[test]
    fn long_quotes_are_cut_to_the_minimum_mtu() {
        let big = [0u8; 1600];
        let e = Icmpv6Repr::ParamProblem {
            code: 1,
            pointer: 6,
            header: None,
            data: &big,
        };
        assert_eq!(IPV6_HEADER_LEN + e.buffer_len(), ipv6::MIN_MTU);
        let mut b = [0u8; 1600];
        let i = ip("fe80::1", "fe80::2", 64);
        let n = e.emit(i, &mut b).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(i, &b[..n]),
            Ok(Icmpv6Repr::ParamProblem {
                code: 1,
                pointer: 6,
                ..
            })
        ));
    }

    #[test]
    fn neighbor_discovery_inside_icmpv6() {
        let i = ip("fe80::7", "ff02::1:ff00:1", 255);
        let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
            target: a("fe80::1"),
            lladdr: Some(EthernetAddress([2, 0, 0, 0, 0, 7])),
        });
        let mut b = [0u8; 64];
        let n = ns.emit(i, &mut b).unwrap();
        assert_eq!(n, 32);
        assert_eq!(Icmpv6Repr::parse(i, &b[..n]), Ok(ns));
        let forwarded = Icmpv6Ip { hop_limit: 64, ..i };
        let n = ns.emit(forwarded, &mut b).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(forwarded, &b[..n]),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn mld() {
        let i = Icmpv6Ip {
            dst: ipv6::ALL_MLDV2_ROUTERS,
            ..ip("fe80::7", "::", 1)
        };
        let groups = [a("ff02::1:ff00:7"), a("ff02::1:ff12:3456")];
        let mut b = [0u8; 64];
        let n = emit_mldv2_report(i, CHANGE_TO_EXCLUDE, &groups, &mut b).unwrap();
        assert_eq!(n, 48);
        assert!(checksum_valid(i, &b[..n]));
        assert_eq!(
            (b[0], b[7], b[8], b[28]),
            (143, 2, CHANGE_TO_EXCLUDE, CHANGE_TO_EXCLUDE)
        );
        assert_eq!(&b[12..28], &groups[0].octets());
        // A general query from the router, and one that did not come from the link.
        let mut q = [0u8; 28];
        q[0] = msg_type::MLD_QUERY;
        q[4..6].copy_from_slice(&10_000u16.to_be_bytes());
        let qi = ip("fe80::1", "ff02::1", 1);
        let sum = message_sum(&qi, &q);
        q[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            Icmpv6Repr::parse(qi, &q),
            Ok(Icmpv6Repr::MldQuery {
                max_resp_code: 10_000,
                group: Ipv6Addr::UNSPECIFIED
            })
        );
        let routed = Icmpv6Ip { hop_limit: 2, ..qi };
        let sum = message_sum(&routed, &{
            let mut z = q;
            z[2..4].fill(0);
            z
        });
        q[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(Icmpv6Repr::parse(routed, &q), Err(WireError::Malformed));
    }
}
