//! The network layer: Ethernet II, ARP, IPv4 and the ICMP a TCP host needs. It sits
//! between the driver and TCP and knows nothing of TCP beyond the protocol number.
//!
//! [`Interface`] owns the configuration, the ARP cache with its waiter queues, the IPv4
//! identification counter and the [`IpStats`] counters. It is sans-IO: the caller hands
//! it received frames and transmit buffers, and time as an argument.
//!
//! # Input
//!
//! [`Interface::receive`] validates a frame and classifies it as a [`Received`]: a TCP
//! segment for us, an ICMP error about a datagram we sent, a [`Reply`] the interface needs
//! sent (ARP reply, ICMP echo reply), or nothing further (handled, or dropped and
//! counted). Replies borrow from the received frame, so an echo reply is built straight
//! from the request into the transmit buffer.
//!
//! # Output
//!
//! [`Interface::lookup`] chooses the next hop (the destination on the local subnet, else
//! the gateway) and returns its Ethernet address or why there is none yet.
//! [`Interface::emit_ipv4`] then writes the Ethernet and IPv4 headers (DF set, TTL from
//! the configuration, a fresh identification) into the driver's buffer and returns where
//! the transport segment goes.
//!
//! # Waiting for ARP
//!
//! A first segment to a new neighbour (a SYN) need not be lost: the caller queues an
//! opaque `u32` token with [`Interface::wait_for`] and sends nothing. The interface sends
//! ARP requests ([`Interface::poll_transmit`]), and later hands the token back through
//! [`Interface::poll_resolved`] (retry the output now) or [`Interface::poll_failed`]
//! (report the host unreachable).
//!
//! ```
//! use core::net::Ipv4Addr;
//! use tidytcp::ip::{IfaceConfig, Interface, NeighborStatus, Received, ipv4_frame_len};
//! use tidytcp::time::Instant;
//! use tidytcp::wire::ethernet::EthernetAddress;
//! use tidytcp::wire::ipv4::IpProtocol;
//!
//! let mac = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
//! let mut iface: Interface = Interface::new(IfaceConfig::new(mac, "10.7.0.2/24".parse().unwrap()));
//! let now = Instant::ZERO;
//! let mut tx = [0u8; 1514];
//!
//! // Input: a received frame, answered in place when the interface must reply.
//! let frame = [0u8; 60];
//! match iface.receive(now, &frame) {
//!     Received::Reply(reply) => {
//!         let len = reply.frame_len();
//!         iface.emit_reply(&reply, &mut tx[..len]).unwrap();
//!     }
//!     Received::Tcp { src, dst, payload } => { /* tcp::input(src, dst, payload) */ }
//!     Received::IcmpError(err) => { /* find the connection by err.src/dst and ports */ }
//!     _ => { /* handled, dropped, or UDP for the stack's DHCP and DNS clients */ }
//! }
//!
//! // Output: resolve the next hop, then write headers and the segment after them.
//! let peer = Ipv4Addr::new(10, 7, 0, 1);
//! match iface.lookup(now, peer) {
//!     Ok(dst_mac) => {
//!         let segment_len = 20;
//!         let len = ipv4_frame_len(segment_len);
//!         let at = iface.emit_ipv4(&mut tx[..len], dst_mac, peer, IpProtocol::Tcp, segment_len).unwrap();
//!         // write the TCP segment into tx[at..len]
//!     }
//!     Err(NeighborStatus::Pending) => assert!(iface.wait_for(now, peer, 42)),
//!     Err(NeighborStatus::Failed | NeighborStatus::NoRoute) => { /* host unreachable */ }
//! }
//! // The interface's own frames: the gratuitous ARP, then the request for 10.7.0.1.
//! while let Some(out) = iface.poll_transmit(now) {
//!     let len = out.frame_len();
//!     iface.emit_reply(&out, &mut tx[..len]).unwrap();
//! }
//! ```

#[cfg(feature = "proto-ipv4")]
use core::net::Ipv4Addr;
#[cfg(feature = "proto-ipv6")]
use core::net::Ipv6Addr;

