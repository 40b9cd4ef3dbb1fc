//! DHCPv4 messages (RFC 2131) and the options a client uses (RFC 2132).
//!
//! [`DhcpPacket`] checks the fixed BOOTP header and the magic cookie; [`DhcpRepr`] is the
//! parsed message with the options a client needs. Unknown options are skipped by their
//! length; a known option with a length its definition forbids makes the message
//! [`WireError::Malformed`]. Option overload (option 52) is not followed: options in the
//! `file` and `sname` fields are ignored.

use core::net::Ipv4Addr;

use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::WireError;
use super::ethernet::EthernetAddress;

/// UDP port of DHCP servers.
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;
/// Length of the fixed BOOTP header (RFC 2131 §2, up to and without the options).
pub const HEADER_LEN: usize = 236;
/// The magic cookie that starts the options (RFC 2132 §2).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Shortest message a client sends: BOOTP relays may drop shorter ones (RFC 1542 §2.1).
pub const MIN_MESSAGE_LEN: usize = 300;
/// DNS servers kept from one message.
pub const MAX_DNS_SERVERS: usize = 3;
/// The broadcast bit of the `flags` field (RFC 2131 §2).
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes (RFC 2132).
pub mod opt {
    /// Padding.
    pub const PAD: u8 = 0;
    /// Subnet mask (§3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Routers (§3.5).
    pub const ROUTER: u8 = 3;
    /// DNS servers (§3.8).
    pub const DNS_SERVER: u8 = 6;
    /// Host name (§3.14).
    pub const HOST_NAME: u8 = 12;
    /// Requested IP address (§9.1).
    pub const REQUESTED_IP: u8 = 50;
    /// Lease time (§9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Message type (§9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier (§9.7).
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list (§9.8).
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Maximum message size (§9.10).
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time (§9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time (§9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// Client identifier (§9.14).
    pub const CLIENT_ID: u8 = 61;
    /// End of options.
    pub const END: u8 = 255;
}

/// DHCP message types (RFC 2132 §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Client looks for servers (1).
    Discover,
    /// Server offers an address (2).
    Offer,
    /// Client requests the offered, or its own, address (3).
    Request,
    /// Client found the address in use (4).
    Decline,
    /// Server commits the lease (5).
    Ack,
    /// Server refuses the request (6).
    Nak,
    /// Client gives the address up (7).
    Release,
    /// Client asks for parameters only (8).
    Inform,
}

impl MessageType {
    /// The type from its code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
        }
    }
    /// Whether servers send this type (BOOTREPLY) rather than clients (BOOTREQUEST).
    pub fn is_reply(self) -> bool {
        matches!(
            self,
            MessageType::Offer | MessageType::Ack | MessageType::Nak
        )
    }
}

/// The fixed BOOTP header (RFC 2131 §2, figure 1).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct DhcpHeader {
    /// 1 BOOTREQUEST, 2 BOOTREPLY.
    pub op: u8,
    /// Hardware type (1, Ethernet).
    pub htype: u8,
    /// Hardware address length (6).
    pub hlen: u8,
    /// Relay hops.
    pub hops: u8,
    /// Transaction ID.
    pub xid: U32,
    /// Seconds since the client began the exchange.
    pub secs: U16,
    /// Flags: the broadcast bit.
    pub flags: U16,
    /// Client address (when it has one and can answer ARP).
    pub ciaddr: [u8; 4],
    /// "Your" address, offered by the server.
    pub yiaddr: [u8; 4],
    /// Next server for bootstrap.
    pub siaddr: [u8; 4],
    /// Relay agent address.
    pub giaddr: [u8; 4],
    /// Client hardware address (first 6 bytes for Ethernet).
    pub chaddr: [u8; 16],
    /// Server host name.
    pub sname: [u8; 64],
    /// Boot file name.
    pub file: [u8; 128],
}

/// A checked view of a DHCP message: the fixed header is there, the hardware is
/// Ethernet, and the options start with the magic cookie.
#[derive(Clone, Copy)]
pub struct DhcpPacket<'a> {
    header: &'a DhcpHeader,
    options: &'a [u8],
}

