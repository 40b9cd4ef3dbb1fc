//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the SYN-ACK carries
//! the connection's state in its sequence number, and no memory is kept.
//!
//! Our ISN is `time(5 bits) | mss index(3 bits) | MAC(24 bits)`, the MAC a keyed hash of
//! the 4-tuple, the time counter, the peer's ISN and the MSS index. The time counter ticks
//! every 64 s; a cookie is accepted for two ticks. With timestamps, the peer's window scale
//! (4 bits) and SACK-permitted (1 bit) ride in the low bits of our TSval, echoed back in
//! TSecr; without timestamps, cookie connections go without scaling and SACK, as in Linux.

use super::Endpoint;

use super::conn::{Connection, wscale_for};
use super::isn::{Secrets, tuple_bytes};
use super::{SACK, TIMESTAMPS, TcpConfig, WINDOW_SCALING};
use crate::time::Instant;
use crate::wire::tcp::{SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// The MSS values a cookie can carry (3 bits).
const MSS_TABLE: [u16; 8] = [536, 1024, 1220, 1300, 1360, 1400, 1440, 1460];
/// Low TSval bits: 4 for the peer's window scale (15 = none), 1 for SACK.
const TS_BITS: u32 = 0x1f;

fn counter(now: Instant) -> u32 {
    (now.total_micros() >> 26) as u32 // 2^26 us ~ 67 s
}

fn mac(
    s: &Secrets,
    local: Endpoint,
    remote: Endpoint,
    t: u32,
    peer_isn: SeqNum,
    mss_idx: u32,
) -> u32 {
    let tuple = tuple_bytes(local, remote);
    let n = tuple.as_slice().len();
    let mut b = [0u8; super::isn::TUPLE_MAX + 9];
    b[..n].copy_from_slice(tuple.as_slice());
    b[n..n + 4].copy_from_slice(&t.to_le_bytes());
    b[n + 4..n + 8].copy_from_slice(&peer_isn.0.to_le_bytes());
    b[n + 8] = mss_idx as u8;
    (s.cookie.hash(&b[..n + 9]) as u32) & 0x00ff_ffff
}

/// The stateless SYN-ACK answering `syn`.
#[allow(clippy::too_many_arguments)]
pub fn syn_ack(
    s: &Secrets,
    cfg: &TcpConfig,
    now: Instant,
    local: Endpoint,
    remote: Endpoint,
    syn: &TcpRepr,
    our_mss: u16,
    rcv_cap: usize,
) -> TcpRepr {
    let peer_mss = syn.options.mss.unwrap_or(536).max(cfg.min_mss).min(our_mss);
    let mss_idx = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32;
    let t = counter(now);
    let cookie = ((t & 0x1f) << 27) | (mss_idx << 24) | mac(s, local, remote, t, syn.seq, mss_idx);
    let mut options = TcpOptions {
        mss: Some(our_mss),
        ..TcpOptions::NONE
    };
    if let (true, Some((tsval, _))) = (TIMESTAMPS && cfg.timestamps, syn.options.timestamps) {
        let ws = match syn.options.window_scale {
            Some(w) if WINDOW_SCALING && cfg.window_scaling => u32::from(w.min(14)),
            _ => 15,
        };
        let sack = u32::from(SACK && cfg.sack && syn.options.sack_permitted);
        let clock = (now.total_millis() as u32).wrapping_add(s.ts_offset(local, remote));
        let mut ours = (clock & !TS_BITS) | (sack << 4) | ws;
        if ours.wrapping_sub(clock) as i32 > 0 {
            ours = ours.wrapping_sub(TS_BITS + 1);
        }
        options.timestamps = Some((ours, tsval));
        if ws != 15 {
            options.window_scale = Some(wscale_for(rcv_cap));
        }
        options.sack_permitted = sack == 1;
    }
    TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        seq: SeqNum(cookie),
        ack: syn.seq + 1u32,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: rcv_cap.min(0xffff) as u16,
        options,
    }
}

/// What a valid cookie restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The peer's MSS (rounded down to the table).
    pub mss: u16,
    /// The peer's window scale, if scaling was agreed.
    pub wscale: Option<u8>,
    /// SACK was agreed.
    pub sack: bool,
    /// Our ISN (the cookie).
    pub iss: SeqNum,
}

/// Checks the ACK completing a cookie handshake.
pub fn check(
    s: &Secrets,
    cfg: &TcpConfig,
    now: Instant,
    local: Endpoint,
    remote: Endpoint,
    ack: &TcpRepr,
) -> Option<Restored> {
    if !ack.flags.contains(TcpFlags::ACK) || ack.flags.intersects(TcpFlags::SYN | TcpFlags::RST) {
        return None;
    }
    let cookie = ack.ack.0.wrapping_sub(1);
    let peer_isn = ack.seq - 1u32;
    let mss_idx = (cookie >> 24) & 7;
    let t_bits = cookie >> 27;
    let now_t = counter(now);
    let t = [now_t, now_t.wrapping_sub(1)]
        .into_iter()
        .find(|t| t & 0x1f == t_bits)?;
    if mac(s, local, remote, t, peer_isn, mss_idx) != cookie & 0x00ff_ffff {
        return None;
    }
    let (mut wscale, mut sack) = (None, false);
    if let (true, Some((_, ecr))) = (TIMESTAMPS && cfg.timestamps, ack.options.timestamps) {
        let ws = ecr & 0xf;
        if ws != 15 && WINDOW_SCALING && cfg.window_scaling {
            wscale = Some(ws as u8);
        }
        sack = SACK && cfg.sack && ecr & 0x10 != 0;
    }
    Some(Restored {
        mss: MSS_TABLE[mss_idx as usize],
        wscale,
        sack,
        iss: SeqNum(cookie),
    })
}

