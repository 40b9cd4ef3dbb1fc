//! [`Faulty`]: wraps any [`Device`] and injects seeded faults — loss, duplication and
//! reordering — into the frames it moves both ways. It puts a real link (a TAP device
//! talking to Linux) through the trouble a [`SimLink`](super::SimLink) simulates, so
//! recovery paths meet real peers. A host tool (`std` only).
//!
//! Each direction has its own [`FaultConfig`]. Per frame, one draw decides among: lost
//! (never delivered), held back by `reorder_delay` (frames behind it overtake it), or
//! passed on — and a passed frame may also be delivered a second time. Received frames
//! are copied out of the inner device into a queue ordered by release time; transmitted
//! frames that are held or duplicated are copied and sent later, at the next call to
//! `receive` or `transmit` once due. Poll again by [`Faulty::poll_at`] so held frames
//! go out in time. All draws come from one splitmix64 generator: the same seed and the
//! same traffic give the same faults.

use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

use super::simlink::Rng;
use super::{Device, DeviceCaps, RxToken, TxToken};
use crate::time::{Duration, Instant};

/// Frames a direction holds at most (held back or duplicated); more are dropped and
/// counted as overflow, as a full queue would.
const MAX_HELD: usize = 4096;

/// Faults of one direction. Probabilities are in `0.0..=1.0` (`<= 0` never, `>= 1`
/// always, NaN never).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultConfig {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame that is not lost is delivered twice.
    pub duplicate: f64,
    /// Probability a frame that is not lost is held back by `reorder_delay`.
    pub reorder: f64,
    /// How long a reordered frame is held back.
    pub reorder_delay: Duration,
}

impl FaultConfig {
    /// No faults: every frame passes once, in order.
    pub const NONE: FaultConfig = FaultConfig {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_delay: Duration::from_millis(1),
    };

    /// Whether this configuration can change anything.
    pub fn is_none(&self) -> bool {
        !(self.loss > 0.0 || self.duplicate > 0.0 || self.reorder > 0.0)
    }
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig::NONE
    }
}

/// What a [`Faulty`] did to one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames that went through (duplicates not counted twice).
    pub passed: u64,
    /// Frames lost on purpose.
    pub lost: u64,
    /// Frames delivered a second time.
    pub duplicated: u64,
    /// Frames held back so that later frames overtook them.
    pub reordered: u64,
    /// Frames dropped because too many were held already.
    pub overflow: u64,
}

/// The fate of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Lost,
    Held,
    Pass { twice: bool },
}

fn decide(rng: &mut Rng, cfg: &FaultConfig) -> Fate {
    if rng.chance(cfg.loss) {
        Fate::Lost
    } else if rng.chance(cfg.reorder) {
        Fate::Held
    } else {
        Fate::Pass {
            twice: rng.chance(cfg.duplicate),
        }
    }
}

/// Frames waiting for their release time, in release order (ties in arrival order).
#[derive(Debug, Default)]
struct Held {
    frames: BTreeMap<(Instant, u64), Vec<u8>>,
    seq: u64,
}

impl Held {
    fn push(&mut self, at: Instant, frame: Vec<u8>, stats: &mut FaultStats) {
        if self.frames.len() >= MAX_HELD {
            stats.overflow += 1;
            return;
        }
        self.frames.insert((at, self.seq), frame);
        self.seq = self.seq.wrapping_add(1);
    }
    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        let entry = self.frames.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }
    fn has_due(&self, now: Instant) -> bool {
        self.frames.keys().next().is_some_and(|k| k.0 <= now)
    }
    fn next_at(&self) -> Option<Instant> {
        self.frames.keys().next().map(|k| k.0)
    }
}

/// A [`Device`] wrapper that loses, duplicates and reorders frames, seeded.
///
/// ```
/// use tidytcp::drivers::{Device, Faulty, FaultConfig, Loopback, RxToken, TxToken};
/// use tidytcp::Instant;
///
/// let lossy = FaultConfig { loss: 1.0, ..FaultConfig::NONE };
/// let mut dev = Faulty::new(Loopback::<4>::new(), lossy, FaultConfig::NONE, 7);
/// dev.transmit(Instant::ZERO).unwrap().consume(60, |b| b.fill(1));
/// assert!(dev.receive(Instant::ZERO).is_none()); // lost on the way out
/// assert_eq!(dev.tx_stats().lost, 1);
/// ```
#[derive(Debug)]
pub struct Faulty<D: Device> {
    inner: D,
    tx_cfg: FaultConfig,
    rx_cfg: FaultConfig,
    rng: Rng,
    rx_held: Held,
    tx_held: Held,
    rx_stats: FaultStats,
    tx_stats: FaultStats,
}