use crate::checksum::ChecksumCaps;
#[cfg(feature = "proto-ipv4")]
use crate::time::Duration;
use crate::wire::ethernet::EthernetAddress;
#[cfg(feature = "proto-ipv4")]
use crate::wire::icmpv4::DstUnreachableCode;
#[cfg(feature = "proto-ipv4")]
use crate::wire::ipv4::{IpProtocol, Ipv4Cidr};

mod arp_cache;
#[cfg(feature = "dhcpv4")]
pub mod dhcp;
mod iface;
#[cfg(any(feature = "dhcpv4", feature = "proto-ipv6"))]
mod rng;
#[cfg(feature = "proto-ipv6")]
pub mod slaac;

#[cfg(feature = "proto-ipv4")]
pub use arp_cache::ArpCache;
pub use arp_cache::{MAX_WAITERS, NeighborCache, NeighborState};
pub use iface::{DEFAULT_NEIGHBORS, Interface};

/// The IPv6 side of an interface (feature `proto-ipv6`).
#[cfg(feature = "proto-ipv6")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Config {
    /// Carry IPv6: a link-local address from the MAC (RFC 4291 §2.5.6), Neighbor
    /// Discovery, echo. Default on.
    pub enabled: bool,
    /// Address configuration: DAD probes, SLAAC from Router Advertisements
    /// (`autoconf`), Router Solicitations.
    pub slaac: slaac::SlaacConfig,
    /// An address given by the program, used once DAD passes.
    pub static_addr: Option<crate::wire::ipv6::Ipv6Cidr>,
    /// Hop limit of the packets we send, unless a router advertises one. Default 64.
    pub hop_limit: u8,
}

#[cfg(feature = "proto-ipv6")]
impl Ipv6Config {
    /// The defaults described on each field.
    pub const fn new() -> Self {
        Ipv6Config {
            enabled: true,
            slaac: slaac::SlaacConfig::new(),
            static_addr: None,
            hop_limit: 64,
        }
    }
}

#[cfg(feature = "proto-ipv6")]
impl Default for Ipv6Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Offset of the IPv4 payload in a frame built by [`Interface::emit_ipv4`]: the Ethernet
/// header and a 20-byte IPv4 header.
#[cfg(feature = "proto-ipv4")]
pub const IPV4_PAYLOAD_OFFSET: usize =
    crate::wire::ethernet::HEADER_LEN + crate::wire::ipv4::HEADER_LEN;

/// Offset of the payload in a frame built by [`Interface::emit_ipv6`]: the Ethernet
/// header and the 40-byte IPv6 header (no extension headers).
#[cfg(feature = "proto-ipv6")]
pub const IPV6_PAYLOAD_OFFSET: usize =
    crate::wire::ethernet::HEADER_LEN + crate::wire::ipv6::HEADER_LEN;

/// Length of a frame carrying an IPv6 payload of `payload_len` bytes (saturating).
#[cfg(feature = "proto-ipv6")]
pub const fn ipv6_frame_len(payload_len: usize) -> usize {
    IPV6_PAYLOAD_OFFSET.saturating_add(payload_len)
}

/// Length of a frame carrying an IPv4 payload of `payload_len` bytes (saturating).
#[cfg(feature = "proto-ipv4")]
pub const fn ipv4_frame_len(payload_len: usize) -> usize {
    IPV4_PAYLOAD_OFFSET.saturating_add(payload_len)
}

