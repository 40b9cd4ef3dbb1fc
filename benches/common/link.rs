//! The in-memory Ethernet link both stacks run over: two rings of preallocated frame
//! buffers (one per direction), each frame stamped with the virtual time it arrives.
//!
//! The same `Ring` type backs smoltcp's `phy::Device` (in `smol.rs`) and our
//! `drivers::Device` (in `tidy.rs`), so neither stack pays for a link the other does not.
//! A receive hands out a borrowed frame (no copy); a transmit hands out a borrowed buffer.
//! Optional per-direction latency, rate limit and seeded loss serve the lossy workload;
//! the other workloads use a link with none of them (frames arrive at once).

/// Largest frame: MTU 1500 plus the 14-byte Ethernet header.
pub const MAX_FRAME: usize = 1514;
/// Frames a direction holds (more than two 64 KiB windows of full-sized segments).
pub const RING_FRAMES: usize = 256;

/// How one direction of the link behaves.
#[derive(Clone, Copy, Debug)]
pub struct LinkCfg {
    /// One-way latency in microseconds.
    pub latency_us: u64,
    /// Rate in bits per second; 0: unlimited.
    pub rate_bps: u64,
    /// Loss probability in parts per million (only once `lossy` is switched on).
    pub loss_ppm: u32,
    /// Seed of the loss generator.
    pub seed: u64,
}

impl LinkCfg {
    /// Frames arrive at once, nothing is lost.
    pub const IDEAL: LinkCfg = LinkCfg {
        latency_us: 0,
        rate_bps: 0,
        loss_ppm: 0,
        seed: 1,
    };
}

/// One direction: a FIFO of frames in preallocated buffers.
pub struct Ring {
    bufs: Box<[[u8; MAX_FRAME]]>,
    lens: Box<[u16]>,
    arrive: Box<[u64]>,
    head: usize,
    count: usize,
    cfg: LinkCfg,
    busy_until_ns: u64,
    rng: u64,
    /// Loss applies only while this is set (handshakes run lossless).
    pub lossy: bool,
    /// Frames pushed (delivered or lost).
    pub pushed: u64,
    /// Frames lost.
    pub lost: u64,
}

impl Ring {
    fn new(cfg: LinkCfg, salt: u64) -> Self {
        Ring {
            bufs: vec![[0u8; MAX_FRAME]; RING_FRAMES].into_boxed_slice(),
            lens: vec![0; RING_FRAMES].into_boxed_slice(),
            arrive: vec![0; RING_FRAMES].into_boxed_slice(),
            head: 0,
            count: 0,
            cfg,
            busy_until_ns: 0,
            rng: (cfg.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1,
            lossy: false,
            pushed: 0,
            lost: 0,
        }
    }

    /// Room for another frame.
    #[inline]
    pub fn has_room(&self) -> bool {
        self.count < RING_FRAMES
    }

    /// The buffer index of the next frame that has arrived by `now_us`, removed from the
    /// queue. The buffer stays intact until the ring wraps around to it, which cannot
    /// happen while the receiving side holds it (only the other side pushes here).
    #[inline]
    pub fn pop_ready(&mut self, now_us: u64) -> Option<(usize, usize)> {
        if self.count == 0 || self.arrive[self.head] > now_us {
            return None;
        }
        let i = self.head;
        self.head = (self.head + 1) % RING_FRAMES;
        self.count -= 1;
        Some((i, usize::from(self.lens[i])))
    }

    /// The frame in buffer `i`.
    #[inline]
    pub fn frame(&self, i: usize, len: usize) -> &[u8] {
        &self.bufs[i][..len]
    }

    /// Builds a frame of `len` bytes with `f` at the tail and queues it (or loses it).
    /// The caller has checked `has_room`.
    #[inline]
    pub fn push<R>(&mut self, now_us: u64, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let i = (self.head + self.count) % RING_FRAMES;
        let len = len.min(MAX_FRAME);
        let r = f(&mut self.bufs[i][..len]);
        self.pushed += 1;
        if self.lossy && self.cfg.loss_ppm > 0 {
            // xorshift64*
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
            if (x % 1_000_000) < u64::from(self.cfg.loss_ppm) {
                self.lost += 1;
                return r;
            }
        }
        let arrive = if self.cfg.rate_bps == 0 && self.cfg.latency_us == 0 {
            now_us
        } else {
            let start = self.busy_until_ns.max(now_us * 1000);
            let tx_ns = if self.cfg.rate_bps == 0 {
                0
            } else {
                // Preamble, FCS and gap are 24 more bytes on the wire.
                ((len as u64 + 24) * 8 * 1_000_000_000).div_ceil(self.cfg.rate_bps)
            };
            self.busy_until_ns = start + tx_ns;
            (start + tx_ns).div_ceil(1000) + self.cfg.latency_us
        };
        self.lens[i] = len as u16;
        self.arrive[i] = arrive;
        self.count += 1;
        r
    }

    /// When the head frame arrives.
    pub fn next_arrival(&self) -> Option<u64> {
        (self.count > 0).then(|| self.arrive[self.head])
    }
}

/// The two directions between stack A and stack B.
pub struct Link {
    /// Frames from A to B.
    pub ab: Ring,
    /// Frames from B to A.
    pub ba: Ring,
}

impl Link {
    /// A link with `cfg` in both directions.
    pub fn new(cfg: LinkCfg) -> Self {
        Link {
            ab: Ring::new(cfg, 1),
            ba: Ring::new(cfg, 2),
        }
    }

    /// Switches loss on or off in both directions.
    pub fn set_lossy(&mut self, on: bool) {
        self.ab.lossy = on;
        self.ba.lossy = on;
    }

    /// Frames pushed so far in both directions (a cheap "did anything move" probe).
    pub fn pushed(&self) -> u64 {
        self.ab.pushed + self.ba.pushed
    }

    /// The earliest arrival of a queued frame.
    pub fn next_arrival(&self) -> Option<u64> {
        match (self.ab.next_arrival(), self.ba.next_arrival()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Frames lost in both directions.
    pub fn lost(&self) -> u64 {
        self.ab.lost + self.ba.lost
    }
}

/// The stream every workload sends: a table of a prime length, stored twice so that any
/// run of up to `PATTERN_PERIOD` bytes starting anywhere in the stream is one slice.
pub struct Pattern {
    table: Vec<u8>,
}

/// Length of the pattern's period (prime, so it never lines up with buffer sizes).
pub const PATTERN_PERIOD: usize = 65521;

impl Pattern {
    /// The pattern table.
    pub fn new() -> Self {
        let mut x = 0x1234_5678_9abc_def1u64;
        let one: Vec<u8> = (0..PATTERN_PERIOD)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut table = one.clone();
        table.extend_from_slice(&one);
        Pattern { table }
    }

    /// The stream's bytes `at..at + len` (`len` at most `PATTERN_PERIOD`).
    #[inline]
    pub fn at(&self, at: u64, len: usize) -> &[u8] {
        let o = (at % PATTERN_PERIOD as u64) as usize;
        &self.table[o..o + len.min(PATTERN_PERIOD)]
    }
}

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks `data` against the stream at `at`; panics (ending the benchmark) on a mismatch.
#[inline]
pub fn verify(pat: &Pattern, at: u64, data: &[u8]) {
    let mut done = 0;
    while done < data.len() {
        let n = (data.len() - done).min(PATTERN_PERIOD);
        let want = pat.at(at + done as u64, n);
        if &data[done..done + n] != want {
            panic!("stream byte mismatch near offset {}", at + done as u64);
        }
        done += n;
    }
}
