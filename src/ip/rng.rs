//! A small seeded generator (SplitMix64) for the address-configuration clients'
//! transaction IDs and timer jitter. Not for secrets: those come from `tcp::isn`.

use crate::time::Duration;

/// SplitMix64 state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..=max` microseconds.
    pub(crate) fn upto(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.next() % (max.total_micros() + 1))
    }
}