/// ARP timing and limits (feature `proto-ipv4`).
#[cfg(feature = "proto-ipv4")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpConfig {
    /// How long a learnt address is used without being re-requested. Default 60 s.
    pub cache_ttl: Duration,
    /// Least time between two requests for the same address (RFC 1122 §2.3.2.1 asks for
    /// at most one per second), and the time a request is given to be answered.
    /// Default 1 s.
    pub request_interval: Duration,
    /// Requests sent for one address, the first included, before it is marked failed.
    /// Default 3: with the default interval a neighbour fails 3 s after the first
    /// request.
    pub max_retries: u8,
    /// How long a failed neighbour stays failed: lookups fail at once and no requests
    /// are sent for it. Default 20 s (4.4BSD's `arpt_down`).
    pub failed_hold: Duration,
    /// How long a stale entry (older than `cache_ttl`) is used on trust before it is
    /// re-requested: higher-layer advice (a TCP peer acknowledging new data) within that
    /// time makes it fresh again without any ARP traffic. The re-requests are sent to the
    /// address last learnt (RFC 1122 §2.3.2.1's unicast poll), as Linux's neighbour
    /// state machine does (its DELAY and PROBE states). Default 5 s (Linux's
    /// `delay_first_probe_time`).
    pub probe_delay: Duration,
    /// Gratuitous ARP announcements sent when the interface comes up, `request_interval`
    /// apart. Default 2 (RFC 5227 §2.3); 0 sends none.
    pub announcements: u8,
}

#[cfg(feature = "proto-ipv4")]
impl ArpConfig {
    /// The defaults described on each field.
    pub const fn new() -> Self {
        ArpConfig {
            cache_ttl: Duration::from_secs(60),
            request_interval: Duration::from_secs(1),
            max_retries: 3,
            failed_hold: Duration::from_secs(20),
            probe_delay: Duration::from_secs(5),
            announcements: 2,
        }
    }
}

#[cfg(feature = "proto-ipv4")]
impl Default for ArpConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The configuration of one Ethernet interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfaceConfig {
    /// Our Ethernet address.
    pub mac: EthernetAddress,
    /// Our IPv4 address and the prefix length of the attached subnet (0.0.0.0/0: none
    /// yet, as before DHCP) (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub addr: Ipv4Cidr,
    /// Default gateway for destinations off the subnet; without one they are
    /// unreachable (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub gateway: Option<Ipv4Addr>,
    /// TTL of the IPv4 datagrams we send. Default 64 (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub ttl: u8,
    /// ARP timing (feature `proto-ipv4`); its `failed_hold` also holds failed IPv6
    /// neighbours.
    #[cfg(feature = "proto-ipv4")]
    pub arp: ArpConfig,
    /// Checksum offloads of the device (a `Stack` copies them from
    /// `Device::capabilities` at every poll): with
    /// `tx_ipv4` the IPv4 header checksum is left zero, with `rx_verified` it is not
    /// checked on input. ICMP checksums are always computed and checked.
    pub checksum: ChecksumCaps,
    /// IPv6 (feature `proto-ipv6`).
    #[cfg(feature = "proto-ipv6")]
    pub ipv6: Ipv6Config,
}

impl IfaceConfig {
    /// An interface at `mac` with IPv4 address `addr`, no gateway, TTL 64, default ARP
    /// timing and no checksum offload (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub const fn new(mac: EthernetAddress, addr: Ipv4Cidr) -> Self {
        let mut c = Self::from_mac(mac);
        c.addr = addr;
        c
    }

    /// An interface at `mac` with no IPv4 address (0.0.0.0/0 with `proto-ipv4`, until
    /// DHCP or [`Interface::set_config`] gives one), the IPv6 defaults (link-local and
    /// SLAAC, with `proto-ipv6`) and no checksum offload. The constructor for an
    /// IPv6-only host; it exists in every build.
    pub const fn from_mac(mac: EthernetAddress) -> Self {
        IfaceConfig {
            mac,
            #[cfg(feature = "proto-ipv4")]
            addr: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0),
            #[cfg(feature = "proto-ipv4")]
            gateway: None,
            #[cfg(feature = "proto-ipv4")]
            ttl: 64,
            #[cfg(feature = "proto-ipv4")]
            arp: ArpConfig::new(),
            checksum: ChecksumCaps {
                tx_ipv4: false,
                tx_tcp: false,
                rx_verified: false,
            },
            #[cfg(feature = "proto-ipv6")]
            ipv6: Ipv6Config::new(),
        }
    }

    /// The same with a default IPv4 gateway (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    pub const fn with_gateway(mut self, gateway: Ipv4Addr) -> Self {
        self.gateway = Some(gateway);
        self
    }
}

