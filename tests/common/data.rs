//! Helpers for the data-transfer scripted tests (`tcp_data.rs`, `tcp_cc.rs`, ...): open a
//! connection with the test as the peer, queue bytes on the stack's side, and check the
//! exact segments that come back.
#![allow(dead_code)]

use super::script::*;
use tidytcp::socket::{HeapStorage, TcpListener, TcpStream};
use tidytcp::stack::Config;
use tidytcp::tcp::Connection;
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions};
use tidytcp::{Duration, Instant};

/// An established connection in a [`Script`]: the stack's handle, its listener, and the
/// sequence numbers of both sides.
pub struct Open<'a> {
    pub s: TcpStream<'a>,
    pub l: Option<TcpListener<'a>>,
    /// The stack's initial sequence number.
    pub iss: SeqNum,
    /// The first data byte the stack sends (ISS + 1).
    pub snd: SeqNum,
    /// The peer's next sequence number (what the stack expects next).
    pub rcv: SeqNum,
    /// The stack's port.
    pub port: u16,
}

/// MSS only (no window scaling, timestamps or SACK): plain RFC 9293.
pub fn mss_only(mss: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        ..TcpOptions::NONE
    }
}

/// MSS and SACK-permitted.
pub fn mss_sack(mss: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        sack_permitted: true,
        ..TcpOptions::NONE
    }
}

/// MSS, SACK-permitted, and timestamps starting at `tsval` if given.
pub fn mss_sack_ts(mss: u16, tsval: Option<u32>) -> TcpOptions {
    TcpOptions {
        timestamps: tsval.map(|v| (v, 0)),
        ..mss_sack(mss)
    }
}

/// Storage with `rx`/`tx` bytes per connection.
pub fn mem(rx: usize, tx: usize) -> HeapStorage {
    HeapStorage::new(8, 2, rx, tx)
}

/// The script configuration with a change applied.
pub fn cfg_with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = script_config();
    f(&mut c);
    c
}

/// The peer connects to a listener on `STACK_PORT` with a SYN carrying `opts` (ISN
/// 1000); returns the accepted connection. Nothing is left unread in `t.out`.
pub fn open_passive<'a>(t: &mut Script<'a>, opts: TcpOptions) -> Open<'a> {
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    let (iss, rcv) = t.handshake_passive(1000, opts);
    let s = l.accept(&mut t.stack).unwrap().0;
    t.expect_none();
    Open {
        s,
        l: Some(l),
        iss,
        snd: iss + 1u32,
        rcv,
        port: STACK_PORT,
    }
}

/// The stack connects to the peer; the peer answers the SYN with a SYN-ACK carrying
/// `opts` and `win` (ISN 5000), and the stack's ACK is checked. Returns the connection
/// and the stack's SYN.
pub fn open_active<'a>(t: &mut Script<'a>, opts: TcpOptions, win: u16) -> (Open<'a>, Seg) {
    let s = t.stack.connect(peer().into()).unwrap();
    t.poll();
    let syn = t.expect(Seg {
        flags: TcpFlags::SYN,
        ..Default::default()
    });
    let mut sa = Seg {
        src_port: PEER_PORT,
        dst_port: syn.src_port,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        seq: SeqNum(5000),
        ack: syn.seq + 1u32,
        win,
        opts,
        data: Vec::new(),
    };
    if let (Some(_), Some((v, _))) = (opts.timestamps, syn.opts.timestamps) {
        sa.opts.timestamps = Some((opts.timestamps.unwrap().0, v));
    }
    t.send(sa);
    let ack = t.expect(Seg {
        flags: TcpFlags::ACK,
        seq: syn.seq + 1u32,
        ack: SeqNum(5001),
        ..Default::default()
    });
    assert!(ack.data.is_empty());
    let port = syn.src_port;
    (
        Open {
            s,
            l: None,
            iss: syn.seq,
            snd: syn.seq + 1u32,
            rcv: SeqNum(5001),
            port,
        },
        syn,
    )
}

