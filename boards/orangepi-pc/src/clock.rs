//! Time: a monotonic clock from the ARM generic timer (CNTPCT at CNTFRQ), and the wall
//! clock at boot from the H3's RTC.

#[cfg(target_arch = "arm")]
use tidytcp::Instant;

/// Frequency assumed if CNTFRQ reads 0 (firmware was meant to set it): the H3's 24 MHz
/// oscillator.
#[cfg(target_arch = "arm")]
const DEFAULT_FREQ: u64 = 24_000_000;

#[cfg(target_arch = "arm")]
/// The physical counter.
pub fn counter() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: reads CNTPCT (accessible from PL1); `isb` keeps the read from being
    // taken early. No memory is touched.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrrc p15, 0, {lo}, {hi}, c14",
            lo = out(reg) lo,
            hi = out(reg) hi,
            options(nomem, nostack, preserves_flags)
        );
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

#[cfg(target_arch = "arm")]
/// The counter's frequency in Hz (CNTFRQ).
pub fn frequency() -> u64 {
    let f: u32;
    // SAFETY: reads CNTFRQ; no memory is touched.
    unsafe {
        core::arch::asm!("mrc p15, 0, {}, c14, c0, 0", out(reg) f, options(nomem, nostack, preserves_flags));
    }
    if f == 0 { DEFAULT_FREQ } else { u64::from(f) }
}

#[cfg(target_arch = "arm")]
/// A monotonic clock counting from its creation.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    freq: u64,
    start: u64,
}

#[cfg(target_arch = "arm")]
impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock {
            freq: frequency(),
            start: counter(),
        }
    }

    /// The counter frequency in Hz.
    pub fn freq(&self) -> u64 {
        self.freq
    }

    /// Time since [`Clock::new`].
    pub fn now(&self) -> Instant {
        let t = counter().wrapping_sub(self.start);
        let secs = t / self.freq;
        let rem = t % self.freq;
        Instant::from_micros(secs * 1_000_000 + rem * 1_000_000 / self.freq)
    }
}

#[cfg(target_arch = "arm")]
impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_arch = "arm")]
/// The H3's RTC (sun6i type): date and time registers, years counted from 1970.
const RTC: usize = 0x01F0_0000;

#[cfg(target_arch = "arm")]
fn rtc_read(off: usize) -> u32 {
    // SAFETY: the H3 RTC's date/time registers, 32-bit aligned, mapped 1:1 with the MMU
    // off; reading them has no side effect.
    unsafe { core::ptr::read_volatile((RTC + off) as *const u32) }
}

/// A civil UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Year, e.g. 2026.
    pub year: u32,
    /// Month 1-12.
    pub month: u32,
    /// Day of the month 1-31.
    pub day: u32,
    /// Hour 0-23.
    pub hour: u32,
    /// Minute 0-59.
    pub minute: u32,
    /// Second 0-59.
    pub second: u32,
}

impl DateTime {
    /// The RTC's reading (QEMU sets it to the host's UTC time at reset and does not
    /// advance it; a board's RTC runs if it was set).
    #[cfg(target_arch = "arm")]
    pub fn from_rtc() -> Self {
        let ymd = rtc_read(0x10);
        let hms = rtc_read(0x14);
        DateTime {
            year: 1970 + ((ymd >> 16) & 0x3f),
            month: (ymd >> 8) & 0xf,
            day: ymd & 0x1f,
            hour: (hms >> 16) & 0x1f,
            minute: (hms >> 8) & 0x3f,
            second: hms & 0x3f,
        }
    }

    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub fn to_unix(self) -> u64 {
        // Days from civil (proleptic Gregorian), with March as the first month.
        let (y, m) = if self.month <= 2 {
            (i64::from(self.year) - 1, i64::from(self.month) + 9)
        } else {
            (i64::from(self.year), i64::from(self.month) - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs.max(0) as u64
    }

    /// The date and time `t` seconds after 1970-01-01 00:00:00 UTC.
    pub fn from_unix(t: u64) -> Self {
        let days = (t / 86_400) as i64;
        let rem = t % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Day of the week, 0 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        ((self.to_unix() / 86_400 + 4) % 7) as u32
    }
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl core::fmt::Display for DateTime {
    /// The RFC 867 example format: `Wednesday, November 25, 2026 11:40:00-UTC`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let wd = WEEKDAYS[self.weekday() as usize % 7];
        let mon = MONTHS[(self.month.clamp(1, 12) - 1) as usize];
        write!(
            f,
            "{wd}, {mon} {}, {} {:02}:{:02}:{:02}-UTC",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::DateTime;

    #[test]
    fn unix_time_round_trips_and_names_the_day() {
        let t = DateTime {
            year: 2026,
            month: 11,
            day: 25,
            hour: 11,
            minute: 40,
            second: 7,
        };
        assert_eq!(t.to_unix(), 1_795_606_807);
        assert_eq!(DateTime::from_unix(t.to_unix()), t);
        assert_eq!(
            std::format!("{t}"),
            "Wednesday, November 25, 2026 11:40:07-UTC"
        );
        // Leap day, the epoch, and the end of a year.
        for s in [0u64, 951_782_400, 1_709_164_800, 1_735_689_599] {
            assert_eq!(DateTime::from_unix(s).to_unix(), s);
        }
        assert_eq!(
            std::format!("{}", DateTime::from_unix(1_709_164_800)),
            "Thursday, February 29, 2024 00:00:00-UTC"
        );
        assert_eq!(DateTime::from_unix(0).weekday(), 4);
    }
}
