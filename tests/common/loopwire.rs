//! A loopback device for the blocking adapter's tests: frames sent come back as received,
//! unless the wire is cut (then they vanish, as into a dead peer).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tidytcp::Instant;
use tidytcp::drivers::{Device, DeviceCaps, RxToken, TxToken};

#[derive(Default)]
pub struct LoopWire {
    frames: VecDeque<Vec<u8>>,
    cut: Arc<AtomicBool>,
}

impl LoopWire {
    /// The switch that cuts the wire (frames sent while it is on are lost).
    pub fn cutter(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cut)
    }
}

pub struct WireRx(Vec<u8>);
pub struct WireTx<'a> {
    frames: &'a mut VecDeque<Vec<u8>>,
    cut: bool,
}

impl RxToken for WireRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for WireTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        if !self.cut {
            self.frames.push_back(buf);
        }
        r
    }
}

impl Device for LoopWire {
    type RxToken<'a> = WireRx;
    type TxToken<'a> = WireTx<'a>;
    fn receive(&mut self, _now: Instant) -> Option<(WireRx, WireTx<'_>)> {
        let f = self.frames.pop_front()?;
        let cut = self.cut.load(Ordering::SeqCst);
        Some((
            WireRx(f),
            WireTx {
                frames: &mut self.frames,
                cut,
            },
        ))
    }
    fn transmit(&mut self, _now: Instant) -> Option<WireTx<'_>> {
        let cut = self.cut.load(Ordering::SeqCst);
        Some(WireTx {
            frames: &mut self.frames,
            cut,
        })
    }
    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps::default()
    }
}
