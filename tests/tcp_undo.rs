//! Spurious fast recoveries undone (`tcp::undo`): with timestamps, the ACK that ends a
//! recovery tells whether the hole was filled by the original segment (delayed, not
//! lost: RFC 3522) or by the retransmission; in the first case the window and the
//! threshold go back to what they were before the episode. A timeout in the episode is
//! judged by F-RTO (more in tests/tcp_loss.rs).

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;
use tidytcp::wire::tcp::TcpOptions;

/// Payload of a full segment: MSS 1000 less the 12 bytes of the timestamps option.
const SEG: u32 = 988;

fn syn_opts(timestamps: bool) -> TcpOptions {
    mss_sack_ts(1000, timestamps.then_some(500))
}

/// A segment from the peer, with timestamps when they are on.
fn ts(mut s: Seg, tsval: u32, tsecr: u32) -> Seg {
    if s.opts.timestamps.is_some() || tsecr != 0 {
        s.opts.timestamps = Some((tsval, tsecr));
    }
    s
}

struct Episode<'a> {
    o: Open<'a>,
    /// The TSval of the first flight (all sent at once).
    flight_tsval: u32,
    /// The TSval of the fast retransmission.
    rexmt_tsval: u32,
    /// cwnd and ssthresh just before the episode.
    before: (u32, u32),
}

/// Opens with SACK (and timestamps if `timestamps`), RTT 100 ms, sends eight segments,
/// and one RTT later the peer reports the first missing with three duplicate ACKs
/// (SACKing the next three): fast retransmit of the first, window halved.
fn fast_recovery<'a>(t: &mut Script<'a>, timestamps: bool) -> Episode<'a> {
    let mut o = open_passive_rtt(t, syn_opts(timestamps), Duration::from_millis(100), 65535);
    let seg = if timestamps { SEG } else { 1000 };
    o.write(t, 8 * seg as usize);
    let flight = drain(t);
    assert_eq!(flight.len(), 8);
    let flight_tsval = flight[0].opts.timestamps.map_or(0, |v| v.0);
    t.now += Duration::from_millis(100);
    let c = o.conn(t);
    let before = (c.cwnd(), c.ssthresh());
    let mut rexmt = Vec::new();
    for k in 2..=4u32 {
        let mut s = o.ack(o.snd, 65535);
        s.opts.sack.push(o.snd + seg, o.snd + k * seg);
        // The receiver's TS.Recent is still the handshake's (the hole is at its left
        // edge), 100 ms before the flight.
        let tsecr = if timestamps { flight_tsval - 100 } else { 0 };
        t.send(ts(s, 600 + k, tsecr));
        rexmt.extend(drain(t));
    }
    let rexmt = rexmt
        .iter()
        .find(|s| s.seq == o.snd)
        .expect("the first segment retransmitted")
        .clone();
    assert_eq!(t.stack.stats().tcp.fast_retransmits, 1);
    assert!(o.conn(t).ssthresh() < before.1, "the window was cut");
    Episode {
        rexmt_tsval: rexmt.opts.timestamps.map_or(0, |v| v.0),
        o,
        flight_tsval,
        before,
    }
}

/// The original first segment was only delayed: it fills the hole, and the ACK that
/// ends the episode echoes its timestamp, older than the retransmission. The window
/// and threshold go back to their values before the episode.
#[test]
fn a_recovery_ended_by_the_delayed_original_is_undone() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, true);
    assert!(e.rexmt_tsval > e.flight_tsval, "100 ms between them");
    t.now += Duration::from_millis(5);
    t.send(ts(e.o.ack(e.o.snd + 8 * SEG, 65535), 700, e.flight_tsval));
    let c = e.o.conn(&t);
    assert_eq!(t.stack.stats().tcp.spurious_recoveries, 1);
    assert!(
        c.cwnd() >= e.before.0,
        "cwnd {} back to {}",
        c.cwnd(),
        e.before.0
    );
    assert_eq!(c.ssthresh(), e.before.1);
}

/// The retransmission filled the hole (the original was lost): the ACK echoes the
/// retransmission's timestamp and the reduction stands.
#[test]
fn a_recovery_ended_by_the_retransmission_stands() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, true);
    t.now += Duration::from_millis(100);
    t.send(ts(e.o.ack(e.o.snd + 8 * SEG, 65535), 700, e.rexmt_tsval));
    let c = e.o.conn(&t);
    assert_eq!(t.stack.stats().tcp.spurious_recoveries, 0);
    assert!(c.ssthresh() < e.before.1);
    assert!(c.cwnd() < e.before.0);
}

/// Without timestamps there is no telling: never undone.
#[test]
fn without_timestamps_nothing_is_undone() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, false);
    t.now += Duration::from_millis(5);
    t.send(e.o.ack(e.o.snd + 8 * 1000, 65535));
    let c = e.o.conn(&t);
    assert_eq!(t.stack.stats().tcp.spurious_recoveries, 0);
    assert!(c.ssthresh() < e.before.1);
}

/// A retransmission timeout during the episode: the later ACK acknowledges segments 4
/// to 7, never retransmitted, so not everything was lost. F-RTO (RFC 5682 §4) finds the
/// timeout spurious and, as Linux does, the whole episode is undone: the window and the
/// threshold from before the fast recovery come back.
#[test]
fn a_timeout_in_the_episode_is_undone_by_f_rto() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, true);
    let (_, segs) = next_send(&mut t);
    assert_eq!(t.stack.stats().tcp.timeouts, 1);
    assert!(segs.iter().any(|s| s.seq == e.o.snd));
    t.send(ts(e.o.ack(e.o.snd + 8 * SEG, 65535), 700, e.flight_tsval));
    let st = t.stack.stats().tcp;
    assert_eq!((st.spurious_recoveries, st.spurious_timeouts), (0, 1));
    assert_eq!(e.o.conn(&t).ssthresh(), e.before.1);
    assert!(e.o.conn(&t).cwnd() >= e.before.0);
}

/// Without timestamps the receiver's D-SACK tells (RFC 3708): the one retransmission of
/// the episode is reported as received twice, so the original had arrived and the
/// episode is undone.
#[test]
fn a_recovery_whose_retransmission_was_a_duplicate_is_undone() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, false);
    t.now += Duration::from_millis(5);
    let mut s = e.o.ack(e.o.snd + 8 * 1000, 65535);
    // D-SACK: the first block lies below the cumulative ACK (RFC 2883 §4).
    s.opts.sack.push(e.o.snd, e.o.snd + 1000);
    t.send(s);
    let st = t.stack.stats().tcp;
    assert_eq!((st.dsacks, st.spurious_recoveries), (1, 1));
    assert_eq!(e.o.conn(&t).ssthresh(), e.before.1);
}

/// A D-SACK for data the episode did not retransmit (a copy the network made) says
/// nothing of the episode.
#[test]
fn a_duplicate_the_network_made_undoes_nothing() {
    let mut m = mem(65536, 65536);
    let mut t = Script::new(&mut m, script_config());
    let e = fast_recovery(&mut t, false);
    let mut s = e.o.ack(e.o.snd, 65535);
    s.opts.sack.push(e.o.snd + 2000, e.o.snd + 3000);
    s.opts.sack.push(e.o.snd + 1000, e.o.snd + 4000);
    t.send(s);
    let st = t.stack.stats().tcp;
    assert_eq!((st.dsacks, st.spurious_recoveries), (1, 0));
    assert!(e.o.conn(&t).ssthresh() < e.before.1);
}