impl<'a> Open<'a> {
    /// The engine state, read-only.
    pub fn conn<'s>(&self, t: &'s Script<'a>) -> &'s Connection {
        self.s.connection(&t.stack).unwrap()
    }

    /// A segment from the peer on this connection: `flags` at the peer's current
    /// sequence number, acknowledging `ack`, window `win`.
    pub fn seg(&self, flags: TcpFlags, ack: SeqNum, win: u16) -> Seg {
        Seg {
            dst_port: self.port,
            flags,
            seq: self.rcv,
            ack,
            win,
            ..Default::default()
        }
    }

    /// A pure ACK from the peer.
    pub fn ack(&self, ack: SeqNum, win: u16) -> Seg {
        self.seg(TcpFlags::ACK, ack, win)
    }

    /// Data from the peer at its current sequence number (which advances), ACKing `ack`.
    pub fn data(&mut self, ack: SeqNum, data: &[u8]) -> Seg {
        let mut s = self.seg(TcpFlags::ACK | TcpFlags::PSH, ack, 65535);
        s.data = data.to_vec();
        self.rcv += data.len() as u32;
        s
    }

    /// Queues `n` bytes of the pattern on the stack's side (all must fit) and polls.
    pub fn write(&mut self, t: &mut Script<'a>, n: usize) {
        let data = bytes(n);
        let w = self.s.write(&mut t.stack, &data).unwrap();
        assert_eq!(w, n, "send buffer too small for the test");
        t.poll();
    }

    /// Reads everything the stack holds for the user (and polls, so that a window
    /// update can go out). Returns the bytes.
    pub fn read_all(&mut self, t: &mut Script<'a>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.s.read(&mut t.stack, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        t.poll();
        out
    }
}

/// `n` bytes of a recognisable pattern (byte `i` is `i % 251`).
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// The next segment must carry exactly `len` data bytes at `seq`, flags ACK (plus PSH if
/// `psh`), no FIN/SYN/RST. Returns it.
#[track_caller]
pub fn expect_data(t: &mut Script<'_>, seq: SeqNum, len: usize, psh: bool) -> Seg {
    let got = t.recv().unwrap_or_else(|| {
        panic!(
            "at {:?}: expected {len} bytes at {seq:?}, got nothing",
            t.now
        )
    });
    let want = if psh {
        TcpFlags::ACK | TcpFlags::PSH
    } else {
        TcpFlags::ACK
    };
    assert_eq!(got.flags, want, "flags of {got:?}");
    assert_eq!(got.seq, seq, "seq of {got:?}");
    assert_eq!(got.data.len(), len, "length of {got:?}");
    got
}

/// The next segment must be a pure ACK (no data) of `ack` with window `win`.
#[track_caller]
pub fn expect_ack(t: &mut Script<'_>, ack: SeqNum, win: u16) -> Seg {
    let got = t
        .recv()
        .unwrap_or_else(|| panic!("at {:?}: expected an ACK of {ack:?}, got nothing", t.now));
    assert_eq!(got.flags, TcpFlags::ACK, "flags of {got:?}");
    assert!(got.data.is_empty(), "data in {got:?}");
    assert_eq!(got.ack, ack, "ack of {got:?}");
    assert_eq!(got.win, win, "window of {got:?}");
    got
}

/// Takes every segment the stack has sent so far.
pub fn drain(t: &mut Script<'_>) -> Vec<Seg> {
    let mut v = Vec::new();
    while let Some(s) = t.recv() {
        v.push(s);
    }
    v
}

/// Data segments among `segs` as (offset from `base`, length).
pub fn spans(segs: &[Seg], base: SeqNum) -> Vec<(u32, usize)> {
    segs.iter()
        .filter(|s| !s.data.is_empty())
        .map(|s| (s.seq - base, s.data.len()))
        .collect()
}