/// Why a neighbour's Ethernet address is not available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NeighborStatus {
    /// ARP resolution is under way (or could not start because the cache is full of
    /// neighbours being resolved). Queue a token with [`Interface::wait_for`] and retry
    /// when it comes back, or retry later.
    Pending,
    /// ARP resolution failed recently: the host is unreachable.
    Failed,
    /// No route: the destination is off the subnet and there is no gateway, or it cannot
    /// be sent to (unspecified, loopback, our own address).
    NoRoute,
}

/// A frame the interface needs sent, either in answer to a received frame or of its own
/// (ARP requests and announcements). Get a transmit buffer of
/// [`Reply::frame_len`] bytes and pass it to [`Interface::emit_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply<'f> {
    /// An ARP reply to a request for our address.
    #[cfg(feature = "proto-ipv4")]
    ArpReply {
        /// The requester's Ethernet address.
        dst_mac: EthernetAddress,
        /// The requester's IPv4 address (0.0.0.0 for an RFC 5227 probe).
        dst_ip: Ipv4Addr,
    },
    /// An ARP request for `target`: broadcast to resolve a new neighbour, or sent to the
    /// address last learnt to re-confirm a stale one (RFC 1122 §2.3.2.1's unicast poll).
    #[cfg(feature = "proto-ipv4")]
    ArpRequest {
        /// The address to resolve.
        target: Ipv4Addr,
        /// The Ethernet destination: [`EthernetAddress::BROADCAST`] or the neighbour's
        /// last known address.
        dst_mac: EthernetAddress,
    },
    /// A gratuitous ARP announcing our address (a request for it, from it).
    #[cfg(feature = "proto-ipv4")]
    GratuitousArp,
    /// An ARP probe (RFC 5227 §2.1.1): a broadcast request for `target` with sender
    /// address 0.0.0.0, asking whether anyone uses an address before we take it.
    #[cfg(feature = "proto-ipv4")]
    ArpProbe {
        /// The address to check.
        target: Ipv4Addr,
    },
    /// An ICMP echo reply.
    #[cfg(feature = "proto-ipv4")]
    EchoReply {
        /// The Ethernet source of the request.
        dst_mac: EthernetAddress,
        /// The IPv4 source of the request.
        dst_ip: Ipv4Addr,
        /// The request's identifier.
        ident: u16,
        /// The request's sequence number.
        seq_no: u16,
        /// The request's data, borrowed from the received frame.
        data: &'f [u8],
    },
    /// An ICMPv6 echo reply (RFC 4443 §4.2).
    #[cfg(feature = "proto-ipv6")]
    Echo6 {
        /// The Ethernet source of the request.
        dst_mac: EthernetAddress,
        /// Our address the reply comes from (the request's destination, or our
        /// link-local address when that was a multicast group).
        src: Ipv6Addr,
        /// The request's source.
        dst: Ipv6Addr,
        /// The request's identifier.
        ident: u16,
        /// The request's sequence number.
        seq_no: u16,
        /// The request's data, borrowed from the received frame.
        data: &'f [u8],
    },
    /// A Neighbor Advertisement for `target`, an address of ours (RFC 4861 §7.2.4), with
    /// our link-layer address and the Override flag.
    #[cfg(feature = "proto-ipv6")]
    NeighborAdvert {
        /// Where to: the solicitation's source link-layer address, or all-nodes.
        dst_mac: EthernetAddress,
        /// The solicitation's source, or all-nodes for an answer to a DAD probe.
        dst: Ipv6Addr,
        /// Our address being advertised (also the source).
        target: Ipv6Addr,
        /// Whether it answers a solicitation from a unicast source (the S flag).
        solicited: bool,
    },
    /// A Neighbor Solicitation for `target` from `src` with our link-layer address:
    /// to the solicited-node group to resolve, to the neighbour's last known address to
    /// re-confirm it (RFC 4861 §7.2.2, §7.3.3).
    #[cfg(feature = "proto-ipv6")]
    NeighborSolicit {
        /// The Ethernet destination.
        dst_mac: EthernetAddress,
        /// The IPv6 destination: the solicited-node group of `target`, or `target`.
        dst: Ipv6Addr,
        /// Our address the solicitation comes from.
        src: Ipv6Addr,
        /// The address to resolve.
        target: Ipv6Addr,
    },
    /// What the address configuration asks to send: a DAD probe, a Router Solicitation
    /// or an MLDv2 report.
    #[cfg(feature = "proto-ipv6")]
    Slaac(slaac::SlaacOutput),
    /// An ICMPv6 error about a packet we received (RFC 4443 §2.4), rate-limited.
    #[cfg(feature = "proto-ipv6")]
    Icmpv6Error {
        /// The Ethernet source of the offending packet.
        dst_mac: EthernetAddress,
        /// Our address the error comes from.
        src: Ipv6Addr,
        /// The offending packet's source.
        dst: Ipv6Addr,
        /// ICMPv6 type.
        msg_type: u8,
        /// Code.
        code: u8,
        /// The type-specific word (the Parameter Problem pointer).
        word: u32,
        /// The offending packet from its IPv6 header (cut to fit the minimum MTU).
        quote: &'f [u8],
    },
}

