//! [`PcapWriter`]: wraps any [`Device`] and records every frame it moves as a classic
//! libpcap capture (the format Wireshark, tshark and tcpdump read).
//!
//! The format: a 24-byte global header (magic `0xa1b2c3d4`, version 2.4, snaplen
//! 65535, link type 1 = Ethernet), then per frame a 16-byte record header (seconds,
//! microseconds, captured length, original length) followed by the frame. All fields
//! are written little-endian; readers detect the byte order from the magic number.
//! Timestamps are the `now` the stack passed to `receive`/`transmit`, so a
//! virtual-time simulation produces a capture in virtual time.
//!
//! The core is `no_std` and heap-free: records go straight to a [`PcapSink`], which on
//! a board may be a UART. With the `std` feature every [`std::io::Write`] is a sink
//! and [`PcapWriter::create`] writes to a file.

use core::cell::RefCell;

use super::{Device, DeviceCaps, RxToken, TxToken};
use crate::time::Instant;

/// pcap magic number for microsecond timestamps.
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// Largest number of bytes recorded per frame; longer frames are truncated in the
/// capture (their original length is still recorded).
pub const PCAP_SNAPLEN: u32 = 65_535;
/// `LINKTYPE_ETHERNET`: frames start with the Ethernet II header.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The sink failed; the capture is incomplete from that point on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkError;

impl core::fmt::Display for SinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("pcap sink write failed")
    }
}

/// Where capture bytes go: a file, a UART, a memory buffer.
pub trait PcapSink {
    /// Writes all of `data`, or fails.
    fn write_all(&mut self, data: &[u8]) -> Result<(), SinkError>;
    /// Pushes buffered bytes out. The default does nothing.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(feature = "std")]
impl<W: std::io::Write> PcapSink for W {
    fn write_all(&mut self, data: &[u8]) -> Result<(), SinkError> {
        std::io::Write::write_all(self, data).map_err(|_| SinkError)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        std::io::Write::flush(self).map_err(|_| SinkError)
    }
}

/// What a [`PcapWriter`] has recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapStats {
    /// Received frames written.
    pub rx_frames: u64,
    /// Transmitted frames written.
    pub tx_frames: u64,
    /// Frames not written because the sink had failed (or was busy).
    pub dropped: u64,
    /// Whether the sink has failed; once it has, nothing more is written so the
    /// capture ends cleanly at a record boundary (unless the failure was mid-record).
    pub failed: bool,
}

/// The 24-byte pcap global header.
pub const fn global_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    let magic = PCAP_MAGIC.to_le_bytes();
    let snap = PCAP_SNAPLEN.to_le_bytes();
    let link = LINKTYPE_ETHERNET.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        h[i] = magic[i];
        h[16 + i] = snap[i];
        h[20 + i] = link[i];
        i += 1;
    }
    // version 2.4
    h[4] = 2;
    h[6] = 4;
    // thiszone (8..12) and sigfigs (12..16) are zero.
    h
}

/// The 16-byte record header for a frame of `len` bytes seen at `at`.
pub fn record_header(at: Instant, len: usize) -> [u8; 16] {
    let micros = at.total_micros();
    let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
    let usecs = (micros % 1_000_000) as u32;
    let orig = u32::try_from(len).unwrap_or(u32::MAX);
    let incl = orig.min(PCAP_SNAPLEN);
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&usecs.to_le_bytes());
    h[8..12].copy_from_slice(&incl.to_le_bytes());
    h[12..16].copy_from_slice(&orig.to_le_bytes());
    h
}

#[derive(Debug)]
struct Recorder<S> {
    sink: S,
    stats: PcapStats,
}

impl<S: PcapSink> Recorder<S> {
    fn write_header(&mut self) {
        if self.sink.write_all(&global_header()).is_err() {
            self.stats.failed = true;
        }
    }

