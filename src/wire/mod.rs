//! Wire formats: checked views over byte slices and small parsed representations.
//!
//! Each header has a view type built with `new_checked` (after which no accessor can
//! panic) and a `Repr` with `parse` and `emit`, in the style of smoltcp's `wire` module.
//! Fixed headers are `zerocopy` structs with network-endian fields, so no `unsafe` is
//! needed to read them in place.

#[cfg(feature = "proto-ipv4")]
pub mod arp;
pub mod checksum;
#[cfg(feature = "dhcpv4")]
pub mod dhcpv4;
#[cfg(feature = "dns")]
pub mod dns;
pub mod ethernet;
// In every build: its `DstUnreachableCode` is how TCP hears unreachable errors of both
// families (`tcp::icmp`).
pub mod icmpv4;
#[cfg(feature = "proto-ipv6")]
pub mod icmpv6;
pub mod ipv4;
#[cfg(feature = "proto-ipv6")]
pub mod ipv6;
#[cfg(feature = "proto-ipv6")]
pub mod ndisc;
pub mod tcp;
#[cfg(any(feature = "dhcpv4", feature = "dns"))]
pub mod udp;

/// Why a byte slice is not a valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The slice ends before the header (or a length field) says it should.
    Truncated,
    /// A field has a value the format does not allow.
    Malformed,
    /// The checksum does not match.
    BadChecksum,
    /// A valid packet of a kind this stack does not handle.
    Unsupported,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated",
            WireError::Malformed => "malformed",
            WireError::BadChecksum => "bad checksum",
            WireError::Unsupported => "unsupported",
        })
    }
}
