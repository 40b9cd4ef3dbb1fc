//! The iperf3 firmware built on smoltcp 0.14 instead of tidytcp, as a benchmark baseline:
//! same board code, same EMAC driver (through [`SmolDevice`], an adapter from tidytcp's
//! `Device` trait to smoltcp's `phy::Device`), same iperf3 protocol module, same socket
//! buffer sizes and transmit checksum offload.
//!
//! smoltcp needs one socket per connection and a listening socket for each connection
//! to come; a socket that closed first sits in TIME-WAIT before it can listen again, so
//! there are six.
#![no_std]
#![no_main]

use orangepi_pc::clock::Clock;
use orangepi_pc::iperf3::{self, DataVerdict, Phase};
use orangepi_pc::net::{self, Command};
use orangepi_pc::{console, println, semihosting};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use static_cell::{ConstStaticCell, StaticCell};
use tidytcp::drivers::{Device, RxToken, TxToken};

orangepi_pc::entry!(main);

/// Socket buffers each way; the same as the tidytcp build.
const BUF: usize = 128 * 1024;
const SOCKETS: usize = 6;

/// The socket buffers: all zero bytes, so in .bss (not carried in the image).
struct Buffers {
    rx: [[u8; BUF]; SOCKETS],
    tx: [[u8; BUF]; SOCKETS],
}
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers {
    rx: [[0; BUF]; SOCKETS],
    tx: [[0; BUF]; SOCKETS],
});
/// The socket slots, whose empty state is not all zero (in .data), kept apart from the
/// buffers as the tidytcp build keeps its table.
static SLOTS: ConstStaticCell<[SocketStorage<'static>; SOCKETS]> =
    ConstStaticCell::new([SocketStorage::EMPTY; SOCKETS]);
static SERVER: StaticCell<iperf3::Server> = StaticCell::new();

/// A tidytcp [`Device`] as a smoltcp [`phy::Device`]: tokens are passed through, so the
/// frames stay in the EMAC's DMA buffers.
struct SmolDevice<'d, D: Device> {
    dev: &'d mut D,
}

struct SmolRx<T>(T);
struct SmolTx<T>(T);

impl<T: RxToken> phy::RxToken for SmolRx<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(f)
    }
}

impl<T: TxToken> phy::TxToken for SmolTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

fn tidy_now(t: smoltcp::time::Instant) -> tidytcp::Instant {
    tidytcp::Instant::from_micros(t.total_micros().max(0) as u64)
}

