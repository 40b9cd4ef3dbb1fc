//! Selective acknowledgments: the sender's scoreboard with RFC 6675's IsLost, SetPipe and
//! NextSeg, and the receiver's choice of blocks (RFC 2018 §4).

use crate::buf::RecvBuf;
use crate::wire::tcp::{SackBlocks, SeqNum};

/// SACKed ranges the scoreboard keeps. When a peer reports more disjoint ranges, the
/// highest are forgotten: that data may be sent again, which is safe. None without the
/// `sack` feature (the scoreboard is then never used and takes no room).
pub const SCOREBOARD_BLOCKS: usize = if super::SACK { 8 } else { 0 };

/// Recent out-of-order segments the receiver remembers to order its SACK blocks.
const RECENT: usize = if super::SACK { 4 } else { 0 };

/// RFC 6675 DupThresh.
pub(crate) const DUP_THRESH: u32 = 3;

/// The sender's record of which sent bytes the receiver holds out of order: sorted,
/// disjoint `[left, right)` ranges above `SND.UNA`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scoreboard {
    blocks: [(SeqNum, SeqNum); SCOREBOARD_BLOCKS],
    len: u8,
    /// RACK's verdict (RFC 8985 §6.2, see `tcp::rack`): the holes below `lost_to` were
    /// sent before data that has since arrived, and the reordering window has passed, so
    /// they are lost whatever RFC 6675's count of SACKed bytes above them says.
    /// Meaningful while `lost_set`; it never lies below `SND.UNA`.
    lost_to: SeqNum,
    lost_set: bool,
}

/// What one ACK's SACK option changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SackUpdate {
    /// Bytes SACKed for the first time.
    pub newly_sacked: u32,
    /// The first block was a D-SACK (RFC 2883).
    pub dsack: bool,
}

impl Default for Scoreboard {
    fn default() -> Self {
        Scoreboard::new()
    }
}

impl Scoreboard {
    /// Empty.
    pub const fn new() -> Self {
        Scoreboard {
            blocks: [(SeqNum(0), SeqNum(0)); SCOREBOARD_BLOCKS],
            len: 0,
            lost_to: SeqNum(0),
            lost_set: false,
        }
    }

