//! One end of a connection's 4-tuple, of either address family.
//!
//! With `proto-ipv6` an [`Endpoint`] holds sixteen address bytes, an IPv4 address in its
//! IPv4-mapped form (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), which never appears as the
//! source or destination of an IPv6 packet on the wire (the interface drops those), so
//! the two families cannot alias. Without the feature it holds four bytes, and an
//! IPv4-only build keeps the 6-byte endpoint of `SocketAddrV4`. An IPv6-only build
//! (`proto-ipv6` without `proto-ipv4`) has no IPv4 endpoints: [`Endpoint::v4`] and the
//! conversions from `SocketAddrV4` are absent, and [`Endpoint::is_ipv4`] is always false.
//!
//! IPv4 stays the cheap case: building one is a copy into a fixed prefix, and the bytes
//! the keyed hashes (ISN, timestamps offset, cookies, the table) take for an IPv4 pair are
//! the same 12 as before IPv6 existed.

use core::fmt;
use core::net::{IpAddr, SocketAddr};
#[cfg(feature = "proto-ipv4")]
use core::net::{Ipv4Addr, SocketAddrV4};
#[cfg(feature = "proto-ipv6")]
use core::net::{Ipv6Addr, SocketAddrV6};

/// Bytes of address an endpoint stores.
#[cfg(feature = "proto-ipv6")]
pub(crate) const ADDR_LEN: usize = 16;
#[cfg(not(feature = "proto-ipv6"))]
pub(crate) const ADDR_LEN: usize = 4;

/// The first twelve bytes of an IPv4-mapped IPv6 address.
#[cfg(all(feature = "proto-ipv4", feature = "proto-ipv6"))]
const V4_MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// An IP address and a TCP port: one side of a connection. IPv4 with the `proto-ipv4`
/// feature, IPv6 with `proto-ipv6`. Converts from `SocketAddrV4` (with IPv4) and
/// `SocketAddrV6` (with IPv6) and to `core::net::SocketAddr`; compares equal to a
/// `SocketAddrV4` with the same address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    addr: [u8; ADDR_LEN],
    port: u16,
}

impl Endpoint {
    /// An IPv4 endpoint (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    #[inline]
    pub const fn v4(ip: Ipv4Addr, port: u16) -> Self {
        let o = ip.octets();
        let mut addr = [0u8; ADDR_LEN];
        #[cfg(feature = "proto-ipv6")]
        {
            addr[10] = 0xff;
            addr[11] = 0xff;
        }
        addr[ADDR_LEN - 4] = o[0];
        addr[ADDR_LEN - 3] = o[1];
        addr[ADDR_LEN - 2] = o[2];
        addr[ADDR_LEN - 1] = o[3];
        Endpoint { addr, port }
    }

    /// An IPv6 endpoint. An IPv4-mapped `ip` makes the IPv4 endpoint it maps.
    #[cfg(feature = "proto-ipv6")]
    #[inline]
    pub const fn v6(ip: Ipv6Addr, port: u16) -> Self {
        Endpoint {
            addr: ip.octets(),
            port,
        }
    }

    /// The endpoint `addr` names, if this build carries its family (IPv4 needs
    /// `proto-ipv4`, IPv6 `proto-ipv6`).
    pub fn from_socket_addr(addr: SocketAddr) -> Option<Self> {
        match addr {
            #[cfg(feature = "proto-ipv4")]
            SocketAddr::V4(a) => Some(Self::from(a)),
            #[cfg(feature = "proto-ipv6")]
            SocketAddr::V6(a) => Some(Self::from(a)),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The port.
    #[inline]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The same address with another port.
    #[inline]
    pub const fn with_port(self, port: u16) -> Self {
        Endpoint {
            addr: self.addr,
            port,
        }
    }

    /// An IPv4 endpoint's address (feature `proto-ipv4`).
    #[cfg(feature = "proto-ipv4")]
    #[inline]
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        #[cfg(feature = "proto-ipv6")]
        if self.addr[..12] != V4_MAPPED {
            return None;
        }
        let [.., a, b, c, d] = self.addr;
        Some(Ipv4Addr::new(a, b, c, d))
    }

    /// An IPv6 endpoint's address.
    #[cfg(feature = "proto-ipv6")]
    #[inline]
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        match self.is_ipv4() {
            true => None,
            false => Some(Ipv6Addr::from(self.addr)),
        }
    }

