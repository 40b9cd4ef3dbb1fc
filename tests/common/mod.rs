//! Shared test harness: two stacks over a `SimLink` in virtual time, and helpers to move
//! data and check it byte for byte.
#![allow(dead_code)]

use tidytcp::drivers::{DirectionConfig, LinkConfig, SimLink};
use tidytcp::socket::{HeapStorage, SocketSet, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::{Duration, Error, Instant};

pub const A_IP: [u8; 4] = [10, 0, 0, 1];
pub const B_IP: [u8; 4] = [10, 0, 0, 2];

/// Stack `last`: MAC 02:00:00:00:00:`last`, IPv4 address 10.0.0.`last`/24 (with
/// `proto-ipv4`; an IPv6-only build has only its link-local address), seed `[last; 16]`.
pub fn config(last: u8) -> Config {
    let mac = format!("02:00:00:00:00:{last:02x}").parse().unwrap();
    #[cfg(feature = "proto-ipv4")]
    return Config::new(
        mac,
        format!("10.0.0.{last}/24").parse().unwrap(),
        [last; 16],
    );
    #[cfg(not(feature = "proto-ipv4"))]
    return Config::from_mac(mac, [last; 16]);
}

pub fn storage() -> HeapStorage {
    HeapStorage::new(8, 2, 64 * 1024, 64 * 1024)
}

pub fn link(dir: DirectionConfig, seed: u64) -> SimLink {
    SimLink::new(LinkConfig::symmetric(dir), seed)
}

/// Latency `ms` each way, nothing else.
pub fn clean(ms: u64) -> DirectionConfig {
    DirectionConfig {
        latency: Duration::from_millis(ms),
        ..DirectionConfig::PERFECT
    }
}

/// Polls both stacks at `now`, then advances `now` to the next event (never standing
/// still). Returns false once `now` passes `limit`.
pub fn step(
    now: &mut Instant,
    a: &mut Stack<'_>,
    b: &mut Stack<'_>,
    link: &mut SimLink,
    limit: Instant,
) -> bool {
    let na = a.poll(*now, &mut link.a());
    let nb = b.poll(*now, &mut link.b());
    let next = [na, nb, link.next_delivery()].into_iter().flatten().min();
    let floor = *now + Duration::from_micros(1);
    *now = match next {
        Some(t) if t > *now => t,
        Some(_) => floor,
        None => *now + Duration::from_millis(100),
    };
    *now <= limit
}

/// The byte at position `i` of the test stream `seed`.
pub fn pattern(seed: u64, i: u64) -> u8 {
    let x = (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    (x >> 56) as u8 ^ (i as u8)
}

/// Writes as much of the remaining stream as fits; returns bytes written so far.
pub fn pump_write<'a>(
    s: &mut TcpStream<'a>,
    set: &mut SocketSet<'a>,
    seed: u64,
    sent: &mut u64,
    total: u64,
) {
    while *sent < total {
        let r = s.write_with(set, |buf| {
            let n = buf.len().min((total - *sent) as usize);
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern(seed, *sent + k as u64);
            }
            n
        });
        match r {
            Ok(n) if n > 0 => *sent += n as u64,
            _ => break,
        }
    }
}

/// One side of a two-way transfer of `total` bytes: writes its stream `mine`, closes its
/// sending half once all of it is written, and reads and checks the peer's stream
/// `theirs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pump {
    /// Bytes written.
    pub sent: u64,
    /// Bytes read.
    pub got: u64,
    /// The sending half is shut.
    pub shut: bool,
    /// The peer's stream has ended.
    pub eof: bool,
}

impl Pump {
    /// Moves what it can; true once everything is written and shut and the peer's stream
    /// has ended.
    pub fn step<'a>(
        &mut self,
        s: &mut TcpStream<'a>,
        set: &mut SocketSet<'a>,
        mine: u64,
        theirs: u64,
        total: u64,
    ) -> bool {
        pump_write(s, set, mine, &mut self.sent, total);
        if self.sent == total && !self.shut {
            s.shutdown_write(set).unwrap();
            self.shut = true;
        }
        if !self.eof {
            self.eof = pump_read(s, set, theirs, &mut self.got).unwrap();
        }
        self.eof && self.shut
    }
}

/// Reads what is there, checking every byte; returns Ok(true) at end of stream.
pub fn pump_read<'a>(
    s: &mut TcpStream<'a>,
    set: &mut SocketSet<'a>,
    seed: u64,
    got: &mut u64,
) -> Result<bool, Error> {
    loop {
        let mut bad = None;
        let start = *got;
        let r = s.read_with(set, |data| {
            for (k, &b) in data.iter().enumerate() {
                if b != pattern(seed, start + k as u64) {
                    bad = Some(start + k as u64);
                    break;
                }
            }
            data.len()
        });
        if let Some(at) = bad {
            panic!("byte {at} of stream {seed} is wrong");
        }
        match r {
            Ok(0) => return Ok(true),
            Ok(n) => *got += n as u64,
            Err(Error::WouldBlock) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// One line per TCP segment of a frame: for debugging failed simulations.
pub fn describe(frame: &[u8]) -> String {
    use tidytcp::wire::tcp::{TcpPacket, TcpRepr};
    let Some(ip) = frame.get(14..) else {
        return "short".into();
    };
    if frame.len() < 34 || frame[12..14] != [8, 0] || ip[9] != 6 {
        return format!("non-TCP frame of {} bytes", frame.len());
    }
    let ihl = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let Some(seg) = ip.get(ihl..total.min(ip.len())) else {
        return "bad ip".into();
    };
    let Ok(p) = TcpPacket::new_checked(seg) else {
        return "bad tcp".into();
    };
    let Ok(r) = TcpRepr::parse(&p) else {
        return "bad options".into();
    };
    format!(
        "{}->{} {:?} seq={} ack={} win={} len={} opts={:?}",
        r.src_port,
        r.dst_port,
        r.flags,
        r.seq,
        r.ack,
        r.window,
        p.payload().len(),
        r.options
    )
}

// The scripted peer speaks IPv4 (ARP, IPv4 frames).
#[cfg(feature = "proto-ipv4")]
pub mod conn;
#[cfg(feature = "proto-ipv4")]
pub mod data;
pub mod frames;
pub mod loopwire;
#[cfg(feature = "proto-ipv4")]
pub mod script;
#[cfg(feature = "proto-ipv4")]
pub mod udp;
#[cfg(feature = "proto-ipv6")]
pub mod v6;
