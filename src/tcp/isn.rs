//! Initial sequence numbers (RFC 6528 / RFC 9293 §3.4.1) and ephemeral port selection
//! (RFC 6056 §3.3.3, the "double-hash" algorithm), both keyed with SipHash-2-4 from a
//! secret the user supplies in the configuration (on a board: from its RNG).

use super::Endpoint;

use crate::time::Instant;
use crate::wire::tcp::SeqNum;

/// SipHash-2-4 with a 128-bit key, over a short message.
#[derive(Clone, Copy, Debug)]
pub struct SipHasher {
    k0: u64,
    k1: u64,
}

impl SipHasher {
    /// A hasher keyed with `key`.
    pub const fn new(key: [u8; 16]) -> Self {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            a[i] = key[i];
            b[i] = key[i + 8];
            i += 1;
        }
        SipHasher {
            k0: u64::from_le_bytes(a),
            k1: u64::from_le_bytes(b),
        }
    }

    /// SipHash-2-4 of `msg`.
    pub fn hash(&self, msg: &[u8]) -> u64 {
        let mut v = [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ];
        // Every 8-byte block, then the last one (the remaining bytes, zero-padded, with
        // the length in its top byte), through one compression site: on a 32-bit core
        // each inlined SipRound costs about 140 bytes of flash.
        let blocks = msg.len() / 8;
        for i in 0..=blocks {
            let mut b = [0u8; 8];
            let rest = msg.get(i * 8..).unwrap_or(&[]);
            let n = rest.len().min(8);
            b[..n].copy_from_slice(&rest[..n]);
            if i == blocks {
                b[7] = msg.len() as u8;
            }
            let m = u64::from_le_bytes(b);
            v[3] ^= m;
            for _ in 0..2 {
                sip_round(&mut v);
            }
            v[0] ^= m;
        }
        v[2] ^= 0xff;
        for _ in 0..4 {
            sip_round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// The encoding of a connection's four-tuple, local side first, each side its address
/// bytes then its port: 12 bytes for IPv4, 36 for IPv6.
#[derive(Clone, Copy, Debug)]
pub struct TupleBytes {
    buf: [u8; TUPLE_MAX],
    len: usize,
}

impl TupleBytes {
    /// The encoded bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

/// The longest [`TupleBytes`] of this build: 12 bytes when it carries IPv4 only (an
/// IPv4-only build hashes no more than it did before IPv6), 36 with IPv6.
pub(crate) const TUPLE_MAX: usize = 2 * (super::endpoint::ADDR_LEN + 2);

/// Appends an endpoint's address and port to `b` at `at`; returns the new end.
fn put(b: &mut [u8; TUPLE_MAX], at: usize, e: &Endpoint) -> usize {
    let a = e.addr_bytes();
    let end = at + a.len() + 2;
    if let Some(d) = b.get_mut(at..end) {
        d[..a.len()].copy_from_slice(a);
        d[a.len()..].copy_from_slice(&e.port().to_be_bytes());
    }
    end
}

/// The encoding of a connection's four-tuple, local side first (see [`TupleBytes`]).
pub fn tuple_bytes(local: Endpoint, remote: Endpoint) -> TupleBytes {
    let mut buf = [0u8; TUPLE_MAX];
    let at = put(&mut buf, 0, &local);
    let len = put(&mut buf, at, &remote);
    TupleBytes { buf, len }
}

/// The secrets derived from the user's seed: one key per purpose, so that no output of one
/// use reveals anything about another.
#[derive(Clone, Copy, Debug)]
pub struct Secrets {
    isn: SipHasher,
    port: SipHasher,
    /// Keys the SYN cookie MAC and the timestamp offsets.
    pub cookie: SipHasher,
    /// Keys the connection table hash (so a peer cannot aim collisions at one bucket).
    pub table_key: (u64, u64),
}

impl Secrets {
    /// Derives the keys from a 128-bit seed.
    pub fn new(seed: [u8; 16]) -> Self {
        let root = SipHasher::new(seed);
        let derive = |label: &[u8]| {
            let a = root.hash(label).to_le_bytes();
            let mut l2 = [0u8; 16];
            let n = label.len().min(15);
            l2[..n].copy_from_slice(&label[..n]);
            l2[15] = 0xa5;
            let b = root.hash(&l2).to_le_bytes();
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&a);
            k[8..].copy_from_slice(&b);
            SipHasher::new(k)
        };
        Secrets {
            isn: derive(b"tidytcp isn"),
            port: derive(b"tidytcp port"),
            cookie: derive(b"tidytcp cookie"),
            table_key: (root.hash(b"tidytcp table 0"), root.hash(b"tidytcp table 1")),
        }
    }

    /// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
    /// is a timer ticking every 4 microseconds.
    pub fn isn(&self, now: Instant, local: Endpoint, remote: Endpoint) -> SeqNum {
        let m = (now.total_micros() / 4) as u32;
        let f = self.isn.hash(tuple_bytes(local, remote).as_slice()) as u32;
        SeqNum(m.wrapping_add(f))
    }

    /// RFC 6056 §3.3.3 (Algorithm 3): the per-destination offset into the ephemeral range.
    /// `local` is our address (its port is not used).
    pub fn port_offset(&self, local: Endpoint, remote: Endpoint) -> u32 {
        let mut b = [0u8; TUPLE_MAX - 2];
        let l = local.addr_bytes();
        let mut t = [0u8; TUPLE_MAX];
        let n = put(&mut t, 0, &remote);
        let total = l.len() + n;
        b[..l.len()].copy_from_slice(l);
        b[l.len()..total].copy_from_slice(&t[..n]);
        self.port.hash(&b[..total]) as u32
    }

    /// A per-connection offset for the timestamp clock (RFC 7323 §7.1 allows a random
    /// offset; it keeps the host's uptime private).
    pub fn ts_offset(&self, local: Endpoint, remote: Endpoint) -> u32 {
        let t = tuple_bytes(local, remote);
        let n = t.len;
        let mut b = [0u8; TUPLE_MAX + 1];
        b[..n].copy_from_slice(t.as_slice());
        b[n] = 0x75;
        self.cookie.hash(&b[..=n]) as u32
    }
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn siphash_reference_vectors() {
        // The reference vectors of the SipHash paper: key 00..0f, messages 00..(n-1).
        let mut key = [0u8; 16];
        for (i, k) in key.iter_mut().enumerate() {
            *k = i as u8;
        }
        let h = SipHasher::new(key);
        assert_eq!(h.hash(&[]), 0x726f_db47_dd0e_0e31);
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(h.hash(&msg), 0xa129_ca61_49be_45e5);
        assert_eq!(h.hash(&msg[..8]), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn isn_advances_with_clock_and_differs_per_tuple() {
        let s = Secrets::new([7; 16]);
        let l = Endpoint::v4(Ipv4Addr::new(10, 0, 0, 1), 1000);
        let r = Endpoint::v4(Ipv4Addr::new(10, 0, 0, 2), 80);
        let r2 = Endpoint::v4(Ipv4Addr::new(10, 0, 0, 2), 81);
        let a = s.isn(Instant::from_secs(1), l, r);
        let b = s.isn(Instant::from_secs(2), l, r);
        assert_eq!(b - a, 250_000);
        assert_ne!(s.isn(Instant::from_secs(1), l, r2), a);
        let other = Secrets::new([8; 16]);
        assert_ne!(other.isn(Instant::from_secs(1), l, r), a);
    }
}