    /// The SACKed ranges, lowest first.
    pub fn blocks(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..usize::from(self.len)]
    }

    /// Nothing SACKed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything (RFC 2018 §8 after reneging).
    pub fn clear(&mut self) {
        self.len = 0;
        self.lost_set = false;
    }

    /// Deems every hole below `seq` lost (RACK, RFC 8985 §6.2).
    pub(crate) fn mark_lost_to(&mut self, seq: SeqNum) {
        if !self.lost_set || seq > self.lost_to {
            self.lost_to = seq;
            self.lost_set = true;
        }
    }

    /// The end of what RACK has deemed lost, if anything.
    pub(crate) fn lost_to(&self) -> Option<SeqNum> {
        self.lost_set.then_some(self.lost_to)
    }

    /// Total bytes SACKed.
    pub fn sacked_bytes(&self) -> u32 {
        self.blocks().iter().map(|&(l, r)| r - l).sum()
    }

    /// Highest SACKed sequence number (the right edge of the top block).
    pub fn highest(&self) -> Option<SeqNum> {
        self.blocks().last().map(|b| b.1)
    }

    /// Records the blocks of an arriving ACK. Blocks that are empty, reversed, or claim
    /// data never sent (beyond `snd_max`) are ignored; parts below `ack` are trimmed. A
    /// first block below the cumulative ACK, or inside the second block, is a D-SACK
    /// (RFC 2883 §4) and only noted.
    pub(crate) fn update(
        &mut self,
        ack: SeqNum,
        snd_max: SeqNum,
        blocks: &[(SeqNum, SeqNum)],
    ) -> SackUpdate {
        let mut up = SackUpdate::default();
        for (i, &(l, r)) in blocks.iter().enumerate() {
            if l >= r {
                continue;
            }
            if i == 0 {
                let inside_second = blocks
                    .get(1)
                    .is_some_and(|&(l2, r2)| l2 < r2 && l2 <= l && r <= r2);
                if r <= ack || inside_second {
                    up.dsack = true;
                    continue;
                }
            }
            if r > snd_max {
                continue;
            }
            let l = l.max(ack);
            if l >= r {
                continue;
            }
            up.newly_sacked += self.insert(l, r);
        }
        up
    }

    /// Adds `[l, r)`, merging; returns how many bytes were new.
    fn insert(&mut self, l: SeqNum, r: SeqNum) -> u32 {
        let before = self.sacked_bytes();
        let n = usize::from(self.len);
        // Find the blocks that overlap or touch [l, r) and merge them.
        let mut nl = l;
        let mut nr = r;
        let mut out = [(SeqNum(0), SeqNum(0)); SCOREBOARD_BLOCKS + 1];
        let mut k = 0;
        let mut placed = false;
        for &(bl, br) in &self.blocks[..n] {
            if br < nl {
                out[k] = (bl, br);
                k += 1;
            } else if bl > nr {
                if !placed {
                    out[k] = (nl, nr);
                    k += 1;
                    placed = true;
                }
                out[k] = (bl, br);
                k += 1;
            } else {
                nl = nl.min(bl);
                nr = nr.max(br);
            }
        }
        if !placed {
            out[k] = (nl, nr);
            k += 1;
        }
        // Keep the lowest blocks: they describe the data nearest to retransmission.
        // (Without `sack`, SCOREBOARD_BLOCKS is 0 and clippy sees a constant.)
        #[allow(clippy::unnecessary_min_or_max)]
        let keep = k.min(SCOREBOARD_BLOCKS);
        self.blocks[..keep].copy_from_slice(&out[..keep]);
        self.len = keep as u8;
        self.sacked_bytes().saturating_sub(before)
    }

    /// Drops what the cumulative ACK now covers.
    pub(crate) fn advance(&mut self, snd_una: SeqNum) {
        let n = usize::from(self.len);
        let mut k = 0;
        for i in 0..n {
            let (l, r) = self.blocks[i];
            if r <= snd_una {
                continue;
            }
            self.blocks[k] = (l.max(snd_una), r);
            k += 1;
        }
        self.len = k as u8;
        if self.lost_set && self.lost_to <= snd_una {
            self.lost_set = false;
        }
    }

    /// Bytes SACKed in `[from, to)`.
    pub(crate) fn sacked_within(&self, from: SeqNum, to: SeqNum) -> u32 {
        self.blocks()
            .iter()
            .map(|&(l, r)| {
                let (l, r) = (l.max(from), r.min(to));
                if l < r { r - l } else { 0 }
            })
            .sum()
    }

    /// If `seq` is SACKed, the end of its block.
    pub(crate) fn sacked_end(&self, seq: SeqNum) -> Option<SeqNum> {
        self.blocks()
            .iter()
            .find(|&&(l, r)| l <= seq && seq < r)
            .map(|b| b.1)
    }

    /// The first SACKed byte above `seq`, if any (a segment from `seq` stops there).
    pub(crate) fn next_sacked_after(&self, seq: SeqNum) -> Option<SeqNum> {
        self.blocks().iter().find(|&&(l, _)| l > seq).map(|b| b.0)
    }

    /// RFC 6675 IsLost for a byte in a hole: DupThresh discontiguous SACKed ranges, or more
    /// than (DupThresh - 1) * SMSS SACKed bytes, above it; or RACK deemed it lost.
    pub(crate) fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        if self.lost_set && seq < self.lost_to {
            return true;
        }
        let mut bytes = 0u32;
        let mut ranges = 0u32;
        for &(l, r) in self.blocks() {
            if l > seq {
                bytes += r - l;
                ranges += 1;
            }
        }
        ranges >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss
    }

    /// The holes (not SACKed ranges) of `[snd_una, snd_max)`, lowest first.
    fn holes(
        &self,
        snd_una: SeqNum,
        snd_max: SeqNum,
    ) -> impl Iterator<Item = (SeqNum, SeqNum)> + '_ {
        let mut at = snd_una;
        let mut i = 0;
        let mut done = false;
        core::iter::from_fn(move || {
            while !done {
                match self.blocks().get(i) {
                    Some(&(l, r)) => {
                        i += 1;
                        if l > at {
                            let hole = (at, l.min(snd_max));
                            at = r.max(at);
                            if hole.0 < hole.1 {
                                return Some(hole);
                            }
                        } else {
                            at = r.max(at);
                        }
                    }
                    None => {
                        done = true;
                        if at < snd_max {
                            return Some((at, snd_max));
                        }
                    }
                }
            }
            None
        })
    }

    /// RFC 6675 SetPipe: bytes in flight, counting un-SACKed bytes not deemed lost plus
    /// bytes retransmitted (up to HighRxt) in this episode.
    pub(crate) fn pipe(
        &self,
        snd_una: SeqNum,
        snd_max: SeqNum,
        high_rxt: SeqNum,
        smss: u32,
    ) -> u32 {
        let mut pipe = 0u32;
        for (a, b) in self.holes(snd_una, snd_max) {
            if !self.is_lost(a, smss) {
                pipe += b - a;
            }
            if high_rxt > a {
                pipe += high_rxt.min(b) - a;
            }
        }
        pipe
    }

    /// RFC 6675 NextSeg rule (1): the first byte above `high_rxt` that is neither SACKed
    /// nor sent beyond, and is lost. Returns its sequence number and the rest of its hole.
    pub(crate) fn next_lost(
        &self,
        snd_una: SeqNum,
        snd_max: SeqNum,
        high_rxt: SeqNum,
        smss: u32,
    ) -> Option<(SeqNum, u32)> {
        // Holes above the highest SACKed byte are lost only by RACK's verdict.
        let highest = match (self.highest(), self.lost_to()) {
            (Some(h), Some(l)) => Some(if l > h { l } else { h }),
            (h, l) => h.or(l),
        }?;
        for (a, b) in self.holes(snd_una, snd_max) {
            if a >= highest {
                break;
            }
            let start = a.max(high_rxt);
            if start < b && self.is_lost(start, smss) {
                return Some((start, b - start));
            }
        }
        None
    }

    /// RFC 6675 NextSeg rule (3): an un-SACKed byte above `high_rxt` and below the highest
    /// SACKed byte, lost or not.
    pub(crate) fn next_unsacked(
        &self,
        snd_una: SeqNum,
        snd_max: SeqNum,
        high_rxt: SeqNum,
    ) -> Option<(SeqNum, u32)> {
        let highest = self.highest()?;
        for (a, b) in self.holes(snd_una, snd_max) {
            if a >= highest {
                break;
            }
            let start = a.max(high_rxt);
            if start < b {
                return Some((start, b - start));
            }
        }
        None
    }
}

