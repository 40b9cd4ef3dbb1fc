//! The TCP engine alone (the first level of the testing pyramid): two `tcp::Connection`s
//! joined by a wire of byte segments in virtual time, no IP and no stack
//! (`tests/common/engine.rs`).

#[path = "common/engine.rs"]
mod engine;

use engine::{Pair, Side};
use tidytcp::tcp::{State, TcpConfig};
use tidytcp::wire::tcp::TcpFlags;
use tidytcp::{Duration, Error};

fn pair() -> Pair {
    Pair::new(TcpConfig::default(), 4096, 4096, 1)
}

/// RFC 9293 §3.5: SYN, SYN-ACK, ACK; the options both offered are agreed on both sides.
#[test]
fn three_way_handshake() {
    let mut p = pair();
    p.handshake();
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
    let flags: Vec<_> = p.log.iter().map(|s| (s.from, s.repr.flags)).collect();
    assert_eq!(
        flags[..3],
        [
            (Side::A, TcpFlags::SYN),
            (Side::B, TcpFlags::SYN | TcpFlags::ACK),
            (Side::A, TcpFlags::ACK)
        ]
    );
    let (a, b) = (p.a.conn(), p.b.conn());
    assert_eq!(a.options(), b.options());
    assert_eq!(a.irs(), b.iss());
    assert_eq!(b.irs(), a.iss());
    assert_eq!(a.rcv_nxt(), b.snd_nxt());
    assert_eq!(b.rcv_nxt(), a.snd_nxt());
    assert_eq!(a.mss(), b.mss());
    p.check_invariants();
}

/// Data both ways at once through 4 KiB buffers, every byte checked in order, with B's
/// sequence numbers wrapping past 2^32 on the way.
#[test]
fn data_both_ways() {
    let mut p = pair();
    p.handshake();
    assert!(p.exchange(100_000, 100_000, p.now + Duration::from_secs(60)));
    assert_eq!((p.a.read, p.b.read), (100_000, 100_000));
    let b = p.b.conn();
    assert!(
        b.snd_una().0 < b.iss().0,
        "B's sequence numbers wrapped past 2^32"
    );
    assert_eq!(p.a.stats.retransmits + p.b.stats.retransmits, 0);
}

/// RFC 9293 §3.6: A half-closes first and goes through FIN-WAIT-1, FIN-WAIT-2 and
/// TIME-WAIT; B reads the end of the stream, still sends (half-close), closes, and goes
/// through CLOSE-WAIT and LAST-ACK. Both end CLOSED and are freed, A after 2·MSL.
#[test]
fn fin_close_both_sides() {
    let mut p = pair();
    p.handshake();
    assert!(p.transfer(Side::A, 10_000, p.now + Duration::from_secs(10)));
    p.shutdown(Side::A).unwrap();
    assert_eq!(p.a.state(), State::FinWait1);
    let end = p.now + Duration::from_secs(1);
    p.run_while(end, |p| !p.b.eof);
    assert!(p.b.eof, "B read the end of the stream");
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.b.state(), State::CloseWait);
    assert_eq!(p.a.state(), State::FinWait2);
    // B may still send after the peer's FIN.
    assert!(p.transfer(Side::B, 3_000, p.now + Duration::from_secs(1)));
    p.close(Side::B);
    assert_eq!(p.b.state(), State::LastAck);
    let end = p.now + Duration::from_secs(1);
    p.run_while(end, |p| p.b.conn.is_some());
    assert_eq!(p.b.freed, 1, "B freed once its FIN is acknowledged");
    assert!(p.a.eof);
    assert_eq!(p.a.state(), State::TimeWait);
    p.close(Side::A);
    assert_eq!(
        p.a.state(),
        State::TimeWait,
        "closing changes nothing in TIME-WAIT"
    );
    let msl = p.cfg.msl;
    p.run_for(msl + msl + Duration::from_secs(1));
    assert_eq!(p.a.freed, 1, "A freed after 2·MSL");
    assert_eq!((p.a.error, p.b.error), (None, None));
    assert!(p.wire.is_empty());
}

/// RFC 9293 §3.10.7.4: data for a user who closed (not half-closed) gets a reset.
#[test]
fn data_after_close_resets() {
    let mut p = pair();
    p.handshake();
    p.close(Side::A);
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.state(), State::FinWait2);
    assert!(!p.transfer(Side::B, 100, p.now + Duration::from_secs(1)));
    assert_eq!(p.b.error, Some(Error::ConnectionReset));
    assert_eq!((p.a.freed, p.b.freed), (1, 1));
}

/// Both users close at once: FINs cross (RFC 9293 §3.6, simultaneous close) and both
/// sides end through CLOSING and TIME-WAIT.
#[test]
fn simultaneous_close() {
    let mut p = pair();
    p.handshake();
    p.close(Side::A);
    p.close(Side::B);
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.state(), State::TimeWait);
    assert_eq!(p.b.state(), State::TimeWait);
    p.run_for(p.cfg.msl + p.cfg.msl + Duration::from_secs(1));
    assert_eq!((p.a.freed, p.b.freed), (1, 1));
}

/// RFC 9293 §3.10.5: an abort sends a reset; the peer's connection ends with
/// `ConnectionReset` and nothing more is sent by either.
#[test]
fn abort_resets_the_peer() {
    let mut p = pair();
    p.handshake();
    assert!(p.transfer(Side::B, 1_000, p.now + Duration::from_secs(1)));
    p.abort(Side::A);
    assert_eq!(p.a.freed, 1);
    let rst = p.log.last().unwrap();
    assert_eq!(
        (rst.from, rst.repr.flags),
        (Side::A, TcpFlags::RST | TcpFlags::ACK)
    );
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.b.error, Some(Error::ConnectionReset));
    assert_eq!(p.b.freed, 1);
    assert_eq!(p.b.stats.rst_received, 1);
    assert!(p.log.last().unwrap().repr.flags.contains(TcpFlags::RST));
}

