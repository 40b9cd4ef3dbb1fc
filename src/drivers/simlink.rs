//! [`SimLink`]: two simulated devices joined by an in-memory Ethernet link with seeded
//! faults, in virtual time. A host tool for tests (`std` only).
//!
//! The model is documented on [`SimLink`].

use std::boxed::Box;
use std::collections::{BTreeMap, VecDeque};
use std::vec;
use std::vec::Vec;

use super::{Device, DeviceCaps, RxToken, TxToken};
use crate::time::{Duration, Instant};

/// The Ethernet FCS: CRC-32/ISO-HDLC, sent least significant byte first.
const FCS: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The Ethernet FCS of `frame` as the four bytes that follow it on the wire.
pub fn ethernet_fcs(frame: &[u8]) -> [u8; 4] {
    FCS.checksum(frame).to_le_bytes()
}

/// One direction of a [`SimLink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Frames transmitted on end A, received on end B.
    AtoB,
    /// Frames transmitted on end B, received on end A.
    BtoA,
}

/// One end of a [`SimLink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// End A: transmits in [`Direction::AtoB`], receives from [`Direction::BtoA`].
    A,
    /// End B: transmits in [`Direction::BtoA`], receives from [`Direction::AtoB`].
    B,
}

impl End {
    const fn tx_dir(self) -> Direction {
        match self {
            End::A => Direction::AtoB,
            End::B => Direction::BtoA,
        }
    }
    const fn rx_dir(self) -> Direction {
        match self {
            End::A => Direction::BtoA,
            End::B => Direction::AtoB,
        }
    }
}

/// What a filter hook decides for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the frame continue (to the faults, then the other end).
    Pass,
    /// Drop the frame (counted in [`LinkStats::filtered`]).
    Drop,
}

/// A filter hook: sees each frame sent in one direction, before any fault.
pub type FrameFilter = Box<dyn FnMut(&[u8]) -> Verdict + Send>;

/// Behaviour of one direction of a [`SimLink`]. Probabilities are in `0.0..=1.0`
/// (values outside clamp in effect: `<= 0` never, `>= 1` always; NaN never).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectionConfig {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability a frame is held back by `reorder_delay`.
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// Probability a frame gets bits flipped.
    pub corrupt: f64,
    /// Most bits flipped in a corrupted frame (at least 1 is flipped; 0 means 1).
    pub corrupt_bits: u32,
    /// Fixed propagation delay.
    pub latency: Duration,
    /// Serialization rate in bits per second; 0 means unlimited (no serialization time).
    pub rate_bps: u64,
    /// Most frames in the bottleneck queue (the frame being serialized included).
    pub queue_frames: usize,
    /// Most bytes in the bottleneck queue.
    pub queue_bytes: usize,
}

impl DirectionConfig {
    /// A perfect wire: no faults, no delay, no rate limit; queue of 1000 frames.
    pub const PERFECT: DirectionConfig = DirectionConfig {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_delay: Duration::from_millis(1),
        corrupt: 0.0,
        corrupt_bits: 1,
        latency: Duration::ZERO,
        rate_bps: 0,
        queue_frames: 1000,
        queue_bytes: usize::MAX,
    };
}

impl Default for DirectionConfig {
    fn default() -> Self {
        Self::PERFECT
    }
}

/// Configuration of a [`SimLink`]. Change it mid-run with [`SimLink::config_mut`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Frames transmitted on A.
    pub a_to_b: DirectionConfig,
    /// Frames transmitted on B.
    pub b_to_a: DirectionConfig,
    /// MTU both ports report (default 1500); frames longer than `mtu + 14` are dropped.
    pub mtu: usize,
    /// Hand frames that fail the FCS check to the stack (FCS stripped) instead of
    /// dropping them.
    pub pass_corrupted: bool,
    /// Most frames in flight over both directions (a memory bound for runaway tests);
    /// beyond it frames are dropped and counted in [`LinkStats::queue_dropped`].
    pub max_in_flight: usize,
}

impl LinkConfig {
    /// The same behaviour in both directions, other settings default.
    pub fn symmetric(dir: DirectionConfig) -> Self {
        LinkConfig {
            a_to_b: dir,
            b_to_a: dir,
            ..Self::default()
        }
    }

    /// The configuration of one direction.
    pub fn dir(&self, dir: Direction) -> &DirectionConfig {
        match dir {
            Direction::AtoB => &self.a_to_b,
            Direction::BtoA => &self.b_to_a,
        }
    }

    /// The configuration of one direction, mutably.
    pub fn dir_mut(&mut self, dir: Direction) -> &mut DirectionConfig {
        match dir {
            Direction::AtoB => &mut self.a_to_b,
            Direction::BtoA => &mut self.b_to_a,
        }
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            a_to_b: DirectionConfig::PERFECT,
            b_to_a: DirectionConfig::PERFECT,
            mtu: 1500,
            pass_corrupted: false,
            max_in_flight: 65_536,
        }
    }
}

/// Counters of one direction of a [`SimLink`].
///
/// `sent = oversize + filtered + lost + queue_dropped + accepted`, and every accepted
/// frame (plus its duplicate, if any) eventually counts once in `fcs_dropped` or
/// `delivered`, or is still in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames transmitted by the sending end.
    pub sent: u64,
    /// Dropped for being longer than `mtu + 14`.
    pub oversize: u64,
    /// Dropped by the filter hook.
    pub filtered: u64,
    /// Lost at random.
    pub lost: u64,
    /// Dropped at the tail of a full queue.
    pub queue_dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Frames held back so later frames could overtake them.
    pub reordered: u64,
    /// Frames with flipped bits.
    pub corrupted: u64,
    /// Frames dropped at the receiving end because the FCS did not match.
    pub fcs_dropped: u64,
    /// Frames handed to the receiving stack.
    pub delivered: u64,
    /// Bytes of the delivered frames (no FCS).
    pub bytes: u64,
}