impl<D: Device> phy::Device for SmolDevice<'_, D> {
    type RxToken<'a>
        = SmolRx<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = SmolTx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(
        &mut self,
        timestamp: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.dev.receive(tidy_now(timestamp))?;
        Some((SmolRx(rx), SmolTx(tx)))
    }

    fn transmit(&mut self, timestamp: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        self.dev.transmit(tidy_now(timestamp)).map(SmolTx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let caps = self.dev.capabilities();
        let tx_offload = |on: bool| if on { Checksum::Rx } else { Checksum::Both };
        let mut checksum = ChecksumCapabilities::default();
        checksum.ipv4 = tx_offload(caps.checksum.tx_ipv4);
        checksum.tcp = tx_offload(caps.checksum.tx_tcp);
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = caps.max_frame_len();
        c.checksum = checksum;
        c
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Listen,
    Ctrl,
    Data,
    Closing,
}

fn main() -> ! {
    console::init();
    let clock = Clock::new();
    println!("\nsmoltcp iperf3 server on Orange Pi PC (Allwinner H3)");
    let mut emac = net::bring_up_emac(&clock, true);
    let mac = emac.mac().0;
    let addr = net::address();
    let mut dev = SmolDevice { dev: &mut emac };
    let now = || smoltcp::time::Instant::from_micros(clock.now().total_micros() as i64);

    let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    let seed = net::seed();
    cfg.random_seed = u64::from_le_bytes([
        seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
    ]);
    let mut iface = Interface::new(cfg, &mut dev, now());
    let ip = addr.address().octets();
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(
            IpAddress::v4(ip[0], ip[1], ip[2], ip[3]),
            addr.prefix_len(),
        ));
    });
    let mem = BUFFERS.take();
    let mut sockets = SocketSet::new(&mut SLOTS.take()[..]);
    let mut handles = [None::<SocketHandle>; SOCKETS];
    for ((h, rx), tx) in handles
        .iter_mut()
        .zip(mem.rx.iter_mut())
        .zip(mem.tx.iter_mut())
    {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        s.listen(iperf3::PORT).expect("listen");
        *h = Some(sockets.add(s));
    }
    let handles = handles.map(|h| h.expect("socket"));
    println!(
        "ip {} mac {} (iperf3 on port {}); timer {} Hz",
        addr,
        tidytcp::wire::ethernet::EthernetAddress(mac),
        iperf3::PORT,
        clock.freq()
    );

    let server = SERVER.init_with(iperf3::Server::new);
    let mut roles = [Role::Listen; SOCKETS];
    let mut verdict = DataVerdict::Pending;
    let mut tests = 0u32;
    loop {
        let t = now();
        iface.poll(t, &mut dev, &mut sockets);
        let tnow = tidy_now(t);
        let mut finished = false;
        let has_ctrl = roles.contains(&Role::Ctrl);
        let mut has_data = roles.contains(&Role::Data);
        for (i, &h) in handles.iter().enumerate() {
            let s = sockets.get_mut::<tcp::Socket>(h);
            match roles[i] {
                Role::Listen => {
                    if s.state() == tcp::State::Established {
                        if !has_ctrl && !finished {
                            server.reset();
                            roles[i] = Role::Ctrl;
                        } else if !has_data && server.wants_stream() {
                            verdict = DataVerdict::Pending;
                            roles[i] = Role::Data;
                            has_data = true;
                        } else {
                            s.abort();
                            roles[i] = Role::Closing;
                        }
                    }
                }
                Role::Ctrl => {
                    while s.can_recv() {
                        match s.recv(|d| {
                            let n = server.ctrl_input(d, tnow);
                            (n, n)
                        }) {
                            Ok(n) if n > 0 => {}
                            _ => break,
                        }
                    }
                    let out = server.ctrl_output();
                    if !out.is_empty()
                        && let Ok(n) = s.send_slice(out)
                    {
                        server.ctrl_sent(n);
                    }
                    if !s.may_recv() && !s.can_recv() {
                        finished = true;
                    }
                }
                Role::Data => {
                    while s.can_recv() {
                        let r = s.recv(|d| {
                            let (n, v) = server.data_input(d, tnow);
                            verdict = v;
                            (n, n)
                        });
                        if !matches!(r, Ok(n) if n > 0) {
                            break;
                        }
                    }
                    if verdict == DataVerdict::Rejected
                        || (server.stream_over() && verdict == DataVerdict::Accepted)
                        || !s.may_recv()
                    {
                        s.close();
                        roles[i] = Role::Closing;
                    } else if server.sending() {
                        while let Ok(n) = s.send(|b| (b.len(), b.len())) {
                            if n == 0 {
                                break;
                            }
                            server.data_sent(n);
                        }
                    }
                }
                Role::Closing => {}
            }
            if roles[i] != Role::Listen && s.state() == tcp::State::Closed {
                roles[i] = Role::Listen;
                let _ = s.listen(iperf3::PORT);
            }
        }
        if server.phase() == Phase::Done && server.ctrl_output().is_empty() {
            finished = true;
        }
        if finished {
            tests += 1;
            println!(
                "test {tests}: {} bytes {}",
                server.bytes(),
                if server.reverse() { "sent" } else { "received" }
            );
            for (i, &h) in handles.iter().enumerate() {
                if matches!(roles[i], Role::Ctrl | Role::Data) {
                    sockets.get_mut::<tcp::Socket>(h).close();
                    roles[i] = Role::Closing;
                }
            }
            server.reset();
        }
        match net::command() {
            Some(Command::Stats) => println!("emac {:?}", dev.dev.stats()),
            Some(Command::Quit) => {
                println!("emac {:?}", dev.dev.stats());
                println!("bye");
                semihosting::exit(0);
            }
            None => {}
        }
    }
}