impl Reply<'_> {
    /// Length of the frame, Ethernet header included.
    pub fn frame_len(&self) -> usize {
        #[cfg(feature = "proto-ipv4")]
        use crate::wire::{arp, ethernet, icmpv4, ipv4};
        match self {
            #[cfg(feature = "proto-ipv4")]
            Reply::ArpReply { .. }
            | Reply::ArpRequest { .. }
            | Reply::GratuitousArp
            | Reply::ArpProbe { .. } => ethernet::HEADER_LEN + arp::PACKET_LEN,
            #[cfg(feature = "proto-ipv4")]
            Reply::EchoReply { data, .. } => {
                (ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmpv4::HEADER_LEN)
                    .saturating_add(data.len())
            }
            #[cfg(feature = "proto-ipv6")]
            _ => iface::v6_frame_len(self),
        }
    }
}

/// What an ICMP error says (feature `proto-ipv4`).
#[cfg(feature = "proto-ipv4")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpErrorKind {
    /// Destination unreachable, with its code. For TCP, RFC 1122 §4.2.3.9 counts codes
    /// 2 to 4 (protocol, port, fragmentation needed) as hard errors, the others as soft.
    DstUnreachable(DstUnreachableCode),
    /// Time exceeded (code 0 in transit, 1 in reassembly): a soft error.
    TimeExceeded(u8),
    /// Parameter problem; the pointer to the offending octet: a soft error.
    ParamProblem(u8),
}

/// An ICMP error about a datagram we sent, with what the transport layer needs to find
/// and validate the connection it concerns (feature `proto-ipv4`).
#[cfg(feature = "proto-ipv4")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpError {
    /// What happened.
    pub kind: IcmpErrorKind,
    /// For [`DstUnreachableCode::FragNeeded`], the MTU of the next hop (RFC 1191 §4); zero
    /// from routers that predate RFC 1191, and for other kinds.
    pub next_hop_mtu: u16,
    /// The host or router that sent the error.
    pub reporter: Ipv4Addr,
    /// Source of the quoted datagram: always our address.
    pub src: Ipv4Addr,
    /// Destination of the quoted datagram: the peer.
    pub dst: Ipv4Addr,
    /// Protocol of the quoted datagram: errors about anything but TCP (an echo reply we
    /// sent) can be ignored.
    pub protocol: IpProtocol,
    /// The first 8 bytes of the quoted datagram's payload: for TCP the ports and the
    /// sequence number.
    pub payload_head: [u8; 8],
}

/// What an ICMPv6 error says (RFC 4443 §3).
#[cfg(feature = "proto-ipv6")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Icmp6ErrorKind {
    /// Destination unreachable, with its code (0 no route, 1 administratively
    /// prohibited, 3 address unreachable, 4 port unreachable, ...).
    DstUnreachable(u8),
    /// Packet too big: the path's MTU is [`Icmp6Error::mtu`] (RFC 8201).
    PacketTooBig,
    /// Time exceeded, with its code.
    TimeExceeded(u8),
    /// Parameter problem, with its code.
    ParamProblem(u8),
}

