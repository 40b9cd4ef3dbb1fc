//! Scripted-segment harness: the stack under test on one side, the test playing the peer.
//!
//! The test sends segments it builds (`seg!`) at a virtual time and checks the exact
//! segments the stack answers with. ARP is handled behind the scenes: the peer announces
//! itself at the start, and any ARP request from the stack is answered.
//!
//! ```ignore
//! let mut mem = storage();
//! let mut t = Script::new(&mut mem, config(1));
//! let l = t.stack.listen(80, 4).unwrap();
//! t.send(seg!(SYN, seq = 1000, mss = 1460));
//! let synack = t.expect(seg!(SYN | ACK, ack = 1001));
//! t.send(seg!(ACK, seq = 1001, ack = synack.seq + 1));
//! ```
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::frames::{End, segment_frame, tcp_frame};
use tidytcp::drivers::{ChecksumCaps, Device, DeviceCaps, RxToken, TxToken};
use tidytcp::socket::HeapStorage;
use tidytcp::stack::{Config, Stack};
use tidytcp::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use tidytcp::wire::checksum::pseudo_header;
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Packet};
use tidytcp::wire::tcp::{SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use tidytcp::{Duration, Instant};

pub const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
/// The peer's port unless a segment says otherwise.
pub const PEER_PORT: u16 = 40000;
/// The stack's listening port in most scripts.
pub const STACK_PORT: u16 = 80;

/// A device whose frames are a test's to give and take.
#[derive(Default)]
pub struct ScriptDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    pub mtu: usize,
    /// Checksum offloads the device claims (none by default).
    pub checksum: ChecksumCaps,
    /// What a transmit buffer holds before the stack writes it (0 by default; another
    /// value shows bytes the stack left alone).
    pub tx_fill: u8,
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>, u8);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![self.1; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for ScriptDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.rx.pop_front()?;
        Some((Rx(f), Tx(&mut self.tx, self.tx_fill)))
    }
    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx, self.tx_fill))
    }
    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps {
            mtu: if self.mtu == 0 { 1500 } else { self.mtu },
            checksum: self.checksum,
        }
    }
}

/// A segment as the test writes or reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: TcpFlags,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub win: u16,
    pub opts: TcpOptions,
    pub data: Vec<u8>,
}

impl Default for Seg {
    fn default() -> Self {
        Seg {
            src_port: PEER_PORT,
            dst_port: STACK_PORT,
            flags: TcpFlags::empty(),
            seq: SeqNum(0),
            ack: SeqNum(0),
            win: 65535,
            opts: TcpOptions::NONE,
            data: Vec::new(),
        }
    }
}

impl Seg {
    /// Sequence space the segment occupies.
    pub fn seq_len(&self) -> u32 {
        self.data.len() as u32
            + u32::from(self.flags.contains(TcpFlags::SYN))
            + u32::from(self.flags.contains(TcpFlags::FIN))
    }
    pub fn end(&self) -> SeqNum {
        self.seq + self.seq_len()
    }
    fn repr(&self) -> TcpRepr {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.win,
            options: self.opts,
        }
    }
}

/// Builds a [`Seg`]: `seg!(SYN | ACK, seq = 1, ack = 2, win = 100, mss = 1460, ws = 7,
/// sack_perm, ts = (1, 2), sack = [(a, b)], data = b"..", sport = 1, dport = 2)`.
/// Numbers for `seq`/`ack` may be `u32` or `SeqNum`.
#[macro_export]
macro_rules! seg {
    ($($flag:ident)|+ $(, $k:ident $(= $v:expr)?)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut s = $crate::common::script::Seg {
            flags: $(tidytcp::wire::tcp::TcpFlags::$flag)|+,
            ..Default::default()
        };
        $( $crate::seg!(@set s, $k $(= $v)?); )*
        s
    }};
    (@set $s:ident, seq = $v:expr) => { $s.seq = $crate::common::script::sn($v); };
    (@set $s:ident, ack = $v:expr) => { $s.ack = $crate::common::script::sn($v); };
    (@set $s:ident, win = $v:expr) => { $s.win = $v; };
    (@set $s:ident, mss = $v:expr) => { $s.opts.mss = Some($v); };
    (@set $s:ident, ws = $v:expr) => { $s.opts.window_scale = Some($v); };
    (@set $s:ident, sack_perm) => { $s.opts.sack_permitted = true; };
    (@set $s:ident, ts = $v:expr) => { $s.opts.timestamps = Some($v); };
    (@set $s:ident, sack = $v:expr) => { for (l, r) in $v { $s.opts.sack.push($crate::common::script::sn(l), $crate::common::script::sn(r)); } };
    (@set $s:ident, data = $v:expr) => { $s.data = ($v).to_vec(); };
    (@set $s:ident, sport = $v:expr) => { $s.src_port = $v; };
    (@set $s:ident, dport = $v:expr) => { $s.dst_port = $v; };
}

