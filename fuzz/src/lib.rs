//! Shared set-up for the fuzz targets: a stack on a frame-queue device with a listener and
//! connections in many states, and a peer that builds valid frames toward them.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use tidytcp::drivers::{Device, DeviceCaps, RxToken, TxToken};
use tidytcp::socket::{HeapStorage, TcpListener, TcpStream};
use tidytcp::stack::{Config, Stack};
use tidytcp::wire::checksum::pseudo_header;
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpPacket, TcpRepr, set_checksum};
use tidytcp::{Duration, Instant};

pub const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const STACK_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
pub const LISTEN_PORT: u16 = 80;

/// A device whose frames the harness gives and takes.
#[derive(Default)]
pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        if self.0.len() < 4096 {
            self.0.push_back(buf);
        }
        r
    }
}
impl Device for QueueDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.rx.pop_front()?;
        Some((Rx(f), Tx(&mut self.tx)))
    }
    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }
    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps::default()
    }
}

/// An Ethernet/IPv4/TCP frame from the peer with correct checksums.
pub fn peer_frame(src_port: u16, repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let hlen = repr.header_len();
    let mut tcp = vec![0u8; hlen + payload.len()];
    let _ = repr.emit(&mut tcp);
    tcp[hlen..].copy_from_slice(payload);
    let _ = src_port;
    let mut sum = pseudo_header(PEER_IP, STACK_IP, 6, tcp.len() as u16);
    sum.add_bytes(&tcp);
    set_checksum(&mut tcp, sum.finish());
    ip_frame(&tcp)
}

/// An Ethernet/IPv4 frame from the peer around a TCP segment as given.
pub fn ip_frame(tcp: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 34 + tcp.len()];
    let _ = EthernetRepr {
        src: PEER_MAC,
        dst: STACK_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut f);
    let _ = Ipv4Repr {
        src: PEER_IP,
        dst: STACK_IP,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.len(),
        ttl: 64,
        ident: 0,
        dont_frag: true,
    }
    .emit(&mut f[14..]);
    f[34..].copy_from_slice(tcp);
    f
}

/// The TCP segments in frames the stack sent: (header, payload length).
pub fn sent_segments(dev: &mut QueueDevice) -> Vec<(TcpRepr, usize)> {
    let mut out = Vec::new();
    while let Some(f) = dev.tx.pop_front() {
        let Ok(eth) = EthernetFrame::new_checked(&f) else {
            continue;
        };
        if eth.ethertype() != EtherType::Ipv4 {
            continue;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            continue;
        };
        let Ok(p) = TcpPacket::new_checked(ip.payload()) else {
            continue;
        };
        if let Ok(r) = TcpRepr::parse(&p) {
            out.push((r, p.payload().len()));
        }
    }
    out
}

/// The peer's view of one connection to the stack.
#[derive(Clone, Copy, Debug)]
pub struct PeerConn {
    pub port: u16,
    /// The stack's next sequence number as the peer last saw it.
    pub stack_seq: SeqNum,
    /// The peer's next sequence number.
    pub peer_seq: SeqNum,
}

/// A stack with a listener and connections in SYN-RECEIVED, ESTABLISHED, CLOSE-WAIT,
/// FIN-WAIT-1 (user closed), FIN-WAIT-2, TIME-WAIT and SYN-SENT.
pub struct World<'a> {
    pub stack: Stack<'a>,
    pub dev: QueueDevice,
    pub now: Instant,
    pub peers: Vec<PeerConn>,
    pub listener: Option<TcpListener<'a>>,
    pub streams: Vec<TcpStream<'a>>,
}

pub fn storage() -> HeapStorage {
    HeapStorage::new(16, 2, 4096, 4096)
}

fn syn_opts(ts: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(2),
        sack_permitted: true,
        timestamps: Some((ts, 0)),
        ..TcpOptions::NONE
    }
}