impl<'a> DhcpPacket<'a> {
    /// Checks lengths, the hardware type and the cookie: a short buffer is
    /// [`WireError::Truncated`], other hardware [`WireError::Unsupported`], a missing
    /// cookie or an `op` other than 1 or 2 [`WireError::Malformed`].
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let (header, rest) = DhcpHeader::ref_from_prefix(buf).map_err(|_| WireError::Truncated)?;
        if header.htype != 1 || header.hlen != 6 {
            return Err(WireError::Unsupported);
        }
        if header.op != 1 && header.op != 2 {
            return Err(WireError::Malformed);
        }
        let (cookie, options) = rest.split_at_checked(4).ok_or(WireError::Truncated)?;
        if cookie != MAGIC_COOKIE {
            return Err(WireError::Malformed);
        }
        Ok(DhcpPacket { header, options })
    }
    /// The fixed header.
    pub fn header(&self) -> &'a DhcpHeader {
        self.header
    }
    /// The option bytes after the cookie.
    pub fn options(&self) -> &'a [u8] {
        self.options
    }
    /// The options as `(code, data)` pairs, up to the end option.
    pub fn option_iter(&self) -> OptionIter<'a> {
        OptionIter { rest: self.options }
    }
}

/// Iterator over the options of a message; yields `Err` once, then ends, when an option
/// runs past the buffer.
#[derive(Clone, Debug)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<(u8, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, rest) = self.rest.split_first()?;
            match code {
                opt::PAD => self.rest = rest,
                opt::END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let Some((&len, rest)) = rest.split_first() else {
                        self.rest = &[];
                        return Some(Err(WireError::Truncated));
                    };
                    let Some((data, rest)) = rest.split_at_checked(usize::from(len)) else {
                        self.rest = &[];
                        return Some(Err(WireError::Truncated));
                    };
                    self.rest = rest;
                    return Some(Ok((code, data)));
                }
            }
        }
    }
}

/// A parsed DHCP message with the fields and options a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DhcpRepr<'a> {
    /// The message type (option 53).
    pub message_type: MessageType,
    /// Transaction ID.
    pub xid: u32,
    /// Seconds since the exchange began.
    pub secs: u16,
    /// The broadcast flag: the client cannot receive unicast before it has an address.
    pub broadcast: bool,
    /// Client address.
    pub ciaddr: Ipv4Addr,
    /// "Your" address.
    pub yiaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// Client hardware address.
    pub chaddr: EthernetAddress,
    /// Server identifier (54).
    pub server_id: Option<Ipv4Addr>,
    /// Requested IP address (50).
    pub requested_ip: Option<Ipv4Addr>,
    /// Subnet mask (1).
    pub subnet_mask: Option<Ipv4Addr>,
    /// The first router (3).
    pub router: Option<Ipv4Addr>,
    /// Up to [`MAX_DNS_SERVERS`] DNS servers (6), in the server's order.
    pub dns_servers: [Option<Ipv4Addr>; MAX_DNS_SERVERS],
    /// Lease time in seconds (51); `u32::MAX` is infinite.
    pub lease_time: Option<u32>,
    /// T1 in seconds (58).
    pub renewal_time: Option<u32>,
    /// T2 in seconds (59).
    pub rebinding_time: Option<u32>,
    /// Client identifier (61): on emit, type 1 (Ethernet) and `chaddr` when true.
    pub client_id: bool,
    /// Parameter request list (55) to send; on parse, empty.
    pub parameter_request_list: &'a [u8],
    /// Host name (12).
    pub host_name: Option<&'a [u8]>,
    /// Maximum message size (57).
    pub max_message_size: Option<u16>,
}

fn addr(data: &[u8]) -> Result<Ipv4Addr, WireError> {
    <[u8; 4]>::try_from(data)
        .map(Ipv4Addr::from)
        .map_err(|_| WireError::Malformed)
}

fn seconds(data: &[u8]) -> Result<u32, WireError> {
    <[u8; 4]>::try_from(data)
        .map(u32::from_be_bytes)
        .map_err(|_| WireError::Malformed)
}

impl<'a> DhcpRepr<'a> {
    /// A client message of `message_type` with no options beyond it and the client ID.
    pub fn client(message_type: MessageType, xid: u32, chaddr: EthernetAddress) -> Self {
        DhcpRepr {
            message_type,
            xid,
            secs: 0,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            server_id: None,
            requested_ip: None,
            subnet_mask: None,
            router: None,
            dns_servers: [None; MAX_DNS_SERVERS],
            lease_time: None,
            renewal_time: None,
            rebinding_time: None,
            client_id: true,
            parameter_request_list: &[],
            host_name: None,
            max_message_size: None,
        }
    }