/// An ICMPv6 error about a packet we sent, with what the transport layer needs to find
/// and validate the connection it concerns.
#[cfg(feature = "proto-ipv6")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icmp6Error {
    /// What happened.
    pub kind: Icmp6ErrorKind,
    /// For [`Icmp6ErrorKind::PacketTooBig`], the MTU of the link the packet did not fit.
    pub mtu: u32,
    /// The node that sent the error.
    pub reporter: Ipv6Addr,
    /// Source of the quoted packet: an address of ours.
    pub src: Ipv6Addr,
    /// Destination of the quoted packet: the peer.
    pub dst: Ipv6Addr,
    /// The quoted packet's upper-layer protocol (6 for TCP).
    pub protocol: u8,
    /// The first 8 bytes of the quoted upper layer: for TCP the ports and sequence number.
    pub payload_head: [u8; 8],
}

/// The result of [`Interface::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Received<'f> {
    /// Processed inside the interface (an ARP packet updated the cache); nothing to do
    /// beyond checking [`Interface::poll_resolved`].
    Handled,
    /// Dropped and counted in [`IpStats`].
    Dropped(DropReason),
    /// A frame must be sent in answer.
    Reply(Reply<'f>),
    /// A TCP segment addressed to our unicast IPv4 address (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    Tcp {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address (ours).
        dst: Ipv4Addr,
        /// The IP payload: the TCP segment, header included, checksum not verified.
        payload: &'f [u8],
    },
    /// An ICMP error about a datagram we sent (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    IcmpError(IcmpError),
    /// An ICMPv6 error about a packet we sent (feature `proto-ipv6`).
    #[cfg(feature = "proto-ipv6")]
    Icmp6Error(Icmp6Error),
    /// A TCP segment over IPv6 to a usable unicast address of ours (feature
    /// `proto-ipv6`).
    #[cfg(feature = "proto-ipv6")]
    Tcp6 {
        /// Ethernet source (the neighbour or router it came through).
        src_mac: EthernetAddress,
        /// Source address.
        src: Ipv6Addr,
        /// Destination address (ours).
        dst: Ipv6Addr,
        /// The TCP segment, header included, checksum not verified.
        payload: &'f [u8],
    },
    /// A UDP datagram over IPv6 to a usable unicast address of ours, for the stack's
    /// DNS resolver (features `proto-ipv6` and `dns`).
    #[cfg(all(feature = "proto-ipv6", feature = "dns"))]
    Udp6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address (ours).
        dst: Ipv6Addr,
        /// The UDP datagram, header included, checksum not verified.
        payload: &'f [u8],
    },
    /// A UDP datagram for us (unicast or broadcast), for the stack's DHCP client and DNS
    /// resolver; only with the `dhcpv4` or `dns` feature (without, UDP is
    /// [`DropReason::UnknownProtocol`]).
    #[cfg(all(feature = "proto-ipv4", any(feature = "dhcpv4", feature = "dns")))]
    Udp {
        /// Ethernet source.
        src_mac: EthernetAddress,
        /// Source address.
        src: Ipv4Addr,
        /// Destination address (ours or a broadcast address).
        dst: Ipv4Addr,
        /// The IP payload: the UDP datagram, header included, checksum not verified.
        payload: &'f [u8],
    },
}

