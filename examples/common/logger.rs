//! The examples' `log` backend: events of the `tidytcp` crate (feature `log`) on standard
//! error, at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`;
//! `warn` when unset). Twenty lines instead of a logging crate, to keep the examples'
//! build small.

use std::io::Write;
use std::time::Instant;

struct Stderr {
    start: Instant,
}

impl log::Log for Stderr {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let t = self.start.elapsed();
            let _ = writeln!(
                std::io::stderr(),
                "[{:>4}.{:06} {:<5} {}] {}",
                t.as_secs(),
                t.subsec_micros(),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the logger once; later calls do nothing.
pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    let logger = Box::leak(Box::new(Stderr {
        start: Instant::now(),
    }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
