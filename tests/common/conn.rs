//! Connection-management helpers on top of the scripted-peer harness ([`super::script`]):
//! active open, a ready-made established connection, ICMP errors quoting our segments,
//! and reading the socket table.
#![allow(dead_code)]

use std::net::SocketAddrV4;

use tidytcp::socket::{SocketFlags, SocketInfo, TcpListener, TcpStream};
use tidytcp::tcp::State;
use tidytcp::wire::ethernet::{EtherType, EthernetRepr};
use tidytcp::wire::icmpv4::{DstUnreachableCode, Icmpv4Repr, QuotedIpv4};
use tidytcp::wire::ipv4::{IpProtocol, Ipv4Repr};
use tidytcp::wire::tcp::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

use super::script::{PEER_IP, PEER_MAC, PEER_PORT, STACK_IP, STACK_PORT, Script, Seg, peer};

/// The segments of an established connection as the test sees them: our ISS and the
/// peer's next sequence number, kept up to date by the test.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    /// The stack's initial sequence number.
    pub iss: SeqNum,
    /// The next sequence number the peer sends.
    pub pseq: SeqNum,
}

impl<'a> Script<'a> {
    /// Starts an active open from `STACK_PORT` to the peer (so that `seg!`'s default ports
    /// fit) and returns the handle and the SYN the stack sent.
    pub fn connect_syn(&mut self) -> (TcpStream<'a>, Seg) {
        let s = self
            .stack
            .connect_from(STACK_PORT, peer().into())
            .expect("connect");
        self.poll();
        let syn = self.expect(Seg {
            flags: TcpFlags::SYN,
            ..Default::default()
        });
        (s, syn)
    }

    /// Active open answered by a SYN-ACK with `synack_opts` (its TSecr is filled in from
    /// the SYN when both carry timestamps). Expects the stack's ACK and returns the handle,
    /// our ISS and the peer's next sequence number.
    pub fn handshake_active(
        &mut self,
        peer_isn: u32,
        synack_opts: TcpOptions,
    ) -> (TcpStream<'a>, SeqNum, SeqNum) {
        let (s, syn) = self.connect_syn();
        let mut opts = synack_opts;
        if let (Some((v, _)), Some((tv, _))) = (opts.timestamps, syn.opts.timestamps) {
            opts.timestamps = Some((v, tv));
        }
        self.send(Seg {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            seq: SeqNum(peer_isn),
            ack: syn.seq + 1u32,
            opts,
            ..Default::default()
        });
        self.expect(Seg {
            flags: TcpFlags::ACK,
            seq: syn.seq + 1u32,
            ack: SeqNum(peer_isn.wrapping_add(1)),
            ..Default::default()
        });
        (s, syn.seq, SeqNum(peer_isn.wrapping_add(1)))
    }