/// Why a frame was dropped. Each reason has a counter in [`IpStats`] of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than an Ethernet header, an ARP packet, an IPv4 header, or the IPv4 total
    /// length.
    Truncated,
    /// Ethernet destination neither ours nor broadcast.
    NotForUs,
    /// Ethernet source multicast, zero or our own address.
    BadSrcMac,
    /// EtherType neither IPv4 nor ARP.
    UnknownEthertype,
    /// ARP for other hardware or protocol types, or an unknown operation.
    ArpUnsupported,
    /// ARP sender hardware address not unicast.
    ArpBadSender,
    /// ARP from another host claiming our IPv4 address.
    ArpConflict,
    /// IP version not 4.
    BadVersion,
    /// IHL below 5 or past the end of the frame.
    BadHeaderLen,
    /// Total length shorter than the header.
    BadTotalLen,
    /// Header checksum wrong.
    BadChecksum,
    /// Destination neither our address nor a broadcast address.
    NotOurAddress,
    /// Source unspecified, broadcast, multicast, loopback, or our own address.
    BadSrcAddr,
    /// A fragment (we set DF and do not reassemble).
    Fragment,
    /// A protocol other than TCP and ICMP.
    UnknownProtocol,
    /// TCP to a broadcast address.
    TcpNotUnicast,
    /// ICMP message shorter than its header, or an error with a bad quote.
    IcmpMalformed,
    /// ICMP checksum wrong.
    IcmpBadChecksum,
    /// Echo request to a broadcast address (RFC 1122 §3.2.2.6 allows ignoring it).
    EchoBroadcast,
    /// ICMP error to a broadcast address, or quoting a datagram we did not send.
    IcmpErrorNotOurs,
    /// Other ICMP messages: echo replies, source quench (RFC 6633), redirects, ...
    IcmpIgnored,
    /// An IPv6 extension header said to discard the packet, or could not be read
    /// (answered with a Parameter Problem where RFC 8200 §4 asks for one).
    #[cfg(feature = "proto-ipv6")]
    Ipv6ExtHeader,
}

/// Counters of the network layer. They wrap around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IpStats {
    /// Frames passed to `receive`.
    pub frames_in: u32,
    /// Frames written by `emit_ipv4` and `emit_reply`.
    pub frames_out: u32,
    /// See [`DropReason::Truncated`].
    pub truncated: u32,
    /// See [`DropReason::NotForUs`].
    pub not_for_us: u32,
    /// See [`DropReason::BadSrcMac`].
    pub bad_src_mac: u32,
    /// See [`DropReason::UnknownEthertype`].
    pub unknown_ethertype: u32,
    /// ARP packets received.
    pub arp_in: u32,
    /// See [`DropReason::ArpUnsupported`].
    pub arp_unsupported: u32,
    /// See [`DropReason::ArpBadSender`].
    pub arp_bad_sender: u32,
    /// See [`DropReason::ArpConflict`].
    pub arp_conflict: u32,
    /// ARP requests for our address answered (replies needed).
    pub arp_requests_for_us: u32,
    /// IPv4 packets received (before validation).
    pub ipv4_in: u32,
    /// See [`DropReason::BadVersion`].
    pub bad_version: u32,
    /// See [`DropReason::BadHeaderLen`].
    pub bad_header_len: u32,
    /// See [`DropReason::BadTotalLen`].
    pub bad_total_len: u32,
    /// See [`DropReason::BadChecksum`].
    pub bad_checksum: u32,
    /// See [`DropReason::NotOurAddress`].
    pub not_our_address: u32,
    /// See [`DropReason::BadSrcAddr`].
    pub bad_src_addr: u32,
    /// See [`DropReason::Fragment`].
    pub fragment: u32,
    /// See [`DropReason::UnknownProtocol`].
    pub unknown_protocol: u32,
    /// See [`DropReason::TcpNotUnicast`].
    pub tcp_not_unicast: u32,
    /// TCP segments delivered.
    pub tcp_in: u32,
    /// ICMP messages received.
    pub icmp_in: u32,
    /// See [`DropReason::IcmpMalformed`].
    pub icmp_malformed: u32,
    /// See [`DropReason::IcmpBadChecksum`].
    pub icmp_bad_checksum: u32,
    /// See [`DropReason::EchoBroadcast`].
    pub echo_broadcast: u32,
    /// See [`DropReason::IcmpErrorNotOurs`].
    pub icmp_error_not_ours: u32,
    /// See [`DropReason::IcmpIgnored`].
    pub icmp_ignored: u32,
    /// ICMP errors delivered ([`Received::IcmpError`]).
    pub icmp_errors_in: u32,
    /// Echo requests to answer.
    pub echo_requests_in: u32,
    /// Echo replies written.
    pub echo_replies_sent: u32,
    /// ARP replies written.
    pub arp_replies_sent: u32,
    /// ARP requests written.
    pub arp_requests_sent: u32,
    /// Gratuitous ARP announcements written.
    pub arp_announcements_sent: u32,
    /// `lookup` found an address in the cache.
    pub arp_hits: u32,
    /// `lookup` found none (pending, failed, or resolution started).
    pub arp_misses: u32,
    /// A neighbour could not be added: every entry has waiters.
    pub arp_cache_full: u32,
    /// `wait_for` refused a token: the neighbour's queue was full.
    pub queue_full: u32,
    /// Neighbours marked failed after unanswered requests.
    pub resolution_failures: u32,
    /// UDP datagrams delivered to the stack ([`Received::Udp`]).
    pub udp_in: u32,
    /// ARP packets showing a conflict with the address being probed
    /// ([`Interface::watch_address`]).
    pub probe_conflicts: u32,
    /// `lookup` found no route.
    pub no_route: u32,
    /// IPv6 packets received (before validation).
    #[cfg(feature = "proto-ipv6")]
    pub ipv6_in: u32,
    /// See [`DropReason::Ipv6ExtHeader`].
    #[cfg(feature = "proto-ipv6")]
    pub ipv6_ext_header: u32,
    /// ICMPv6 errors written.
    #[cfg(feature = "proto-ipv6")]
    pub icmpv6_errors_sent: u32,
    /// ICMPv6 errors not sent: over the rate limit (RFC 4443 §2.4 f).
    #[cfg(feature = "proto-ipv6")]
    pub icmpv6_errors_limited: u32,
    /// Neighbor Solicitations received.
    #[cfg(feature = "proto-ipv6")]
    pub nd_solicits_in: u32,
    /// Neighbor Advertisements received.
    #[cfg(feature = "proto-ipv6")]
    pub nd_adverts_in: u32,
    /// Neighbor Solicitations written (resolution and unreachability detection).
    #[cfg(feature = "proto-ipv6")]
    pub nd_solicits_sent: u32,
    /// Neighbor Advertisements written.
    #[cfg(feature = "proto-ipv6")]
    pub nd_adverts_sent: u32,
    /// DAD probes, Router Solicitations and MLD reports written.
    #[cfg(feature = "proto-ipv6")]
    pub slaac_sent: u32,
}

