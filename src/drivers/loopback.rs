//! [`Loopback`]: a device whose transmitted frames come back as received frames.
//!
//! No heap and no `std`: the frames live in a fixed array inside the value, so a
//! `static` or stack-allocated `Loopback` works on any target.

use super::{Device, DeviceCaps, RxToken, TxToken};
use crate::time::Instant;

/// Largest frame a [`Loopback`] stores: a 1500-byte MTU plus the 14-byte Ethernet header.
pub const LOOPBACK_MAX_FRAME: usize = 1514;

/// What a [`Loopback`] has done, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopbackStats {
    /// Frames queued by a transmit token.
    pub transmitted: u64,
    /// Frames handed out by `receive`.
    pub received: u64,
    /// Calls to `transmit` refused (`None`) because all `FRAMES` slots were taken.
    pub full: u64,
    /// Frames dropped because the transmit token was asked for more than
    /// [`LOOPBACK_MAX_FRAME`] bytes.
    pub oversize: u64,
}

/// Ring bookkeeping, kept apart from the frame bytes so a transmit token can borrow
/// both a frame buffer and the ring at once.
///
/// There are `FRAMES + 1` physical buffers: the `FRAMES` ring slots plus one spare.
/// Ring position `p` stores its frame in buffer `map[p]`; buffer `spare` is in no ring
/// position. `receive` pops the head position and swaps its buffer with the spare, so
/// the frame being read is never a buffer the reply (written at the tail) can land in,
/// even when the ring was full.
#[derive(Debug)]
struct Ring<const FRAMES: usize> {
    map: [usize; FRAMES],
    lens: [usize; FRAMES],
    spare: usize,
    head: usize,
    count: usize,
}

impl<const FRAMES: usize> Ring<FRAMES> {
    const fn new() -> Self {
        let mut map = [0; FRAMES];
        let mut i = 0;
        while i < FRAMES {
            map[i] = i;
            i += 1;
        }
        Ring {
            map,
            lens: [0; FRAMES],
            spare: FRAMES,
            head: 0,
            count: 0,
        }
    }

    /// Ring position of the next frame to be written, if there is room.
    fn tail(&self) -> Option<usize> {
        if self.count < FRAMES {
            Some((self.head + self.count) % FRAMES)
        } else {
            None
        }
    }

    /// Records a frame of `len` bytes written at the tail.
    fn push(&mut self, len: usize) {
        if let Some(t) = self.tail() {
            self.lens[t] = len;
            self.count += 1;
        }
    }

    /// Removes the head frame; returns the buffer holding it (now the spare) and its
    /// length.
    fn pop(&mut self) -> Option<(usize, usize)> {
        if self.count == 0 {
            return None;
        }
        let p = self.head;
        core::mem::swap(&mut self.map[p], &mut self.spare);
        let buf = self.spare;
        self.head = (p + 1) % FRAMES;
        self.count -= 1;
        Some((buf, self.lens[p]))
    }
}

type Frame = [u8; LOOPBACK_MAX_FRAME];

/// A device that delivers every transmitted frame back to itself, first in first out.
///
/// Room for `FRAMES` frames of up to [`LOOPBACK_MAX_FRAME`] bytes (MTU 1500) is
/// stored inline (`(FRAMES + 1) * 1514` bytes: one spare buffer lets a reply be
/// written while the request is still being read). When all `FRAMES` slots hold a
/// frame, [`Device::transmit`] returns `None`. A transmit token asked for more than
/// [`LOOPBACK_MAX_FRAME`] bytes still runs its closure (on the largest buffer it has)
/// but the frame is dropped and counted in [`LoopbackStats::oversize`].
///
/// ```
/// use tidytcp::drivers::{Device, Loopback, RxToken, TxToken};
/// use tidytcp::Instant;
///
/// let mut lo: Loopback<4> = Loopback::new();
/// let now = Instant::ZERO;
/// // Send one broadcast frame (Ethernet header + 4 bytes of payload).
/// let tx = lo.transmit(now).expect("room for a frame");
/// tx.consume(18, |buf| {
///     buf[..6].fill(0xff); // destination
///     buf[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]); // source
///     buf[12..14].copy_from_slice(&[0x88, 0xb5]); // EtherType (local experimental)
///     buf[14..].copy_from_slice(b"ping");
/// });
/// // It comes back, along with room for a reply.
/// let (rx, _reply) = lo.receive(now).expect("the frame comes back");
/// rx.consume(|frame| assert_eq!(&frame[14..], b"ping"));
/// assert!(lo.receive(now).is_none());
/// ```
#[derive(Debug)]
pub struct Loopback<const FRAMES: usize = 8> {
    slots: [Frame; FRAMES],
    extra: Frame,
    ring: Ring<FRAMES>,
    stats: LoopbackStats,
}

impl<const FRAMES: usize> Loopback<FRAMES> {
    /// An empty loopback device.
    pub const fn new() -> Self {
        Loopback {
            slots: [[0; LOOPBACK_MAX_FRAME]; FRAMES],
            extra: [0; LOOPBACK_MAX_FRAME],
            ring: Ring::new(),
            stats: LoopbackStats {
                transmitted: 0,
                received: 0,
                full: 0,
                oversize: 0,
            },
        }
    }