    /// The endpoint is an IPv4 one (always false in an IPv6-only build, always true in
    /// an IPv4-only one).
    #[inline]
    pub fn is_ipv4(&self) -> bool {
        #[cfg(all(feature = "proto-ipv4", feature = "proto-ipv6"))]
        return self.addr[..12] == V4_MAPPED;
        #[cfg(not(feature = "proto-ipv6"))]
        return true;
        #[cfg(not(feature = "proto-ipv4"))]
        return false;
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        #[cfg(feature = "proto-ipv4")]
        if let Some(a) = self.ipv4() {
            return IpAddr::V4(a);
        }
        #[cfg(feature = "proto-ipv6")]
        return IpAddr::V6(Ipv6Addr::from(self.addr));
        #[cfg(not(feature = "proto-ipv6"))]
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    }

    /// The address bytes as the wire carries them: 4 for IPv4, 16 for IPv6.
    #[inline]
    pub fn addr_bytes(&self) -> &[u8] {
        match self.is_ipv4() {
            true => &self.addr[ADDR_LEN - 4..],
            false => &self.addr,
        }
    }

    /// IP and TCP headers without options for this endpoint's family: 40 bytes for IPv4,
    /// 60 for IPv6 (the MSS is the MTU less these, RFC 9293 §3.7.1, RFC 8200 §8.3).
    #[inline]
    pub fn ip_tcp_headers(&self) -> usize {
        match self.is_ipv4() {
            true => 40,
            false => 60,
        }
    }

    /// The unspecified address of the same family, with `port`.
    pub fn unspecified_like(&self, port: u16) -> Self {
        #[cfg(feature = "proto-ipv6")]
        if !self.is_ipv4() {
            return Endpoint::v6(Ipv6Addr::UNSPECIFIED, port);
        }
        #[cfg(feature = "proto-ipv4")]
        return Endpoint::v4(Ipv4Addr::UNSPECIFIED, port);
        #[cfg(not(feature = "proto-ipv4"))]
        return Endpoint::v6(Ipv6Addr::UNSPECIFIED, port);
    }
}

#[cfg(feature = "proto-ipv4")]
impl From<SocketAddrV4> for Endpoint {
    #[inline]
    fn from(a: SocketAddrV4) -> Self {
        Endpoint::v4(*a.ip(), a.port())
    }
}

/// Drops the flow label and scope id: the engine keys connections by address and port.
#[cfg(feature = "proto-ipv6")]
impl From<SocketAddrV6> for Endpoint {
    #[inline]
    fn from(a: SocketAddrV6) -> Self {
        Endpoint::v6(*a.ip(), a.port())
    }
}

impl From<Endpoint> for SocketAddr {
    fn from(e: Endpoint) -> Self {
        SocketAddr::new(e.ip(), e.port)
    }
}

#[cfg(feature = "proto-ipv4")]
impl PartialEq<SocketAddrV4> for Endpoint {
    fn eq(&self, other: &SocketAddrV4) -> bool {
        *self == Endpoint::from(*other)
    }
}

impl PartialEq<SocketAddr> for Endpoint {
    fn eq(&self, other: &SocketAddr) -> bool {
        SocketAddr::from(*self) == *other
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&SocketAddr::from(*self), f)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;

    #[cfg(feature = "proto-ipv4")]
    #[test]
    fn ipv4_round_trips_and_compares_with_socket_addr_v4() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let e = Endpoint::from(a);
        assert!(e.is_ipv4());
        assert_eq!(e, a);
        assert_eq!(e.addr_bytes(), &[10, 0, 0, 2]);
        assert_eq!(SocketAddr::from(e), SocketAddr::V4(a));
        assert_eq!(e.ip_tcp_headers(), 40);
    }

    #[cfg(all(feature = "proto-ipv4", feature = "proto-ipv6"))]
    #[test]
    fn ipv6_is_its_own_family() {
        let ip: Ipv6Addr = "fe80::1".parse().unwrap();
        let e = Endpoint::v6(ip, 443);
        assert!(!e.is_ipv4());
        assert_eq!(e.ipv6(), Some(ip));
        assert_eq!(e.ipv4(), None);
        assert_eq!(e.addr_bytes().len(), 16);
        assert_eq!(e.ip_tcp_headers(), 60);
        assert_eq!(std::format!("{e}"), "[fe80::1]:443");
        let mapped = Endpoint::v6(Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped(), 1);
        assert_eq!(mapped, Endpoint::v4(Ipv4Addr::new(1, 2, 3, 4), 1));
    }
}