/// `u32` or `SeqNum` into `SeqNum`.
pub fn sn(v: impl Into<SeqLike>) -> SeqNum {
    v.into().0
}
pub struct SeqLike(pub SeqNum);
impl From<u32> for SeqLike {
    fn from(v: u32) -> Self {
        SeqLike(SeqNum(v))
    }
}
impl From<SeqNum> for SeqLike {
    fn from(v: SeqNum) -> Self {
        SeqLike(v)
    }
}
impl From<i32> for SeqLike {
    fn from(v: i32) -> Self {
        SeqLike(SeqNum(v as u32))
    }
}

/// The stack under test, its device, and the virtual clock.
pub struct Script<'a> {
    pub stack: Stack<'a>,
    pub dev: ScriptDevice,
    pub now: Instant,
    /// Segments the stack sent that were not yet taken by `recv`/`expect`.
    pub out: VecDeque<Seg>,
    /// Every segment the stack sent, in order.
    pub log: Vec<Seg>,
}

pub fn script_storage() -> HeapStorage {
    HeapStorage::new(8, 2, 8192, 8192)
}

/// The configuration of the stack under test: 10.0.0.1/24, MAC ...:01.
pub fn script_config() -> Config {
    Config::new(
        "02:00:00:00:00:01".parse().unwrap(),
        "10.0.0.1/24".parse().unwrap(),
        [1; 16],
    )
}

impl<'a> Script<'a> {
    pub fn new(storage: &'a mut HeapStorage, config: Config) -> Self {
        let mut t = Script {
            stack: Stack::new(config, storage),
            dev: ScriptDevice::default(),
            now: Instant::from_secs(1),
            out: VecDeque::new(),
            log: Vec::new(),
        };
        // The peer announces itself (an ARP request for the stack), which the stack
        // learns from (RFC 826) and answers; announcements and the reply are discarded.
        t.inject_arp(ArpOperation::Request, STACK_IP, EthernetAddress([0; 6]));
        t.poll();
        t.out.clear();
        t.log.clear();
        t
    }

    fn inject_arp(&mut self, op: ArpOperation, target_ip: Ipv4Addr, target_hw: EthernetAddress) {
        let arp = ArpRepr {
            operation: op,
            source_hw: PEER_MAC,
            source_ip: PEER_IP,
            target_hw,
            target_ip,
        };
        let mut f = vec![0u8; 14 + 28];
        let dst = if op == ArpOperation::Request {
            EthernetAddress::BROADCAST
        } else {
            target_hw
        };
        EthernetRepr {
            src: PEER_MAC,
            dst,
            ethertype: EtherType::Arp,
        }
        .emit(&mut f)
        .unwrap();
        arp.emit(&mut f[14..]).unwrap();
        self.dev.rx.push_back(f);
    }

    /// Polls the stack once at `now` and collects what it sent.
    pub fn poll(&mut self) -> Option<Instant> {
        let next = self.stack.poll(self.now, &mut self.dev);
        self.collect();
        next
    }

    fn collect(&mut self) {
        let mut again = false;
        while let Some(frame) = self.dev.tx.pop_front() {
            let eth = EthernetFrame::new_checked(&frame).expect("stack sent a short frame");
            match eth.ethertype() {
                EtherType::Arp => {
                    let a =
                        ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
                    if a.operation == ArpOperation::Request && a.target_ip == PEER_IP {
                        self.inject_arp(ArpOperation::Reply, a.source_ip, a.source_hw);
                        again = true;
                    }
                }
                EtherType::Ipv4 => {
                    let ip = Ipv4Packet::new_checked(eth.payload())
                        .expect("bad IPv4 header from the stack");
                    assert!(ip.checksum_valid(), "bad IPv4 checksum from the stack");
                    if ip.protocol() != IpProtocol::Tcp {
                        continue;
                    }
                    let payload = ip.payload();
                    let mut sum =
                        pseudo_header(ip.src_addr(), ip.dst_addr(), 6, payload.len() as u16);
                    sum.add_bytes(payload);
                    assert_eq!(sum.sum(), 0xffff, "bad TCP checksum from the stack");
                    let p = TcpPacket::new_checked(payload).expect("bad TCP header from the stack");
                    let r = TcpRepr::parse(&p).expect("bad TCP options from the stack");
                    let s = Seg {
                        src_port: r.src_port,
                        dst_port: r.dst_port,
                        flags: r.flags,
                        seq: r.seq,
                        ack: r.ack,
                        win: r.window,
                        opts: r.options,
                        data: p.payload().to_vec(),
                    };
                    self.out.push_back(s.clone());
                    self.log.push(s);
                }
                EtherType::Ipv6 | EtherType::Unknown(_) => {}
            }
        }
        if again {
            self.poll();
        }
    }