    fn record(&mut self, at: Instant, frame: &[u8], rx: bool) {
        if self.stats.failed {
            self.stats.dropped += 1;
            return;
        }
        let header = record_header(at, frame.len());
        let incl = frame.len().min(PCAP_SNAPLEN as usize);
        let ok = self.sink.write_all(&header).is_ok()
            && self
                .sink
                .write_all(frame.get(..incl).unwrap_or(frame))
                .is_ok();
        if !ok {
            self.stats.failed = true;
            self.stats.dropped += 1;
        } else if rx {
            self.stats.rx_frames += 1;
        } else {
            self.stats.tx_frames += 1;
        }
    }
}

/// Records a frame through a shared recorder; never panics (a busy recorder, which
/// only a re-entrant call could cause, loses the record).
fn record<S: PcapSink>(rec: &RefCell<Recorder<S>>, at: Instant, frame: &[u8], rx: bool) {
    if let Ok(mut r) = rec.try_borrow_mut() {
        r.record(at, frame, rx);
    }
}

/// A [`Device`] that forwards to `D` and writes each frame it moves to a pcap sink.
///
/// A received frame is recorded when the stack consumes its [`RxToken`] (a frame the
/// stack never looks at is not recorded); a transmitted frame is recorded after the
/// stack's closure has filled the [`TxToken`] buffer. Recording never fails the
/// device: if the sink fails, recording stops and [`PcapStats::failed`] is set.
///
/// The output is a classic libpcap file: the 24-byte global header (magic
/// `0xa1b2c3d4`, version 2.4, snaplen 65535, [`LINKTYPE_ETHERNET`]) written by
/// [`new`](Self::new), then per frame a 16-byte record header (seconds, microseconds,
/// captured length, original length) and the frame (truncated to the snaplen). All
/// fields are little-endian. Timestamps are the `now` passed to `receive`/`transmit`,
/// so a virtual-time simulation yields a capture in virtual time. The core is
/// `no_std` and heap-free; with `std`, every [`std::io::Write`] is a [`PcapSink`].
///
/// ```
/// use tidytcp::drivers::{Device, Loopback, PcapWriter, TxToken};
/// use tidytcp::Instant;
///
/// let mut capture = std::vec::Vec::new();
/// let mut dev = PcapWriter::new(Loopback::<2>::new(), &mut capture);
/// dev.transmit(Instant::from_millis(5)).unwrap().consume(60, |b| b.fill(0xff));
/// assert_eq!(dev.stats().tx_frames, 1);
/// drop(dev);
/// assert_eq!(capture.len(), 24 + 16 + 60);
/// ```
#[derive(Debug)]
pub struct PcapWriter<D: Device, S: PcapSink> {
    device: D,
    rec: RefCell<Recorder<S>>,
}

impl<D: Device, S: PcapSink> PcapWriter<D, S> {
    /// Wraps `device`, writing the pcap global header to `sink` now.
    pub fn new(device: D, sink: S) -> Self {
        let mut rec = Recorder {
            sink,
            stats: PcapStats::default(),
        };
        rec.write_header();
        PcapWriter {
            device,
            rec: RefCell::new(rec),
        }
    }

    /// The wrapped device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The wrapped device, mutably (frames moved through it directly are not recorded).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The sink.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.rec.get_mut().sink
    }

    /// Counters since creation.
    pub fn stats(&self) -> PcapStats {
        self.rec.try_borrow().map(|r| r.stats).unwrap_or_default()
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let r = self.rec.get_mut();
        let res = r.sink.flush();
        if res.is_err() {
            r.stats.failed = true;
        }
        res
    }

    /// Unwraps into the device and the sink (not flushed).
    pub fn into_inner(self) -> (D, S) {
        (self.device, self.rec.into_inner().sink)
    }
}

#[cfg(feature = "std")]
impl<D: Device> PcapWriter<D, std::io::BufWriter<std::fs::File>> {
    /// Wraps `device`, capturing to a new file at `path` (truncated if it exists).
    /// Call [`flush`](Self::flush) (or drop the writer) to get all records on disk.
    pub fn create<P: AsRef<std::path::Path>>(device: D, path: P) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let w = PcapWriter::new(device, std::io::BufWriter::new(file));
        if w.stats().failed {
            return Err(std::io::Error::other("writing the pcap header failed"));
        }
        Ok(w)
    }
}