    /// Frames waiting to be received.
    pub const fn len(&self) -> usize {
        self.ring.count
    }

    /// Whether no frame is waiting.
    pub const fn is_empty(&self) -> bool {
        self.ring.count == 0
    }

    /// How many frames fit.
    pub const fn capacity(&self) -> usize {
        FRAMES
    }

    /// Counters since creation.
    pub const fn stats(&self) -> LoopbackStats {
        self.stats
    }

    /// Splits `self` into the (read-only) buffer `rx` and the (writable) buffer `tx`,
    /// plus the ring and the counters. `rx` and `tx` are physical buffer indices in
    /// `0..=FRAMES` (`FRAMES` is `extra`); `None` if they are equal or out of range.
    fn split(&mut self, rx: usize, tx: usize) -> Option<(&Frame, TxParts<'_, FRAMES>)> {
        let Loopback {
            slots,
            extra,
            ring,
            stats,
        } = self;
        let (rx_buf, tx_buf): (&Frame, &mut Frame) = if rx == tx {
            return None;
        } else if rx == FRAMES {
            (extra, slots.get_mut(tx)?)
        } else if tx == FRAMES {
            (slots.get(rx)?, extra)
        } else if rx < tx {
            let (lo, hi) = slots.split_at_mut(tx);
            (lo.get(rx)?, hi.first_mut()?)
        } else {
            let (lo, hi) = slots.split_at_mut(rx);
            (hi.first()?, lo.get_mut(tx)?)
        };
        Some((
            rx_buf,
            TxParts {
                buf: tx_buf,
                ring,
                stats,
            },
        ))
    }

    /// The writable buffer at the ring's tail, with the ring and the counters.
    fn tail_parts(&mut self) -> Option<TxParts<'_, FRAMES>> {
        let t = self.ring.tail()?;
        let b = self.ring.map[t];
        let Loopback {
            slots,
            extra,
            ring,
            stats,
        } = self;
        let buf = if b == FRAMES {
            extra
        } else {
            slots.get_mut(b)?
        };
        Some(TxParts { buf, ring, stats })
    }
}

impl<const FRAMES: usize> Default for Loopback<FRAMES> {
    fn default() -> Self {
        Self::new()
    }
}

struct TxParts<'a, const FRAMES: usize> {
    buf: &'a mut Frame,
    ring: &'a mut Ring<FRAMES>,
    stats: &'a mut LoopbackStats,
}

/// A frame received from a [`Loopback`].
#[derive(Debug)]
pub struct LoopbackRxToken<'a> {
    frame: &'a [u8],
}

impl RxToken for LoopbackRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Room for one frame in a [`Loopback`].
pub struct LoopbackTxToken<'a, const FRAMES: usize> {
    parts: TxParts<'a, FRAMES>,
}

impl<const FRAMES: usize> core::fmt::Debug for LoopbackTxToken<'_, FRAMES> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoopbackTxToken").finish_non_exhaustive()
    }
}

impl<const FRAMES: usize> TxToken for LoopbackTxToken<'_, FRAMES> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let TxParts { buf, ring, stats } = self.parts;
        if len > LOOPBACK_MAX_FRAME {
            // The caller broke the `max_frame_len` contract: let it write what fits,
            // then drop the frame rather than store a truncated one.
            stats.oversize += 1;
            return f(&mut buf[..]);
        }
        let r = f(&mut buf[..len]);
        ring.push(len);
        stats.transmitted += 1;
        r
    }
}

