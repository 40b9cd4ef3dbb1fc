//! Neighbor Discovery messages (RFC 4861 §4): Router Solicitation and Advertisement,
//! Neighbor Solicitation and Advertisement, Redirect, and their options (link-layer
//! addresses, Prefix Information, MTU). They travel in ICMPv6 ([`super::icmpv6`]), which
//! checks the checksum and hands the message body here.
//!
//! Parsing applies the validity checks of RFC 4861 §6.1, §7.1 and §8.1 that need only the
//! message and its IP header: hop limit 255, code 0, the minimum lengths, no
//! zero-length option, targets that are not multicast, and the source and destination
//! rules for the unspecified address. A message that fails one is
//! [`WireError::Malformed`], which a receiver silently discards.

use core::net::Ipv6Addr;

use super::WireError;
use super::ethernet::EthernetAddress;
use super::icmpv6::msg_type;

/// Router Advertisement flag: addresses are available from DHCPv6.
pub const RA_MANAGED: u8 = 0x80;
/// Router Advertisement flag: other configuration is available from DHCPv6.
pub const RA_OTHER: u8 = 0x40;
/// Neighbor Advertisement flag: the sender is a router.
pub const NA_ROUTER: u8 = 0x80;
/// Neighbor Advertisement flag: sent in answer to a solicitation.
pub const NA_SOLICITED: u8 = 0x40;
/// Neighbor Advertisement flag: the advertisement should override a cached address.
pub const NA_OVERRIDE: u8 = 0x20;

/// Option types.
pub mod option_type {
    /// Source link-layer address.
    pub const SOURCE_LLADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LLADDR: u8 = 2;
    /// Prefix information.
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected header.
    pub const REDIRECTED_HEADER: u8 = 4;
    /// MTU.
    pub const MTU: u8 = 5;
    /// Recursive DNS Server (RFC 8106 §5.1).
    pub const RDNSS: u8 = 25;
}

/// A Prefix Information option (RFC 4861 §4.6.2): what SLAAC and on-link
/// determination read from a Router Advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrefixInfo {
    /// Valid bits of `prefix`.
    pub prefix_len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: the prefix may be used for stateless address autoconfiguration.
    pub autonomous: bool,
    /// Seconds the prefix stays valid (`u32::MAX`: forever).
    pub valid_lifetime: u32,
    /// Seconds addresses from it stay preferred (`u32::MAX`: forever).
    pub preferred_lifetime: u32,
    /// The prefix.
    pub prefix: Ipv6Addr,
}

/// One option of a Neighbor Discovery message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdiscOption<'a> {
    /// The sender's link-layer address (the first 6 bytes: Ethernet).
    SourceLladdr(EthernetAddress),
    /// The target's link-layer address.
    TargetLladdr(EthernetAddress),
    /// A prefix (only a full 32-byte option; a shorter one is [`NdiscOption::Other`]).
    Prefix(PrefixInfo),
    /// The link MTU a router advertises.
    Mtu(u32),
    /// Any other option, or a known one too short to read: type and body (after the
    /// two type and length bytes). Receivers ignore these (RFC 4861 §4.6).
    Other {
        /// Option type.
        option_type: u8,
        /// The bytes after the type and length.
        data: &'a [u8],
    },
}

/// The options of a message: a byte range whose every option has a non-zero length that
/// fits, as [`NdiscRepr::parse`] checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NdiscOptions<'a>(&'a [u8]);

impl<'a> NdiscOptions<'a> {
    /// Checks that `bytes` is a sequence of options with non-zero lengths that fit.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = 8 * usize::from(*rest.get(1).ok_or(WireError::Malformed)?);
            if len == 0 || len > rest.len() {
                return Err(WireError::Malformed);
            }
            rest = &rest[len..];
        }
        Ok(NdiscOptions(bytes))
    }

    /// The options in order.
    pub fn iter(&self) -> impl Iterator<Item = NdiscOption<'a>> + 'a {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let len = (8 * usize::from(*rest.get(1)?)).clamp(2, rest.len());
            let (opt, tail) = rest.split_at(len);
            rest = tail;
            Some(read_option(opt[0], &opt[2..]))
        })
    }

    /// The first source or target link-layer address option.
    pub fn lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|o| match o {
            NdiscOption::SourceLladdr(a) | NdiscOption::TargetLladdr(a) => Some(a),
            _ => None,
        })
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// The lifetime (seconds, `u32::MAX`: forever) and the servers of a Recursive DNS Server
/// option (RFC 8106 §5.1), from its bytes after type and length ([`NdiscOption::Other`]
/// with [`option_type::RDNSS`]): two reserved bytes, the lifetime, then at least one
/// address. Anything else is `None` (the option is then ignored, §5.3.1).
pub fn rdnss(data: &[u8]) -> Option<(u32, impl Iterator<Item = Ipv6Addr> + '_)> {
    let (head, addrs) = data.split_at_checked(6)?;
    if addrs.is_empty() || addrs.len() % 16 != 0 {
        return None;
    }
    let lifetime = u32::from_be_bytes([head[2], head[3], head[4], head[5]]);
    let servers = addrs
        .chunks_exact(16)
        .filter_map(|c| <[u8; 16]>::try_from(c).ok().map(Ipv6Addr::from));
    Some((lifetime, servers))
}