/// A connection's SACK state: the sender's scoreboard and the receiver's recent
/// segments. A connection holds one in an array of one with the `sack` feature and of
/// none (no room) without it ([`SackState::EMPTY`] stands in for reads).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SackState {
    /// The sender's scoreboard.
    pub(crate) scoreboard: Scoreboard,
    /// The receiver's recent out-of-order segments.
    pub(crate) recv: RecvSack,
}

impl SackState {
    /// Nothing SACKed, nothing received out of order.
    pub(crate) const EMPTY: SackState = SackState {
        scoreboard: Scoreboard::new(),
        recv: RecvSack::new(),
    };
}

/// The receiver's memory of which out-of-order segments arrived most recently, to order
/// SACK blocks as RFC 2018 §4 asks: the block holding the latest segment first, then the
/// blocks reported most recently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecvSack {
    recent: [SeqNum; RECENT],
    len: u8,
}

impl RecvSack {
    /// Empty.
    pub const fn new() -> Self {
        RecvSack {
            recent: [SeqNum(0); RECENT],
            len: 0,
        }
    }

    /// An out-of-order segment starting at `seq` was stored.
    pub(crate) fn note(&mut self, seq: SeqNum) {
        if RECENT == 0 {
            return;
        }
        let n = usize::from(self.len);
        let mut tmp = [seq; RECENT];
        let mut k = 1;
        for &s in &self.recent[..n] {
            // (Without `sack`, RECENT is 0 and clippy sees a constant.)
            #[allow(clippy::absurd_extreme_comparisons)]
            if k < RECENT && s != seq {
                tmp[k] = s;
                k += 1;
            }
        }
        self.recent = tmp;
        self.len = k as u8;
    }

