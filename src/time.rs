//! Time as the stack sees it: an [`Instant`] on a monotonic clock the caller owns and a
//! [`Duration`] between two instants, both in microseconds.
//!
//! The core never reads a clock. Every entry point that depends on time takes `now` as an
//! argument, so the same code runs on a board timer, `std::time::Instant`, or the virtual
//! clock of a simulation.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A point on the caller's monotonic clock, in microseconds since an arbitrary origin.
///
/// ```
/// use tidytcp::time::{Duration, Instant};
/// let t = Instant::from_millis(1_500);
/// assert_eq!(t + Duration::from_millis(500), Instant::from_secs(2));
/// assert_eq!(Instant::from_secs(2) - t, Duration::from_millis(500));
/// ```
///
/// The clock ends at `u64::MAX - 1` microseconds (more than half a million years), where
/// it saturates: that leaves a spare value, so an `Option<Instant>` (every timer of a
/// connection) takes 8 bytes instead of 16.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Microseconds plus one (ordered like the microseconds; never zero).
    micros_plus_1: NonZeroU64,
}

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

/// A span of time in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    micros: u64,
}

/// `n / 1000`. On 32-bit targets a 64-bit division is a library routine (about 1 KiB of
/// flash on a Cortex-M, whose only user without CUBIC would be the timestamp clock), so
/// there it is [`div_1000_narrow`].
#[inline]
const fn div_1000(n: u64) -> u64 {
    if cfg!(target_pointer_width = "64") {
        n / 1000
    } else {
        div_1000_narrow(n)
    }
}

/// `n / 1000` as long division in 32-bit steps of 32, 16 and 16 bits: each divides a
/// value below `1000 << 16` (after the first) by a constant, which the compiler turns
/// into a multiplication. Inlined, the callers fold it with what they compute around
/// it (the Cortex-M firmware without CUBIC is smallest so); with CUBIC, whose own
/// divisions keep the library routine linked, one shared copy is smaller.
#[cfg_attr(
    all(not(target_pointer_width = "64"), feature = "cubic"),
    inline(never)
)]
#[cfg_attr(not(all(not(target_pointer_width = "64"), feature = "cubic")), inline)]
const fn div_1000_narrow(n: u64) -> u64 {
    let hi = (n >> 32) as u32;
    let lo = n as u32;
    // n = hi·2^32 + (lo >> 16)·2^16 + (lo & 0xffff); each step carries its remainder,
    // below 1000, into the next.
    let (q_hi, r) = (hi / 1000, hi % 1000);
    let mid = (r << 16) | (lo >> 16);
    let (q_mid, r) = (mid / 1000, mid % 1000);
    let low = (r << 16) | (lo & 0xffff);
    let q_lo = low / 1000;
    ((q_hi as u64) << 32) | (((q_mid << 16) + q_lo) as u64)
}

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant::from_micros(0);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        // `micros + 1`, saturating at `u64::MAX`, the end of the clock (`u64::MAX - 1`) plus one: one
        // add-with-carry and a select, small where it is inlined.
        Instant {
            micros_plus_1: NonZeroU64::MIN.saturating_add(micros),
        }
    }
    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Instant::from_micros(millis.saturating_mul(1_000))
    }
    /// An instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_micros(secs.saturating_mul(1_000_000))
    }
    /// Microseconds since the origin.
    pub const fn total_micros(self) -> u64 {
        self.micros_plus_1.get() - 1
    }
    /// Milliseconds since the origin (truncated).
    pub const fn total_millis(self) -> u64 {
        div_1000(self.total_micros())
    }
    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration {
            micros: self.total_micros().saturating_sub(earlier.total_micros()),
        }
    }
    /// `t` as two 32-bit halves, low first (microseconds plus one; 0 for `None`): storage
    /// that needs only 4-byte alignment, so that it packs among 32-bit fields (CUBIC's
    /// epoch).
    #[cfg(feature = "cubic")]
    #[inline]
    pub(crate) fn to_halves(t: Option<Instant>) -> [u32; 2] {
        let raw = t.map_or(0, |t| t.micros_plus_1.get());
        [raw as u32, (raw >> 32) as u32]
    }

    /// The inverse of [`Instant::to_halves`].
    #[cfg(feature = "cubic")]
    #[inline]
    pub(crate) fn from_halves(h: [u32; 2]) -> Option<Instant> {
        NonZeroU64::new(u64::from(h[0]) | u64::from(h[1]) << 32)
            .map(|micros_plus_1| Instant { micros_plus_1 })
    }

    /// A key that orders optional deadlines with `None` last: the microseconds, and
    /// `u64::MAX` (the end of the clock plus one, which no instant reaches) for `None`.
    /// One subtraction, since `None` is stored as a zero `micros_plus_1`.
    #[inline]
    pub(crate) fn deadline_key(t: Option<Instant>) -> u64 {
        t.map_or(0, |t| t.micros_plus_1.get()).wrapping_sub(1)
    }

    /// The earliest of `ts`, ignoring `None`s; `None` if all are. Branch-free, by
    /// [`Instant::deadline_key`].
    #[inline]
    pub(crate) fn earliest<const N: usize>(ts: [Option<Instant>; N]) -> Option<Instant> {
        let m = ts
            .iter()
            .map(|&t| Instant::deadline_key(t))
            .fold(u64::MAX, u64::min);
        NonZeroU64::new(m.wrapping_add(1)).map(|micros_plus_1| Instant { micros_plus_1 })
    }
    /// `self + d`, saturating at the end of the clock instead of overflowing.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        // The end of the clock plus one is `u64::MAX`, so saturating the stored value
        // saturates the instant.
        Instant {
            micros_plus_1: self.micros_plus_1.saturating_add(d.micros),
        }
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };
    /// The longest representable span.
    pub const MAX: Duration = Duration { micros: u64::MAX };

    /// `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Duration { micros }
    }
    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }
    /// Whole microseconds.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }
    /// Whole milliseconds (truncated).
    pub const fn total_millis(self) -> u64 {
        div_1000(self.micros)
    }
    /// `self * n`, saturating.
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration {
            micros: self.micros.saturating_mul(n),
        }
    }
    /// `self - other`, or zero.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(other.micros),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}
impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_micros(self.total_micros().saturating_sub(rhs.micros))
    }
}
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}
impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}
impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}
impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        self.saturating_sub(rhs)
    }
}
impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.total_micros() / 1_000_000,
            self.total_micros() % 1_000_000
        )
    }
}
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros >= 1_000_000 {
            write!(
                f,
                "{}.{:03}s",
                self.micros / 1_000_000,
                (self.micros % 1_000_000) / 1_000
            )
        } else if self.micros >= 1_000 {
            write!(f, "{}.{:03}ms", self.micros / 1_000, self.micros % 1_000)
        } else {
            write!(f, "{}us", self.micros)
        }
    }
}
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// To `core::time::Duration` (the same type as `std::time::Duration`; no `std` needed).
impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_micros(d.micros)
    }
}

/// From `core::time::Duration` (`std::time::Duration`), in whole microseconds; longer than
/// `u64::MAX` microseconds saturates.
///
/// ```
/// let d: tidytcp::Duration = core::time::Duration::from_millis(1500).into();
/// assert_eq!(d, tidytcp::Duration::from_millis(1500));
/// ```
impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_division_by_1000() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let edges = [
            0,
            1,
            999,
            1000,
            1001,
            65_535_999,
            u64::from(u32::MAX),
            1 << 32,
        ];
        for n in edges.into_iter().chain([u64::MAX, u64::MAX - 1]) {
            assert_eq!(div_1000_narrow(n), n / 1000, "{n}");
        }
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for n in [x, x >> 20, x >> 40, x % 1_000_000] {
                assert_eq!(div_1000_narrow(n), n / 1000, "{n}");
            }
        }
    }

    #[test]
    fn optional_instant_costs_no_extra_word() {
        // Every connection keeps several optional deadlines.
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
        assert_eq!(Instant::from_micros(u64::MAX).total_micros(), u64::MAX - 1);
        assert_eq!(Instant::default(), Instant::ZERO);
        assert!(Instant::from_micros(0) < Instant::from_micros(1));
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(
            Instant::from_secs(1) - Instant::from_secs(2),
            Duration::ZERO
        );
        assert_eq!(Duration::from_millis(3).total_micros(), 3_000);
        // The clock ends at u64::MAX - 1 microseconds, from either side of it.
        let end = Instant::from_micros(u64::MAX - 1);
        assert_eq!(Instant::from_micros(u64::MAX), end);
        assert_eq!(end.total_micros(), u64::MAX - 1);
        let before = Instant::from_micros(u64::MAX - 3);
        assert_eq!(
            before
                .saturating_add(Duration::from_micros(1))
                .total_micros(),
            u64::MAX - 2
        );
        assert_eq!(before.saturating_add(Duration::from_micros(2)), end);
        assert_eq!(before.saturating_add(Duration::from_micros(u64::MAX)), end);
        assert_eq!(
            Instant::ZERO
                .saturating_add(Duration::from_micros(7))
                .total_micros(),
            7
        );
    }

    #[test]
    fn formats() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Instant::from_millis(1_500)), "1.500000s");
        assert_eq!(format!("{:?}", Duration::from_micros(1_500)), "1.500ms");
        assert_eq!(format!("{:?}", Duration::from_micros(15)), "15us");
    }
}