/// RFC 9293 §3.10.7.1: a SYN to a port nobody listens on is answered with a reset, and
/// the connect fails with `ConnectionRefused`.
#[test]
fn connect_refused() {
    let mut p = pair();
    p.listening = false;
    p.connect();
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.error, Some(Error::ConnectionRefused));
    assert_eq!(p.a.freed, 1);
}

/// RFC 9293 §3.6, RFC 2525 §2.17: closing with unread data resets instead of a FIN.
#[test]
fn close_with_unread_data_resets() {
    let mut p = pair();
    p.handshake();
    p.b.auto_read = false;
    assert!(!p.transfer(Side::A, 500, p.now + Duration::from_secs(1)));
    assert_eq!(p.b.unread(), 500);
    p.close(Side::B);
    assert!(p.log.last().unwrap().repr.flags.contains(TcpFlags::RST));
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.error, Some(Error::ConnectionReset));
}

/// RFC 6298 §5: the first data segment is lost; the retransmission timer resends the
/// same bytes and the transfer completes, byte for byte.
#[test]
fn retransmission_after_a_dropped_segment() {
    let mut p = pair();
    p.handshake();
    let rto = p.a.conn().rto(&p.cfg);
    let mut dropped = None;
    p.filter = Some(Box::new(move |s| {
        let first_data = s.from == Side::A && s.len > 0 && dropped.is_none();
        if first_data {
            dropped = Some(s.repr.seq);
        }
        first_data
    }));
    assert!(p.transfer(Side::A, 500, p.now + Duration::from_secs(5)));
    let data: Vec<_> = p
        .log
        .iter()
        .filter(|s| s.from == Side::A && s.len > 0)
        .collect();
    assert_eq!(data.len(), 2);
    assert!(data[0].dropped && !data[1].dropped);
    assert_eq!(data[1].repr.seq, data[0].repr.seq, "the same bytes again");
    assert_eq!(data[1].at - data[0].at, rto, "after one RTO");
    assert_eq!(p.a.stats.timeouts, 1);
    assert_eq!(p.a.stats.retransmits, 1);
}

/// RFC 5681 §3.2: with one segment of a window lost, the duplicate ACKs bring a fast
/// retransmit long before the RTO.
#[test]
fn fast_retransmit_after_a_dropped_segment() {
    let mut p = Pair::new(TcpConfig::default(), 64 * 1024, 64 * 1024, 1);
    p.handshake();
    // Grow the window first.
    assert!(p.transfer(Side::A, 50_000, p.now + Duration::from_secs(5)));
    let mut n = 0;
    p.filter = Some(Box::new(move |s| {
        if s.from == Side::A && s.len > 0 {
            n += 1;
            return n == 3;
        }
        false
    }));
    let t0 = p.now;
    assert!(p.transfer(Side::A, 30_000, p.now + Duration::from_secs(5)));
    assert_eq!(p.a.stats.fast_retransmits, 1);
    assert_eq!(p.a.stats.timeouts, 0);
    assert!(p.now - t0 < Duration::from_millis(200));
}

/// RFC 9293 §3.8.6.1: the receiver's user stops reading, the window closes, the sender
/// probes it; when the user reads again every byte arrives.
#[test]
fn zero_window_probe() {
    let mut p = pair();
    p.handshake();
    p.b.auto_read = false;
    assert!(!p.transfer(Side::A, 10_000, p.now + Duration::from_secs(30)));
    assert_eq!(p.b.unread(), 4096, "B's buffer is full");
    assert_eq!(p.a.conn().send_window(), 0);
    assert!(p.a.stats.window_probes >= 3, "{:?}", p.a.stats);
    let probes: Vec<_> = p
        .log
        .iter()
        .filter(|s| s.from == Side::A && s.len == 1)
        .collect();
    assert!(probes.len() >= 3);
    assert!(probes.windows(2).all(|w| w[0].repr.seq == w[1].repr.seq));
    assert_eq!(p.b.state(), State::Established);
    p.b.auto_read = true;
    let left = 10_000 - p.a.written;
    assert!(p.transfer(Side::A, left, p.now + Duration::from_secs(120)));
    assert_eq!(p.b.read, 10_000);
}

/// Seeded random loss both ways (10 %, 20 %): each transfer completes byte for byte, both
/// sides close and are freed, and the invariants hold after every step.
#[test]
fn transfer_and_close_under_seeded_loss() {
    for (seed, loss) in [(1, 10), (2, 10), (3, 20), (4, 20)] {
        let mut p = Pair::new(TcpConfig::default(), 8192, 8192, seed);
        p.loss_percent = loss;
        p.record = false;
        p.handshake();
        assert_eq!(p.a.state(), State::Established, "seed {seed}");
        let end = p.now + Duration::from_secs(600);
        assert!(p.exchange(40_000, 40_000, end), "seed {seed}");
        assert_eq!((p.a.read, p.b.read), (40_000, 40_000), "seed {seed}");
        p.close(Side::A);
        p.close(Side::B);
        let end = p.now + Duration::from_secs(600);
        p.run_while(end, |p| p.a.conn.is_some() || p.b.conn.is_some());
        assert_eq!((p.a.freed, p.b.freed), (1, 1), "seed {seed}");
        assert_eq!((p.a.error, p.b.error), (None, None), "seed {seed}");
    }
}