fn read_option(ty: u8, d: &[u8]) -> NdiscOption<'_> {
    let other = NdiscOption::Other {
        option_type: ty,
        data: d,
    };
    let u32_at = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    match ty {
        option_type::SOURCE_LLADDR | option_type::TARGET_LLADDR if d.len() >= 6 => {
            let mac = EthernetAddress([d[0], d[1], d[2], d[3], d[4], d[5]]);
            if ty == option_type::SOURCE_LLADDR {
                NdiscOption::SourceLladdr(mac)
            } else {
                NdiscOption::TargetLladdr(mac)
            }
        }
        option_type::MTU if d.len() >= 6 => NdiscOption::Mtu(u32_at(2)),
        option_type::PREFIX_INFO if d.len() >= 30 => {
            let mut p = [0u8; 16];
            p.copy_from_slice(&d[14..30]);
            NdiscOption::Prefix(PrefixInfo {
                prefix_len: d[0],
                on_link: d[1] & 0x80 != 0,
                autonomous: d[1] & 0x40 != 0,
                valid_lifetime: u32_at(2),
                preferred_lifetime: u32_at(6),
                prefix: Ipv6Addr::from(p),
            })
        }
        _ => other,
    }
}

/// A parsed Neighbor Discovery message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdiscRepr<'a> {
    /// Router Solicitation (type 133).
    RouterSolicit {
        /// The sender's link-layer address, if it gave one.
        lladdr: Option<EthernetAddress>,
    },
    /// Router Advertisement (type 134).
    RouterAdvert {
        /// Hop limit to use for outgoing packets (0: unspecified).
        hop_limit: u8,
        /// [`RA_MANAGED`], [`RA_OTHER`] and the other flag bits.
        flags: u8,
        /// Seconds the sender stays a default router (0: not a default router).
        router_lifetime: u16,
        /// Milliseconds a neighbour stays reachable after a confirmation (0: unspecified).
        reachable_time: u32,
        /// Milliseconds between retransmitted Neighbor Solicitations (0: unspecified).
        retrans_time: u32,
        /// Source link-layer address, MTU and prefixes, in order.
        options: NdiscOptions<'a>,
    },
    /// Neighbor Solicitation (type 135).
    NeighborSolicit {
        /// The address whose link-layer address is asked for.
        target: Ipv6Addr,
        /// The sender's link-layer address (never present when the source is the
        /// unspecified address, as in Duplicate Address Detection).
        lladdr: Option<EthernetAddress>,
    },
    /// Neighbor Advertisement (type 136).
    NeighborAdvert {
        /// [`NA_ROUTER`], [`NA_SOLICITED`], [`NA_OVERRIDE`].
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// Its link-layer address.
        lladdr: Option<EthernetAddress>,
    },
    /// Redirect (type 137).
    Redirect {
        /// A better first hop for `dest`.
        target: Ipv6Addr,
        /// The destination redirected.
        dest: Ipv6Addr,
        /// The target's link-layer address.
        lladdr: Option<EthernetAddress>,
    },
}

/// The IP header fields Neighbor Discovery validation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NdiscIp {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Hop limit as received.
    pub hop_limit: u8,
}

fn addr_at(b: &[u8], i: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[i..i + 16]);
    Ipv6Addr::from(a)
}

fn check(ok: bool) -> Result<(), WireError> {
    if ok {
        Ok(())
    } else {
        Err(WireError::Malformed)
    }
}

