//! [`Tap`]: a Linux TAP interface as a [`Device`], so the stack can talk to the host's
//! own network stack (and, through namespaces and bridges, to real peers).
//!
//! Opening needs `CAP_NET_ADMIN` (root) and `/dev/net/tun`, unless the interface was
//! created beforehand for this user (`ip tuntap add dev NAME mode tap user USER`).
//! Addresses, routes and namespaces are set up by scripts, not here; [`Tap::set_up`]
//! only brings the link up.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::string::String;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::{Device, DeviceCaps, RxToken, TxToken};
use crate::time::Instant;

/// Receive buffer size: the largest frame a TAP read can return (64 KiB IP packet plus
/// the Ethernet header), so a frame is never truncated by the read itself.
const RX_BUF: usize = 65_536 + 14;

/// What a [`Tap`] has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames handed to the stack.
    pub rx_frames: u64,
    /// Frames written to the interface.
    pub tx_frames: u64,
    /// Received frames dropped for being longer than `mtu + 14`.
    pub rx_oversize: u64,
    /// Frames not sent because the stack asked for more than `mtu + 14` bytes.
    pub tx_oversize: u64,
    /// Frames not sent because the interface would have blocked.
    pub tx_would_block: u64,
    /// Read errors other than "would block".
    pub rx_errors: u64,
    /// Write errors other than "would block".
    pub tx_errors: u64,
}

/// A Linux TAP interface (`IFF_TAP | IFF_NO_PI`: plain Ethernet frames, no FCS), opened
/// non-blocking.
///
/// `receive` reads one frame into an internal buffer (`None` when nothing is
/// waiting); a transmit token writes one frame when its closure returns (a write that
/// would block drops the frame, counted in [`TapStats::tx_would_block`], as a full
/// NIC ring would). Block until there is something to read with [`wait`](Self::wait);
/// wake a waiting thread with a [`TapWaker`].
///
/// Opening needs `CAP_NET_ADMIN` (root) and `/dev/net/tun`, unless the interface was
/// created beforehand for this user (`ip tuntap add dev NAME mode tap user USER`).
/// Addresses, routes and namespaces are for scripts; [`set_up`](Self::set_up) only
/// brings the link up. Linux and `std` only.
#[derive(Debug)]
pub struct Tap {
    file: File,
    wake: Arc<File>,
    name: String,
    mtu: usize,
    rx_buf: Vec<u8>,
    tx_buf: Vec<u8>,
    stats: TapStats,
}

/// Wakes a thread blocked in [`Tap::wait`]. Cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct TapWaker {
    fd: Arc<File>,
}

impl TapWaker {
    /// Makes the current or next [`Tap::wait`] return at once.
    pub fn wake(&self) {
        // An eventfd write only fails (EAGAIN) if the counter is saturated, in which
        // case the waiter is already due to wake: nothing to do.
        let _ = (&*self.fd).write(&1u64.to_ne_bytes());
    }
}

/// `name` as a NUL-terminated interface name.
fn ifname(name: &str) -> io::Result<[libc::c_char; libc::IFNAMSIZ]> {
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) || bytes.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name must be shorter than 16 bytes, without NUL or '/'",
        ));
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = b as libc::c_char;
    }
    Ok(out)
}

/// An `ifreq` for interface `name`, all other bytes zero.
fn ifreq(name: &[libc::c_char; libc::IFNAMSIZ]) -> libc::ifreq {
    // SAFETY: `ifreq` is a C struct of integers, byte arrays and a union of such
    // (and one raw pointer); all-zero bytes are a valid value of each.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_name = *name;
    ifr
}