    /// Parses a checked message. No message type, or a known option of a wrong length,
    /// is [`WireError::Malformed`]; options running past the buffer are
    /// [`WireError::Truncated`]; unknown options are skipped.
    pub fn parse(packet: &DhcpPacket<'a>) -> Result<Self, WireError> {
        let h = packet.header();
        let chaddr = EthernetAddress([
            h.chaddr[0],
            h.chaddr[1],
            h.chaddr[2],
            h.chaddr[3],
            h.chaddr[4],
            h.chaddr[5],
        ]);
        let mut r = DhcpRepr::client(MessageType::Discover, h.xid.get(), chaddr);
        r.client_id = false;
        r.secs = h.secs.get();
        r.broadcast = h.flags.get() & FLAG_BROADCAST != 0;
        r.ciaddr = Ipv4Addr::from(h.ciaddr);
        r.yiaddr = Ipv4Addr::from(h.yiaddr);
        r.giaddr = Ipv4Addr::from(h.giaddr);
        let mut message_type = None;
        for o in packet.option_iter() {
            let (code, data) = o?;
            r.parse_option(code, data, &mut message_type)?;
        }
        r.message_type = message_type.ok_or(WireError::Malformed)?;
        Ok(r)
    }

    /// One option (RFC 2132); a wrong length is [`WireError::Malformed`].
    fn parse_option(
        &mut self,
        code: u8,
        data: &'a [u8],
        message_type: &mut Option<MessageType>,
    ) -> Result<(), WireError> {
        match code {
            opt::MESSAGE_TYPE => {
                let [c] = data else {
                    return Err(WireError::Malformed);
                };
                *message_type = Some(MessageType::from_code(*c).ok_or(WireError::Malformed)?);
            }
            opt::SUBNET_MASK => self.subnet_mask = Some(addr(data)?),
            opt::SERVER_ID => self.server_id = Some(addr(data)?),
            opt::REQUESTED_IP => self.requested_ip = Some(addr(data)?),
            opt::LEASE_TIME => self.lease_time = Some(seconds(data)?),
            opt::RENEWAL_TIME => self.renewal_time = Some(seconds(data)?),
            opt::REBINDING_TIME => self.rebinding_time = Some(seconds(data)?),
            // §3.5, §3.8: one or more addresses.
            opt::ROUTER | opt::DNS_SERVER => {
                if data.is_empty() || data.len() % 4 != 0 {
                    return Err(WireError::Malformed);
                }
                let mut list = data.chunks_exact(4).filter_map(|c| addr(c).ok());
                if code == opt::ROUTER {
                    self.router = list.next();
                } else {
                    for (slot, a) in self.dns_servers.iter_mut().zip(list) {
                        *slot = Some(a);
                    }
                }
            }
            opt::HOST_NAME if data.is_empty() => return Err(WireError::Malformed),
            opt::HOST_NAME => self.host_name = Some(data),
            opt::MAX_MESSAGE_SIZE => {
                let b = <[u8; 2]>::try_from(data).map_err(|_| WireError::Malformed)?;
                self.max_message_size = Some(u16::from_be_bytes(b));
            }
            opt::CLIENT_ID => self.client_id = true,
            _ => {}
        }
        Ok(())
    }

    /// Bytes [`DhcpRepr::emit`] writes: header, cookie, options, padded to
    /// [`MIN_MESSAGE_LEN`].
    pub fn buffer_len(&self) -> usize {
        let mut n = HEADER_LEN + 4 + 3 + 1; // cookie, message type, end
        let a = |o: Option<Ipv4Addr>| if o.is_some() { 6 } else { 0 };
        let s = |o: Option<u32>| if o.is_some() { 6 } else { 0 };
        n += a(self.server_id) + a(self.requested_ip) + a(self.subnet_mask) + a(self.router);
        n += s(self.lease_time) + s(self.renewal_time) + s(self.rebinding_time);
        let dns = self.dns_servers.iter().flatten().count();
        if dns > 0 {
            n += 2 + 4 * dns;
        }
        if self.client_id {
            n += 2 + 7;
        }
        if !self.parameter_request_list.is_empty() {
            n += 2 + self.parameter_request_list.len().min(255);
        }
        if let Some(h) = self.host_name {
            n += 2 + h.len().min(255);
        }
        if self.max_message_size.is_some() {
            n += 4;
        }
        n.max(MIN_MESSAGE_LEN)
    }

