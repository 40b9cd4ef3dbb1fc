//! DNS messages (RFC 1035 §4) as a stub resolver needs them: a query for one name, and
//! the header, question and answer records of a response, with compression pointers
//! (§4.1.4) followed under a hop limit so that a pointer loop ends in an error. Address
//! records are A (IPv4) and AAAA (IPv6, RFC 3596).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::WireError;

/// UDP (and TCP) port of DNS servers.
pub const PORT: u16 = 53;
/// Length of the header.
pub const HEADER_LEN: usize = 12;
/// Longest name on the wire, length bytes included (§2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (§2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Compression pointers followed while reading one name before it is malformed.
pub const MAX_POINTERS: usize = 16;
/// Record type A (§3.2.2).
pub const TYPE_A: u16 = 1;
/// Record type AAAA, an IPv6 address (RFC 3596 §2.1).
pub const TYPE_AAAA: u16 = 28;
/// Record type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Response code "name error": the name does not exist (§4.1.1).
pub const RCODE_NXDOMAIN: u8 = 3;

/// A checked view of a DNS message: at least the 12-byte header.
#[derive(Clone, Copy)]
pub struct DnsPacket<'a> {
    buf: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Result<u16, WireError> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(WireError::Truncated),
    }
}

impl<'a> DnsPacket<'a> {
    /// Checks that the header is there.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(DnsPacket { buf })
    }
    fn u16_at(&self, at: usize) -> u16 {
        be16(self.buf, at).unwrap_or(0)
    }
    /// The message ID.
    pub fn id(&self) -> u16 {
        self.u16_at(0)
    }
    /// QR: a response.
    pub fn is_response(&self) -> bool {
        self.u16_at(2) & 0x8000 != 0
    }
    /// The opcode (0: standard query).
    pub fn opcode(&self) -> u8 {
        ((self.u16_at(2) >> 11) & 0xf) as u8
    }
    /// TC: the message was truncated.
    pub fn truncated(&self) -> bool {
        self.u16_at(2) & 0x0200 != 0
    }
    /// The response code.
    pub fn rcode(&self) -> u8 {
        (self.u16_at(2) & 0xf) as u8
    }
    /// Number of questions.
    pub fn question_count(&self) -> u16 {
        self.u16_at(4)
    }
    /// Number of answer records.
    pub fn answer_count(&self) -> u16 {
        self.u16_at(6)
    }
    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The offset just past the name that starts at `at` (pointers not followed).
    pub fn skip_name(&self, mut at: usize) -> Result<usize, WireError> {
        loop {
            let len = *self.buf.get(at).ok_or(WireError::Truncated)?;
            match len {
                0 => return Ok(at + 1),
                0xc0..=0xff => {
                    self.buf.get(at + 1).ok_or(WireError::Truncated)?;
                    return Ok(at + 2);
                }
                0x40..=0xbf => return Err(WireError::Malformed),
                n => at += 1 + usize::from(n),
            }
        }
    }

    /// Reads the name at `at` into `out` as dotted text (lower-cased, no trailing dot),
    /// following compression pointers; returns its length. A pointer loop (more than
    /// [`MAX_POINTERS`] pointers), a name longer than [`MAX_NAME_LEN`] or a label with
    /// bytes other than letters, digits, `-` and `_` is [`WireError::Malformed`].
    pub fn read_name(
        &self,
        mut at: usize,
        out: &mut [u8; MAX_NAME_LEN],
    ) -> Result<usize, WireError> {
        let mut n = 0;
        let mut hops = 0;
        loop {
            let len = *self.buf.get(at).ok_or(WireError::Truncated)?;
            match len {
                0 => return Ok(n),
                0xc0..=0xff => {
                    hops += 1;
                    if hops > MAX_POINTERS {
                        return Err(WireError::Malformed);
                    }
                    at = usize::from(be16(self.buf, at)? & 0x3fff);
                }
                0x40..=0xbf => return Err(WireError::Malformed),
                l => {
                    let label = self
                        .buf
                        .get(at + 1..at + 1 + usize::from(l))
                        .ok_or(WireError::Truncated)?;
                    n = append_label(out, n, label)?;
                    at += 1 + usize::from(l);
                }
            }
        }
    }
}

/// Appends `label` (with a dot before it unless first) to the text name in `out`.
fn append_label(out: &mut [u8; MAX_NAME_LEN], n: usize, label: &[u8]) -> Result<usize, WireError> {
    let start = if n == 0 { 0 } else { n + 1 };
    let end = start + label.len();
    if end > MAX_NAME_LEN - 1 {
        return Err(WireError::Malformed);
    }
    if n > 0 {
        out[n] = b'.';
    }
    for (o, &b) in out[start..end].iter_mut().zip(label) {
        if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(WireError::Malformed);
        }
        *o = b.to_ascii_lowercase();
    }
    Ok(end)
}

