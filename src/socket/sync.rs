//! The atomics the handles and the socket table share. Under `--cfg loom` they are loom's,
//! so that `tests/loom_shared.rs` runs the real socket set under loom's scheduler.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, fence};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, fence};