impl DropReason {
    /// The counter this reason increments.
    fn counter(self, s: &mut IpStats) -> &mut u32 {
        match self {
            DropReason::Truncated => &mut s.truncated,
            DropReason::NotForUs => &mut s.not_for_us,
            DropReason::BadSrcMac => &mut s.bad_src_mac,
            DropReason::UnknownEthertype => &mut s.unknown_ethertype,
            DropReason::ArpUnsupported => &mut s.arp_unsupported,
            DropReason::ArpBadSender => &mut s.arp_bad_sender,
            DropReason::ArpConflict => &mut s.arp_conflict,
            DropReason::BadVersion => &mut s.bad_version,
            DropReason::BadHeaderLen => &mut s.bad_header_len,
            DropReason::BadTotalLen => &mut s.bad_total_len,
            DropReason::BadChecksum => &mut s.bad_checksum,
            DropReason::NotOurAddress => &mut s.not_our_address,
            DropReason::BadSrcAddr => &mut s.bad_src_addr,
            DropReason::Fragment => &mut s.fragment,
            DropReason::UnknownProtocol => &mut s.unknown_protocol,
            DropReason::TcpNotUnicast => &mut s.tcp_not_unicast,
            DropReason::IcmpMalformed => &mut s.icmp_malformed,
            DropReason::IcmpBadChecksum => &mut s.icmp_bad_checksum,
            DropReason::EchoBroadcast => &mut s.echo_broadcast,
            DropReason::IcmpErrorNotOurs => &mut s.icmp_error_not_ours,
            DropReason::IcmpIgnored => &mut s.icmp_ignored,
            #[cfg(feature = "proto-ipv6")]
            DropReason::Ipv6ExtHeader => &mut s.ipv6_ext_header,
        }
    }
}

/// Adds one to a counter, wrapping.
fn bump(c: &mut u32) {
    *c = c.wrapping_add(1);
}
