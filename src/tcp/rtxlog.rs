//! RACK's per-segment state for retransmitted data (RFC 8985 §6.1), bounded.
//!
//! RFC 8985 keeps a send time per segment. Data sent once needs none here: it leaves in
//! sequence order, so the byte order tells when it was sent (see `tcp::rack`). A
//! retransmission breaks that order: it leaves after data above it, and after other
//! retransmissions of higher holes. This log keeps, for each retransmission of the
//! current recovery (fast or after a timeout), its range, when it left and SND.MAX at
//! that moment, oldest first, in a small fixed array. A retransmission is lost when
//! something sent after it has been delivered and it has not: new data above its SND.MAX
//! mark, or a retransmission logged after it.
//!
//! When the log is full the oldest record is forgotten: that retransmission can then
//! only be found lost by the retransmission timer, as before this log existed.

use crate::wire::tcp::SeqNum;

/// Retransmissions a connection remembers: none without the `sack` feature (RACK never
/// runs), otherwise as many as the SACK scoreboard can describe holes, about.
pub const RTX_LOG_LEN: usize = if super::SACK { 8 } else { 0 };

/// One retransmission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Record {
    start: SeqNum,
    end: SeqNum,
    /// SND.MAX when it was sent: data above it left after it.
    mark: SeqNum,
    /// When it was sent: the low 32 bits of the clock in microseconds (wrapping).
    sent_us: u32,
}

/// The retransmissions of the current episode, oldest first (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtxLog {
    recs: [Record; RTX_LOG_LEN],
    len: u8,
    /// Bit `i`: record `i` was deemed lost and waits to be sent again.
    lost: u8,
}

impl Default for RtxLog {
    fn default() -> Self {
        RtxLog::new()
    }
}

/// What a record's range looks like to the receiver, from SND.UNA and the SACKed blocks.
fn delivered(r: &Record, una: SeqNum, sacked: &[(SeqNum, SeqNum)]) -> bool {
    let start = r.start.max(una);
    start >= r.end || sacked.iter().any(|&(l, h)| l <= start && r.end <= h)
}

impl RtxLog {
    /// Empty.
    pub const fn new() -> Self {
        RtxLog {
            recs: [Record {
                start: SeqNum(0),
                end: SeqNum(0),
                mark: SeqNum(0),
                sent_us: 0,
            }; RTX_LOG_LEN],
            len: 0,
            lost: 0,
        }
    }

    /// Forgets every record (a new episode, or everything acknowledged).
    pub fn clear(&mut self) {
        self.len = 0;
        self.lost = 0;
    }

    /// Removes record `i`, keeping the order of the others and of their lost bits.
    fn remove(&mut self, i: usize) {
        let n = usize::from(self.len);
        if i >= n {
            return;
        }
        self.recs.copy_within(i + 1..n, i);
        let low = self.lost & ((1u16 << i) - 1) as u8;
        let high = ((u16::from(self.lost) >> (i + 1)) << i) as u8;
        self.lost = low | high;
        self.len -= 1;
    }

    /// `[start, end)` left at `sent_us` with SND.MAX at `mark`. A record it overlaps is
    /// replaced (that range was sent again); when full, the oldest is forgotten.
    pub fn push(&mut self, start: SeqNum, end: SeqNum, mark: SeqNum, sent_us: u32) {
        if RTX_LOG_LEN == 0 || start >= end {
            return;
        }
        let mut i = 0;
        while i < usize::from(self.len) {
            let r = self.recs[i];
            if r.start < end && start < r.end {
                self.remove(i);
            } else {
                i += 1;
            }
        }
        if usize::from(self.len) == RTX_LOG_LEN {
            self.remove(0);
        }
        let n = usize::from(self.len);
        if let Some(slot) = self.recs.get_mut(n) {
            *slot = Record {
                start,
                end,
                mark,
                sent_us,
            };
            self.len += 1;
        }
    }

    /// RFC 8985 §6.2 for the logged retransmissions, after an ACK: with SND.UNA at `una`
    /// and `sacked` the SACKed blocks, deems lost each record not delivered that was
    /// followed by a delivery (data above its mark, or a later record delivered at least
    /// `min_age_us` after it left: an earlier delivery is the original's, which says
    /// nothing of the order). Forgets the delivered records. Returns how many records
    /// became lost.
    pub fn detect(
        &mut self,
        una: SeqNum,
        sacked: &[(SeqNum, SeqNum)],
        now_us: u32,
        min_age_us: u32,
    ) -> u32 {
        let high = sacked.last().map_or(una, |b| b.1.max(una));
        let n = usize::from(self.len);
        // The newest record whose delivery shows the order.
        let proof = (0..n).rev().find(|&i| {
            let r = &self.recs[i];
            delivered(r, una, sacked) && now_us.wrapping_sub(r.sent_us) >= min_age_us
        });
        let mut newly = 0;
        for i in 0..n {
            let r = &self.recs[i];
            let bit = 1u8 << i;
            if self.lost & bit != 0 || delivered(r, una, sacked) {
                continue;
            }
            if high > r.mark || proof.is_some_and(|p| p > i) {
                self.lost |= bit;
                newly += 1;
            }
        }
        // Delivered records are done with: one delivered too soon was the original's
        // arrival (it is first seen delivered now, so its age now is its RTT).
        let mut i = 0;
        while i < usize::from(self.len) {
            if delivered(&self.recs[i], una, sacked) {
                self.remove(i);
            } else {
                i += 1;
            }
        }
        newly
    }