    /// Writes the message to the front of `buf` and returns [`DhcpRepr::buffer_len`]. A
    /// host name or request list longer than 255 bytes is cut to 255.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        out.fill(0);
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&self.chaddr.0);
        let header = DhcpHeader {
            op: if self.message_type.is_reply() { 2 } else { 1 },
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: U32::new(self.xid),
            secs: U16::new(self.secs),
            flags: U16::new(if self.broadcast { FLAG_BROADCAST } else { 0 }),
            ciaddr: self.ciaddr.octets(),
            yiaddr: self.yiaddr.octets(),
            siaddr: [0; 4],
            giaddr: self.giaddr.octets(),
            chaddr,
            sname: [0; 64],
            file: [0; 128],
        };
        let (h, rest) = out.split_at_mut(HEADER_LEN);
        h.copy_from_slice(header.as_bytes());
        let mut w = OptionWriter { buf: rest, at: 0 };
        w.raw(&MAGIC_COOKIE);
        self.emit_options(&mut w);
        w.raw(&[opt::END]);
        Ok(len)
    }

    fn emit_options(&self, w: &mut OptionWriter<'_>) {
        w.option(opt::MESSAGE_TYPE, &[self.message_type.code()]);
        if self.client_id {
            let c = self.chaddr.0;
            w.option(opt::CLIENT_ID, &[1, c[0], c[1], c[2], c[3], c[4], c[5]]);
        }
        let addrs = [
            (opt::REQUESTED_IP, self.requested_ip),
            (opt::SERVER_ID, self.server_id),
            (opt::SUBNET_MASK, self.subnet_mask),
            (opt::ROUTER, self.router),
        ];
        for (code, a) in addrs {
            if let Some(a) = a {
                w.option(code, &a.octets());
            }
        }
        let times = [
            (opt::LEASE_TIME, self.lease_time),
            (opt::RENEWAL_TIME, self.renewal_time),
            (opt::REBINDING_TIME, self.rebinding_time),
        ];
        for (code, t) in times {
            if let Some(t) = t {
                w.option(code, &t.to_be_bytes());
            }
        }
        let mut dns = [0u8; 4 * MAX_DNS_SERVERS];
        let mut n = 0;
        for a in self.dns_servers.iter().flatten() {
            dns[n..n + 4].copy_from_slice(&a.octets());
            n += 4;
        }
        if n > 0 {
            w.option(opt::DNS_SERVER, &dns[..n]);
        }
        if !self.parameter_request_list.is_empty() {
            w.option(opt::PARAMETER_REQUEST_LIST, self.parameter_request_list);
        }
        if let Some(h) = self.host_name {
            w.option(opt::HOST_NAME, h);
        }
        if let Some(m) = self.max_message_size {
            w.option(opt::MAX_MESSAGE_SIZE, &m.to_be_bytes());
        }
    }
}