/// A frame handed to a stack, as recorded by [`SimLink::set_logging`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The direction it travelled.
    pub dir: Direction,
    /// When the link made it deliverable.
    pub due: Instant,
    /// The `now` of the `receive` call that handed it out.
    pub at: Instant,
    /// The frame (FCS stripped).
    pub frame: Vec<u8>,
}

/// splitmix64: a small, fast, well-mixed generator; every decision of a `SimLink` (and
/// of the `Faulty` wrapper) comes from it so a seed reproduces a run exactly.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Draws once; true with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Uniform in `0..n` (0 if `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// State of one direction.
struct Lane {
    rng: Rng,
    /// Frames (with FCS) by delivery time, ties by send order.
    in_flight: BTreeMap<(Instant, u64), Vec<u8>>,
    /// Serialization end time and length of each frame in the bottleneck queue.
    queue: VecDeque<(Instant, usize)>,
    queue_bytes: usize,
    link_free_at: Instant,
    seq: u64,
    stats: LinkStats,
    filter: Option<FrameFilter>,
}

impl Lane {
    fn new(seed: u64) -> Self {
        Lane {
            rng: Rng::new(seed),
            in_flight: BTreeMap::new(),
            queue: VecDeque::new(),
            queue_bytes: 0,
            link_free_at: Instant::ZERO,
            seq: 0,
            stats: LinkStats::default(),
            filter: None,
        }
    }

    fn drain_queue(&mut self, now: Instant) {
        while let Some(&(done, len)) = self.queue.front() {
            if done > now {
                break;
            }
            self.queue.pop_front();
            self.queue_bytes = self.queue_bytes.saturating_sub(len);
        }
    }

    fn schedule(&mut self, at: Instant, frame: Vec<u8>) {
        self.in_flight.insert((at, self.seq), frame);
        self.seq = self.seq.wrapping_add(1);
    }
}

