//! The public face of the sans-IO engine: building the per-call context, segments in and
//! out as bytes, and read-only views of the sequence variables. Kept apart from the
//! control block so that the engine's files can change shape without touching it.

use core::net::IpAddr;

use super::conn::{Connection, Ctx, SegmentIn, Transmit};
use super::{TcpConfig, TcpStats};
use crate::buf::SendBuf;
use crate::time::Instant;
use crate::wire::WireError;
use crate::wire::checksum::{Checksum, pseudo_header};
use crate::wire::tcp::{SeqNum, TcpPacket, TcpRepr, set_checksum};

/// The IP protocol number of TCP, for the pseudo header.
const PROTO_TCP: u8 = 6;

/// The pseudo-header checksum of a TCP segment of `len` bytes from `src` to `dst`: IPv4's
/// (RFC 9293 §3.1) or IPv6's (RFC 8200 §8.1). Addresses of two families are `Malformed`,
/// and so is an IPv6 address in a build without `proto-ipv6`.
fn pseudo(src: IpAddr, dst: IpAddr, len: usize) -> Result<Checksum, WireError> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).map_err(|_| WireError::Malformed)?;
            Ok(pseudo_header(s, d, PROTO_TCP, len))
        }
        #[cfg(feature = "proto-ipv6")]
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).map_err(|_| WireError::Malformed)?;
            Ok(crate::wire::ipv6::pseudo_header(s, d, PROTO_TCP, len))
        }
        _ => Err(WireError::Malformed),
    }
}

impl<'c> Ctx<'c> {
    /// The context of one call into the engine: the current time, the protocol settings
    /// and the counters the call updates. Build one per call (it only borrows), with the
    /// same `cfg` and `stats` for every call on a connection.
    pub fn new(now: Instant, cfg: &'c TcpConfig, stats: &'c mut TcpStats) -> Self {
        Ctx { now, cfg, stats }
    }
}

impl<'p> SegmentIn<'p> {
    /// A segment from its parsed header and payload, for [`Connection::input`].
    pub fn new(repr: TcpRepr, payload: &'p [u8]) -> Self {
        SegmentIn {
            repr,
            payload,
            staged: None,
        }
    }

    /// Parses a whole TCP segment (header, options, payload) that travelled from `src` to
    /// `dst` (both IPv4, or both IPv6 with `proto-ipv6`), checking its checksum against
    /// the pseudo header (RFC 9293 §3.1, RFC 8200 §8.1).
    /// Errors: [`WireError::Truncated`] or [`WireError::Malformed`] for a broken header or
    /// option list or mixed families, [`WireError::BadChecksum`].
    pub fn parse(
        segment: &'p [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<Self, WireError> {
        let packet = TcpPacket::new_checked(segment)?;
        let mut sum = pseudo(src.into(), dst.into(), segment.len())?;
        sum.add_bytes(segment);
        if sum.finish() != 0 {
            return Err(WireError::BadChecksum);
        }
        let repr = TcpRepr::parse(&packet)?;
        Ok(SegmentIn::new(repr, packet.payload()))
    }
}

impl Transmit {
    /// A segment without payload: a reset returned by [`Connection::input`],
    /// [`Connection::on_timer`], [`Connection::close`] or [`Connection::abort`], so that it
    /// goes out through [`Transmit::emit`] like any other.
    pub fn control(repr: TcpRepr) -> Self {
        Transmit {
            repr,
            offset: 0,
            len: 0,
        }
    }

    /// Bytes the segment takes on the wire: header, options and payload.
    pub fn segment_len(&self) -> usize {
        self.repr.header_len() + self.len
    }

    /// Writes the segment into `buf`: header and options, the payload from the
    /// connection's send buffer `tx` (the one passed to [`Connection::poll_output`]; not
    /// read when the segment has no payload), and the checksum over the pseudo header of
    /// `src` to `dst` (IPv4, or IPv6 with `proto-ipv6`). Returns the length written,
    /// [`Transmit::segment_len`].
    /// Errors: [`WireError::Truncated`] if `buf` is shorter than that, or `tx` no longer
    /// holds the payload; [`WireError::Malformed`] for addresses of two families.
    pub fn emit(
        &self,
        tx: &SendBuf<'_>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        buf: &mut [u8],
    ) -> Result<usize, WireError> {
        let total = self.segment_len();
        let mut sum = pseudo(src.into(), dst.into(), total)?;
        let seg = buf.get_mut(..total).ok_or(WireError::Truncated)?;
        let hlen = self.repr.emit(seg)?;
        let (hdr, payload) = seg.split_at_mut(hlen);
        sum.add_bytes(hdr);
        if self.len > 0 && tx.copy_and_sum(self.offset, payload, &mut sum) != self.len {
            return Err(WireError::Truncated);
        }
        set_checksum(seg, sum.finish());
        Ok(total)
    }
}

/// Read-only views of the sequence variables (RFC 9293 §3.3.1), for tests, fuzzing and
/// diagnostics. For a live connection `snd_una ≤ snd_nxt ≤ snd_max` and
/// `iss ≤ snd_una` in sequence space.
impl Connection {
    /// ISS: our initial sequence number.
    pub fn iss(&self) -> SeqNum {
        self.snd.iss
    }
    /// IRS: the peer's initial sequence number (zero before its SYN arrived).
    pub fn irs(&self) -> SeqNum {
        self.rcv.irs
    }
    /// SND.NXT: the next sequence number to send (lower than SND.MAX while resending).
    pub fn snd_nxt(&self) -> SeqNum {
        self.snd.nxt
    }
    /// SND.MAX: one past the highest sequence number sent so far (BSD's `snd_max`).
    pub fn snd_max(&self) -> SeqNum {
        self.snd.max
    }
    /// RCV.NXT: the next sequence number expected from the peer.
    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv.nxt
    }
    /// RCV.WND: the receive window last advertised, from RCV.NXT, in bytes.
    pub fn recv_window(&self) -> u32 {
        self.rcv_wnd()
    }
}
