//! Frames built by the tests themselves, and a device that slips them in: what an
//! attacker on the path, a spoofer or a scripted peer puts on the wire.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use tidytcp::Instant;
use tidytcp::drivers::{Device, DeviceCaps, RxToken};
use tidytcp::wire::checksum::pseudo_header;
use tidytcp::wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Repr};
use tidytcp::wire::tcp::{TcpRepr, set_checksum};

/// One end of a frame: its Ethernet and IPv4 addresses.
pub type End = (EthernetAddress, Ipv4Addr);

/// An Ethernet/IPv4 frame from `src` to `dst` around the TCP bytes `tcp` (header and
/// payload). The TCP checksum is computed first unless `keep_checksum`; the IPv4 header
/// checksum is always right.
pub fn tcp_frame(src: End, dst: End, tcp: &[u8], keep_checksum: bool) -> Vec<u8> {
    let mut tcp = tcp.to_vec();
    if !keep_checksum && tcp.len() >= 18 {
        tcp[16] = 0;
        tcp[17] = 0;
        let mut sum = pseudo_header(src.1, dst.1, 6, tcp.len() as u16);
        sum.add_bytes(&tcp);
        set_checksum(&mut tcp, sum.finish());
    }
    let mut f = vec![0u8; 34 + tcp.len()];
    EthernetRepr {
        src: src.0,
        dst: dst.0,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut f)
    .unwrap();
    Ipv4Repr {
        src: src.1,
        dst: dst.1,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.len(),
        ttl: 64,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut f[14..])
    .unwrap();
    f[34..].copy_from_slice(&tcp);
    f
}

/// [`tcp_frame`] of `repr` with `payload`, checksums right.
pub fn segment_frame(src: End, dst: End, repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let hlen = repr.header_len();
    let mut tcp = vec![0u8; hlen + payload.len()];
    repr.emit(&mut tcp).unwrap();
    tcp[hlen..].copy_from_slice(payload);
    tcp_frame(src, dst, &tcp, false)
}

/// A device that hands out injected frames before the wrapped device's own.
pub struct Injecting<'q, D> {
    pub inner: D,
    pub queue: &'q mut VecDeque<Vec<u8>>,
}

/// A received frame: injected, or the wrapped device's.
pub enum EitherRx<R> {
    Injected(Vec<u8>),
    Inner(R),
}

impl<R: RxToken> RxToken for EitherRx<R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        match self {
            EitherRx::Injected(v) => f(&v),
            EitherRx::Inner(r) => r.consume(f),
        }
    }
}

impl<D: Device> Device for Injecting<'_, D> {
    type RxToken<'a>
        = EitherRx<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if let Some(f) = self.queue.pop_front() {
            let tx = self.inner.transmit(now)?;
            return Some((EitherRx::Injected(f), tx));
        }
        let (rx, tx) = self.inner.receive(now)?;
        Some((EitherRx::Inner(rx), tx))
    }
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }
    fn capabilities(&self) -> DeviceCaps {
        self.inner.capabilities()
    }

    fn link_up(&mut self) -> bool {
        self.inner.link_up()
    }
}