fn serialization_time(len: usize, rate_bps: u64) -> Duration {
    if rate_bps == 0 {
        return Duration::ZERO;
    }
    let bits = (len as u128) * 8 * 1_000_000;
    let rate = u128::from(rate_bps);
    let micros = bits.div_ceil(rate);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// Flips between 1 and `max_bits` distinct bits of `wire`, chosen by a generator
/// seeded with `seed`.
fn corrupt(wire: &mut [u8], max_bits: u32, seed: u64) {
    let total = wire.len() * 8;
    if total == 0 {
        return;
    }
    let mut rng = Rng::new(seed);
    let want = 1 + rng.below(u64::from(max_bits.max(1))) as usize;
    // At most half the bits, so picking distinct ones by rejection stays quick.
    let n = want.min(total.div_ceil(2));
    let mut chosen: Vec<usize> = Vec::with_capacity(n);
    while chosen.len() < n {
        let bit = rng.below(total as u64) as usize;
        if !chosen.contains(&bit) {
            chosen.push(bit);
        }
    }
    for bit in chosen {
        if let Some(b) = wire.get_mut(bit / 8) {
            *b ^= 1 << (bit % 8);
        }
    }
}

/// Two simulated Ethernet devices joined in memory, with seeded faults in virtual time.
///
/// Get a [`Device`] for each end with [`a`](Self::a) and [`b`](Self::b).
///
/// # The model
///
/// The link has two ends, **A** and **B**, and one independent *direction* each way
/// ([`Direction::AtoB`], [`Direction::BtoA`]), each with its own [`DirectionConfig`],
/// its own pseudo-random stream and its own [`LinkStats`]. Time is whatever `now` the
/// caller passes to [`Device::receive`]/[`Device::transmit`] on a port; the link never
/// reads a clock.
///
/// A frame transmitted at `now` on one end goes through these steps, in this order:
///
/// 1. **Size check.** A frame longer than `mtu + 14` is dropped
///    ([`LinkStats::oversize`]). Shorter frames, even empty ones, are carried as is.
/// 2. **Filter hook** ([`SimLink::set_filter`]): a test closure sees the frame and may
///    drop it ([`LinkStats::filtered`]). It runs before any fault and draws nothing
///    from the random stream.
/// 3. **Random draws.** Exactly five values are drawn for every frame that passed the
///    filter, whatever the probabilities are: loss, duplication, reordering and
///    corruption rolls, then a seed for choosing corrupted bits. So changing one
///    probability does not shift the other decisions, and a seed reproduces a run.
/// 4. **Loss** with probability `loss` ([`LinkStats::lost`]).
/// 5. **Queue** (tail drop). The direction has a bottleneck queue holding the frames
///    whose serialization has not finished at `now`. If it already holds
///    `queue_frames` frames, or the frame would take it past `queue_bytes`, or the link
///    as a whole already holds [`LinkConfig::max_in_flight`] frames, the frame is
///    dropped ([`LinkStats::queue_dropped`]). Without a rate limit serialization takes
///    no time, so the queue is always empty.
/// 6. **Serialization and latency.** With `rate_bps` = *r* (0 = unlimited) the frame
///    of *len* bytes starts when the link is free and takes ⌈*len*·8·10⁶ / *r*⌉ µs;
///    it is delivered at `max(now, link_free_at) + ser + latency`. *len* is the frame
///    as the stack built it (no preamble, FCS or inter-frame gap).
/// 7. **Reordering** with probability `reorder`: the delivery time is pushed back by
///    `reorder_delay`, so frames sent after it can overtake it ([`LinkStats::reordered`]
///    counts the frames held back).
/// 8. **FCS.** The Ethernet FCS (CRC-32/ISO-HDLC) of the frame is appended.
/// 9. **Corruption** with probability `corrupt`: between 1 and `corrupt_bits` distinct
///    bits of frame-plus-FCS are flipped ([`LinkStats::corrupted`]).
/// 10. **Duplication** with probability `duplicate`: a second copy (of the possibly
///     corrupted frame) is delivered right after the first ([`LinkStats::duplicated`]).
///
/// A frame is *deliverable* once its delivery time is `<= now`;
/// [`SimLink::next_delivery`] tells a virtual-time loop when that next happens.
/// Deliverable frames come out in delivery-time order (ties: send order) when the
/// receiving end calls `receive`. There the FCS is checked: a frame that fails is
/// dropped ([`LinkStats::fcs_dropped`]) as real hardware does, unless
/// [`LinkConfig::pass_corrupted`] is set, which hands it to the stack (FCS stripped)
/// so the stack's own checksums get exercised. Frames that reach the stack count in
/// [`LinkStats::delivered`] and [`LinkStats::bytes`], and can be logged
/// ([`SimLink::set_logging`]).
///
/// Transmitting and receiving never fail: `transmit` always offers room (the queue
/// drops at the tail, like a router), and `receive` always offers room for a reply.
///
/// # Example
///
/// ```
/// use tidytcp::drivers::{Device, DirectionConfig, LinkConfig, RxToken, SimLink, TxToken};
/// use tidytcp::{Duration, Instant};
///
/// let mut link = SimLink::new(
///     LinkConfig::symmetric(DirectionConfig {
///         latency: Duration::from_millis(10),
///         rate_bps: 8_000_000, // one byte per microsecond
///         ..DirectionConfig::PERFECT
///     }),
///     42, // seed
/// );
/// let frame = [0xffu8; 100];
/// let t0 = Instant::from_millis(1);
/// link.a().transmit(t0).unwrap().consume(frame.len(), |b| b.copy_from_slice(&frame));
///
/// // 100 bytes take 100 µs to serialize, then 10 ms of latency.
/// let due = link.next_delivery().unwrap();
/// assert_eq!(due, t0 + Duration::from_micros(100) + Duration::from_millis(10));
/// assert!(link.b().receive(due - Duration::from_micros(1)).is_none());
/// let (rx, _reply) = link.b().receive(due).unwrap();
/// assert_eq!(rx.consume(|f| f.to_vec()), frame);
/// assert_eq!(link.stats(tidytcp::drivers::Direction::AtoB).delivered, 1);
/// ```
pub struct SimLink {
    config: LinkConfig,
    a_to_b: Lane,
    b_to_a: Lane,
    logging: bool,
    log: Vec<Delivery>,
}

impl core::fmt::Debug for SimLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimLink")
            .field("config", &self.config)
            .field("a_to_b", &self.a_to_b.stats)
            .field("b_to_a", &self.b_to_a.stats)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl SimLink {
    /// A link behaving as `config`, its random decisions fixed by `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        // Derive two independent streams, one per direction.
        let mut seeder = Rng::new(seed);
        let s1 = seeder.next_u64();
        let s2 = seeder.next_u64();
        SimLink {
            config,
            a_to_b: Lane::new(s1),
            b_to_a: Lane::new(s2),
            logging: false,
            log: Vec::new(),
        }
    }

    /// The device at end A.
    pub fn a(&mut self) -> SimPort<'_> {
        self.port(End::A)
    }

    /// The device at end B.
    pub fn b(&mut self) -> SimPort<'_> {
        self.port(End::B)
    }

    /// The device at `end`.
    pub fn port(&mut self, end: End) -> SimPort<'_> {
        SimPort { link: self, end }
    }

    /// The current configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The configuration, to change faults mid-run. Frames already in flight keep
    /// their delivery times.
    pub fn config_mut(&mut self) -> &mut LinkConfig {
        &mut self.config
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Direction) -> LinkStats {
        self.lane(dir).stats
    }

    /// When the next frame (in either direction) becomes deliverable, if any is in
    /// flight. It may still fail its FCS check when received.
    pub fn next_delivery(&self) -> Option<Instant> {
        let a = self.next_delivery_in(Direction::AtoB);
        let b = self.next_delivery_in(Direction::BtoA);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the next frame in `dir` becomes deliverable.
    pub fn next_delivery_in(&self, dir: Direction) -> Option<Instant> {
        self.lane(dir).in_flight.keys().next().map(|&(at, _)| at)
    }

    /// Frames in flight, both directions.
    pub fn in_flight(&self) -> usize {
        self.a_to_b.in_flight.len() + self.b_to_a.in_flight.len()
    }

    /// Installs a hook that sees every frame sent in `dir` (after the size check,
    /// before any fault) and may drop it. Replaces any previous hook.
    ///
    /// ```
    /// # use tidytcp::drivers::{Direction, LinkConfig, SimLink, Verdict};
    /// let mut link = SimLink::new(LinkConfig::default(), 1);
    /// // Drop every frame whose EtherType is IPv4.
    /// link.set_filter(Direction::AtoB, |f| {
    ///     if f.get(12..14) == Some(&[0x08, 0x00]) { Verdict::Drop } else { Verdict::Pass }
    /// });
    /// ```
    pub fn set_filter<F>(&mut self, dir: Direction, filter: F)
    where
        F: FnMut(&[u8]) -> Verdict + Send + 'static,
    {
        self.lane_mut(dir).filter = Some(Box::new(filter));
    }

    /// Removes the hook of `dir`.
    pub fn clear_filter(&mut self, dir: Direction) {
        self.lane_mut(dir).filter = None;
    }

    /// Starts (or stops) recording every frame handed to a stack in [`log`](Self::log).
    pub fn set_logging(&mut self, on: bool) {
        self.logging = on;
    }

    /// The frames handed to the stacks since logging started, in order.
    pub fn log(&self) -> &[Delivery] {
        &self.log
    }

    /// Takes the log, leaving it empty.
    pub fn take_log(&mut self) -> Vec<Delivery> {
        core::mem::take(&mut self.log)
    }

    fn lane(&self, dir: Direction) -> &Lane {
        match dir {
            Direction::AtoB => &self.a_to_b,
            Direction::BtoA => &self.b_to_a,
        }
    }

    fn lane_mut(&mut self, dir: Direction) -> &mut Lane {
        match dir {
            Direction::AtoB => &mut self.a_to_b,
            Direction::BtoA => &mut self.b_to_a,
        }
    }

    fn max_frame_len(&self) -> usize {
        self.config.mtu.saturating_add(14)
    }

    /// A frame the sending end built at `now`, entering `dir`.
    fn send(&mut self, dir: Direction, now: Instant, frame: Vec<u8>) {
        let max_frame = self.max_frame_len();
        let max_in_flight = self.config.max_in_flight;
        let total_in_flight = self.in_flight();
        let cfg = *self.config.dir(dir);
        let lane = self.lane_mut(dir);
        lane.stats.sent += 1;

        if frame.len() > max_frame {
            lane.stats.oversize += 1;
            return;
        }
        if let Some(filter) = lane.filter.as_mut() {
            if filter(&frame) == Verdict::Drop {
                lane.stats.filtered += 1;
                return;
            }
        }

        let lose = lane.rng.chance(cfg.loss);
        let duplicate = lane.rng.chance(cfg.duplicate);
        let reorder = lane.rng.chance(cfg.reorder);
        let corrupt_it = lane.rng.chance(cfg.corrupt);
        let corrupt_seed = lane.rng.next_u64();

        if lose {
            lane.stats.lost += 1;
            return;
        }

        let len = frame.len();
        lane.drain_queue(now);
        if lane.queue.len() >= cfg.queue_frames
            || lane.queue_bytes.saturating_add(len) > cfg.queue_bytes
            || total_in_flight >= max_in_flight
        {
            lane.stats.queue_dropped += 1;
            return;
        }

        let start = now.max(lane.link_free_at);
        let done = start + serialization_time(len, cfg.rate_bps);
        lane.link_free_at = done;
        lane.queue.push_back((done, len));
        lane.queue_bytes = lane.queue_bytes.saturating_add(len);

        let mut at = done + cfg.latency;
        if reorder {
            at += cfg.reorder_delay;
            lane.stats.reordered += 1;
        }

        let mut wire = frame;
        let fcs = ethernet_fcs(&wire);
        wire.extend_from_slice(&fcs);
        if corrupt_it {
            corrupt(&mut wire, cfg.corrupt_bits, corrupt_seed);
            lane.stats.corrupted += 1;
        }

        if duplicate {
            lane.stats.duplicated += 1;
            let copy = wire.clone();
            lane.schedule(at, wire);
            lane.schedule(at, copy);
        } else {
            lane.schedule(at, wire);
        }
    }

    /// The next frame of `dir` deliverable at `now` that passes the FCS check (or
    /// any, with `pass_corrupted`), FCS stripped.
    fn deliver(&mut self, dir: Direction, now: Instant) -> Option<Vec<u8>> {
        let pass_corrupted = self.config.pass_corrupted;
        let logging = self.logging;
        let lane = match dir {
            Direction::AtoB => &mut self.a_to_b,
            Direction::BtoA => &mut self.b_to_a,
        };
        loop {
            let first = lane.in_flight.first_entry()?;
            let due = first.key().0;
            if due > now {
                return None;
            }
            let mut wire = first.remove();
            let body = wire.len().saturating_sub(4);
            let ok = wire.get(body..).is_some_and(|fcs| {
                wire.get(..body)
                    .is_some_and(|frame| ethernet_fcs(frame) == fcs)
            });
            if !ok && !pass_corrupted {
                lane.stats.fcs_dropped += 1;
                continue;
            }
            wire.truncate(body);
            lane.stats.delivered += 1;
            lane.stats.bytes += wire.len() as u64;
            if logging {
                self.log.push(Delivery {
                    dir,
                    due,
                    at: now,
                    frame: wire.clone(),
                });
            }
            return Some(wire);
        }
    }
}

