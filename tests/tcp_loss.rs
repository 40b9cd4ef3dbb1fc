//! Loss recovery on a bad path, with the test as the receiver: a lost retransmission
//! found by a later retransmission (RACK's log of retransmissions, RFC 8985 §6.2), the
//! same after a retransmission timeout, and F-RTO (RFC 5682 §4) telling a timeout whose
//! ACKs were lost from one that repaired a loss.

mod common;

use common::data::*;
use common::script::*;
use tidytcp::Duration;

fn storage() -> tidytcp::socket::HeapStorage {
    mem(65536, 65536)
}

/// MSS 1000 with SACK, an RTT of 100 ms (SRTT 100 ms, RTO 300 ms), peer window 65535;
/// `n` bytes written and the first flight sent.
fn open_and_send<'a>(t: &mut Script<'a>, n: usize) -> Open<'a> {
    let mut o = open_passive_rtt(t, mss_sack(1000), Duration::from_millis(100), 65535);
    assert!(o.conn(t).options().2, "SACK negotiated");
    o.write(t, n);
    drain(t);
    o
}

/// An ACK of `ack` with SACK blocks, offsets from `o.snd`.
fn sack_ack(o: &Open<'_>, ack: u32, sack: &[(u32, u32)]) -> Seg {
    let mut s = o.ack(o.snd + ack, 65535);
    for &(l, r) in sack {
        s.opts.sack.push(o.snd + l, o.snd + r);
    }
    s
}

/// No ACK comes: the tail loss probe goes, then the timeout resends segment 0.
fn time_out(t: &mut Script<'_>, o: &Open<'_>) {
    let (_, probe) = next_send(t);
    assert_ne!(spans(&probe, o.snd), vec![(0, 1000)], "the probe first");
    let (_, segs) = next_send(t);
    assert_eq!(spans(&segs, o.snd), vec![(0, 1000)], "the timeout");
    assert_eq!(t.stack.stats().tcp.timeouts, 1);
}

/// Segments 0 and 2 of ten are lost; fast recovery resends both, in that order. The
/// second retransmission arrives and the first does not: data sent after the first was
/// delivered, so it is lost again and goes at once. Both retransmissions lay below
/// SND.MAX as it was when they left, so the byte order alone could not tell.
#[test]
fn a_lost_retransmission_is_found_by_a_later_retransmission() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_and_send(&mut t, 10_000);
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(3000, 10_000), (1000, 2000)]));
    let rtx = spans(&drain(&mut t), o.snd);
    assert_eq!(rtx, vec![(0, 1000), (2000, 1000)]);
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(1000, 10_000)]));
    assert_eq!(
        spans(&drain(&mut t), o.snd),
        vec![(0, 1000)],
        "segment 0 again"
    );
    let st = t.stack.stats().tcp;
    assert_eq!((st.lost_retransmits, st.timeouts), (1, 0));
    t.send(o.ack(o.snd + 10_000, 65535));
    assert_eq!(o.conn(&t).snd_una(), o.snd + 10_000);
}

/// A retransmission delivered sooner than a quarter of the RTT after it left was the
/// original's arrival: it says nothing of the retransmissions sent before it.
#[test]
fn an_early_delivery_proves_no_order() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_and_send(&mut t, 10_000);
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 0, &[(3000, 10_000), (1000, 2000)]));
    assert_eq!(drain(&mut t).len(), 2);
    t.now += Duration::from_millis(1);
    t.send(sack_ack(&o, 0, &[(1000, 10_000)]));
    assert!(drain(&mut t).is_empty(), "too soon to tell");
    assert_eq!(t.stack.stats().tcp.lost_retransmits, 0);
}

/// After a timeout the resend goes from SND.UNA; a resent segment that data resent after
/// it overtakes is lost again and goes at once, not at the next (doubled) timeout.
#[test]
fn a_lost_retransmission_after_a_timeout_goes_again_at_once() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_and_send(&mut t, 10_000);
    time_out(&mut t, &o);
    t.now += Duration::from_millis(100);
    t.send(o.ack(o.snd + 1000, 65535));
    assert_eq!(
        spans(&drain(&mut t), o.snd),
        vec![(1000, 1000), (2000, 1000)],
        "slow start from one segment"
    );
    t.now += Duration::from_millis(100);
    t.send(sack_ack(&o, 1000, &[(2000, 3000)]));
    assert_eq!(spans(&drain(&mut t), o.snd), vec![(1000, 1000)]);
    let st = t.stack.stats().tcp;
    assert_eq!(
        (st.timeouts, st.lost_retransmits, st.spurious_timeouts),
        (1, 1, 0)
    );
}

/// The whole flight arrived and every ACK was lost: the timeout resends segment 0, and
/// the ACK that follows acknowledges data sent only once. F-RTO calls the timeout
/// spurious: the window goes back to what it was, and nothing more is resent.
#[test]
fn a_timeout_whose_acks_were_lost_is_undone() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_and_send(&mut t, 20_000);
    let before = o.conn(&t).cwnd();
    time_out(&mut t, &o);
    assert_eq!(o.conn(&t).cwnd(), 1000);
    t.now += Duration::from_millis(1);
    t.send(o.ack(o.snd + 10_000, 65535));
    assert!(o.conn(&t).cwnd() >= before, "the window is back");
    let sent = spans(&drain(&mut t), o.snd);
    assert!(
        sent.iter().all(|s| s.0 >= 10_000),
        "new data only: {sent:?}"
    );
    let st = t.stack.stats().tcp;
    assert_eq!((st.timeouts, st.spurious_timeouts), (1, 1));
}

/// The whole flight was lost: every ACK after the timeout covers only resent data, and
/// the reduction stands.
#[test]
fn a_timeout_that_repaired_the_flight_stands() {
    let mut m = storage();
    let mut t = Script::new(&mut m, script_config());
    let o = open_and_send(&mut t, 10_000);
    time_out(&mut t, &o);
    let mut una = 0;
    for _ in 0..3 {
        t.now += Duration::from_millis(100);
        let sent = spans(&drain(&mut t), o.snd);
        una = sent
            .last()
            .map_or(una + 1000, |s| s.0 + s.1 as u32)
            .max(una + 1000);
        t.send(o.ack(o.snd + una, 65535));
    }
    assert!(o.conn(&t).cwnd() < 10_000);
    assert_eq!(t.stack.stats().tcp.spurious_timeouts, 0);
}
