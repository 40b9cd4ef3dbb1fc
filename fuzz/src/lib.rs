//! Shared set-up for the fuzz targets: a stack on a frame-queue device with a listener and
//! connections in many states, and a peer that builds valid frames toward them.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

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
/// The stack's static IPv6 address (usable at once: the world skips DAD) and the peer's.
pub const STACK_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const PEER_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// A device whose frames the harness gives and takes. With `capture` off, frames the stack
/// sends are built into one reused buffer and dropped, which saves an allocation per frame
/// when nobody looks at them.
pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    pub capture: bool,
    scratch: Vec<u8>,
}

impl Default for QueueDevice {
    fn default() -> Self {
        QueueDevice {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            capture: true,
            scratch: Vec::new(),
        }
    }
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a> {
    queue: &'a mut VecDeque<Vec<u8>>,
    scratch: &'a mut Vec<u8>,
    capture: bool,
}

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if !self.capture {
            self.scratch.clear();
            self.scratch.resize(len, 0);
            return f(self.scratch);
        }
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        if self.queue.len() < 4096 {
            self.queue.push_back(buf);
        }
        r
    }
}
impl QueueDevice {
    fn tx_token(&mut self) -> Tx<'_> {
        Tx {
            queue: &mut self.tx,
            scratch: &mut self.scratch,
            capture: self.capture,
        }
    }
}
impl Device for QueueDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.rx.pop_front()?;
        Some((Rx(f), self.tx_token()))
    }
    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(self.tx_token())
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

/// Bits of the frames target's 2-byte length prefix: the low 11 are the length (frames
/// are at most 2000 bytes), and [`FIX_CHECKSUMS`] asks the harness to correct the frame's
/// checksums.
pub const LEN_MASK: u16 = 0x07ff;
/// In a length prefix: correct the IPv4 header checksum and the TCP, UDP or ICMP checksum
/// of the frame before it goes in (see [`fix_checksums`]). The fuzzer then reaches
/// what lies behind a checksum test by flipping one bit, which comparison tracing would
/// otherwise have to solve (and pay for in every comparison of every run).
pub const FIX_CHECKSUMS: u16 = 0x8000;