    /// A listener on `STACK_PORT`, a passive open without options from the peer, and the
    /// accepted stream.
    pub fn established_passive(&mut self, peer_isn: u32) -> (TcpListener<'a>, TcpStream<'a>, Conn) {
        let l = self.stack.listen(STACK_PORT, 4).expect("listen");
        let (iss, pseq) = self.handshake_passive(
            peer_isn,
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::NONE
            },
        );
        let s = l.accept(&mut self.stack).expect("accept").0;
        (l, s, Conn { iss, pseq })
    }

    /// Like [`Script::handshake_passive`] from the peer's port `sport`, without options
    /// but the MSS; returns (our ISS, the peer's next sequence number).
    pub fn handshake_passive_from(&mut self, sport: u16, peer_isn: u32) -> (SeqNum, SeqNum) {
        self.send(Seg {
            src_port: sport,
            flags: TcpFlags::SYN,
            seq: SeqNum(peer_isn),
            opts: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::NONE
            },
            ..Default::default()
        });
        let sa = self.expect(Seg {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ack: SeqNum(peer_isn.wrapping_add(1)),
            ..Default::default()
        });
        assert_eq!(sa.dst_port, sport);
        self.send(Seg {
            src_port: sport,
            flags: TcpFlags::ACK,
            seq: SeqNum(peer_isn.wrapping_add(1)),
            ack: sa.seq + 1u32,
            ..Default::default()
        });
        (sa.seq, SeqNum(peer_isn.wrapping_add(1)))
    }

    /// The socket-table line of the connection between `STACK_PORT` and the peer.
    pub fn info(&self) -> Option<SocketInfo> {
        self.info_of(PEER_PORT)
    }

    /// The socket-table line of the connection from the peer's port `pport`.
    pub fn info_of(&self, pport: u16) -> Option<SocketInfo> {
        let remote = SocketAddrV4::new(PEER_IP, pport);
        self.stack
            .sockets()
            .find(|i| !i.listener && i.remote == Some(remote.into()))
    }

    /// The TCP state of the connection with the peer (`Closed` when it has no slot).
    pub fn state(&self) -> State {
        self.info().map_or(State::Closed, |i| i.state)
    }

    /// The state flags of the connection with the peer.
    pub fn flags(&self) -> SocketFlags {
        self.info().map_or(SocketFlags::empty(), |i| i.flags)
    }

    /// Delivers an ICMP destination unreachable from the peer quoting `quoted`, a segment
    /// the stack sent (only its first 8 bytes matter: ports and sequence number).
    pub fn send_icmp_unreachable(&mut self, code: DstUnreachableCode, quoted: &Seg, mtu: u16) {
        let tcp = TcpRepr {
            src_port: quoted.src_port,
            dst_port: quoted.dst_port,
            seq: quoted.seq,
            ack: quoted.ack,
            flags: quoted.flags,
            window: quoted.win,
            options: TcpOptions::NONE,
        };
        let mut th = vec![0u8; tcp.header_len()];
        tcp.emit(&mut th).unwrap();
        let mut quote = vec![0u8; 20];
        Ipv4Repr {
            src: STACK_IP,
            dst: PEER_IP,
            protocol: IpProtocol::Tcp,
            payload_len: th.len() + quoted.data.len(),
            ttl: 64,
            ident: 7,
            dont_frag: true,
        }
        .emit(&mut quote)
        .unwrap();
        quote.extend_from_slice(&th[..8]);
        let icmp = Icmpv4Repr::DstUnreachable {
            code,
            next_hop_mtu: mtu,
            header: QuotedIpv4::parse(&quote).unwrap(),
            data: &quote,
        };
        let mut f = vec![0u8; 34 + icmp.buffer_len()];
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
            payload_len: icmp.buffer_len(),
            ttl: 64,
            ident: 8,
            dont_frag: false,
        }
        .emit(&mut f[14..])
        .unwrap();
        icmp.emit(&mut f[34..]).unwrap();
        self.dev.rx.push_back(f);
        self.poll();
    }

    /// Runs the clock from deadline to deadline until the stack sends something (ARP and
    /// other deadlines that send no segment are passed over), at most `limit` ahead.
    /// Returns the time it sent at.
    pub fn advance_until_sent(&mut self, limit: tidytcp::Duration) -> Option<tidytcp::Instant> {
        let end = self.now + limit;
        while self.out.is_empty() {
            match self.stack.poll_at() {
                Some(t) if t <= end => {
                    self.now = t.max(self.now);
                    self.poll();
                    if self.out.is_empty() && self.stack.poll_at().is_some_and(|n| n <= self.now) {
                        self.now += tidytcp::Duration::from_micros(1);
                    }
                }
                _ => {
                    self.now = end;
                    self.poll();
                    break;
                }
            }
        }
        (!self.out.is_empty()).then_some(self.now)
    }

    /// Takes every segment the stack sent so far.
    pub fn drain(&mut self) -> Vec<Seg> {
        self.out.drain(..).collect()
    }
}