/// One resource record of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Offset of the owner name in the message (read it with [`DnsPacket::read_name`]).
    pub name_at: usize,
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Offset of the data in the message (a CNAME's target name is there).
    pub data_at: usize,
    /// The data.
    pub data: &'a [u8],
}

impl Record<'_> {
    /// The address of an IN A record.
    pub fn a(&self) -> Option<Ipv4Addr> {
        if self.rtype != TYPE_A || self.class != CLASS_IN {
            return None;
        }
        <[u8; 4]>::try_from(self.data).ok().map(Ipv4Addr::from)
    }

    /// The address of an IN AAAA record (RFC 3596 §2.2: 16 bytes, network order).
    pub fn aaaa(&self) -> Option<Ipv6Addr> {
        if self.rtype != TYPE_AAAA || self.class != CLASS_IN {
            return None;
        }
        <[u8; 16]>::try_from(self.data).ok().map(Ipv6Addr::from)
    }

    /// The address of an IN A or AAAA record; a record of another type or class, or
    /// with data of the wrong length, has none.
    pub fn address(&self) -> Option<IpAddr> {
        match self.rtype {
            TYPE_AAAA => self.aaaa().map(IpAddr::V6),
            _ => self.a().map(IpAddr::V4),
        }
    }
}

impl<'a> DnsPacket<'a> {
    /// The offset of the first answer record: past the questions.
    pub fn answers_at(&self) -> Result<usize, WireError> {
        let mut at = HEADER_LEN;
        for _ in 0..self.question_count() {
            at = self.skip_name(at)? + 4;
        }
        if at > self.buf.len() {
            return Err(WireError::Truncated);
        }
        Ok(at)
    }

    /// The record at `at` and the offset after it.
    pub fn record(&self, at: usize) -> Result<(Record<'a>, usize), WireError> {
        let name_at = at;
        let at = self.skip_name(at)?;
        let rtype = be16(self.buf, at)?;
        let class = be16(self.buf, at + 2)?;
        let ttl = u32::from(be16(self.buf, at + 4)?) << 16 | u32::from(be16(self.buf, at + 6)?);
        let len = usize::from(be16(self.buf, at + 8)?);
        let data_at = at + 10;
        let data = self
            .buf
            .get(data_at..data_at + len)
            .ok_or(WireError::Truncated)?;
        let r = Record {
            name_at,
            rtype,
            class,
            ttl,
            data_at,
            data,
        };
        Ok((r, data_at + len))
    }
}

