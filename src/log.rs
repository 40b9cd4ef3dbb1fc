//! Logging, one macro set for every backend: `log` (feature `log`, for hosts), `defmt`
//! (feature `defmt`, for chips), or nothing at all (neither: the arguments are not even
//! computed, and no code is left). Call sites write `net_log!(debug, "...", args)`;
//! the format string uses `{}` only, so that it means `Display` to `log` and `Format` to
//! `defmt` (every argument implements both).
//!
//! Levels: `warn` for what a user should look at (resets received, connections that
//! time out, frames dropped as malformed, neighbours that do not answer), `info` for
//! link and address changes, `debug` for connection life (opened, established, closed),
//! `trace` for per-segment detail.
//!
//! The `defmt::Format` impls of the public types a user prints are here too, so that
//! the types themselves carry no `cfg` attributes.

/// Logs through the enabled backend(s): `net_log!(level, "format", args...)`.
macro_rules! net_log {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::$level!($fmt $(, $arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::$level!($fmt $(, $arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        {
            $( let _ = || $arg; )*
        }
    }};
}
pub(crate) use net_log;

#[cfg(feature = "defmt")]
mod format {
    use defmt::{Debug2Format, Display2Format, Format, Formatter, write};

    use crate::error::{Capacity, Error};
    use crate::socket::{Readiness, Shutdown, SocketFlags, SocketId, SocketInfo};
    use crate::tcp::State;
    use crate::time::{Duration, Instant};
    use crate::wire::ethernet::EthernetAddress;
    use crate::wire::ipv4::Ipv4Cidr;

    /// Types whose `Display` is what a reader wants on the chip's log too.
    macro_rules! format_as_display {
        ($($t:ty),* $(,)?) => {$(
            impl Format for $t {
                fn format(&self, f: Formatter<'_>) {
                    write!(f, "{}", Display2Format(self));
                }
            }
        )*};
    }
    format_as_display!(
        Error,
        State,
        SocketInfo,
        SocketFlags,
        EthernetAddress,
        Ipv4Cidr,
        crate::tcp::Endpoint,
    );

    /// Counters and small records: their `Debug`.
    macro_rules! format_as_debug {
        ($($t:ty),* $(,)?) => {$(
            impl Format for $t {
                fn format(&self, f: Formatter<'_>) {
                    write!(f, "{}", Debug2Format(self));
                }
            }
        )*};
    }
    format_as_debug!(
        Capacity,
        Readiness,
        Shutdown,
        SocketId,
        crate::stack::Stats,
        crate::ip::IpStats,
        crate::ip::DropReason,
        crate::tcp::TcpStats,
        crate::tcp::Keepalive,
        crate::tcp::cc::Algorithm,
    );
    #[cfg(feature = "proto-ipv6")]
    format_as_debug!(crate::ip::slaac::SlaacEvent);

    impl Format for Instant {
        fn format(&self, f: Formatter<'_>) {
            write!(f, "{=u64}us", self.total_micros());
        }
    }

    impl Format for Duration {
        fn format(&self, f: Formatter<'_>) {
            write!(f, "{=u64}us", self.total_micros());
        }
    }
}