    /// The first byte of the oldest lost retransmission that is still missing, and the
    /// end of its record.
    pub fn next_lost(&self, una: SeqNum, sacked: &[(SeqNum, SeqNum)]) -> Option<(SeqNum, SeqNum)> {
        (0..usize::from(self.len))
            .filter(|&i| self.lost & (1 << i) != 0)
            .map(|i| self.recs[i])
            .find(|r| !delivered(r, una, sacked))
            .map(|r| (r.start.max(una), r.end))
    }

    /// Bytes of lost retransmissions not yet sent again and not delivered: they are no
    /// longer in the network (RFC 6675 SetPipe counts them through HighRxt).
    pub fn lost_bytes(&self, una: SeqNum, sacked: &[(SeqNum, SeqNum)]) -> u32 {
        (0..usize::from(self.len))
            .filter(|&i| self.lost & (1 << i) != 0)
            .map(|i| self.recs[i])
            .filter(|r| !delivered(r, una, sacked))
            .map(|r| r.end - r.start.max(una))
            .sum()
    }
}

#[cfg(all(test, feature = "sack"))]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    #[test]
    fn a_later_retransmission_delivered_finds_an_earlier_one_lost() {
        let mut log = RtxLog::new();
        log.push(s(0), s(100), s(1000), 10);
        log.push(s(300), s(400), s(1000), 20);
        // The second retransmission is SACKed, late enough to be its own delivery.
        assert_eq!(log.detect(s(0), &[(s(300), s(400))], 1000, 50), 1);
        assert_eq!(
            log.next_lost(s(0), &[(s(300), s(400))]),
            Some((s(0), s(100)))
        );
        assert_eq!(log.lost_bytes(s(0), &[(s(300), s(400))]), 100);
        // Sent again: the new record replaces the lost one.
        log.push(s(0), s(100), s(1000), 2000);
        assert_eq!(log.next_lost(s(0), &[]), None);
    }

    #[test]
    fn a_delivery_too_soon_after_the_retransmission_proves_nothing() {
        let mut log = RtxLog::new();
        log.push(s(0), s(100), s(1000), 10);
        log.push(s(300), s(400), s(1000), 20);
        assert_eq!(log.detect(s(0), &[(s(300), s(400))], 30, 50), 0);
        // Forgotten: later ACKs do not make that delivery any later.
        assert_eq!(log.detect(s(0), &[(s(300), s(400))], 80, 50), 0);
        assert_eq!(log.next_lost(s(0), &[(s(300), s(400))]), None);
    }

    #[test]
    fn new_data_above_the_mark_finds_it_lost() {
        let mut log = RtxLog::new();
        log.push(s(0), s(100), s(1000), 10);
        assert_eq!(log.detect(s(0), &[(s(500), s(1000))], 20, 50), 0);
        assert_eq!(log.detect(s(0), &[(s(500), s(1100))], 20, 50), 1);
        // Cumulatively acknowledged: forgotten.
        assert_eq!(log.detect(s(1100), &[], 30, 50), 0);
        assert_eq!(log.len, 0);
    }

    #[test]
    fn its_cost_per_connection() {
        // 8 records of 16 bytes, the count and the lost bits, padded to 4.
        assert_eq!(core::mem::size_of::<RtxLog>(), 132);
    }

    #[test]
    fn full_log_forgets_the_oldest_and_keeps_lost_bits_in_order() {
        let mut log = RtxLog::new();
        for k in 0..RTX_LOG_LEN as u32 {
            log.push(s(k * 100), s(k * 100 + 50), s(10_000), k);
        }
        // The last one delivered: all others lost.
        let top = (RTX_LOG_LEN as u32 - 1) * 100;
        let sacked = [(s(top), s(top + 50))];
        assert_eq!(log.detect(s(0), &sacked, 1000, 1), RTX_LOG_LEN as u32 - 1);
        log.push(s(5000), s(5050), s(10_000), 2000);
        assert_eq!(log.next_lost(s(0), &sacked), Some((s(0), s(50))));
        log.push(s(0), s(50), s(10_000), 2001);
        assert_eq!(log.next_lost(s(0), &sacked), Some((s(100), s(150))));
    }
}