impl<const FRAMES: usize> Device for Loopback<FRAMES> {
    type RxToken<'a>
        = LoopbackRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = LoopbackTxToken<'a, FRAMES>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, len) = self.ring.pop()?;
        self.stats.received += 1;
        // After the pop at least one ring position is free, and `rx` is the spare.
        let tx = self.ring.tail().map(|t| self.ring.map[t])?;
        let (frame, parts) = self.split(rx, tx)?;
        let frame = frame.get(..len).unwrap_or(&frame[..]);
        Some((LoopbackRxToken { frame }, LoopbackTxToken { parts }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        if self.ring.tail().is_none() {
            self.stats.full += 1;
            return None;
        }
        let parts = self.tail_parts()?;
        Some(LoopbackTxToken { parts })
    }

    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<const N: usize>(lo: &mut Loopback<N>, bytes: &[u8]) -> bool {
        match lo.transmit(Instant::ZERO) {
            Some(tx) => {
                tx.consume(bytes.len(), |b| b.copy_from_slice(bytes));
                true
            }
            None => false,
        }
    }

    fn recv<const N: usize>(lo: &mut Loopback<N>) -> Option<std::vec::Vec<u8>> {
        let (rx, _tx) = lo.receive(Instant::ZERO)?;
        Some(rx.consume(|f| f.to_vec()))
    }

    #[test]
    fn fifo_order() {
        let mut lo: Loopback<4> = Loopback::new();
        for i in 0..3u8 {
            assert!(send(&mut lo, &[i; 20]));
        }
        assert_eq!(lo.len(), 3);
        for i in 0..3u8 {
            assert_eq!(recv(&mut lo).unwrap(), [i; 20]);
        }
        assert!(recv(&mut lo).is_none());
        assert!(lo.is_empty());
    }

    #[test]
    fn full_refuses_transmit() {
        let mut lo: Loopback<3> = Loopback::new();
        assert!(send(&mut lo, &[1; 60]));
        assert!(send(&mut lo, &[2; 60]));
        assert!(send(&mut lo, &[3; 60]));
        assert!(!send(&mut lo, &[4; 60]));
        assert_eq!(lo.stats().full, 1);
        assert_eq!(recv(&mut lo).unwrap(), [1; 60]);
        assert!(send(&mut lo, &[5; 60]));
        assert_eq!(recv(&mut lo).unwrap(), [2; 60]);
        assert_eq!(recv(&mut lo).unwrap(), [3; 60]);
        assert_eq!(recv(&mut lo).unwrap(), [5; 60]);
        assert!(recv(&mut lo).is_none());
    }

    #[test]
    fn reply_while_reading_when_full() {
        // The ring is full; the reply token must not overwrite the frame being read.
        let mut lo: Loopback<2> = Loopback::new();
        assert!(send(&mut lo, &[0xaa; 100]));
        assert!(send(&mut lo, &[0xbb; 100]));
        for round in 0..10u8 {
            let (rx, tx) = lo.receive(Instant::ZERO).unwrap();
            rx.consume(|req| {
                tx.consume(req.len(), |reply| {
                    reply.fill(round);
                });
                // The request is intact after the reply was written.
                assert!(req.iter().all(|&b| b == req[0]));
                assert_eq!(req.len(), 100);
            });
        }
        assert_eq!(lo.len(), 2);
        assert_eq!(recv(&mut lo).unwrap(), [8; 100]);
        assert_eq!(recv(&mut lo).unwrap(), [9; 100]);
    }

    #[test]
    fn odd_lengths_do_not_panic() {
        let mut lo: Loopback<2> = Loopback::new();
        assert!(send(&mut lo, &[]));
        assert_eq!(recv(&mut lo).unwrap(), [0u8; 0]);
        let tx = lo.transmit(Instant::ZERO).unwrap();
        let seen = tx.consume(100_000, |b| b.len());
        assert_eq!(seen, LOOPBACK_MAX_FRAME);
        assert_eq!(lo.stats().oversize, 1);
        assert!(lo.is_empty());
        assert!(send(&mut lo, &[7; LOOPBACK_MAX_FRAME]));
        assert_eq!(recv(&mut lo).unwrap().len(), LOOPBACK_MAX_FRAME);
    }

    #[test]
    fn zero_frames_never_panics() {
        let mut lo: Loopback<0> = Loopback::new();
        assert!(lo.transmit(Instant::ZERO).is_none());
        assert!(lo.receive(Instant::ZERO).is_none());
    }

    #[test]
    fn unconsumed_tokens_change_nothing_but_the_pop() {
        let mut lo: Loopback<2> = Loopback::new();
        let _ = lo.transmit(Instant::ZERO);
        assert!(lo.is_empty());
        assert!(send(&mut lo, &[1; 30]));
        let _ = lo.receive(Instant::ZERO);
        assert!(lo.is_empty());
        assert_eq!(lo.stats().received, 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Send(std::vec::Vec<u8>),
        Recv,
        RecvAndReply(u8),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..100).prop_map(Op::Send),
            Just(Op::Recv),
            any::<u8>().prop_map(Op::RecvAndReply),
        ]
    }

    proptest::proptest! {
        /// Any sequence of operations behaves like a bounded FIFO queue.
        #[test]
        fn matches_vecdeque_model(ops in proptest::collection::vec(op(), 0..200)) {
            use std::collections::VecDeque;
            let mut lo: Loopback<3> = Loopback::new();
            let mut model: VecDeque<std::vec::Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Send(f) => {
                        let sent = send(&mut lo, &f);
                        proptest::prop_assert_eq!(sent, model.len() < 3);
                        if sent {
                            model.push_back(f);
                        }
                    }
                    Op::Recv => proptest::prop_assert_eq!(recv(&mut lo), model.pop_front()),
                    Op::RecvAndReply(b) => match lo.receive(Instant::ZERO) {
                        Some((rx, tx)) => {
                            let want = model.pop_front();
                            let got = rx.consume(|req| {
                                tx.consume(req.len(), |reply| reply.fill(b));
                                req.to_vec()
                            });
                            proptest::prop_assert_eq!(Some(got.clone()), want);
                            model.push_back(std::vec![b; got.len()]);
                        }
                        None => proptest::prop_assert!(model.is_empty()),
                    },
                }
                proptest::prop_assert_eq!(lo.len(), model.len());
            }
        }
    }

    #[test]
    fn const_new_in_static_context() {
        static LO: Loopback<2> = Loopback::new();
        assert_eq!(LO.capacity(), 2);
    }
}
