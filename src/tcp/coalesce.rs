//! One ACK per receive batch: which ACKs may wait for the end of the batch.
//!
//! An ACK for in-order data need not leave from inside the receive loop: the caller
//! queues the connection, and the output pass at the end of the same poll sends one ACK
//! for every segment that arrived together (what Linux's GRO and the BSDs' LRO amount
//! to). It goes out in that same poll, never later.

use super::State;
use super::conn::Connection;
use crate::buf::RecvBuf;
use crate::wire::tcp::{TcpFlags, TcpRepr};

/// Whether the ACK connection `c` wants after taking `seg` (with `payload_len` bytes of
/// data) may wait for the end of the receive batch. `replied`: the input answered with a
/// reset, which leaves at once; `had_ooo`: the receive buffer `rxb` held out-of-order data
/// before the segment.
///
/// Only a plain ACK for in-order data in ESTABLISHED waits. ACKs that carry news go out
/// at once: duplicate ACKs for out-of-order data, an ACK for a filled gap, for a FIN or a
/// SYN, and an ACK that would cover half the receive buffer or more.
pub fn ack_may_wait(
    c: &Connection,
    seg: &TcpRepr,
    payload_len: usize,
    replied: bool,
    had_ooo: bool,
    rxb: &RecvBuf<'_>,
) -> bool {
    c.wants_output()
        && !replied
        && payload_len > 0
        && !had_ooo
        && !rxb.has_ooo()
        && c.state() == State::Established
        && !seg
            .flags
            .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
        && (c.rcv.nxt.diff(c.rcv.last_ack_sent) as usize) < rxb.capacity() / 2
}

// The tests address their connections over IPv4 (the default build runs them).
#[cfg(all(test, feature = "proto-ipv4"))]
mod tests {
    use super::*;
    use crate::buf::RecvState;
    use crate::tcp::TcpConfig;
    use crate::tcp::conn::Pending;
    use crate::time::Instant;
    use crate::wire::tcp::{SeqNum, TcpOptions};
    use core::net::{Ipv4Addr, SocketAddrV4};

    fn seg(flags: TcpFlags) -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1001),
            ack: SeqNum(1),
            flags,
            window: 8192,
            options: TcpOptions::NONE,
        }
    }

    /// An established connection that has received `received` bytes since its last ACK
    /// and wants to ACK them.
    fn conn(received: u32) -> Connection {
        let syn = TcpRepr {
            flags: TcpFlags::SYN,
            seq: SeqNum(1000),
            ..seg(TcpFlags::SYN)
        };
        let mut c = Connection::accept_syn(
            &TcpConfig::default(),
            Instant::ZERO,
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40000),
            &syn,
            SeqNum(0),
            1500,
            4096,
            0,
        );
        c.state = State::Established;
        c.pending |= Pending::ACK_NOW;
        c.rcv.last_ack_sent = c.rcv.nxt;
        c.rcv.nxt += received;
        c
    }

    #[test]
    fn plain_in_order_ack_waits_news_do_not() {
        let mut mem = [0u8; 4096];
        let mut st = RecvState::new(4);
        let rxb = RecvBuf::new(&mut mem, &mut st);
        let c = conn(100);
        let ack = seg(TcpFlags::ACK);
        assert!(ack_may_wait(&c, &ack, 100, false, false, &rxb));
        // A reset was the answer; no data; a gap was filled; a FIN; half the buffer.
        assert!(!ack_may_wait(&c, &ack, 100, true, false, &rxb));
        assert!(!ack_may_wait(&c, &ack, 0, false, false, &rxb));
        assert!(!ack_may_wait(&c, &ack, 100, false, true, &rxb));
        let fin = seg(TcpFlags::ACK | TcpFlags::FIN);
        assert!(!ack_may_wait(&c, &fin, 100, false, false, &rxb));
        assert!(!ack_may_wait(&conn(2048), &ack, 100, false, false, &rxb));
        // Nothing to send, or not ESTABLISHED.
        let mut quiet = conn(100);
        quiet.pending.remove(Pending::ACK_NOW);
        assert!(!ack_may_wait(&quiet, &ack, 100, false, false, &rxb));
        let mut closing = conn(100);
        closing.state = State::CloseWait;
        assert!(!ack_may_wait(&closing, &ack, 100, false, false, &rxb));
    }
}