impl<'a> World<'a> {
    pub fn new(storage: &'a mut HeapStorage) -> Self {
        let mut cfg = Config::new(STACK_MAC, tidytcp::wire::ipv4::Ipv4Cidr::new(STACK_IP, 24), [9; 16]);
        let mut w = World {
            stack: Stack::new(cfg, storage),
            dev: QueueDevice::default(),
            now: Instant::from_secs(1),
            peers: Vec::new(),
            listener: None,
            streams: Vec::new(),
        };
        // The peer announces itself so the stack knows its MAC.
        let mut arp = vec![0u8; 42];
        let _ = EthernetRepr {
            src: PEER_MAC,
            dst: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        }
        .emit(&mut arp);
        let _ = tidytcp::wire::arp::ArpRepr {
            operation: tidytcp::wire::arp::ArpOperation::Request,
            source_hw: PEER_MAC,
            source_ip: PEER_IP,
            target_hw: EthernetAddress([0; 6]),
            target_ip: STACK_IP,
        }
        .emit(&mut arp[14..]);
        w.dev.rx.push_back(arp);
        w.poll();
        w.dev.tx.clear();
        w.listener = w.stack.listen(LISTEN_PORT, 8).ok();

        // ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT from passive opens.
        for (k, port) in (40001u16..=40005).enumerate() {
            let Some(pc) = w.handshake(port, 1000 * (k as u32 + 1)) else {
                continue;
            };
            w.peers.push(pc);
        }
        let accepted: Vec<_> = std::iter::from_fn(|| {
            w.listener
                .as_ref()
                .and_then(|l| l.accept(&mut w.stack).ok().map(|(s, _)| s))
        })
        .collect();
        let mut accepted = accepted.into_iter();
        // 40001: ESTABLISHED, kept by the user.
        if let Some(s) = accepted.next() {
            w.streams.push(s);
        }
        // 40002: the peer closes: CLOSE-WAIT.
        if let Some(s) = accepted.next() {
            w.streams.push(s);
            let pc = w.peers[1];
            w.send(
                pc.port,
                TcpFlags::FIN | TcpFlags::ACK,
                pc.peer_seq,
                pc.stack_seq,
                &[],
            );
            w.peers[1].peer_seq += 1;
        }
        // 40003: the user closes: FIN-WAIT-1.
        if let Some(s) = accepted.next() {
            s.close(&mut w.stack);
            w.poll();
            w.peers[2].stack_seq += 1;
        }
        // 40004: user close, FIN acked: FIN-WAIT-2.
        if let Some(s) = accepted.next() {
            s.close(&mut w.stack);
            w.poll();
            let pc = w.peers[3];
            w.send(pc.port, TcpFlags::ACK, pc.peer_seq, pc.stack_seq + 1, &[]);
            w.peers[3].stack_seq += 1;
        }
        // 40005: user close, FIN acked, peer FIN: TIME-WAIT.
        if let Some(s) = accepted.next() {
            s.close(&mut w.stack);
            w.poll();
            let pc = w.peers[4];
            w.send(
                pc.port,
                TcpFlags::FIN | TcpFlags::ACK,
                pc.peer_seq,
                pc.stack_seq + 1,
                &[],
            );
            w.peers[4].stack_seq += 1;
            w.peers[4].peer_seq += 1;
        }
        // SYN-RECEIVED: a SYN the peer never completes.
        w.send(40006, TcpFlags::SYN, SeqNum(7000), SeqNum(0), &[]);
        if let Some((r, _)) = sent_segments(&mut w.dev)
            .into_iter()
            .find(|(r, _)| r.dst_port == 40006)
        {
            w.peers.push(PeerConn {
                port: 40006,
                stack_seq: r.seq + 1,
                peer_seq: SeqNum(7001),
            });
        }
        // SYN-SENT: an active open the peer never answers.
        if let Ok(s) = w.stack.connect(SocketAddrV4::new(PEER_IP, 7)) {
            w.streams.push(s);
        }
        w.poll();
        w.dev.tx.clear();
        w
    }

    fn handshake(&mut self, port: u16, isn: u32) -> Option<PeerConn> {
        self.send_opts(
            port,
            TcpFlags::SYN,
            SeqNum(isn),
            SeqNum(0),
            syn_opts(isn),
            &[],
        );
        let (sa, _) = sent_segments(&mut self.dev)
            .into_iter()
            .find(|(r, _)| r.dst_port == port)?;
        let ts = sa.options.timestamps.map(|(v, _)| (isn + 1, v));
        let opts = TcpOptions {
            timestamps: ts,
            ..TcpOptions::NONE
        };
        self.send_opts(port, TcpFlags::ACK, SeqNum(isn + 1), sa.seq + 1, opts, &[]);
        self.dev.tx.clear();
        Some(PeerConn {
            port,
            stack_seq: sa.seq + 1,
            peer_seq: SeqNum(isn + 1),
        })
    }

    pub fn send(&mut self, port: u16, flags: TcpFlags, seq: SeqNum, ack: SeqNum, payload: &[u8]) {
        let opts = TcpOptions {
            timestamps: Some((self.now.total_millis() as u32, 0)),
            ..TcpOptions::NONE
        };
        self.send_opts(port, flags, seq, ack, opts, payload);
    }

    pub fn send_opts(
        &mut self,
        port: u16,
        flags: TcpFlags,
        seq: SeqNum,
        ack: SeqNum,
        options: TcpOptions,
        payload: &[u8],
    ) {
        self.send_full(port, flags, seq, ack, 8192, options, payload);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn send_full(
        &mut self,
        port: u16,
        flags: TcpFlags,
        seq: SeqNum,
        ack: SeqNum,
        window: u16,
        options: TcpOptions,
        payload: &[u8],
    ) {
        let r = TcpRepr {
            src_port: port,
            dst_port: LISTEN_PORT,
            seq,
            ack,
            flags,
            window,
            options,
        };
        let f = peer_frame(port, &r, payload);
        self.dev.rx.push_back(f);
        self.poll();
    }

    pub fn poll(&mut self) {
        self.stack.poll(self.now, &mut self.dev);
    }

    /// Moves time forward by `d`, polling at each deadline on the way (bounded).
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..10_000 {
            match self.stack.poll_at() {
                Some(t) if t <= end => {
                    self.now = t.max(self.now) + Duration::from_micros(1);
                    self.poll();
                    self.dev.tx.clear();
                }
                _ => break,
            }
        }
        self.now = end;
        self.poll();
        self.dev.tx.clear();
    }
}