/// A throwaway socket for the interface ioctls (`SIOCGIFMTU`, `SIOCSIFFLAGS`).
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call with constant arguments; no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `socket`, is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs interface ioctl `request` on `ifr` through `fd`.
fn ioctl_ifreq(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    ifr: &mut libc::ifreq,
) -> io::Result<()> {
    // SAFETY: `fd` is a valid open descriptor for the duration of the call, and every
    // request used here (TUNSETIFF, SIOCGIFMTU, SIOCGIFFLAGS, SIOCSIFFLAGS) reads and
    // writes a `struct ifreq`, which `ifr` is, exclusively borrowed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, ifr as *mut libc::ifreq) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `timeout` in whole milliseconds for `poll(2)`, rounded up so a short wait does
/// not become a busy loop; `None` is -1 (forever).
fn poll_timeout(timeout: Option<std::time::Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_micros().div_ceil(1_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    }
}

impl Tap {
    /// Opens `/dev/net/tun` and attaches to the TAP interface `name`, creating it if
    /// it does not exist (an empty name lets the kernel pick `tapN`). The interface
    /// is left as it is (down, if just created): see [`set_up`](Self::set_up). The
    /// MTU reported to the stack is the interface's (1500 if it cannot be read).
    pub fn open(name: &str) -> io::Result<Tap> {
        let c_name = ifname(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/net/tun")?;
        let mut ifr = ifreq(&c_name);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        ioctl_ifreq(file.as_fd(), libc::TUNSETIFF as libc::c_ulong, &mut ifr)?;
        // The kernel wrote back the interface's actual name.
        let name: String = ifr
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| char::from(c as u8))
            .collect();

        // SAFETY: plain system call with constant arguments; no pointers.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` was just returned by `eventfd`, is valid and owned by nobody else.
        let wake = File::from(unsafe { OwnedFd::from_raw_fd(efd) });

        let mut tap = Tap {
            file,
            wake: Arc::new(wake),
            name,
            mtu: 1500,
            rx_buf: vec![0; RX_BUF],
            tx_buf: Vec::new(),
            stats: TapStats::default(),
        };
        let mtu = tap.interface_mtu().unwrap_or(1500);
        tap.set_mtu(mtu);
        Ok(tap)
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface's MTU as the kernel reports it now.
    pub fn interface_mtu(&self) -> io::Result<usize> {
        let sock = control_socket()?;
        let mut ifr = ifreq(&ifname(&self.name)?);
        ioctl_ifreq(sock.as_fd(), libc::SIOCGIFMTU as libc::c_ulong, &mut ifr)?;
        // SAFETY: SIOCGIFMTU succeeded, so the kernel stored the MTU in `ifru_mtu`;
        // and any bit pattern is a valid `c_int` anyway.
        let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
        Ok(usize::try_from(mtu).unwrap_or(0))
    }

    /// Overrides the MTU reported to the stack (the interface is not changed).
    /// Frames longer than `mtu + 14` are dropped both ways and counted.
    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = mtu.min(RX_BUF - 14);
        self.tx_buf.resize(self.mtu + 14, 0);
    }

    /// Brings the interface up (`IFF_UP`, like `ip link set NAME up`).
    pub fn set_up(&self) -> io::Result<()> {
        let sock = control_socket()?;
        let mut ifr = ifreq(&ifname(&self.name)?);
        ioctl_ifreq(sock.as_fd(), libc::SIOCGIFFLAGS as libc::c_ulong, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS succeeded, so the kernel stored the flags in
        // `ifru_flags`; and any bit pattern is a valid `c_short` anyway.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        ioctl_ifreq(sock.as_fd(), libc::SIOCSIFFLAGS as libc::c_ulong, &mut ifr)
    }

    /// Counters since opening.
    pub fn stats(&self) -> TapStats {
        self.stats
    }

    /// A handle that makes [`wait`](Self::wait) return early, from any thread.
    pub fn waker(&self) -> TapWaker {
        TapWaker {
            fd: Arc::clone(&self.wake),
        }
    }

    /// Blocks until a frame can be read, a [`TapWaker`] was woken, or `timeout` has
    /// passed (`None`: no timeout; rounded up to whole milliseconds). Returns
    /// `Ok(true)` if the interface is readable or the waker fired, `Ok(false)` on
    /// timeout or when a signal interrupted the wait. Consumes pending wake-ups.
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> io::Result<bool> {
        let mut fds = [
            libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd
        // structs whose descriptors stay open for the call (owned by `self`).
        let r = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                poll_timeout(timeout),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        if fds[1].revents != 0 {
            let mut counter = [0u8; 8];
            // Resets the eventfd counter; "would block" only means another wait did.
            let _ = (&*self.wake).read(&mut counter);
        }
        Ok(r > 0)
    }

    /// Reads frames until one fits the MTU; its length, or `None` if nothing waits.
    fn read_frame(&mut self) -> Option<usize> {
        // Bounded, so a flood of oversize frames cannot keep `receive` spinning.
        for _ in 0..64 {
            match self.file.read(&mut self.rx_buf) {
                Ok(0) => return None,
                Ok(n) if n > self.mtu + 14 => self.stats.rx_oversize += 1,
                Ok(n) => {
                    self.stats.rx_frames += 1;
                    return Some(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stats.rx_errors += 1;
                    return None;
                }
            }
        }
        None
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// A frame read from a [`Tap`].
#[derive(Debug)]
pub struct TapRxToken<'a> {
    frame: &'a [u8],
}

impl RxToken for TapRxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Room for one frame on a [`Tap`]; written when the closure returns.
#[derive(Debug)]
pub struct TapTxToken<'a> {
    file: &'a File,
    buf: &'a mut [u8],
    stats: &'a mut TapStats,
}

impl TxToken for TapTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let TapTxToken {
            mut file,
            buf,
            stats,
        } = self;
        let Some(frame) = buf.get_mut(..len) else {
            // More than `mtu + 14`: let the closure write what fits, then drop it.
            stats.tx_oversize += 1;
            return f(buf);
        };
        let r = f(frame);
        match file.write(frame) {
            Ok(_) => stats.tx_frames += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stats.tx_would_block += 1,
            Err(_) => stats.tx_errors += 1,
        }
        r
    }
}

impl Device for Tap {
    type RxToken<'a>
        = TapRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TapTxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let n = self.read_frame()?;
        let Tap {
            file,
            rx_buf,
            tx_buf,
            stats,
            ..
        } = self;
        let frame = rx_buf.get(..n)?;
        Some((
            TapRxToken { frame },
            TapTxToken {
                file,
                buf: tx_buf,
                stats,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TapTxToken {
            file: &self.file,
            buf: &mut self.tx_buf,
            stats: &mut self.stats,
        })
    }

    fn capabilities(&self) -> DeviceCaps {
        DeviceCaps {
            mtu: self.mtu,
            ..DeviceCaps::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::println;
    use std::time::{Duration, Instant as StdInstant};

    #[test]
    fn bad_names_are_rejected_before_any_syscall() {
        for name in ["abcdefghijklmnop", "a\0b", "a/b"] {
            let e = Tap::open(name).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_timeout(None), -1);
        assert_eq!(poll_timeout(Some(Duration::ZERO)), 0);
        assert_eq!(poll_timeout(Some(Duration::from_micros(1))), 1);
        assert_eq!(poll_timeout(Some(Duration::from_millis(20))), 20);
        assert_eq!(
            poll_timeout(Some(Duration::from_secs(u64::MAX))),
            libc::c_int::MAX
        );
    }

    /// A broadcast ARP request for 10.255.255.1 from a locally administered MAC.
    fn arp_request() -> [u8; 42] {
        let mut f = [0u8; 42];
        f[..6].fill(0xff);
        f[6..12].copy_from_slice(&[0x02, 0x54, 0x54, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
        f[22..28].copy_from_slice(&[0x02, 0x54, 0x54, 0, 0, 1]);
        f[28..32].copy_from_slice(&[10, 255, 255, 2]);
        f[38..42].copy_from_slice(&[10, 255, 255, 1]);
        f
    }

    #[test]
    fn tap_open_up_transmit_wait_wake() {
        let name = std::format!("ttcp{}", std::process::id() % 1_000_000);
        let mut tap = match Tap::open(&name) {
            Ok(tap) => tap,
            Err(_) => {
                println!("skipping: needs root and /dev/net/tun");
                return;
            }
        };
        assert_eq!(tap.name(), name);
        tap.set_up().unwrap();
        let caps = tap.capabilities();
        assert_eq!(caps.mtu, tap.interface_mtu().unwrap());
        assert!(caps.mtu >= 68);

        // A short wait works whether or not the kernel sent something (IPv6 router
        // solicitations, MLD reports).
        tap.wait(Some(Duration::from_millis(20))).unwrap();

        let frame = arp_request();
        tap.transmit(Instant::ZERO)
            .unwrap()
            .consume(frame.len(), |b| b.copy_from_slice(&frame));
        assert_eq!(tap.stats().tx_frames, 1);
        assert_eq!(tap.stats().tx_errors, 0);

        // Oversize transmit: closure runs on the largest buffer, nothing is written.
        let n = tap
            .transmit(Instant::ZERO)
            .unwrap()
            .consume(1_000_000, |b| b.len());
        assert_eq!(n, caps.max_frame_len());
        assert_eq!(tap.stats().tx_oversize, 1);

        // Whatever arrives is a well-formed frame no longer than the MTU allows.
        let deadline = StdInstant::now() + Duration::from_millis(200);
        while StdInstant::now() < deadline {
            while let Some((rx, _tx)) = tap.receive(Instant::ZERO) {
                let len = rx.consume(|f| f.len());
                assert!((14..=caps.max_frame_len()).contains(&len));
            }
            tap.wait(Some(Duration::from_millis(20))).unwrap();
        }
        assert_eq!(tap.stats().rx_errors, 0);

        // A waker on another thread ends an unbounded wait.
        let waker = tap.waker();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            waker.wake();
        });
        let start = StdInstant::now();
        assert!(tap.wait(Some(Duration::from_secs(10))).unwrap());
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }
}