/// One end of a [`SimLink`], as a [`Device`]. Borrow it for each poll:
/// `stack.poll(now, &mut link.a())`.
pub struct SimPort<'a> {
    link: &'a mut SimLink,
    end: End,
}

impl core::fmt::Debug for SimPort<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimPort")
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl SimPort<'_> {
    /// Which end this is.
    pub fn end(&self) -> End {
        self.end
    }
}

/// A frame received on a [`SimPort`] (owned: it has left the link).
#[derive(Debug)]
pub struct SimRxToken {
    frame: Vec<u8>,
}

impl RxToken for SimRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame)
    }
}

/// Room for one frame on a [`SimPort`]; the frame enters the link when the closure
/// returns.
pub struct SimTxToken<'a> {
    link: &'a mut SimLink,
    dir: Direction,
    now: Instant,
}

impl core::fmt::Debug for SimTxToken<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimTxToken")
            .field("dir", &self.dir)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl TxToken for SimTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let max = self.link.max_frame_len();
        if len > max {
            // Contract broken: let the closure write what fits, count, and drop it.
            let mut scratch = vec![0u8; max];
            let r = f(&mut scratch);
            let lane = self.link.lane_mut(self.dir);
            lane.stats.sent += 1;
            lane.stats.oversize += 1;
            return r;
        }
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.link.send(self.dir, self.now, frame);
        r
    }
}