/// The Internet checksum's 16-bit ones'-complement sum of `data`, added to `sum`.
fn ones_sum(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// The complemented, folded checksum for a running sum.
fn ones_finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Corrects, in an Ethernet frame carrying IPv4, the header checksum and the TCP, UDP or
/// ICMP checksum over the datagram's payload as its total length gives it (cut to the
/// frame). Anything else is left alone: the frame may be any bytes.
pub fn fix_checksums(f: &mut [u8]) {
    if f.len() >= 54 && f[12..14] == [0x86, 0xdd] {
        return fix_checksums_v6(f);
    }
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    if ihl < 20 || f.len() < 14 + ihl {
        return;
    }
    f[24..26].fill(0);
    let c = ones_finish(ones_sum(0, &f[14..14 + ihl]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[16], f[17]])).min(f.len() - 14);
    if total < ihl {
        return;
    }
    let (src, dst, proto) = (
        [f[26], f[27], f[28], f[29]],
        [f[30], f[31], f[32], f[33]],
        f[23],
    );
    let body = &mut f[14 + ihl..14 + total];
    let (at, pseudo) = match proto {
        1 => (2, false),
        6 => (16, true),
        17 => (6, true),
        _ => return,
    };
    if body.len() < at + 2 {
        return;
    }
    body[at..at + 2].fill(0);
    let mut sum = 0;
    if pseudo {
        sum = ones_sum(sum, &src);
        sum = ones_sum(sum, &dst);
        sum += u32::from(proto) + body.len() as u32;
    }
    let mut c = ones_finish(ones_sum(sum, body));
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    body[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// [`fix_checksums`] for an IPv6 packet whose upper layer (TCP, UDP or ICMPv6) follows
/// the fixed header directly; packets with extension headers keep their bytes.
fn fix_checksums_v6(f: &mut [u8]) {
    let plen = usize::from(u16::from_be_bytes([f[18], f[19]])).min(f.len() - 54);
    let next = f[20];
    let (src, dst): ([u8; 16], [u8; 16]) = match (f[22..38].try_into(), f[38..54].try_into()) {
        (Ok(s), Ok(d)) => (s, d),
        _ => return,
    };
    let at = match next {
        6 => 16,
        17 => 6,
        58 => 2,
        _ => return,
    };
    let body = &mut f[54..54 + plen];
    if body.len() < at + 2 {
        return;
    }
    body[at..at + 2].fill(0);
    let mut sum = ones_sum(ones_sum(0, &src), &dst);
    sum += u32::from(next) + body.len() as u32;
    let mut c = ones_finish(ones_sum(sum, body));
    if next == 17 && c == 0 {
        c = 0xffff;
    }
    body[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// An Ethernet/IPv6 frame from the peer to `dst` around `payload` (next header `next`,
/// hop limit `hops`), with its checksum fixed.
pub fn ipv6_frame(dst: Ipv6Addr, next: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 54];
    f[..6].copy_from_slice(&STACK_MAC.0);
    f[6..12].copy_from_slice(&PEER_MAC.0);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    f[14] = 0x60;
    f[18..20].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    f[20] = next;
    f[21] = hops;
    f[22..38].copy_from_slice(&PEER_IP6.octets());
    f[38..54].copy_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    fix_checksums(&mut f);
    f
}

/// The peer's Neighbor Solicitation for the stack's IPv6 address, carrying the peer's
/// MAC: the stack learns it (STALE) and can answer over IPv6 without resolving first.
pub fn peer_ns() -> Vec<u8> {
    use tidytcp::wire::icmpv6::{Icmpv6Ip, Icmpv6Repr};
    use tidytcp::wire::ndisc::NdiscRepr;
    let ip = Icmpv6Ip {
        src: PEER_IP6,
        dst: STACK_IP6,
        hop_limit: 255,
    };
    let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
        target: STACK_IP6,
        lladdr: Some(PEER_MAC),
    });
    let mut msg = [0u8; 32];
    let n = ns.emit(ip, &mut msg).unwrap_or(0);
    ipv6_frame(STACK_IP6, 58, 255, &msg[..n])
}

/// A TCP segment from the peer's IPv6 address to the stack's, checksum fixed.
pub fn peer_frame6(repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let hlen = repr.header_len();
    let mut tcp = vec![0u8; hlen + payload.len()];
    let _ = repr.emit(&mut tcp);
    tcp[hlen..].copy_from_slice(payload);
    ipv6_frame(STACK_IP6, 6, 64, &tcp)
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

/// Storage for a [`World`]: room for the seven connections it sets up and a few more,
/// with small buffers (windows fill and empty within a few segments).
pub fn storage() -> HeapStorage {
    HeapStorage::new(10, 1, 2048, 2048)
}

thread_local! {
    /// The storage every run reuses: `Stack::new` resets the slots, so a run starts from
    /// the same state (only slot generations carry over) without allocating and zeroing
    /// the buffers again.
    static STORAGE: std::cell::RefCell<HeapStorage> = std::cell::RefCell::new(storage());
}

/// Runs `f` on a fresh [`World`] built in the reused storage.
pub fn with_world(f: impl FnOnce(&mut World<'_>)) {
    STORAGE.with_borrow_mut(|mem| {
        let mut w = World::new(mem);
        f(&mut w);
    });
}

/// The world's TCP settings: the defaults with short timers, so that the states a run
/// reaches time out within a few dozen deadlines of virtual time (TIME-WAIT 2 s,
/// FIN-WAIT-2 4 s, retransmissions capped at 4 s and given up after 5).
pub fn tcp_config() -> tidytcp::tcp::TcpConfig {
    tidytcp::tcp::TcpConfig {
        max_rto: Duration::from_secs(4),
        max_retransmits: 5,
        syn_retries: 3,
        msl: Duration::from_secs(1),
        fin_wait_2_timeout: Duration::from_secs(4),
        ..Default::default()
    }
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

/// An ARP packet from the peer about itself to the stack's address, broadcast: the
/// world's set-up announces the peer with a request, the seeds carry a reply.
fn peer_arp(operation: tidytcp::wire::arp::ArpOperation, target_hw: EthernetAddress) -> Vec<u8> {
    let mut arp = vec![0u8; 42];
    let _ = EthernetRepr {
        src: PEER_MAC,
        dst: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut arp);
    let _ = tidytcp::wire::arp::ArpRepr {
        operation,
        source_hw: PEER_MAC,
        source_ip: PEER_IP,
        target_hw,
        target_ip: STACK_IP,
    }
    .emit(&mut arp[14..]);
    arp
}

impl<'a> World<'a> {
    /// Sets the world up in four polls: each round's frames go in together, as a burst
    /// from the wire would, since every poll has a fixed cost the runs would pay again.
    pub fn new(storage: &'a mut HeapStorage) -> Self {
        let mut cfg = Config::new(
            STACK_MAC,
            tidytcp::wire::ipv4::Ipv4Cidr::new(STACK_IP, 24),
            [9; 16],
        );
        cfg.tcp = tcp_config();
        // IPv6 with a static address and no DAD, so that segments over IPv6 reach TCP
        // from the first input on.
        cfg.iface.ipv6.static_addr = Some(tidytcp::wire::ipv6::Ipv6Cidr::new(STACK_IP6, 64));
        cfg.iface.ipv6.slaac.dad_transmits = 0;
        cfg.iface.ipv6.slaac.router_solicitations = 0;
        let mut w = World {
            stack: Stack::new(cfg, storage),
            dev: QueueDevice::default(),
            now: Instant::from_secs(1),
            peers: Vec::new(),
            listener: None,
            streams: Vec::new(),
        };
        w.listener = w.stack.listen(LISTEN_PORT, 8).ok();
        // Round 0, a second earlier: the link comes up and the IPv6 addresses start their
        // (probe-less) DAD, whose random start delay is below a second; at 1 s they are
        // usable before the first frame arrives.
        w.now = Instant::ZERO;
        w.poll();
        w.now = Instant::from_secs(1);
        w.poll();
        // Round 1: the peer announces itself (so the stack knows its MAC) and sends five
        // SYNs, plus one it will never complete (SYN-RECEIVED).
        let arp = peer_arp(
            tidytcp::wire::arp::ArpOperation::Request,
            EthernetAddress([0; 6]),
        );
        w.dev.rx.push_back(arp);
        w.dev.rx.push_back(peer_ns());
        const PORTS: [u16; 5] = [40001, 40002, 40003, 40004, 40005];
        for (k, port) in PORTS.into_iter().enumerate() {
            let isn = 1000 * (k as u32 + 1);
            w.queue(
                port,
                TcpFlags::SYN,
                SeqNum(isn),
                SeqNum(0),
                8192,
                syn_opts(isn),
                &[],
            );
        }
        w.queue(
            40006,
            TcpFlags::SYN,
            SeqNum(7000),
            SeqNum(0),
            8192,
            TcpOptions::NONE,
            &[],
        );
        // An active open nobody answers (SYN-SENT).
        let syn_sent = w.stack.connect(SocketAddrV4::new(PEER_IP, 7).into()).ok();
        w.poll();
        // Round 2: the five handshakes complete (ESTABLISHED, accepted), and the peer
        // closes 40002 right after its own (CLOSE-WAIT).
        let synacks = sent_segments(&mut w.dev);
        for (k, port) in PORTS.into_iter().enumerate() {
            let isn = 1000 * (k as u32 + 1);
            let Some((sa, _)) = synacks.iter().find(|(r, _)| r.dst_port == port) else {
                continue;
            };
            let opts = TcpOptions {
                timestamps: sa.options.timestamps.map(|(v, _)| (isn + 1, v)),
                ..TcpOptions::NONE
            };
            w.queue(
                port,
                TcpFlags::ACK,
                SeqNum(isn + 1),
                sa.seq + 1,
                8192,
                opts,
                &[],
            );
            w.peers.push(PeerConn {
                port,
                stack_seq: sa.seq + 1,
                peer_seq: SeqNum(isn + 1),
            });
        }
        if let Some(pc) = w.peers.get_mut(1) {
            pc.peer_seq += 1;
            let pc = *pc;
            w.queue_now(
                pc.port,
                TcpFlags::FIN | TcpFlags::ACK,
                pc.peer_seq - 1,
                pc.stack_seq,
                &[],
            );
        }
        let half_open = synacks
            .iter()
            .find(|(r, _)| r.dst_port == 40006)
            .map(|(r, _)| PeerConn {
                port: 40006,
                stack_seq: r.seq + 1,
                peer_seq: SeqNum(7001),
            });
        w.poll();
        w.dev.tx.clear();
        let mut accepted = Vec::new();
        while let Some(s) = w
            .listener
            .as_ref()
            .and_then(|l| l.accept(&mut w.stack).ok().map(|(s, _)| s))
        {
            accepted.push(s);
        }
        w.streams.extend(syn_sent);
        // Round 3: 40001 stays ESTABLISHED; the user closes 40003..40005 (FIN-WAIT-1).
        let established = w.peers.len() == PORTS.len() && accepted.len() == PORTS.len();
        if !established {
            w.streams.extend(accepted);
            w.dev.capture = false;
            return w;
        }
        let mut accepted = accepted.into_iter();
        w.streams.extend(accepted.next());
        w.streams.extend(accepted.next());
        for s in accepted {
            s.close(&mut w.stack);
        }
        for k in 2..5 {
            w.peers[k].stack_seq += 1;
        }
        w.poll();
        w.dev.tx.clear();
        // Round 4: 40004's FIN is acknowledged (FIN-WAIT-2); 40005's too, with the
        // peer's FIN (TIME-WAIT).
        let pc = w.peers[3];
        w.queue_now(pc.port, TcpFlags::ACK, pc.peer_seq, pc.stack_seq, &[]);
        let pc = w.peers[4];
        w.queue_now(
            pc.port,
            TcpFlags::FIN | TcpFlags::ACK,
            pc.peer_seq,
            pc.stack_seq,
            &[],
        );
        w.peers[4].peer_seq += 1;
        w.peers.extend(half_open);
        w.poll();
        w.dev.tx.clear();
        w.dev.capture = false;
        w
    }

    /// The peer's timestamp clock: milliseconds, ahead of the TSvals of its SYNs (which
    /// are their ISNs), so that PAWS takes its segments.
    pub fn peer_ts(&self) -> u32 {
        100_000 + self.now.total_millis() as u32
    }

    /// Queues a frame from the peer without polling.
    #[allow(clippy::too_many_arguments)]
    fn queue(
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
        self.dev.rx.push_back(peer_frame(port, &r, payload));
    }

    /// Queues a frame with the peer's current timestamp, without polling.
    fn queue_now(&mut self, port: u16, flags: TcpFlags, seq: SeqNum, ack: SeqNum, payload: &[u8]) {
        let opts = TcpOptions {
            timestamps: Some((self.peer_ts(), 0)),
            ..TcpOptions::NONE
        };
        self.queue(port, flags, seq, ack, 8192, opts, payload);
    }

    pub fn send(&mut self, port: u16, flags: TcpFlags, seq: SeqNum, ack: SeqNum, payload: &[u8]) {
        let opts = TcpOptions {
            timestamps: Some((self.peer_ts(), 0)),
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
        self.queue(port, flags, seq, ack, window, options, payload);
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

/// An Ethernet/IPv4 frame from the peer (to `dst`) around `payload` of protocol `proto`,
/// with its checksums fixed.
#[cfg(test)]
fn ipv4_frame(dst: Ipv4Addr, proto: u8, ttl: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 34];
    f[..6].copy_from_slice(&STACK_MAC.0);
    f[6..12].copy_from_slice(&PEER_MAC.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&(20 + payload.len() as u16).to_be_bytes());
    f[20..22].copy_from_slice(&frag.to_be_bytes());
    f[22] = ttl;
    f[23] = proto;
    f[26..30].copy_from_slice(&PEER_IP.octets());
    f[30..34].copy_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    fix_checksums(&mut f);
    f
}

/// Seed inputs for the frames target, as frame lists: segments at each of the world's
/// connections (in window, with data, FIN, RST, SYN, SACK, out of window), new SYNs,
/// ARP, ICMP (echo, errors quoting a connection), UDP (DHCP, DNS, a closed port) and IPv4
/// oddities (options, fragments); then the same over IPv6 ([`ipv6_seeds`]).
#[cfg(test)]
fn frames_seeds() -> Vec<Vec<Vec<u8>>> {
    let mut seeds = Vec::new();
    let (peers, ts) = {
        let mut p = Vec::new();
        let mut ts = 0;
        with_world(|w| {
            p = w.peers.clone();
            ts = w.peer_ts();
        });
        (p, ts)
    };
    let tsopt = TcpOptions {
        timestamps: Some((ts, 0)),
        ..TcpOptions::NONE
    };
    let seg = |pc: &PeerConn,
               flags: TcpFlags,
               seq: SeqNum,
               ack: SeqNum,
               opts: TcpOptions,
               data: &[u8]| {
        let r = TcpRepr {
            src_port: pc.port,
            dst_port: LISTEN_PORT,
            seq,
            ack,
            flags,
            window: 8192,
            options: opts,
        };
        peer_frame(pc.port, &r, data)
    };
    for pc in &peers {
        let (s, a) = (pc.peer_seq, pc.stack_seq);
        seeds.push(vec![seg(
            pc,
            TcpFlags::ACK | TcpFlags::PSH,
            s,
            a,
            tsopt,
            b"GET / HTTP/1.0\r\n\r\n",
        )]);
        seeds.push(vec![seg(pc, TcpFlags::ACK, s, a, tsopt, &[])]);
        seeds.push(vec![seg(
            pc,
            TcpFlags::FIN | TcpFlags::ACK,
            s,
            a,
            tsopt,
            &[],
        )]);
        seeds.push(vec![seg(
            pc,
            TcpFlags::RST,
            s,
            SeqNum(0),
            TcpOptions::NONE,
            &[],
        )]);
        seeds.push(vec![seg(
            pc,
            TcpFlags::SYN,
            s,
            SeqNum(0),
            syn_opts(ts),
            &[],
        )]);
        seeds.push(vec![seg(pc, TcpFlags::ACK, s + 100_000, a, tsopt, b"x")]);
        seeds.push(vec![
            seg(pc, TcpFlags::ACK, s + 10, a, tsopt, b"later"),
            seg(pc, TcpFlags::ACK, s, a, tsopt, b"first....."),
        ]);
    }
    let pc = PeerConn {
        port: 41000,
        stack_seq: SeqNum(0),
        peer_seq: SeqNum(9000),
    };
    seeds.push(vec![seg(
        &pc,
        TcpFlags::SYN,
        SeqNum(9000),
        SeqNum(0),
        syn_opts(ts),
        &[],
    )]);
    seeds.push(vec![seg(
        &pc,
        TcpFlags::ACK,
        SeqNum(9001),
        SeqNum(12345),
        tsopt,
        &[],
    )]);
    let arp = peer_arp(tidytcp::wire::arp::ArpOperation::Reply, STACK_MAC);
    seeds.push(vec![arp]);
    // ICMP: an echo request; a fragmentation-needed and a port-unreachable error quoting
    // the stack's segment to 40001.
    let echo = [8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
    seeds.push(vec![ipv4_frame(STACK_IP, 1, 64, 0x4000, &echo)]);
    if let Some(pc) = peers.first() {
        let mut quote = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
        quote.extend_from_slice(&STACK_IP.octets());
        quote.extend_from_slice(&PEER_IP.octets());
        quote.extend_from_slice(&LISTEN_PORT.to_be_bytes());
        quote.extend_from_slice(&pc.port.to_be_bytes());
        quote.extend_from_slice(&pc.stack_seq.0.to_be_bytes());
        for (t, c, mtu) in [(3u8, 4u8, 576u16), (3, 3, 0), (11, 0, 0)] {
            let mut m = vec![t, c, 0, 0, 0, 0];
            m.extend_from_slice(&mtu.to_be_bytes());
            m.extend_from_slice(&quote);
            seeds.push(vec![ipv4_frame(STACK_IP, 1, 64, 0, &m)]);
        }
    }
    // UDP: a DHCP reply to the client port, a DNS answer, a closed port.
    let udp = |sp: u16, dp: u16, data: &[u8]| {
        let mut u = Vec::new();
        u.extend_from_slice(&sp.to_be_bytes());
        u.extend_from_slice(&dp.to_be_bytes());
        u.extend_from_slice(&(8 + data.len() as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(data);
        u
    };
    let mut dhcp = vec![0u8; 240];
    dhcp[..4].copy_from_slice(&[2, 1, 6, 0]);
    dhcp[16..20].copy_from_slice(&STACK_IP.octets());
    dhcp[28..34].copy_from_slice(&STACK_MAC.0);
    dhcp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    dhcp.extend_from_slice(&[
        53, 1, 2, 54, 4, 10, 0, 0, 2, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 255, 0,
    ]);
    dhcp.extend_from_slice(&[3, 4, 10, 0, 0, 2, 6, 4, 10, 0, 0, 2, 255]);
    seeds.push(vec![ipv4_frame(
        Ipv4Addr::BROADCAST,
        17,
        64,
        0,
        &udp(67, 68, &dhcp),
    )]);
    let dns = [
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0,
        1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 9,
    ];
    seeds.push(vec![ipv4_frame(STACK_IP, 17, 64, 0, &udp(53, 49152, &dns))]);
    seeds.push(vec![ipv4_frame(STACK_IP, 17, 64, 0, &udp(5000, 9, b"hi"))]);
    // IPv4: options, a first and a later fragment, TTL 1, to the subnet broadcast.
    let mut opt = ipv4_frame(STACK_IP, 1, 64, 0, &echo);
    opt[14] = 0x46;
    opt[16..18].copy_from_slice(&(24 + echo.len() as u16).to_be_bytes());
    opt.splice(34..34, [1, 1, 1, 0]);
    fix_checksums(&mut opt);
    seeds.push(vec![opt]);
    seeds.push(vec![
        ipv4_frame(STACK_IP, 1, 64, 0x2000, &echo[..8]),
        ipv4_frame(STACK_IP, 1, 64, 0x0001, &echo[8..]),
    ]);
    seeds.push(vec![ipv4_frame(STACK_IP, 1, 1, 0, &echo)]);
    seeds.push(vec![ipv4_frame(
        Ipv4Addr::new(10, 0, 0, 255),
        1,
        64,
        0,
        &echo,
    )]);
    seeds.extend(ipv6_seeds(ts));
    seeds
}

/// Seed inputs over IPv6: a handshake to the listener (SYN, then the ACK of the stack's
/// SYN-ACK as the world would see it), a SYN to a closed port, a stray segment, an echo
/// request, a Packet Too Big quoting a segment of ours, and a Hop-by-Hop header before
/// TCP.
#[cfg(test)]
fn ipv6_seeds(ts: u32) -> Vec<Vec<Vec<u8>>> {
    let syn = |port: u16, dst_port: u16| TcpRepr {
        src_port: port,
        dst_port,
        seq: SeqNum(5000),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 8192,
        options: syn_opts(ts),
    };
    let mut seeds = Vec::new();
    let first = syn(41001, LISTEN_PORT);
    let (stack_isn, _) = v6_synack(&first);
    let ack = TcpRepr {
        seq: SeqNum(5001),
        ack: stack_isn + 1,
        flags: TcpFlags::ACK,
        options: TcpOptions::NONE,
        ..first
    };
    seeds.push(vec![
        peer_frame6(&first, &[]),
        peer_frame6(&ack, b"GET / HTTP/1.0\r\n\r\n"),
    ]);
    seeds.push(vec![peer_frame6(&syn(41002, 9), &[])]);
    seeds.push(vec![peer_frame6(&ack, b"x")]);
    let mut echo = vec![128, 0, 0, 0, 0, 1, 0, 1];
    echo.extend_from_slice(b"ping6");
    seeds.push(vec![ipv6_frame(STACK_IP6, 58, 64, &echo)]);
    // Packet Too Big (type 2), MTU 1280, quoting an IPv6 header from us and a TCP header.
    let mut ptb = vec![2, 0, 0, 0, 0, 0, 5, 0];
    let mut quoted = ipv6_frame(PEER_IP6, 6, 64, &[0u8; 20])[14..].to_vec();
    quoted[8..24].copy_from_slice(&STACK_IP6.octets());
    quoted[24..40].copy_from_slice(&PEER_IP6.octets());
    quoted[40..42].copy_from_slice(&LISTEN_PORT.to_be_bytes());
    quoted[42..44].copy_from_slice(&41001u16.to_be_bytes());
    ptb.extend_from_slice(&quoted);
    seeds.push(vec![ipv6_frame(STACK_IP6, 58, 64, &ptb)]);
    // Hop-by-Hop (next header 0) with PadN, then the SYN.
    let mut hbh = vec![6, 0, 1, 4, 0, 0, 0, 0];
    let syn_bytes = peer_frame6(&syn(41003, LISTEN_PORT), &[]);
    hbh.extend_from_slice(&syn_bytes[54..]);
    seeds.push(vec![ipv6_frame(STACK_IP6, 0, 64, &hbh)]);
    seeds
}

/// The stack's answer to `syn` sent over IPv6 in a fresh world: its initial sequence
/// number and whether the answer was a SYN-ACK.
#[cfg(test)]
fn v6_synack(syn: &TcpRepr) -> (SeqNum, bool) {
    let mut out = (SeqNum(0), false);
    with_world(|w| {
        w.dev.capture = true;
        w.dev.rx.push_back(peer_frame6(syn, &[]));
        w.poll();
        while let Some(f) = w.dev.tx.pop_front() {
            if f.len() < 54 + 20 || f[12..14] != [0x86, 0xdd] || f[20] != 6 {
                continue;
            }
            let Ok(p) = TcpPacket::new_checked(&f[54..]) else {
                continue;
            };
            let Ok(r) = TcpRepr::parse(&p) else {
                continue;
            };
            if r.dst_port == syn.src_port {
                out = (r.seq, r.flags.contains(TcpFlags::SYN | TcpFlags::ACK));
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidytcp::tcp::State;

    /// The set-up reaches every state it promises, whatever the batching.
    #[test]
    fn world_reaches_its_states() {
        with_world(|w| {
            let mut states: Vec<_> = w.stack.connections().map(|c| c.state()).collect();
            states.sort_by_key(|s| s.name());
            let mut want = vec![
                State::Established,
                State::CloseWait,
                State::FinWait1,
                State::FinWait2,
                State::TimeWait,
                State::SynReceived,
                State::SynSent,
            ];
            want.sort_by_key(|s| s.name());
            assert_eq!(states, want);
            assert_eq!(w.peers.len(), 6);
        });
        // And again on the reused storage.
        with_world(|w| assert_eq!(w.stack.connections().count(), 7));
    }

    /// The world speaks IPv6 from its first input: a SYN to the listener over IPv6 gets
    /// a SYN-ACK (the stack knows the peer's MAC from the set-up's solicitation).
    #[test]
    fn world_answers_over_ipv6() {
        let syn = TcpRepr {
            src_port: 41001,
            dst_port: LISTEN_PORT,
            seq: SeqNum(5000),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 8192,
            options: TcpOptions::NONE,
        };
        assert!(v6_synack(&syn).1);
        // And `fix_checksums` restores a broken IPv6 TCP checksum.
        let good = peer_frame6(&syn, b"hi");
        let mut f = good.clone();
        f[54 + 16] ^= 0x5a;
        fix_checksums(&mut f);
        assert_eq!(f, good);
    }

    /// `fix_checksums` restores the checksums of frames the peer builds correctly.
    #[test]
    fn fix_checksums_restores_valid_frames() {
        let r = TcpRepr {
            src_port: 40001,
            dst_port: LISTEN_PORT,
            seq: SeqNum(5),
            ack: SeqNum(9),
            flags: TcpFlags::ACK,
            window: 100,
            options: TcpOptions::NONE,
        };
        let good = peer_frame(40001, &r, b"hello");
        let mut f = good.clone();
        f[24] ^= 0x55;
        f[34 + 16] ^= 0xaa;
        fix_checksums(&mut f);
        assert_eq!(f, good);
    }

    /// The frames dictionary holds the world's sequence numbers: they follow from the
    /// stack's seed and ISN generator, which may change.
    #[test]
    fn frames_dict_has_the_worlds_sequence_numbers() {
        let dict = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/frames.dict"))
            .expect("frames.dict");
        with_world(|w| {
            for pc in &w.peers {
                let hex: String = pc
                    .stack_seq
                    .0
                    .to_be_bytes()
                    .iter()
                    .map(|b| format!("\\x{b:02x}"))
                    .collect();
                let entry = format!("stack_seq_{}=\"{hex}\"", pc.port);
                assert!(dict.contains(&entry), "frames.dict lacks {entry}");
            }
        });
    }

    /// Writes the frames target's seed inputs to `corpus/frames` (run by hand with
    /// `cargo test --lib -- --ignored write_frames_seeds`, then `cargo fuzz cmin frames`).
    #[test]
    #[ignore]
    fn write_frames_seeds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/frames");
        for (k, frames) in frames_seeds().iter().enumerate() {
            let mut input = Vec::new();
            for f in frames {
                input.extend_from_slice(&(f.len() as u16 | FIX_CHECKSUMS).to_le_bytes());
                input.extend_from_slice(f);
            }
            std::fs::write(format!("{dir}/seed-{k:03}"), input).unwrap();
        }
    }
}