impl<D: Device> Faulty<D> {
    /// Wraps `inner`: frames it transmits suffer `tx` faults, frames it receives `rx`
    /// faults; every decision comes from a generator seeded with `seed`.
    pub fn new(inner: D, tx: FaultConfig, rx: FaultConfig, seed: u64) -> Self {
        Faulty {
            inner,
            tx_cfg: tx,
            rx_cfg: rx,
            rng: Rng::new(seed),
            rx_held: Held::default(),
            tx_held: Held::default(),
            rx_stats: FaultStats::default(),
            tx_stats: FaultStats::default(),
        }
    }

    /// The wrapped device.
    pub fn device(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably (frames moved through it directly see no faults).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// What happened to received frames.
    pub fn rx_stats(&self) -> FaultStats {
        self.rx_stats
    }

    /// What happened to transmitted frames.
    pub fn tx_stats(&self) -> FaultStats {
        self.tx_stats
    }

    /// When a held frame is next due (poll the stack by then), if any is held.
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.rx_held.next_at(), self.tx_held.next_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends held transmit frames that are due.
    fn flush_tx(&mut self, now: Instant) {
        while self.tx_held.has_due(now) {
            let Some(tok) = self.inner.transmit(now) else {
                return;
            };
            let Some(frame) = self.tx_held.pop_due(now) else {
                return;
            };
            tok.consume(frame.len(), |b| b.copy_from_slice(&frame));
        }
    }

    /// Moves frames from the inner device into the receive queue, deciding each one's
    /// fate, until one is due or the inner device has nothing more.
    fn pull_rx(&mut self, now: Instant) {
        // Bounded: a flood cannot keep one call busy forever.
        for _ in 0..64 {
            if self.rx_held.has_due(now) {
                return;
            }
            let Some((rx, _)) = self.inner.receive(now) else {
                return;
            };
            let frame = rx.consume(|f| f.to_vec());
            match decide(&mut self.rng, &self.rx_cfg) {
                Fate::Lost => self.rx_stats.lost += 1,
                Fate::Held => {
                    self.rx_stats.reordered += 1;
                    let at = now + self.rx_cfg.reorder_delay;
                    self.rx_held.push(at, frame, &mut self.rx_stats);
                }
                Fate::Pass { twice } => {
                    self.rx_stats.passed += 1;
                    if twice {
                        self.rx_stats.duplicated += 1;
                        self.rx_held.push(now, frame.clone(), &mut self.rx_stats);
                    }
                    self.rx_held.push(now, frame, &mut self.rx_stats);
                }
            }
        }
    }
}

/// A received frame from a [`Faulty`] device (a copy of what the inner device got).
#[derive(Debug)]
pub struct FaultyRxToken {
    frame: Vec<u8>,
}

impl RxToken for FaultyRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame)
    }
}

/// Room for one frame on a [`Faulty`] device; its fate is decided when it is built.
#[derive(Debug)]
pub struct FaultyTxToken<'a, T> {
    inner: T,
    cfg: FaultConfig,
    rng: &'a mut Rng,
    held: &'a mut Held,
    stats: &'a mut FaultStats,
    now: Instant,
}

impl<T: TxToken> TxToken for FaultyTxToken<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let FaultyTxToken {
            inner,
            cfg,
            rng,
            held,
            stats,
            now,
        } = self;
        match decide(rng, &cfg) {
            Fate::Lost => {
                stats.lost += 1;
                f(&mut vec![0; len])
            }
            Fate::Held => {
                stats.reordered += 1;
                let mut frame = vec![0; len];
                let r = f(&mut frame);
                held.push(now + cfg.reorder_delay, frame, stats);
                r
            }
            Fate::Pass { twice } => {
                stats.passed += 1;
                inner.consume(len, |b| {
                    let r = f(b);
                    if twice {
                        stats.duplicated += 1;
                        held.push(now, b.to_vec(), stats);
                    }
                    r
                })
            }
        }
    }
}