impl Device for SimPort<'_> {
    type RxToken<'t>
        = SimRxToken
    where
        Self: 't;
    type TxToken<'t>
        = SimTxToken<'t>
    where
        Self: 't;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.link.deliver(self.end.rx_dir(), now)?;
        Some((
            SimRxToken { frame },
            SimTxToken {
                link: self.link,
                dir: self.end.tx_dir(),
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        Some(SimTxToken {
            link: self.link,
            dir: self.end.tx_dir(),
            now,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps {
            mtu: self.link.config.mtu,
            ..DeviceCaps::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet-looking frame of `len` bytes (at least 18) carrying `seq`.
    fn frame(seq: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len.max(18)];
        f[..6].fill(0xff);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f[14..18].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in f[18..].iter_mut().enumerate() {
            *b = (seq as usize + i) as u8;
        }
        f
    }

    fn seq_of(f: &[u8]) -> u32 {
        u32::from_be_bytes(f[14..18].try_into().unwrap())
    }

    fn send(link: &mut SimLink, end: End, now: Instant, f: &[u8]) {
        link.port(end)
            .transmit(now)
            .unwrap()
            .consume(f.len(), |b| b.copy_from_slice(f));
    }

    fn recv(link: &mut SimLink, end: End, now: Instant) -> Option<Vec<u8>> {
        let (rx, _tx) = link.port(end).receive(now)?;
        Some(rx.consume(|f| f.to_vec()))
    }

    fn recv_all(link: &mut SimLink, end: End, now: Instant) -> Vec<Vec<u8>> {
        core::iter::from_fn(|| recv(link, end, now)).collect()
    }

    /// Sends `n` frames A→B, one every `gap`, receiving on B as time passes, then
    /// drains the link. Returns the frames B received, in order.
    fn run_one_way(link: &mut SimLink, n: u32, len: usize, gap: Duration) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut now = Instant::ZERO;
        for i in 0..n {
            got.extend(recv_all(link, End::B, now));
            send(link, End::A, now, &frame(i, len));
            now += gap;
        }
        while let Some(t) = link.next_delivery() {
            got.extend(recv_all(link, End::B, t));
        }
        got
    }

    fn busy_config() -> LinkConfig {
        let dir = DirectionConfig {
            loss: 0.05,
            duplicate: 0.03,
            reorder: 0.05,
            reorder_delay: Duration::from_millis(3),
            corrupt: 0.03,
            corrupt_bits: 4,
            latency: Duration::from_millis(2),
            rate_bps: 10_000_000,
            queue_frames: 20,
            queue_bytes: usize::MAX,
        };
        LinkConfig::symmetric(dir)
    }

    /// Both directions, mixed sizes, receiving as time passes; returns the log.
    fn trace(seed: u64) -> (Vec<Delivery>, LinkStats, LinkStats) {
        let mut link = SimLink::new(busy_config(), seed);
        link.set_logging(true);
        let mut now = Instant::ZERO;
        for i in 0..2_000u32 {
            recv_all(&mut link, End::A, now);
            recv_all(&mut link, End::B, now);
            let len = 60 + (i as usize * 37) % 1400;
            send(&mut link, End::A, now, &frame(i, len));
            if i % 3 == 0 {
                send(&mut link, End::B, now, &frame(i, 64));
            }
            now += Duration::from_micros(150 + u64::from(i % 7) * 50);
        }
        while let Some(t) = link.next_delivery() {
            recv_all(&mut link, End::A, t);
            recv_all(&mut link, End::B, t);
        }
        (
            link.take_log(),
            link.stats(Direction::AtoB),
            link.stats(Direction::BtoA),
        )
    }

    #[test]
    fn same_seed_same_trace() {
        let (t1, a1, b1) = trace(7);
        let (t2, a2, b2) = trace(7);
        assert!(t1.len() > 1_000);
        assert_eq!(t1, t2);
        assert_eq!((a1, b1), (a2, b2));
        // Every kind of fault happened.
        for s in [a1, b1] {
            assert!(s.lost > 0 && s.duplicated > 0 && s.reordered > 0, "{s:?}");
            assert!(s.corrupted > 0 && s.fcs_dropped > 0, "{s:?}");
        }
        // Only A sends faster than its rate: its queue overflows.
        assert!(a1.queue_dropped > 0, "{a1:?}");
    }

    #[test]
    fn different_seed_different_trace() {
        let (t1, a1, _) = trace(7);
        let (t2, a2, _) = trace(8);
        assert_ne!(t1, t2);
        assert_ne!(a1, a2);
    }

    #[test]
    fn perfect_link_delivers_everything_in_order() {
        let mut link = SimLink::new(LinkConfig::default(), 1);
        let got = run_one_way(&mut link, 1_000, 100, Duration::from_micros(10));
        assert_eq!(got.len(), 1_000);
        for (i, f) in got.iter().enumerate() {
            assert_eq!(*f, frame(i as u32, 100));
        }
        let s = link.stats(Direction::AtoB);
        assert_eq!((s.sent, s.delivered, s.bytes), (1_000, 1_000, 100_000));
        assert_eq!(link.stats(Direction::BtoA), LinkStats::default());
    }

    const N: u32 = 10_000;

    /// `count` is within `tol` of `p * N`.
    fn near(count: u64, p: f64, tol: f64) -> bool {
        ((count as f64) - p * f64::from(N)).abs() <= tol
    }

    fn one_fault(dir: DirectionConfig, seed: u64) -> (SimLink, Vec<Vec<u8>>) {
        let mut link = SimLink::new(
            LinkConfig {
                a_to_b: dir,
                ..LinkConfig::default()
            },
            seed,
        );
        let got = run_one_way(&mut link, N, 80, Duration::from_micros(100));
        (link, got)
    }

    #[test]
    fn loss_rate() {
        let (link, got) = one_fault(
            DirectionConfig {
                loss: 0.1,
                ..DirectionConfig::PERFECT
            },
            11,
        );
        let s = link.stats(Direction::AtoB);
        // sigma = sqrt(10000 * 0.1 * 0.9) = 30; allow 5 sigma.
        assert!(near(s.lost, 0.1, 150.0), "{s:?}");
        assert_eq!(s.delivered + s.lost, u64::from(N));
        assert_eq!(got.len() as u64, s.delivered);
        // Loss alone keeps order.
        assert!(got.windows(2).all(|w| seq_of(&w[0]) < seq_of(&w[1])));
    }

    #[test]
    fn duplication_rate() {
        let (link, got) = one_fault(
            DirectionConfig {
                duplicate: 0.05,
                ..DirectionConfig::PERFECT
            },
            12,
        );
        let s = link.stats(Direction::AtoB);
        assert!(near(s.duplicated, 0.05, 110.0), "{s:?}");
        assert_eq!(s.delivered, u64::from(N) + s.duplicated);
        let dups = got.windows(2).filter(|w| w[0] == w[1]).count() as u64;
        assert_eq!(dups, s.duplicated);
    }

    #[test]
    fn reordering_rate() {
        let (link, got) = one_fault(
            DirectionConfig {
                reorder: 0.1,
                reorder_delay: Duration::from_millis(1),
                ..DirectionConfig::PERFECT
            },
            13,
        );
        let s = link.stats(Direction::AtoB);
        assert!(near(s.reordered, 0.1, 150.0), "{s:?}");
        assert_eq!(s.delivered, u64::from(N));
        // A held-back frame arrives after the ones sent in the next millisecond (10
        // frames at 100 µs spacing), unless they were held back too.
        let mut seqs: Vec<u32> = got.iter().map(|f| seq_of(f)).collect();
        let late = seqs
            .iter()
            .enumerate()
            .filter(|&(i, &q)| seqs[..i].iter().any(|&p| p > q))
            .count() as u64;
        assert!(late > 0 && late <= s.reordered, "{late} vs {s:?}");
        assert!(late as f64 > s.reordered as f64 * 0.8, "{late} vs {s:?}");
        seqs.sort_unstable();
        assert!(seqs.iter().copied().eq(0..N));
    }

    #[test]
    fn corruption_dropped_by_fcs() {
        let (link, got) = one_fault(
            DirectionConfig {
                corrupt: 0.02,
                corrupt_bits: 3,
                ..DirectionConfig::PERFECT
            },
            14,
        );
        let s = link.stats(Direction::AtoB);
        assert!(near(s.corrupted, 0.02, 70.0), "{s:?}");
        assert_eq!(s.fcs_dropped, s.corrupted);
        assert_eq!(s.delivered + s.fcs_dropped, u64::from(N));
        assert!(got.iter().all(|f| *f == frame(seq_of(f), 80)));
    }

    #[test]
    fn corruption_passed_through() {
        let mut link = SimLink::new(
            LinkConfig {
                a_to_b: DirectionConfig {
                    corrupt: 0.02,
                    ..DirectionConfig::PERFECT
                },
                pass_corrupted: true,
                ..LinkConfig::default()
            },
            15,
        );
        let got = run_one_way(&mut link, N, 80, Duration::from_micros(100));
        let s = link.stats(Direction::AtoB);
        assert!(near(s.corrupted, 0.02, 70.0), "{s:?}");
        assert_eq!(s.fcs_dropped, 0);
        assert_eq!(s.delivered, u64::from(N));
        // One bit flipped per corrupted frame: in the 80 frame bytes (damaged frame
        // delivered) or in the 4 FCS bytes (frame intact).
        let damaged = got
            .iter()
            .enumerate()
            .filter(|&(i, f)| *f != frame(i as u32, 80))
            .count() as u64;
        assert!(damaged <= s.corrupted);
        assert!(
            damaged as f64 >= s.corrupted as f64 * 0.85,
            "{damaged} {s:?}"
        );
        for (i, f) in got.iter().enumerate() {
            let diff: u32 = f
                .iter()
                .zip(frame(i as u32, 80))
                .map(|(a, b)| (a ^ b).count_ones())
                .sum();
            assert!(diff <= 1);
        }
    }

    #[test]
    fn latency_exact() {
        let mut link = SimLink::new(
            LinkConfig {
                a_to_b: DirectionConfig {
                    latency: Duration::from_millis(5),
                    ..DirectionConfig::PERFECT
                },
                b_to_a: DirectionConfig {
                    latency: Duration::from_micros(1_234),
                    ..DirectionConfig::PERFECT
                },
                ..LinkConfig::default()
            },
            0,
        );
        let t = Instant::from_millis(1);
        send(&mut link, End::A, t, &frame(1, 60));
        send(&mut link, End::B, t, &frame(2, 60));
        assert_eq!(link.next_delivery(), Some(Instant::from_micros(2_234)));
        assert_eq!(
            link.next_delivery_in(Direction::AtoB),
            Some(Instant::from_millis(6))
        );
        assert!(recv(&mut link, End::A, Instant::from_micros(2_233)).is_none());
        assert_eq!(
            recv(&mut link, End::A, Instant::from_micros(2_234)),
            Some(frame(2, 60))
        );
        assert!(recv(&mut link, End::B, Instant::from_micros(5_999)).is_none());
        assert_eq!(
            recv(&mut link, End::B, Instant::from_millis(6)),
            Some(frame(1, 60))
        );
        assert_eq!(link.next_delivery(), None);
    }

    #[test]
    fn rate_limit_exact() {
        let mut link = SimLink::new(
            LinkConfig::symmetric(DirectionConfig {
                rate_bps: 8_000_000, // 1 byte/µs
                latency: Duration::from_micros(500),
                ..DirectionConfig::PERFECT
            }),
            0,
        );
        link.set_logging(true);
        // Three back-to-back 1000-byte frames queue behind each other.
        for i in 0..3 {
            send(&mut link, End::A, Instant::ZERO, &frame(i, 1000));
        }
        // The link is idle again at 3000 µs; a frame at 10 ms starts at once.
        send(&mut link, End::A, Instant::from_millis(10), &frame(3, 1000));
        // One sent at 10.2 ms waits for the previous one to finish at 11 ms.
        send(
            &mut link,
            End::A,
            Instant::from_micros(10_200),
            &frame(4, 100),
        );
        let mut dues = Vec::new();
        while let Some(t) = link.next_delivery() {
            dues.push(t.total_micros());
            assert!(recv(&mut link, End::B, t).is_some());
        }
        assert_eq!(dues, [1_500, 2_500, 3_500, 11_500, 11_600]);
        let logged: Vec<u64> = link.log().iter().map(|d| d.due.total_micros()).collect();
        assert_eq!(logged, dues);

        // Rounding up: 1 byte at 3 Mbit/s is 2.67 µs -> 3 µs.
        assert_eq!(serialization_time(1, 3_000_000), Duration::from_micros(3));
        assert_eq!(serialization_time(1500, 0), Duration::ZERO);
        assert_eq!(serialization_time(usize::MAX, 1), Duration::MAX);
    }

    #[test]
    fn queue_limit_tail_drops() {
        let mut link = SimLink::new(
            LinkConfig::symmetric(DirectionConfig {
                rate_bps: 8_000, // 1 byte/ms: a 100-byte frame takes 100 ms
                queue_frames: 3,
                ..DirectionConfig::PERFECT
            }),
            0,
        );
        for i in 0..10 {
            send(&mut link, End::A, Instant::ZERO, &frame(i, 100));
        }
        let s = link.stats(Direction::AtoB);
        assert_eq!((s.sent, s.queue_dropped), (10, 7));
        // At 150 ms the first frame has left the queue: room for exactly one more.
        send(
            &mut link,
            End::A,
            Instant::from_millis(150),
            &frame(10, 100),
        );
        send(
            &mut link,
            End::A,
            Instant::from_millis(150),
            &frame(11, 100),
        );
        assert_eq!(link.stats(Direction::AtoB).queue_dropped, 8);
        let mut got = Vec::new();
        while let Some(t) = link.next_delivery() {
            for f in recv_all(&mut link, End::B, t) {
                got.push((t.total_millis(), seq_of(&f)));
            }
        }
        assert_eq!(got, [(100, 0), (200, 1), (300, 2), (400, 10)]);

        // Byte limit.
        let mut link = SimLink::new(
            LinkConfig::symmetric(DirectionConfig {
                rate_bps: 8_000,
                queue_bytes: 250,
                ..DirectionConfig::PERFECT
            }),
            0,
        );
        for i in 0..5 {
            send(&mut link, End::A, Instant::ZERO, &frame(i, 100));
        }
        assert_eq!(link.stats(Direction::AtoB).queue_dropped, 3);
    }

    #[test]
    fn in_flight_bound() {
        let mut link = SimLink::new(
            LinkConfig {
                max_in_flight: 5,
                a_to_b: DirectionConfig {
                    latency: Duration::from_secs(1),
                    ..DirectionConfig::PERFECT
                },
                ..LinkConfig::default()
            },
            0,
        );
        for i in 0..8 {
            send(&mut link, End::A, Instant::ZERO, &frame(i, 60));
        }
        assert_eq!(link.in_flight(), 5);
        assert_eq!(link.stats(Direction::AtoB).queue_dropped, 3);
    }

    #[test]
    fn filter_hook_drops_before_faults() {
        let mut link = SimLink::new(LinkConfig::default(), 3);
        // Drop every frame with an odd sequence number.
        link.set_filter(Direction::AtoB, |f| {
            if f.get(17).is_some_and(|b| b % 2 == 1) {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
        let got = run_one_way(&mut link, 100, 60, Duration::from_micros(1));
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|f| seq_of(f) % 2 == 0));
        let s = link.stats(Direction::AtoB);
        assert_eq!((s.sent, s.filtered, s.delivered), (100, 50, 50));
        link.clear_filter(Direction::AtoB);
        let got = run_one_way(&mut link, 10, 60, Duration::from_micros(1));
        assert_eq!(got.len(), 10);
    }

    #[test]
    fn config_changes_mid_run() {
        let mut link = SimLink::new(LinkConfig::default(), 5);
        assert_eq!(run_one_way(&mut link, 10, 60, Duration::ZERO).len(), 10);
        link.config_mut().a_to_b.loss = 1.0;
        assert_eq!(run_one_way(&mut link, 10, 60, Duration::ZERO).len(), 0);
        link.config_mut().dir_mut(Direction::AtoB).loss = 0.0;
        assert_eq!(run_one_way(&mut link, 10, 60, Duration::ZERO).len(), 10);
        assert_eq!(link.stats(Direction::AtoB).lost, 10);
    }

    #[test]
    fn odd_frame_lengths() {
        let mut link = SimLink::new(
            LinkConfig {
                mtu: 576,
                a_to_b: DirectionConfig {
                    corrupt: 0.5,
                    corrupt_bits: 1_000,
                    ..DirectionConfig::PERFECT
                },
                pass_corrupted: true,
                ..LinkConfig::default()
            },
            9,
        );
        assert_eq!(link.a().capabilities().mtu, 576);
        assert_eq!(link.b().capabilities().max_frame_len(), 590);
        // Empty, tiny, exactly max and just over.
        for len in [0usize, 1, 13, 590, 591] {
            link.a()
                .transmit(Instant::ZERO)
                .unwrap()
                .consume(len, |b| b.fill(0x5a));
        }
        // A token asked for far more than the maximum still runs its closure.
        let n = link
            .a()
            .transmit(Instant::ZERO)
            .unwrap()
            .consume(usize::MAX, |b| b.len());
        assert_eq!(n, 590);
        let got = recv_all(&mut link, End::B, Instant::ZERO);
        let lens: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(lens, [0, 1, 13, 590]);
        let s = link.stats(Direction::AtoB);
        assert_eq!((s.sent, s.oversize, s.delivered), (6, 2, 4));
    }

    #[test]
    fn reply_token_from_receive_sends_back() {
        let mut link = SimLink::new(LinkConfig::default(), 0);
        send(&mut link, End::A, Instant::ZERO, &frame(1, 60));
        {
            let mut b = link.b();
            let (rx, tx) = b.receive(Instant::ZERO).unwrap();
            rx.consume(|req| {
                let reply = frame(seq_of(req) + 100, 60);
                tx.consume(reply.len(), |buf| buf.copy_from_slice(&reply));
            });
        }
        assert_eq!(recv(&mut link, End::A, Instant::ZERO), Some(frame(101, 60)));
    }

    #[test]
    fn fcs_is_ethernet_crc() {
        // The CRC-32 check value of "123456789".
        assert_eq!(u32::from_le_bytes(ethernet_fcs(b"123456789")), 0xcbf4_3926);
    }

    proptest::proptest! {
        /// Arbitrary frames, configurations and timing never panic, and every frame
        /// is accounted for.
        #[test]
        fn never_panics_and_accounts(
            seed: u64,
            probs in proptest::array::uniform4(-0.5f64..1.5),
            corrupt_bits in 0u32..100,
            rate_bps in proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..100_000_000],
            queue_frames in 0usize..20,
            mtu in 0usize..2000,
            pass_corrupted: bool,
            frames in proptest::collection::vec((0usize..2100, 0u64..5_000), 0..60),
        ) {
            let dir = DirectionConfig {
                loss: probs[0],
                duplicate: probs[1],
                reorder: probs[2],
                corrupt: probs[3],
                corrupt_bits,
                rate_bps,
                queue_frames,
                latency: Duration::from_micros(seed % 10_000),
                ..DirectionConfig::PERFECT
            };
            let mut link = SimLink::new(
                LinkConfig { mtu, pass_corrupted, ..LinkConfig::symmetric(dir) },
                seed,
            );
            let mut now = Instant::ZERO;
            let mut got = 0u64;
            for (i, &(len, gap)) in frames.iter().enumerate() {
                let end = if i % 2 == 0 { End::A } else { End::B };
                link.port(end).transmit(now).unwrap().consume(len, |b| b.fill(i as u8));
                got += recv_all(&mut link, End::A, now).len() as u64;
                got += recv_all(&mut link, End::B, now).len() as u64;
                now += Duration::from_micros(gap);
            }
            while let Some(t) = link.next_delivery() {
                got += recv_all(&mut link, End::A, t).len() as u64;
                got += recv_all(&mut link, End::B, t).len() as u64;
            }
            let mut delivered = 0;
            for dir in [Direction::AtoB, Direction::BtoA] {
                let s = link.stats(dir);
                let accepted = s.sent - s.oversize - s.filtered - s.lost - s.queue_dropped;
                proptest::prop_assert_eq!(accepted + s.duplicated, s.delivered + s.fcs_dropped);
                if !pass_corrupted {
                    proptest::prop_assert!(s.fcs_dropped <= s.corrupted + s.duplicated);
                }
                delivered += s.delivered;
            }
            proptest::prop_assert_eq!(got, delivered);
            proptest::prop_assert_eq!(link.in_flight(), 0);
        }
    }

    #[test]
    fn sim_link_is_send() {
        fn is_send<T: Send>() {}
        is_send::<SimLink>();
    }
}