    /// Forgets everything (the gap closed).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Up to `max` blocks for an outgoing ACK.
    pub(crate) fn blocks(&self, rcv_nxt: SeqNum, rx: &RecvBuf<'_>, max: usize) -> SackBlocks {
        let mut out = SackBlocks::EMPTY;
        let push = |out: &mut SackBlocks, l: SeqNum, r: SeqNum| {
            if out.len() < max && !out.as_slice().iter().any(|&(bl, _)| bl == l) {
                out.push(l, r);
            }
        };
        for &s in &self.recent[..usize::from(self.len)] {
            let d = s.diff(rcv_nxt);
            if d < 0 {
                continue;
            }
            if let Some((o, l)) = rx.range_containing(d as usize) {
                push(&mut out, rcv_nxt + o as u32, rcv_nxt + (o + l) as u32);
            }
        }
        for (o, l) in rx.ranges() {
            push(&mut out, rcv_nxt + o as u32, rcv_nxt + (o + l) as u32);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    #[test]
    #[cfg(feature = "sack")]
    fn merges_and_trims() {
        let mut sb = Scoreboard::new();
        let up = sb.update(
            s(1000),
            s(10_000),
            &[(s(3000), s(4000)), (s(5000), s(6000))],
        );
        assert_eq!(up.newly_sacked, 2000);
        let up = sb.update(s(1000), s(10_000), &[(s(4000), s(5000))]);
        assert_eq!(up.newly_sacked, 1000);
        assert_eq!(sb.blocks(), &[(s(3000), s(6000))]);
        sb.advance(s(3500));
        assert_eq!(sb.blocks(), &[(s(3500), s(6000))]);
        sb.advance(s(7000));
        assert!(sb.is_empty());
    }

    #[test]
    fn rejects_invalid_blocks() {
        let mut sb = Scoreboard::new();
        // Reversed, empty, beyond snd_max.
        let up = sb.update(
            s(1000),
            s(5000),
            &[(s(4000), s(3000)), (s(2000), s(2000)), (s(4000), s(6000))],
        );
        assert_eq!(up.newly_sacked, 0);
        assert!(sb.is_empty());
    }

    #[test]
    #[cfg(feature = "sack")]
    fn detects_dsack() {
        let mut sb = Scoreboard::new();
        let up = sb.update(s(5000), s(9000), &[(s(1000), s(2000)), (s(6000), s(7000))]);
        assert!(up.dsack);
        assert_eq!(up.newly_sacked, 1000);
        let up = sb.update(s(5000), s(9000), &[(s(6000), s(6500)), (s(6000), s(7000))]);
        assert!(up.dsack);
    }

    #[test]
    #[cfg(feature = "sack")]
    fn is_lost_and_pipe() {
        let mut sb = Scoreboard::new();
        let smss = 1000;
        // Sent 0..10000; segment 0..1000 lost, 1000..4000 SACKed.
        sb.update(s(0), s(10_000), &[(s(1000), s(4000))]);
        assert!(sb.is_lost(s(0), smss));
        // Hole 0..1000 is lost (3000 SACKed above > 2*SMSS): not in pipe.
        // Hole 4000..10000 not lost: in pipe.
        assert_eq!(sb.pipe(s(0), s(10_000), s(0), smss), 6000);
        assert_eq!(
            sb.next_lost(s(0), s(10_000), s(0), smss),
            Some((s(0), 1000))
        );
        // After retransmitting 0..1000 it counts again.
        assert_eq!(sb.pipe(s(0), s(10_000), s(1000), smss), 7000);
        assert_eq!(sb.next_lost(s(0), s(10_000), s(1000), smss), None);
    }

    #[test]
    #[cfg(feature = "sack")]
    fn keeps_lowest_blocks_when_full() {
        let mut sb = Scoreboard::new();
        for i in 0..12u32 {
            sb.update(
                s(0),
                s(100_000),
                &[(s(1000 + i * 2000), s(2000 + i * 2000))],
            );
        }
        assert_eq!(sb.blocks().len(), SCOREBOARD_BLOCKS);
        assert_eq!(sb.blocks()[0], (s(1000), s(2000)));
    }
}