impl<D: Device> Device for Faulty<D> {
    type RxToken<'a>
        = FaultyRxToken
    where
        Self: 'a;
    type TxToken<'a>
        = FaultyTxToken<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.flush_tx(now);
        self.pull_rx(now);
        if !self.rx_held.has_due(now) {
            return None;
        }
        let Faulty {
            inner,
            tx_cfg,
            rng,
            rx_held,
            tx_held,
            tx_stats,
            ..
        } = self;
        let tx = inner.transmit(now)?;
        let frame = rx_held.pop_due(now)?;
        Some((
            FaultyRxToken { frame },
            FaultyTxToken {
                inner: tx,
                cfg: *tx_cfg,
                rng,
                held: tx_held,
                stats: tx_stats,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.flush_tx(now);
        let Faulty {
            inner,
            tx_cfg,
            rng,
            tx_held,
            tx_stats,
            ..
        } = self;
        Some(FaultyTxToken {
            inner: inner.transmit(now)?,
            cfg: *tx_cfg,
            rng,
            held: tx_held,
            stats: tx_stats,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        self.inner.capabilities()
    }

    fn link_up(&self) -> bool {
        self.inner.link_up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::Loopback;

    fn send<D: Device>(dev: &mut D, now: Instant, tag: u8) {
        dev.transmit(now).unwrap().consume(60, |b| b.fill(tag));
    }

    fn recv_all<D: Device>(dev: &mut D, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some((rx, _)) = dev.receive(now) {
            out.push(rx.consume(|f| f[0]));
        }
        out
    }

    #[test]
    fn no_faults_is_transparent() {
        let mut dev = Faulty::new(
            Loopback::<64>::new(),
            FaultConfig::NONE,
            FaultConfig::NONE,
            1,
        );
        for t in 0..50 {
            send(&mut dev, Instant::ZERO, t);
        }
        assert_eq!(
            recv_all(&mut dev, Instant::ZERO),
            (0..50).collect::<Vec<_>>()
        );
        assert_eq!(dev.tx_stats().passed, 50);
        assert_eq!(dev.rx_stats().passed, 50);
        assert_eq!(dev.poll_at(), None);
    }

    #[test]
    fn faults_are_seeded_and_frames_are_never_altered() {
        let cfg = FaultConfig {
            loss: 0.1,
            duplicate: 0.1,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(1),
        };
        let run = move |seed| {
            let mut dev = Faulty::new(Loopback::<512>::new(), cfg, cfg, seed);
            let mut got = Vec::new();
            for t in 0..200u8 {
                send(&mut dev, Instant::from_micros(u64::from(t) * 10), t);
            }
            got.extend(recv_all(&mut dev, Instant::from_millis(1)));
            got.extend(recv_all(&mut dev, Instant::from_millis(10)));
            got.extend(recv_all(&mut dev, Instant::from_millis(20)));
            assert_eq!(dev.poll_at(), None);
            (got, dev.tx_stats(), dev.rx_stats())
        };
        // A 512-frame loopback is big for a test thread's stack.
        let big = |seed| {
            std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn(move || run(seed))
                .unwrap()
                .join()
                .unwrap()
        };
        let (a, tx, rx) = big(5);
        assert_eq!(big(5).0, a, "same seed, same faults");
        assert_ne!(big(6).0, a, "another seed, other faults");
        // Every delivered frame is one that was sent, intact.
        assert!(a.iter().all(|&t| t < 200));
        for s in [tx, rx] {
            assert!(s.lost > 0 && s.duplicated > 0 && s.reordered > 0, "{s:?}");
        }
        // Some frame arrives after one sent later than it.
        assert!(a.windows(2).any(|w| w[0] > w[1]));
        let expect = 200 - tx.lost + tx.duplicated;
        assert_eq!(rx.passed + rx.lost + rx.reordered, expect);
        assert_eq!(
            a.len() as u64,
            expect - rx.lost + rx.duplicated,
            "everything not lost is delivered once held frames are due"
        );
    }

    #[test]
    fn held_frames_wait_for_their_time() {
        let cfg = FaultConfig {
            reorder: 1.0,
            reorder_delay: Duration::from_millis(5),
            ..FaultConfig::NONE
        };
        let mut dev = Faulty::new(Loopback::<4>::new(), cfg, FaultConfig::NONE, 3);
        send(&mut dev, Instant::ZERO, 9);
        assert_eq!(dev.poll_at(), Some(Instant::from_millis(5)));
        assert!(recv_all(&mut dev, Instant::from_millis(4)).is_empty());
        // Due: the next call sends it on, and the loopback hands it back.
        assert_eq!(recv_all(&mut dev, Instant::from_millis(5)), [9]);
        assert_eq!(dev.poll_at(), None);
        assert_eq!(dev.tx_stats().reordered, 1);
    }
}