/// A received frame from a [`PcapWriter`]; recorded when consumed.
pub struct PcapRxToken<'a, T, S> {
    inner: T,
    rec: &'a RefCell<Recorder<S>>,
    now: Instant,
}

/// Room for one frame in a [`PcapWriter`]; the frame is recorded once built.
pub struct PcapTxToken<'a, T, S> {
    inner: T,
    rec: &'a RefCell<Recorder<S>>,
    now: Instant,
}

impl<T, S> core::fmt::Debug for PcapRxToken<'_, T, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcapRxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<T, S> core::fmt::Debug for PcapTxToken<'_, T, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcapTxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<T: RxToken, S: PcapSink> RxToken for PcapRxToken<'_, T, S> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let PcapRxToken { inner, rec, now } = self;
        inner.consume(|frame| {
            // Record before handing the frame on, so a reply built inside `f` is
            // recorded after the request.
            record(rec, now, frame, true);
            f(frame)
        })
    }
}

impl<T: TxToken, S: PcapSink> TxToken for PcapTxToken<'_, T, S> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let PcapTxToken { inner, rec, now } = self;
        inner.consume(len, |buf| {
            let r = f(buf);
            record(rec, now, buf, false);
            r
        })
    }
}

impl<D: Device, S: PcapSink> Device for PcapWriter<D, S> {
    type RxToken<'a>
        = PcapRxToken<'a, D::RxToken<'a>, S>
    where
        Self: 'a;
    type TxToken<'a>
        = PcapTxToken<'a, D::TxToken<'a>, S>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let PcapWriter { device, rec } = self;
        let rec: &RefCell<Recorder<S>> = rec;
        let (rx, tx) = device.receive(now)?;
        Some((
            PcapRxToken {
                inner: rx,
                rec,
                now,
            },
            PcapTxToken {
                inner: tx,
                rec,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let PcapWriter { device, rec } = self;
        let rec: &RefCell<Recorder<S>> = rec;
        let tx = device.transmit(now)?;
        Some(PcapTxToken {
            inner: tx,
            rec,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        self.device.capabilities()
    }

    fn link_up(&self) -> bool {
        self.device.link_up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::Loopback;
    use std::vec::Vec;

    /// A sink that works with and without the `std` feature.
    #[derive(Default)]
    struct VecSink(Vec<u8>);
    impl PcapSink for VecSink {
        fn write_all(&mut self, data: &[u8]) -> Result<(), SinkError> {
            self.0.extend_from_slice(data);
            Ok(())
        }
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// A frame tshark can decode: Ethernet + IPv4 + UDP with valid lengths.
    fn udp_frame(n: u8) -> Vec<u8> {
        let payload = [n; 8];
        let mut f = Vec::new();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]); // dst
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // src
        f.extend_from_slice(&[0x08, 0x00]); // IPv4
        let total = 20 + 8 + payload.len() as u16;
        let mut ip = [
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let sum = crate::wire::checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(&ip);
        let ulen = 8 + payload.len() as u16;
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x09]); // ports 12345 -> 9 (discard)
        f.extend_from_slice(&ulen.to_be_bytes());
        f.extend_from_slice(&[0, 0]); // UDP checksum 0 = none
        f.extend_from_slice(&payload);
        f
    }

    #[test]
    fn global_header_layout() {
        let h = global_header();
        assert_eq!(
            h,
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0
            ]
        );
    }

    #[test]
    fn records_rx_and_tx_with_timestamps() {
        let mut dev = PcapWriter::new(Loopback::<4>::new(), VecSink::default());
        let f1 = udp_frame(1);
        let t1 = Instant::from_micros(3_000_123);
        dev.transmit(t1)
            .unwrap()
            .consume(f1.len(), |b| b.copy_from_slice(&f1));
        let t2 = Instant::from_micros(4_500_000);
        let (rx, tx) = dev.receive(t2).unwrap();
        let f2 = udp_frame(2);
        rx.consume(|req| {
            assert_eq!(req, &f1[..]);
            tx.consume(f2.len(), |b| b.copy_from_slice(&f2));
        });
        let s = dev.stats();
        assert_eq!(
            (s.tx_frames, s.rx_frames, s.dropped, s.failed),
            (2, 1, 0, false)
        );
        let out = dev.into_inner().1.0;

        let rec_len = 16 + f1.len();
        assert_eq!(out.len(), 24 + 3 * rec_len);
        assert_eq!(&out[..24], &global_header());
        let r = &out[24..];
        // record 1: tx at t1
        assert_eq!(le32(r, 0), 3);
        assert_eq!(le32(r, 4), 123);
        assert_eq!(le32(r, 8) as usize, f1.len());
        assert_eq!(le32(r, 12) as usize, f1.len());
        assert_eq!(&r[16..rec_len], &f1[..]);
        // record 2: rx of the same frame at t2, before the reply
        let r = &r[rec_len..];
        assert_eq!((le32(r, 0), le32(r, 4)), (4, 500_000));
        assert_eq!(&r[16..rec_len], &f1[..]);
        // record 3: the reply, tx at t2
        let r = &r[rec_len..];
        assert_eq!((le32(r, 0), le32(r, 4)), (4, 500_000));
        assert_eq!(&r[16..rec_len], &f2[..]);
    }

    #[test]
    fn record_header_truncates_to_snaplen() {
        let h = record_header(Instant::from_micros(1), 70_000);
        assert_eq!(le32(&h, 8), PCAP_SNAPLEN);
        assert_eq!(le32(&h, 12), 70_000);
    }

    struct FailingSink {
        budget: usize,
    }
    impl PcapSink for FailingSink {
        fn write_all(&mut self, data: &[u8]) -> Result<(), SinkError> {
            if data.len() > self.budget {
                return Err(SinkError);
            }
            self.budget -= data.len();
            Ok(())
        }
    }

    #[test]
    fn failing_sink_stops_recording_but_device_works() {
        let mut dev = PcapWriter::new(
            Loopback::<4>::new(),
            FailingSink {
                budget: 24 + 16 + 10,
            },
        );
        for _ in 0..3 {
            dev.transmit(Instant::ZERO)
                .unwrap()
                .consume(10, |b| b.fill(1));
        }
        let s = dev.stats();
        assert_eq!((s.tx_frames, s.dropped, s.failed), (1, 2, true));
        assert_eq!(dev.device().len(), 3);
    }

    #[cfg(feature = "std")]
    #[test]
    fn tshark_reads_capture() {
        let path = std::env::temp_dir().join(std::format!(
            "tidytcp-pcap-test-{}.pcap",
            std::process::id()
        ));
        let n = 5;
        {
            let mut dev = PcapWriter::create(Loopback::<8>::new(), &path).unwrap();
            for i in 0..n {
                let f = udp_frame(i as u8);
                let now = Instant::from_millis(10 * i as u64);
                dev.transmit(now)
                    .unwrap()
                    .consume(f.len(), |b| b.copy_from_slice(&f));
            }
            dev.flush().unwrap();
            assert_eq!(dev.stats().tx_frames, n as u64);
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + n * (16 + udp_frame(0).len()));

        let tshark = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .env("HOME", std::env::temp_dir())
            .output();
        let out = match tshark {
            Ok(out) => out,
            Err(_) => {
                std::println!("skipping tshark check: tshark not installed");
                let _ = std::fs::remove_file(&path);
                return;
            }
        };
        let _ = std::fs::remove_file(&path);
        let stdout = std::string::String::from_utf8_lossy(&out.stdout);
        let stderr = std::string::String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "tshark failed: {stderr}");
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), n, "tshark output:\n{stdout}");
        let lower = stdout.to_lowercase();
        assert!(!lower.contains("malformed"), "{stdout}");
        assert!(lines.iter().all(|l| l.contains("UDP")), "{stdout}");
        assert!(
            !stderr.to_lowercase().contains("error") && !stderr.contains("appears to"),
            "{stderr}"
        );
    }
}