impl Connection {
    /// The connection a valid cookie describes, in SYN-RECEIVED with the SYN-ACK counted
    /// as sent; feeding it the ACK that carried the cookie completes the handshake.
    #[allow(clippy::too_many_arguments)]
    pub fn from_cookie(
        cfg: &TcpConfig,
        now: Instant,
        local: Endpoint,
        remote: Endpoint,
        ack: &TcpRepr,
        r: &Restored,
        mtu: usize,
        rcv_cap: usize,
        ts_offset: u32,
    ) -> Self {
        let syn = TcpRepr {
            src_port: remote.port(),
            dst_port: local.port(),
            seq: ack.seq - 1u32,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: ack.window,
            options: TcpOptions {
                mss: Some(r.mss),
                window_scale: r.wscale,
                sack_permitted: r.sack,
                sack: SackBlocks::EMPTY,
                timestamps: ack
                    .options
                    .timestamps
                    .filter(|_| TIMESTAMPS && cfg.timestamps),
            },
        };
        let mut c = Connection::accept_syn(
            cfg, now, local, remote, &syn, r.iss, mtu, rcv_cap, ts_offset,
        );
        c.snd.nxt = r.iss + 1u32;
        c.snd.max = c.snd.nxt;
        // The window the SYN-ACK offered.
        c.rcv.adv = c.rcv.nxt + (rcv_cap.min(0xffff) as u32);
        c
    }
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ends() -> (Endpoint, Endpoint) {
        (
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 1), 80),
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 2), 40000),
        )
    }

    fn syn(ts: bool) -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 65535,
            options: TcpOptions {
                mss: Some(1400),
                window_scale: Some(7),
                sack_permitted: true,
                sack: SackBlocks::EMPTY,
                timestamps: ts.then_some((5555, 0)),
            },
        }
    }

    fn ack_for(sa: &TcpRepr) -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1001),
            ack: sa.seq + 1u32,
            flags: TcpFlags::ACK,
            window: 512,
            options: TcpOptions {
                timestamps: sa.options.timestamps.map(|(v, _)| (5556, v)),
                ..TcpOptions::NONE
            },
        }
    }

    #[test]
    #[cfg(all(feature = "timestamps", feature = "window-scaling", feature = "sack"))]
    fn round_trip_with_timestamps() {
        let s = Secrets::new([3; 16]);
        let cfg = TcpConfig::default();
        let (l, r) = ends();
        let now = Instant::from_secs(1000);
        let sa = syn_ack(&s, &cfg, now, l, r, &syn(true), 1460, 65536);
        let got = check(
            &s,
            &cfg,
            now + crate::time::Duration::from_secs(30),
            l,
            r,
            &ack_for(&sa),
        )
        .unwrap();
        assert_eq!(got.mss, 1400);
        assert_eq!(got.wscale, Some(7));
        assert!(got.sack);
    }

    #[test]
    fn without_timestamps_no_scaling_or_sack() {
        let s = Secrets::new([3; 16]);
        let cfg = TcpConfig::default();
        let (l, r) = ends();
        let now = Instant::from_secs(1000);
        let sa = syn_ack(&s, &cfg, now, l, r, &syn(false), 1460, 65536);
        assert_eq!(sa.options.window_scale, None);
        assert!(!sa.options.sack_permitted);
        let got = check(&s, &cfg, now, l, r, &ack_for(&sa)).unwrap();
        assert_eq!((got.wscale, got.sack), (None, false));
    }

    #[test]
    fn rejects_forgery_and_old_cookies() {
        let s = Secrets::new([3; 16]);
        let cfg = TcpConfig::default();
        let (l, r) = ends();
        let now = Instant::from_secs(1000);
        let sa = syn_ack(&s, &cfg, now, l, r, &syn(true), 1460, 65536);
        let mut a = ack_for(&sa);
        a.ack += 1;
        assert!(check(&s, &cfg, now, l, r, &a).is_none());
        let a = ack_for(&sa);
        assert!(
            check(
                &s,
                &cfg,
                now + crate::time::Duration::from_secs(300),
                l,
                r,
                &a
            )
            .is_none()
        );
        let other = Endpoint::v4(Ipv4Addr::new(10, 0, 0, 3), 40000);
        assert!(check(&s, &cfg, now, l, other, &a).is_none());
        assert!(check(&Secrets::new([4; 16]), &cfg, now, l, r, &a).is_none());
    }

    /// IPv6 ends: the cookie covers all 16 bytes of each address, and an IPv4 pair with
    /// the same low bytes does not share it.
    #[test]
    #[cfg(feature = "proto-ipv6")]
    fn ipv6_cookies_bind_the_whole_addresses() {
        let s = Secrets::new([3; 16]);
        let cfg = TcpConfig::default();
        let v6 = |a: &str, port| Endpoint::v6(a.parse().unwrap(), port);
        let (l, r) = (v6("2001:db8::1", 80), v6("2001:db8::2", 40000));
        let now = Instant::from_secs(1000);
        let sa = syn_ack(&s, &cfg, now, l, r, &syn(false), 1440, 65536);
        let a = ack_for(&sa);
        assert!(check(&s, &cfg, now, l, r, &a).is_some());
        assert!(check(&s, &cfg, now, l, v6("2001:db9::2", 40000), &a).is_none());
        assert!(check(&s, &cfg, now, l, v6("2001:db8::1:2", 40000), &a).is_none());
        let (l4, r4) = (
            Endpoint::v4(Ipv4Addr::new(0, 0, 0, 1), 80),
            Endpoint::v4(Ipv4Addr::new(0, 0, 0, 2), 40000),
        );
        assert!(check(&s, &cfg, now, l4, r4, &a).is_none());
    }
}