/// Writes a standard query (RD set) with one question for `name`, type `qtype`, class
/// IN, to the front of `buf`; returns its length. `name` is dotted text (a trailing dot
/// is allowed); an empty label, a label over 63 bytes or a name over 255 bytes is
/// [`WireError::Malformed`].
pub fn emit_query(buf: &mut [u8], id: u16, name: &str, qtype: u16) -> Result<usize, WireError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let qname_len = name.len() + 2;
    if name.is_empty() || qname_len > MAX_NAME_LEN {
        return Err(WireError::Malformed);
    }
    let len = HEADER_LEN + qname_len + 4;
    let out = buf.get_mut(..len).ok_or(WireError::Truncated)?;
    out.fill(0);
    out[..2].copy_from_slice(&id.to_be_bytes());
    out[2] = 0x01; // RD
    out[5] = 1; // QDCOUNT
    let mut at = HEADER_LEN;
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(WireError::Malformed);
        }
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    out[at] = 0;
    out[at + 1..at + 3].copy_from_slice(&qtype.to_be_bytes());
    out[at + 3..at + 5].copy_from_slice(&CLASS_IN.to_be_bytes());
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// A response for www.example.test: CNAME to host.example.test (compressed), A.
    fn response() -> Vec<u8> {
        let mut v = std::vec![0u8; 512];
        let n = emit_query(&mut v, 0xbeef, "www.Example.test", TYPE_A).unwrap();
        v.truncate(n);
        v[2] = 0x81;
        v[3] = 0x80;
        v[7] = 2; // ANCOUNT
        // www.example.test CNAME host.<pointer to example.test at 16>
        v.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7]);
        v.extend_from_slice(&[4, b'h', b'o', b's', b't', 0xc0, 16]);
        // host.example.test A 10.8.0.1, name by pointer to the CNAME data.
        let host = n + 12;
        v.extend_from_slice(&[0xc0, host as u8, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 8, 0, 1]);
        v
    }

    #[test]
    fn query_bytes() {
        let mut b = [0u8; 64];
        let n = emit_query(&mut b, 0x1234, "a.bc.", TYPE_A).unwrap();
        assert_eq!(
            &b[..n],
            &[
                0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1
            ]
        );
        for bad in ["", ".", "a..b", &"x".repeat(64), &["abc"; 70].join(".")] {
            assert_eq!(
                emit_query(&mut [0u8; 600], 1, bad, TYPE_A),
                Err(WireError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            emit_query(&mut b[..20], 1, "a.bc", TYPE_A),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn response_with_cname_and_pointers() {
        let v = response();
        let p = DnsPacket::new_checked(&v).unwrap();
        assert!(p.is_response() && !p.truncated());
        assert_eq!(
            (p.id(), p.rcode(), p.opcode(), p.answer_count()),
            (0xbeef, 0, 0, 2)
        );
        let mut name = [0u8; MAX_NAME_LEN];
        let n = p.read_name(HEADER_LEN, &mut name).unwrap();
        assert_eq!(&name[..n], b"www.example.test");
        let at = p.answers_at().unwrap();
        let (cname, at) = p.record(at).unwrap();
        assert_eq!((cname.rtype, cname.ttl), (TYPE_CNAME, 60));
        let n = p.read_name(cname.data_at, &mut name).unwrap();
        assert_eq!(&name[..n], b"host.example.test");
        let (a, end) = p.record(at).unwrap();
        assert_eq!(a.a(), Some(Ipv4Addr::new(10, 8, 0, 1)));
        let n = p.read_name(a.name_at, &mut name).unwrap();
        assert_eq!(&name[..n], b"host.example.test");
        assert_eq!(end, v.len());
        assert_eq!(p.record(end).err(), Some(WireError::Truncated));
    }

    #[test]
    fn aaaa_records() {
        let mut v = std::vec![0u8; 512];
        let n = emit_query(&mut v, 7, "v6.test", TYPE_AAAA).unwrap();
        assert_eq!(&v[n - 4..n], &[0, 28, 0, 1]);
        v.truncate(n);
        v[2] = 0x81;
        v[7] = 3; // ANCOUNT
        let addr: Ipv6Addr = "2001:db8::13".parse().unwrap();
        v.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        v.extend_from_slice(&addr.octets());
        // A short AAAA, and an AAAA of class CH: no address.
        v.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        v.extend_from_slice(&[0xc0, 12, 0, 28, 0, 3, 0, 0, 0, 60, 0, 16]);
        v.extend_from_slice(&addr.octets());
        let p = DnsPacket::new_checked(&v).unwrap();
        let (r, at) = p.record(p.answers_at().unwrap()).unwrap();
        assert_eq!((r.aaaa(), r.a()), (Some(addr), None));
        assert_eq!(r.address(), Some(IpAddr::V6(addr)));
        let (short, at) = p.record(at).unwrap();
        assert_eq!(
            (short.aaaa(), short.a(), short.address()),
            (None, None, None)
        );
        let (chaos, end) = p.record(at).unwrap();
        assert_eq!((chaos.aaaa(), end), (None, v.len()));
        // Cut anywhere inside the last record: truncated, never a panic.
        for cut in at..v.len() {
            let p = DnsPacket::new_checked(&v[..cut]).unwrap();
            assert_eq!(p.record(at).err(), Some(WireError::Truncated), "{cut}");
        }
    }

    #[test]
    fn pointer_loops_and_bad_labels() {
        let mut v = response();
        let at = v.len();
        v.extend_from_slice(&[0xc0, at as u8]); // points at itself
        let p = DnsPacket::new_checked(&v).unwrap();
        let mut name = [0u8; MAX_NAME_LEN];
        assert_eq!(p.read_name(at, &mut name), Err(WireError::Malformed));
        let mut v = response();
        v[13] = b'.';
        let p = DnsPacket::new_checked(&v).unwrap();
        assert_eq!(
            p.read_name(HEADER_LEN, &mut name),
            Err(WireError::Malformed)
        );
        let v = [0u8; 12];
        assert!(DnsPacket::new_checked(&v[..11]).is_err());
        let mut v = response();
        v[12] = 0x40; // reserved label type
        let p = DnsPacket::new_checked(&v).unwrap();
        assert_eq!(p.answers_at(), Err(WireError::Malformed));
    }

    proptest! {
        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = DnsPacket::new_checked(&bytes) {
                let mut name = [0u8; MAX_NAME_LEN];
                let _ = p.read_name(HEADER_LEN, &mut name);
                if let Ok(mut at) = p.answers_at() {
                    for _ in 0..p.answer_count().min(20) {
                        let Ok((r, next)) = p.record(at) else { break };
                        let _ = p.read_name(r.name_at, &mut name);
                        let _ = p.read_name(r.data_at, &mut name);
                        let _ = (r.a(), r.aaaa(), r.address());
                        at = next;
                    }
                }
            }
        }
    }
}