    /// Delivers `s` from the peer to the stack now, and polls.
    pub fn send(&mut self, s: Seg) {
        let frame = peer_frame(&s);
        self.dev.rx.push_back(frame);
        self.poll();
    }

    /// Delivers raw bytes as the TCP segment (checksum fixed unless `keep_checksum`).
    pub fn send_raw_tcp(&mut self, tcp: &[u8], keep_checksum: bool) {
        let frame = raw_frame(tcp, keep_checksum);
        self.dev.rx.push_back(frame);
        self.poll();
    }

    /// The next segment the stack sent, if any.
    pub fn recv(&mut self) -> Option<Seg> {
        self.out.pop_front()
    }

    /// The next segment the stack sent; its flags, and each field of `want` that is not
    /// zero/empty, must match. Returns it.
    #[track_caller]
    pub fn expect(&mut self, want: Seg) -> Seg {
        let got = self.recv().unwrap_or_else(|| {
            panic!(
                "at {:?}: expected {want:?}, the stack sent nothing",
                self.now
            )
        });
        assert_eq!(got.flags, want.flags, "flags of {got:?}");
        if want.seq != SeqNum(0) {
            assert_eq!(got.seq, want.seq, "seq of {got:?}");
        }
        if want.ack != SeqNum(0) {
            assert_eq!(got.ack, want.ack, "ack of {got:?}");
        }
        if !want.data.is_empty() {
            assert_eq!(got.data, want.data, "data of {got:?}");
        }
        got
    }

    /// The stack sent nothing more.
    #[track_caller]
    pub fn expect_none(&mut self) {
        if let Some(s) = self.recv() {
            panic!("at {:?}: expected silence, the stack sent {s:?}", self.now);
        }
    }

    /// Advances the clock by `d`, polling at every deadline on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            match self.stack.poll_at() {
                Some(t) if t <= end => {
                    self.now = t.max(self.now);
                    self.poll();
                    if self.stack.poll_at().is_some_and(|n| n <= self.now) {
                        // Work left at this instant (e.g. device budget): go on, but move.
                        self.now += Duration::from_micros(1);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.poll();
    }

    /// Advances to the stack's next deadline and polls there.
    pub fn advance_to_deadline(&mut self) -> Option<Instant> {
        let t = self.stack.poll_at()?;
        self.now = t.max(self.now);
        self.poll();
        Some(self.now)
    }

    /// Opens a connection from the peer to a listener on `STACK_PORT` and returns
    /// (the stack's ISN, the peer's next sequence number). `peer_isn` is the SYN's.
    pub fn handshake_passive(&mut self, peer_isn: u32, syn_opts: TcpOptions) -> (SeqNum, SeqNum) {
        let syn = Seg {
            flags: TcpFlags::SYN,
            seq: SeqNum(peer_isn),
            opts: syn_opts,
            ..Default::default()
        };
        self.send(syn);
        let sa = self.expect(Seg {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ack: SeqNum(peer_isn + 1),
            ..Default::default()
        });
        let mut ack = Seg {
            flags: TcpFlags::ACK,
            seq: SeqNum(peer_isn + 1),
            ack: sa.seq + 1u32,
            ..Default::default()
        };
        if let (Some((v, _)), Some((tv, _))) = (syn_opts.timestamps, sa.opts.timestamps) {
            ack.opts.timestamps = Some((v + 1, tv));
        }
        self.send(ack);
        (sa.seq, SeqNum(peer_isn + 1))
    }
}

/// An Ethernet/IPv4 frame from the peer carrying `s`, checksums right.
pub fn peer_frame(s: &Seg) -> Vec<u8> {
    segment_frame(PEER, STACK, &s.repr(), &s.data)
}

/// An Ethernet/IPv4 frame from the peer around raw TCP bytes.
pub fn raw_frame(tcp: &[u8], keep_checksum: bool) -> Vec<u8> {
    tcp_frame(PEER, STACK, tcp, keep_checksum)
}

/// The peer's and the stack's ends of a frame.
const PEER: End = (PEER_MAC, PEER_IP);
const STACK: End = (EthernetAddress([0x02, 0, 0, 0, 0, 0x01]), STACK_IP);

/// Options of a typical Linux SYN: MSS 1460, SACK permitted, timestamps, window scale 7.
pub fn linux_syn_opts(tsval: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        sack: SackBlocks::EMPTY,
        timestamps: Some((tsval, 0)),
    }
}

/// The peer's endpoint.
pub fn peer() -> SocketAddrV4 {
    SocketAddrV4::new(PEER_IP, PEER_PORT)
}