/// Like [`open_passive`], but the peer's ACK of the SYN-ACK comes `rtt` later (the
/// stack's first RTT sample), and the peer's window is `win`.
pub fn open_passive_rtt<'a>(
    t: &mut Script<'a>,
    opts: TcpOptions,
    rtt: Duration,
    win: u16,
) -> Open<'a> {
    let l = t.stack.listen(STACK_PORT, 4).unwrap();
    t.send(Seg {
        flags: TcpFlags::SYN,
        seq: SeqNum(1000),
        win,
        opts,
        ..Default::default()
    });
    let sa = t.expect(Seg {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack: SeqNum(1001),
        ..Default::default()
    });
    t.now += rtt;
    let mut ack = Seg {
        flags: TcpFlags::ACK,
        seq: SeqNum(1001),
        ack: sa.seq + 1u32,
        win,
        ..Default::default()
    };
    if let (Some((v, _)), Some((tv, _))) = (opts.timestamps, sa.opts.timestamps) {
        ack.opts.timestamps = Some((v + rtt.total_millis() as u32, tv));
    }
    t.send(ack);
    let s = l.accept(&mut t.stack).unwrap().0;
    t.expect_none();
    Open {
        s,
        l: Some(l),
        iss: sa.seq,
        snd: sa.seq + 1u32,
        rcv: SeqNum(1001),
        port: STACK_PORT,
    }
}

/// Runs the clock to the stack's next deadline; returns its time and what was sent.
pub fn next_deadline(t: &mut Script<'_>) -> (Instant, Vec<Seg>) {
    let at = t.advance_to_deadline().expect("no deadline armed");
    (at, drain(t))
}

/// Runs the clock from deadline to deadline until the stack sends something (skipping
/// deadlines of other timers, such as ARP's); returns the time and the segments. Panics
/// if nothing is sent within 100 deadlines.
pub fn next_send(t: &mut Script<'_>) -> (Instant, Vec<Seg>) {
    for _ in 0..100 {
        let (at, segs) = next_deadline(t);
        if !segs.is_empty() {
            return (at, segs);
        }
    }
    panic!("nothing sent in 100 deadlines");
}

/// Delivers an ICMP destination unreachable (`code`: 1 host, 3 port, ...) from the peer
/// quoting a TCP segment the stack sent (`sport` → `dport`, sequence number `seq`), and
/// polls.
pub fn icmp_unreachable(t: &mut Script<'_>, code: u8, sport: u16, dport: u16, seq: SeqNum) {
    use tidytcp::wire::checksum::checksum;
    use tidytcp::wire::ethernet::{EtherType, EthernetRepr};
    use tidytcp::wire::ipv4::{IpProtocol, Ipv4Repr};
    // The quote: our IPv4 header and the first 8 bytes of the TCP header.
    let mut quote = vec![0u8; 28];
    Ipv4Repr {
        src: STACK_IP,
        dst: PEER_IP,
        protocol: IpProtocol::Tcp,
        payload_len: 20,
        ttl: 64,
        ident: 7,
        dont_frag: true,
    }
    .emit(&mut quote)
    .unwrap();
    quote[20..22].copy_from_slice(&sport.to_be_bytes());
    quote[22..24].copy_from_slice(&dport.to_be_bytes());
    quote[24..28].copy_from_slice(&seq.0.to_be_bytes());
    let mut icmp = vec![3u8, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quote);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = vec![0u8; 34 + icmp.len()];
    EthernetRepr {
        src: PEER_MAC,
        dst: "02:00:00:00:00:01".parse().unwrap(),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut f)
    .unwrap();
    Ipv4Repr {
        src: PEER_IP,
        dst: STACK_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.len(),
        ttl: 64,
        ident: 8,
        dont_frag: false,
    }
    .emit(&mut f[14..])
    .unwrap();
    f[34..].copy_from_slice(&icmp);
    t.dev.rx.push_back(f);
    t.poll();
}