impl<'a> NdiscRepr<'a> {
    /// Parses the message of ICMPv6 type `ty` and code `code` whose bytes after the
    /// checksum are `body` (the four type-specific header bytes first), received with
    /// `ip`. [`WireError::Unsupported`] for a type that is not Neighbor Discovery.
    pub fn parse(ip: NdiscIp, ty: u8, code: u8, body: &'a [u8]) -> Result<Self, WireError> {
        // RFC 4861: a hop limit below 255 means a router forwarded it: off-link.
        check(ip.hop_limit == 255 && code == 0)?;
        let fixed = match ty {
            msg_type::ROUTER_SOLICIT => 4,
            msg_type::ROUTER_ADVERT => 12,
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => 20,
            msg_type::REDIRECT => 36,
            _ => return Err(WireError::Unsupported),
        };
        let opts = NdiscOptions::new_checked(body.get(fixed..).ok_or(WireError::Malformed)?)?;
        let repr = match ty {
            msg_type::ROUTER_SOLICIT => NdiscRepr::RouterSolicit {
                lladdr: opts.lladdr(),
            },
            msg_type::ROUTER_ADVERT => NdiscRepr::RouterAdvert {
                hop_limit: body[0],
                flags: body[1],
                router_lifetime: u16::from_be_bytes([body[2], body[3]]),
                reachable_time: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                retrans_time: u32::from_be_bytes([body[8], body[9], body[10], body[11]]),
                options: opts,
            },
            msg_type::NEIGHBOR_SOLICIT => NdiscRepr::NeighborSolicit {
                target: addr_at(body, 4),
                lladdr: opts.lladdr(),
            },
            msg_type::NEIGHBOR_ADVERT => NdiscRepr::NeighborAdvert {
                flags: body[0] & (NA_ROUTER | NA_SOLICITED | NA_OVERRIDE),
                target: addr_at(body, 4),
                lladdr: opts.lladdr(),
            },
            _ => NdiscRepr::Redirect {
                target: addr_at(body, 4),
                dest: addr_at(body, 20),
                lladdr: opts.lladdr(),
            },
        };
        repr.validate(ip)?;
        Ok(repr)
    }

    /// The per-message rules of RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2 and §8.1.
    fn validate(&self, ip: NdiscIp) -> Result<(), WireError> {
        let unspecified = ip.src.is_unspecified();
        match *self {
            NdiscRepr::RouterSolicit { lladdr } => check(!(unspecified && lladdr.is_some())),
            NdiscRepr::RouterAdvert { .. } => check(ip.src.is_unicast_link_local()),
            NdiscRepr::NeighborSolicit { target, lladdr } => {
                check(!target.is_multicast())?;
                check(
                    !unspecified
                        || (lladdr.is_none() && ip.dst == super::ipv6::solicited_node(target)),
                )
            }
            NdiscRepr::NeighborAdvert { flags, target, .. } => {
                let solicited_to_group = ip.dst.is_multicast() && flags & NA_SOLICITED != 0;
                check(!target.is_multicast() && !solicited_to_group)
            }
            NdiscRepr::Redirect { target, dest, .. } => check(
                ip.src.is_unicast_link_local()
                    && !dest.is_multicast()
                    && (target.is_unicast_link_local() || target == dest),
            ),
        }
    }

    /// The ICMPv6 type of the message.
    pub fn msg_type(&self) -> u8 {
        match self {
            NdiscRepr::RouterSolicit { .. } => msg_type::ROUTER_SOLICIT,
            NdiscRepr::RouterAdvert { .. } => msg_type::ROUTER_ADVERT,
            NdiscRepr::NeighborSolicit { .. } => msg_type::NEIGHBOR_SOLICIT,
            NdiscRepr::NeighborAdvert { .. } => msg_type::NEIGHBOR_ADVERT,
            NdiscRepr::Redirect { .. } => msg_type::REDIRECT,
        }
    }

    /// Length of the body [`NdiscRepr::emit_body`] writes (after the ICMPv6 checksum).
    pub fn body_len(&self) -> usize {
        let opt = |l: Option<EthernetAddress>| if l.is_some() { 8 } else { 0 };
        match *self {
            NdiscRepr::RouterSolicit { lladdr } => 4 + opt(lladdr),
            NdiscRepr::RouterAdvert { options, .. } => 12 + options.as_bytes().len(),
            NdiscRepr::NeighborSolicit { lladdr, .. }
            | NdiscRepr::NeighborAdvert { lladdr, .. } => 20 + opt(lladdr),
            NdiscRepr::Redirect { lladdr, .. } => 36 + opt(lladdr),
        }
    }

