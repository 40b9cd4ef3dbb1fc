//! Transmit checksum offload: when the device says it inserts IPv4 and TCP checksums,
//! the stack leaves both fields zero; when it does not, both are right.
mod common;

use common::script::*;
use tidytcp::drivers::ChecksumCaps;
use tidytcp::socket::HeapStorage;
use tidytcp::stack::Stack;
use tidytcp::wire::checksum::pseudo_header;
use tidytcp::wire::ethernet::{EtherType, EthernetFrame};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Packet};
use tidytcp::wire::tcp::{TcpFlags, TcpPacket};
use tidytcp::{Duration, Instant};

/// Runs a passive open and a data transfer; returns every IPv4/TCP frame the stack sent.
fn exchange(checksum: ChecksumCaps) -> Vec<FrameInfo> {
    let mut mem = HeapStorage::new(4, 1, 4096, 4096);
    let mut stack = Stack::new(script_config(), &mut mem);
    // Transmit buffers start as 0xa5, so fields the stack leaves alone show.
    let mut dev = ScriptDevice {
        checksum,
        tx_fill: 0xa5,
        ..ScriptDevice::default()
    };
    let l = stack.listen(STACK_PORT, 2).unwrap();
    let mut now = Instant::from_secs(1);
    // The peer announces itself with an ARP request, so the stack can answer its SYN.
    let mut frames = Vec::new();
    dev.rx.push_back(arp_request());
    dev.rx
        .push_back(peer_frame(&seg!(SYN, seq = 100, mss = 1460)));
    stack.poll(now, &mut dev);
    let synack = take_tcp(&mut dev, &mut frames).expect("a SYN-ACK");
    dev.rx
        .push_back(peer_frame(&seg!(ACK, seq = 101, ack = synack + 1)));
    stack.poll(now, &mut dev);
    let mut s = l.accept(&mut stack).unwrap().0;
    s.write(&mut stack, &[7u8; 3000]).unwrap();
    for _ in 0..4 {
        now += Duration::from_millis(10);
        stack.poll(now, &mut dev);
    }
    take_tcp(&mut dev, &mut frames);
    s.abort(&mut stack);
    l.close(&mut stack);
    frames
}

/// An ARP request from the peer for the stack's address (the stack learns the peer).
fn arp_request() -> Vec<u8> {
    use tidytcp::wire::arp::{ArpOperation, ArpRepr};
    use tidytcp::wire::ethernet::{EthernetAddress, EthernetRepr};
    let mut f = vec![0u8; 42];
    EthernetRepr {
        src: PEER_MAC,
        dst: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut f)
    .unwrap();
    ArpRepr {
        operation: ArpOperation::Request,
        source_hw: PEER_MAC,
        source_ip: PEER_IP,
        target_hw: EthernetAddress([0; 6]),
        target_ip: STACK_IP,
    }
    .emit(&mut f[14..])
    .unwrap();
    f
}

/// (IPv4 checksum field, IPv4 header sums right, TCP checksum field, TCP segment sums
/// right, flags, payload length) of one frame.
type FrameInfo = (u16, bool, u16, bool, TcpFlags, usize);

/// Moves the TCP frames the device holds into `out`; returns the sequence number of the
/// last SYN seen.
fn take_tcp(dev: &mut ScriptDevice, out: &mut Vec<FrameInfo>) -> Option<u32> {
    let mut syn = None;
    while let Some(f) = dev.tx.pop_front() {
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        if eth.ethertype() != EtherType::Ipv4 {
            continue;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.protocol(), IpProtocol::Tcp);
        let seg = ip.payload();
        let mut sum = pseudo_header(ip.src_addr(), ip.dst_addr(), 6, seg.len() as u16);
        sum.add_bytes(seg);
        let tcp = TcpPacket::new_checked(seg).unwrap();
        if tcp.flags().contains(TcpFlags::SYN) {
            syn = Some(u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]));
        }
        out.push((
            ip.checksum(),
            ip.checksum_valid(),
            u16::from_be_bytes([seg[16], seg[17]]),
            sum.sum() == 0xffff,
            tcp.flags(),
            tcp.payload().len(),
        ));
    }
    syn
}

#[test]
fn offloaded_checksums_are_left_zero() {
    let caps = ChecksumCaps {
        tx_ipv4: true,
        tx_tcp: true,
        rx_verified: false,
    };
    let frames = exchange(caps);
    assert!(frames.len() >= 3, "SYN-ACK and data segments: {frames:?}");
    assert!(frames.iter().any(|f| f.5 > 0), "data was sent: {frames:?}");
    for f in &frames {
        assert_eq!((f.0, f.2), (0, 0), "checksums left for the device: {f:?}");
    }
}

#[test]
fn without_offload_checksums_are_computed() {
    let frames = exchange(ChecksumCaps::default());
    assert!(frames.len() >= 3, "SYN-ACK and data segments: {frames:?}");
    for f in &frames {
        assert!(f.1 && f.3, "IPv4 and TCP checksums right: {f:?}");
    }
}

#[test]
fn only_tcp_offloaded() {
    let caps = ChecksumCaps {
        tx_ipv4: false,
        tx_tcp: true,
        rx_verified: false,
    };
    for f in exchange(caps) {
        assert!(f.1, "IPv4 checksum computed: {f:?}");
        assert_eq!(f.2, 0, "TCP checksum left for the device: {f:?}");
    }
}