/// Appends options to a buffer sized by `buffer_len` (writes past its end are dropped).
struct OptionWriter<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl OptionWriter<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        if let Some(out) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            out.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
    fn option(&mut self, code: u8, data: &[u8]) {
        let data = data.get(..255).unwrap_or(data);
        self.raw(&[code, data.len() as u8]);
        self.raw(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x10]);

    fn offer() -> DhcpRepr<'static> {
        let mut r = DhcpRepr::client(MessageType::Offer, 0x1234_5678, MAC);
        r.client_id = false;
        r.yiaddr = Ipv4Addr::new(10, 9, 0, 50);
        r.server_id = Some(Ipv4Addr::new(10, 9, 0, 1));
        r.subnet_mask = Some(Ipv4Addr::new(255, 255, 255, 0));
        r.router = Some(Ipv4Addr::new(10, 9, 0, 1));
        r.dns_servers = [
            Some(Ipv4Addr::new(10, 9, 0, 1)),
            Some(Ipv4Addr::new(9, 9, 9, 9)),
            None,
        ];
        r.lease_time = Some(120);
        r.renewal_time = Some(60);
        r.rebinding_time = Some(105);
        r
    }

    #[test]
    fn offer_round_trip() {
        let r = offer();
        let mut buf = [0u8; 600];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(n, MIN_MESSAGE_LEN);
        assert_eq!(buf[0], 2);
        let p = DhcpPacket::new_checked(&buf[..n]).unwrap();
        assert_eq!(DhcpRepr::parse(&p), Ok(r));
    }

    #[test]
    fn discover_options_on_the_wire() {
        let mut r = DhcpRepr::client(MessageType::Discover, 7, MAC);
        r.broadcast = true;
        r.parameter_request_list = &[1, 3, 6, 51, 58, 59];
        r.host_name = Some(b"tidy");
        r.requested_ip = Some(Ipv4Addr::new(10, 9, 0, 50));
        let mut buf = [0u8; 400];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(buf[0], 1);
        assert_eq!(&buf[10..12], &[0x80, 0]);
        let o = &buf[HEADER_LEN + 4..n];
        assert_eq!(&o[..3], &[53, 1, 1]);
        assert_eq!(&o[3..12], &[61, 7, 1, 2, 0, 0, 0, 0, 0x10]);
        assert_eq!(&o[12..18], &[50, 4, 10, 9, 0, 50]);
        assert_eq!(&o[18..26], &[55, 6, 1, 3, 6, 51, 58, 59]);
        assert_eq!(&o[26..32], &[12, 4, b't', b'i', b'd', b'y']);
        assert_eq!(o[32], opt::END);
        let p = DhcpPacket::new_checked(&buf[..n]).unwrap();
        let back = DhcpRepr::parse(&p).unwrap();
        assert_eq!(back.host_name, Some(&b"tidy"[..]));
        assert!(back.client_id && back.broadcast);
    }

    fn with_options(opts: &[u8]) -> Vec<u8> {
        let mut v = std::vec![0u8; HEADER_LEN];
        v[0] = 2;
        v[1] = 1;
        v[2] = 6;
        v.extend_from_slice(&MAGIC_COOKIE);
        v.extend_from_slice(opts);
        v
    }

    fn parse(v: &[u8]) -> Result<DhcpRepr<'_>, WireError> {
        DhcpRepr::parse(&DhcpPacket::new_checked(v)?)
    }

    #[test]
    fn unknown_options_skipped_pad_and_no_end() {
        let v = with_options(&[0, 0, 200, 3, 1, 2, 3, 53, 1, 5, 0, 51, 4, 0, 0, 1, 0]);
        let r = parse(&v).unwrap();
        assert_eq!(r.message_type, MessageType::Ack);
        assert_eq!(r.lease_time, Some(256));
        // Options after END are not read.
        let v = with_options(&[53, 1, 2, 255, 51, 9]);
        assert_eq!(parse(&v).unwrap().lease_time, None);
    }

    #[test]
    fn malformed_messages() {
        let bad: &[&[u8]] = &[
            &[],                              // no message type
            &[53, 1, 9],                      // unknown type
            &[53, 2, 1, 1],                   // type of length 2
            &[53, 1, 2, 1, 3, 255, 0, 0],     // mask of length 3
            &[53, 1, 2, 3, 5, 1, 2, 3, 4, 5], // router list not a multiple of 4
            &[53, 1, 2, 6, 0],                // empty DNS list
            &[53, 1, 2, 51, 2, 0, 0],         // lease time of length 2
            &[53, 1, 2, 12, 0],               // empty host name
        ];
        for o in bad {
            assert_eq!(
                parse(&with_options(o)).err(),
                Some(WireError::Malformed),
                "{o:?}"
            );
        }
        assert_eq!(
            parse(&with_options(&[53, 1, 2, 51, 4, 0])).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            parse(&with_options(&[53, 1, 2, 51])).err(),
            Some(WireError::Truncated)
        );
        let mut v = with_options(&[53, 1, 2]);
        v[HEADER_LEN] = 0;
        assert_eq!(parse(&v).err(), Some(WireError::Malformed));
        let mut v = with_options(&[53, 1, 2]);
        v[1] = 6;
        assert_eq!(parse(&v).err(), Some(WireError::Unsupported));
        let mut v = with_options(&[53, 1, 2]);
        v[0] = 3;
        assert_eq!(parse(&v).err(), Some(WireError::Malformed));
        let v = with_options(&[53, 1, 2]);
        assert_eq!(
            parse(&v[..HEADER_LEN + 2]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn dns_list_longer_than_kept() {
        let v = with_options(&[
            53, 1, 5, 6, 16, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
        ]);
        let r = parse(&v).unwrap();
        assert_eq!(r.dns_servers[2], Some(Ipv4Addr::new(3, 3, 3, 3)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(opts in proptest::collection::vec(any::<u8>(), 0..80)) {
            let v = with_options(&opts);
            let _ = parse(&v);
        }
    }
}