    /// Writes the body (the four type-specific bytes, the fixed fields, the options) into
    /// the front of `b`, which must hold [`NdiscRepr::body_len`] bytes. A link-layer
    /// address goes out as the Source Link-Layer Address option in solicitations and as
    /// the Target option in advertisements and redirects; a Router Advertisement's
    /// options are copied as they are.
    pub fn emit_body(&self, b: &mut [u8]) -> Result<usize, WireError> {
        let len = self.body_len();
        let b = b.get_mut(..len).ok_or(WireError::Truncated)?;
        b.fill(0);
        let (lladdr, ty, at) = match *self {
            NdiscRepr::RouterSolicit { lladdr } => (lladdr, option_type::SOURCE_LLADDR, 4),
            NdiscRepr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                options,
            } => {
                b[0] = hop_limit;
                b[1] = flags;
                b[2..4].copy_from_slice(&router_lifetime.to_be_bytes());
                b[4..8].copy_from_slice(&reachable_time.to_be_bytes());
                b[8..12].copy_from_slice(&retrans_time.to_be_bytes());
                b[12..].copy_from_slice(options.as_bytes());
                (None, 0, 12)
            }
            NdiscRepr::NeighborSolicit { target, lladdr } => {
                b[4..20].copy_from_slice(&target.octets());
                (lladdr, option_type::SOURCE_LLADDR, 20)
            }
            NdiscRepr::NeighborAdvert {
                flags,
                target,
                lladdr,
            } => {
                b[0] = flags;
                b[4..20].copy_from_slice(&target.octets());
                (lladdr, option_type::TARGET_LLADDR, 20)
            }
            NdiscRepr::Redirect {
                target,
                dest,
                lladdr,
            } => {
                b[4..20].copy_from_slice(&target.octets());
                b[20..36].copy_from_slice(&dest.octets());
                (lladdr, option_type::TARGET_LLADDR, 36)
            }
        };
        if let Some(mac) = lladdr {
            b[at] = ty;
            b[at + 1] = 1;
            b[at + 2..at + 8].copy_from_slice(mac.as_bytes());
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 7]);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn ip(src: &str, dst: &str) -> NdiscIp {
        NdiscIp {
            src: a(src),
            dst: a(dst),
            hop_limit: 255,
        }
    }

    fn round_trip(repr: NdiscRepr<'_>, from: NdiscIp) {
        let mut b = [0u8; 64];
        let n = repr.emit_body(&mut b).unwrap();
        assert_eq!(n, repr.body_len());
        assert_eq!(
            NdiscRepr::parse(from, repr.msg_type(), 0, &b[..n]),
            Ok(repr)
        );
    }

    #[test]
    fn messages_round_trip() {
        let target = a("fe80::7");
        round_trip(
            NdiscRepr::NeighborSolicit {
                target,
                lladdr: Some(MAC),
            },
            ip("fe80::1", "ff02::1:ff00:7"),
        );
        round_trip(
            NdiscRepr::NeighborSolicit {
                target,
                lladdr: None,
            },
            ip("::", "ff02::1:ff00:7"),
        );
        round_trip(
            NdiscRepr::NeighborAdvert {
                flags: NA_SOLICITED | NA_OVERRIDE,
                target,
                lladdr: Some(MAC),
            },
            ip("fe80::7", "fe80::1"),
        );
        round_trip(
            NdiscRepr::RouterSolicit { lladdr: Some(MAC) },
            ip("fe80::7", "ff02::2"),
        );
        round_trip(
            NdiscRepr::Redirect {
                target: a("fe80::9"),
                dest: a("2001:db8::5"),
                lladdr: None,
            },
            ip("fe80::1", "fe80::7"),
        );
    }

    #[test]
    fn router_advert_options() {
        let mut body = [0u8; 12 + 8 + 8 + 32];
        body[0] = 64;
        body[1] = RA_OTHER;
        body[2..4].copy_from_slice(&1800u16.to_be_bytes());
        body[4..8].copy_from_slice(&30_000u32.to_be_bytes());
        let o = &mut body[12..];
        o[..8].copy_from_slice(&[1, 1, 2, 0, 0, 0, 0, 9]);
        o[8..16].copy_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        o[16] = 3;
        o[17] = 4;
        o[18] = 64;
        o[19] = 0xc0;
        o[20..24].copy_from_slice(&86_400u32.to_be_bytes());
        o[24..28].copy_from_slice(&14_400u32.to_be_bytes());
        o[32..48].copy_from_slice(&a("2001:db8:1::").octets());
        let r =
            NdiscRepr::parse(ip("fe80::1", "ff02::1"), msg_type::ROUTER_ADVERT, 0, &body).unwrap();
        let NdiscRepr::RouterAdvert {
            hop_limit,
            flags,
            router_lifetime,
            reachable_time,
            options,
            ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(
            (hop_limit, flags, router_lifetime, reachable_time),
            (64, RA_OTHER, 1800, 30_000)
        );
        assert_eq!(options.lladdr(), Some(EthernetAddress([2, 0, 0, 0, 0, 9])));
        let mut it = options.iter().skip(1);
        assert_eq!(it.next(), Some(NdiscOption::Mtu(1500)));
        assert_eq!(
            it.next(),
            Some(NdiscOption::Prefix(PrefixInfo {
                prefix_len: 64,
                on_link: true,
                autonomous: true,
                valid_lifetime: 86_400,
                preferred_lifetime: 14_400,
                prefix: a("2001:db8:1::"),
            }))
        );
        assert_eq!(it.next(), None);
        round_trip(r, ip("fe80::1", "ff02::1"));
    }

    #[test]
    fn invalid_messages_are_malformed() {
        let mut ns = [0u8; 28];
        NdiscRepr::NeighborSolicit {
            target: a("fe80::7"),
            lladdr: Some(MAC),
        }
        .emit_body(&mut ns)
        .unwrap();
        let good = ip("fe80::1", "ff02::1:ff00:7");
        let t = msg_type::NEIGHBOR_SOLICIT;
        assert!(NdiscRepr::parse(good, t, 0, &ns).is_ok());
        let bad = |ip, code, b: &[u8]| NdiscRepr::parse(ip, t, code, b).err();
        let forwarded = NdiscIp {
            hop_limit: 254,
            ..good
        };
        assert_eq!(bad(forwarded, 0, &ns), Some(WireError::Malformed));
        assert_eq!(bad(good, 1, &ns), Some(WireError::Malformed));
        assert_eq!(bad(good, 0, &ns[..19]), Some(WireError::Malformed));
        // DAD probe (unspecified source) with a link-layer option, or not to the group.
        assert_eq!(
            bad(ip("::", "ff02::1:ff00:7"), 0, &ns),
            Some(WireError::Malformed)
        );
        assert_eq!(
            bad(ip("::", "ff02::1"), 0, &ns[..20]),
            Some(WireError::Malformed)
        );
        let mut zero_len = ns;
        zero_len[21] = 0;
        assert_eq!(bad(good, 0, &zero_len), Some(WireError::Malformed));
        let mut long = ns;
        long[21] = 2;
        assert_eq!(bad(good, 0, &long), Some(WireError::Malformed));
        let mut mcast = ns;
        mcast[4] = 0xff;
        assert_eq!(bad(good, 0, &mcast), Some(WireError::Malformed));
        // A solicited advertisement to a multicast group; an RA from a global source.
        let na = [
            NA_SOLICITED,
            0,
            0,
            0,
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            7,
        ];
        let to_all = ip("fe80::7", "ff02::1");
        assert!(NdiscRepr::parse(to_all, msg_type::NEIGHBOR_ADVERT, 0, &na).is_err());
        let ra = [0u8; 12];
        assert!(
            NdiscRepr::parse(
                ip("2001:db8::1", "ff02::1"),
                msg_type::ROUTER_ADVERT,
                0,
                &ra
            )
            .is_err()
        );
        assert_eq!(
            NdiscRepr::parse(good, msg_type::ECHO_REQUEST, 0, &ra).err(),
            Some(WireError::Unsupported)
        );
    }

    #[test]
    fn short_known_options_are_other() {
        let opts = NdiscOptions::new_checked(&[3, 1, 64, 0xc0, 0, 0, 0, 0]).unwrap();
        assert!(matches!(
            opts.iter().next(),
            Some(NdiscOption::Other { option_type: 3, .. })
        ));
        assert_eq!(opts.lladdr(), None);
    }
}
